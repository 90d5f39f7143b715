"""The pixel family's runtime: seeds, palette exactness, inpainting, variations, palette lock, hooks, errors."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from pixelsprite import api, families
from pixelsprite.errors import BundleError, Cancelled, ImageError, InvalidRequest
from pixelsprite.palettes import resolve_palette
from pixelsprite.pixel import _draw, confetti, floating, still_masked
from pixelsprite.registry import Registry

from .pixel_bundles import LABELS, PALETTE, SIZE, write_pixel_model


@pytest.fixture(scope="module")
def preg(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    root = tmp_path_factory.mktemp("pixel-models")
    write_pixel_model(root)
    write_pixel_model(root, "tpixel-u", labels=())
    return Registry([root], builtin=False, env=False)


def _colours(sprites: np.ndarray) -> set[tuple[int, int, int]]:
    return {tuple(int(v) for v in c) for c in sprites[..., :3][sprites[..., 3] > 0]}


def test_cosine_schedule_reveals_everything_in_order() -> None:
    left = [still_masked(64, i, 4) for i in range(4)]
    assert left == sorted(left, reverse=True) and left[-1] == 0 and left[0] < 64


def test_confetti_is_an_opaque_pixel_a_hard_step_from_every_opaque_neighbour() -> None:
    lab = np.array([[0.50, 0.0, 0.0], [0.55, 0.0, 0.0], [0.95, 0.0, 0.0]])  # tokens 1, 2 a shade apart; 3 far
    t = np.array([[[1, 2, 1, 2, 0], [2, 3, 2, 1, 0], [1, 2, 1, 3, 0], [0, 0, 0, 0, 0]]], np.int64)
    picked, around = confetti(t, lab)
    assert picked[0].tolist() == [
        [False, False, False, False, False],
        [False, True, False, False, False],  # 3 among 1s and 2s
        [False, False, False, False, False],  # the other 3 has only 2 opaque neighbours
        [False, False, False, False, False],
    ]
    assert around[0, 1, 1].tolist() == [2, 2, 2, 2]  # up, down, left, right
    assert around[0, 0, 0].tolist() == [0, 2, 0, 2]  # off the canvas counts as transparent


def test_floating_pixels_have_no_opaque_pixel_among_their_eight_neighbours() -> None:
    t = np.zeros((1, 5, 5), np.int64)
    t[0, 0, 0] = 1  # alone in a corner
    t[0, 2, 2] = 2
    t[0, 3, 3] = 2  # diagonal company: neither floats
    t[0, 4, 0] = 7  # MASK (K + 1 with K = 6) is not opaque
    assert np.argwhere(floating(t, 6)[0]).tolist() == [[0, 0]]
    t[0, 4, 4] = 1  # on a torus, the corner at (0, 0) has company across both edges
    assert not floating(t, 6, wrap=True)[0, 0, 0] and floating(t, 6)[0, 0, 0]


def test_an_excluded_colour_is_never_drawn_unless_nothing_else_is_left() -> None:
    lg = np.log(np.array([[0.5, 0.97, 0.01, 0.01, 0.01]] * 3))  # opacity logit, then 4 colours
    u = np.full(3, 0.5)
    _, pick, *_ = _draw(lg, u, u, 1.0, None, np.array([[0, -1], [0, 2], [-1, -1]]))
    assert pick[0] != 0 and pick[1] not in (0, 2) and pick[2] == 0
    onehot = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], np.float32)  # colours 0, 1 -> locked 0; 2, 3 -> locked 1
    _, pick, *_ = _draw(lg[:2], u[:2], u[:2], 1.0, onehot, np.array([[0], [-1]]))
    assert pick.tolist() == [1, 0]
    _, pick, *_ = _draw(lg[:1], u[:1], u[:1], 1.0, None, np.array([[0, 1, 2, 3]]))
    assert pick[0] == 0  # everything excluded: drawn without the exclusion


def test_the_corrector_redraws_only_confetti_or_floaters_and_never_as_a_neighbours_colour(preg: Registry) -> None:
    model = families.load(preg.load("tpixel"))
    seeds = list(range(12))
    plain = replace(model.settings("a", None, None, None, None), corrector=0)
    before = model.generate(seeds, plain)
    after = model.generate(seeds, replace(plain, corrector=1))
    tokens = model.to_tokens(before)
    picked, around = confetti(tokens, model._palette_lab)
    picked |= floating(tokens, len(PALETTE))
    changed = (after != before).any(-1)
    assert changed.any() and not (changed & ~picked).any()
    table = np.concatenate([np.zeros((1, 3), np.uint8), PALETTE])
    for n, y, x in zip(*np.nonzero(changed & (after[..., 3] > 0))):
        neighbours = {tuple(table[k]) for k in around[n, y, x] if k > 0}
        assert tuple(after[n, y, x, :3]) not in neighbours


def test_allowed_colours_restrict_a_draw_unless_they_have_no_mass_left() -> None:
    lg = np.log(np.array([[0.5, 0.97, 0.01, 0.01, 0.01]] * 2))
    u = np.full(2, 0.5)
    allowed = np.array([[False, False, True, True], [True, False, False, False]])
    _, pick, *_ = _draw(lg, u, u, 1.0, None, np.array([[-1], [-1]]), allowed)
    assert pick[0] in (2, 3) and pick[1] == 0
    _, pick, *_ = _draw(lg[1:], u[1:], u[1:], 1.0, None, np.array([[0]]), allowed[1:])
    assert pick[0] != 0  # the only allowed colour is excluded: drawn with the exclusion alone


def test_with_shades_the_corrector_redraws_confetti_as_a_shade_of_a_neighbour(preg: Registry) -> None:
    model = families.load(preg.load("tpixel"))
    lab = model._palette_lab
    dist = np.sqrt(((lab[:, None] - lab[None]) ** 2).sum(-1))
    shade = 0.4  # the test palette's colours are far apart: red's shades are blue and yellow, black has none
    seeds = list(range(24))
    plain = replace(model.settings("a", None, None, None, None), corrector=0)
    before = model.generate(seeds, plain)
    tokens = model.to_tokens(before)
    picked, around = confetti(tokens, lab)
    far = 0
    for s in (None, shade):
        after = model.generate(seeds, replace(plain, corrector=1, shade=s))
        changed = (after != before).any(-1) & (after[..., 3] > 0)
        assert changed.any() and not (changed & ~(picked | floating(tokens, len(PALETTE)))).any()
        for n, y, x in zip(*np.nonzero(changed & picked)):
            nb = [k - 1 for k in around[n, y, x] if k > 0]
            colour = int(model.to_tokens(after[n : n + 1, y : y + 1, x : x + 1])[0, 0, 0]) - 1
            options = [c for c in range(len(PALETTE)) if c not in nb and dist[c, nb].min() < shade]
            if s is None:
                far += colour not in options
            elif options:
                assert colour in options
    assert far  # without shades some confetti is redrawn as another unrelated colour
    locked = PALETTE[[0, 2, 3, 4]]  # a locked palette: the shades are among its colours
    sprites = model.generate(seeds, replace(plain, corrector=2, shade=shade), locked=locked)
    assert _colours(sprites) <= {tuple(int(v) for v in c) for c in locked}
    assert model.shades(shade, locked).shape == (4, 4) and model.shades(shade).shape == (len(PALETTE),) * 2


def test_sprites_are_palette_exact_with_hard_alpha(preg: Registry) -> None:
    res = api.generate("tpixel", 12, 3, label="a", registry=preg)
    assert res.sprites.shape == (12, SIZE, SIZE, 4) and res.sprites.dtype == np.uint8
    assert set(np.unique(res.sprites[..., 3])) <= {0, 255}
    assert _colours(res.sprites) <= {tuple(int(v) for v in c) for c in PALETTE}
    assert (res.sprites[res.sprites[..., 3] == 0] == 0).all()
    assert len(_colours(res.sprites)) >= 3  # the random tiny net draws varied colours


@pytest.mark.parametrize("solver", ["random", "confidence"])
def test_a_seed_reproduces_its_sprite_whatever_the_batch(preg: Registry, solver: str) -> None:
    batch = api.generate("tpixel", 6, 40, label="b", solver=solver, steps=5, registry=preg).sprites
    for i in (0, 4):
        one = api.generate("tpixel", 1, 40 + i, label="b", solver=solver, steps=5, registry=preg).sprites[0]
        assert one.tobytes() == batch[i].tobytes()
    assert batch[0].tobytes() != batch[1].tobytes()


def test_inpaint_keeps_every_unmasked_pixel_exactly(preg: Registry) -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (SIZE, SIZE, 4), dtype=np.uint8)  # colours outside the palette on purpose
    image[..., 3] = np.where(rng.random((SIZE, SIZE)) < 0.5, 255, 0)
    image[image[..., 3] == 0] = 0
    mask = np.zeros((SIZE, SIZE), bool)
    mask[2:6, 3:7] = True
    res = api.inpaint("tpixel", image, mask, 5, 9, label="a", registry=preg).sprites
    assert (res[:, ~mask] == image[~mask]).all()
    assert any((r[mask] != image[mask]).any() for r in res)
    assert _colours(res[:, mask]) <= {tuple(int(v) for v in c) for c in PALETTE}
    assert (api.inpaint("tpixel", image, np.zeros((SIZE, SIZE), bool), 2, 0, registry=preg).sprites == image).all()


def test_inpaint_masks_from_images(preg: Registry) -> None:
    image = np.zeros((SIZE, SIZE, 4), np.uint8)
    white = np.zeros((SIZE, SIZE, 4), np.uint8)  # an opaque 1-bit style mask: white = repaint
    white[..., 3] = 255
    white[:4, :, :3] = 255
    alpha = np.zeros((SIZE, SIZE, 4), np.uint8)  # a mask with transparency: opaque = repaint
    alpha[:4, :, 3] = 255
    a = api.inpaint("tpixel", image, white, 3, 1, registry=preg).sprites
    b = api.inpaint("tpixel", image, alpha, 3, 1, registry=preg).sprites
    assert (a == b).all() and (a[:, 4:] == 0).all()
    with pytest.raises(ImageError) as e:
        api.inpaint("tpixel", image, np.zeros((4, 4), bool), 1, 0, registry=preg)
    assert e.value.field == "mask"


def test_variations_strength_zero_is_the_input_and_strength_sets_the_share(preg: Registry) -> None:
    image = api.generate("tpixel", 1, 5, label="a", registry=preg).sprites[0]
    same = api.variations("tpixel", image, 3, 0.0, 1, registry=preg).sprites
    assert (same == image).all()
    some = api.variations("tpixel", image, 4, 0.25, 1, registry=preg).sprites
    changed = (some != image).any(-1).mean(axis=(1, 2))
    assert (changed <= 0.25 + 1e-9).all() and changed.max() > 0
    with pytest.raises(InvalidRequest) as e:
        api.variations("tpixel", image, 1, 1.5, registry=preg)
    assert e.value.field == "strength"


def test_palette_lock_draws_only_the_palettes_colours(preg: Registry) -> None:
    res = api.generate("tpixel", 8, 2, label="a", palette="pico-8", registry=preg).sprites
    allowed = {tuple(int(v) for v in c) for c in resolve_palette("pico-8").colors}
    assert _colours(res) <= allowed
    free = api.generate("tpixel", 8, 2, label="a", registry=preg).sprites
    assert (res[..., 3] > 0).sum() > 0 and not (res == free).all()


def test_progress_cancel_and_previews(preg: Registry) -> None:
    seen: list[tuple[int, int]] = []
    previews: list[int] = []
    api.generate(
        "tpixel",
        2,
        0,
        steps=4,
        registry=preg,
        progress=lambda d, t: seen.append((d, t)),
        preview=lambda s, d, t: previews.append(d),
    )
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)] and previews == [1, 2, 3]
    with pytest.raises(Cancelled):
        api.generate(
            "tpixel",
            2,
            0,
            steps=4,
            registry=preg,
            cancel=lambda: len(seen) > 5,
            progress=lambda d, t: seen.append((d, t)),
        )


def test_options_are_checked_against_the_model(preg: Registry) -> None:
    cases = [
        (lambda: api.generate("tpixel", 1, 0, solver="ddim", registry=preg), "solver", "random, confidence"),
        (lambda: api.generate("tpixel", 1, 0, steps=65, registry=preg), "steps", "between 1 and 64"),
        (lambda: api.generate("tpixel", 1, 0, label="c", registry=preg), "label", "valid labels: a, b"),
        (lambda: api.generate("tpixel-u", 1, 0, label="a", registry=preg), "label", "unconditional"),
        (lambda: api.generate("tpixel", 1, 0, temperature=0.0, registry=preg), "temperature", "above 0"),
        (lambda: api.interpolate("tpixel", 1, 2, registry=preg), "model", "interpolate supports the families"),
    ]
    for call, field, text in cases:
        with pytest.raises(InvalidRequest) as e:
            call()
        assert e.value.field == field and text in e.value.message, (field, e.value.message)


def test_capabilities_list_the_solvers_the_sampler_runs(preg: Registry) -> None:
    caps = families.capabilities(preg.info("tpixel").manifest)
    assert caps.operations == ("generate", "variations", "inpaint")
    assert [s.name for s in caps.solvers] == ["random", "confidence"] and caps.steps == (1, SIZE * SIZE)
    assert caps.labels == LABELS and "temperature" in caps.parameters
    assert caps.evaluations() == 4 * 2  # 4 steps, guided


def test_a_broken_tokens_section_is_a_bundle_error(tmp_path: Path) -> None:
    folder = write_pixel_model(tmp_path, "bad")
    m = json.loads((folder / "manifest.json").read_text())
    m["tokens"]["defaults"]["solver"] = "heun"
    (folder / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BundleError, match="tokens.defaults.solver"):
        api.generate("bad", 1, 0, registry=Registry([tmp_path], builtin=False, env=False))


@pytest.mark.parametrize("shade", [0, 1.5, True, "0.1"])
def test_a_bad_corrector_shade_is_a_bundle_error(tmp_path: Path, shade: object) -> None:
    folder = write_pixel_model(tmp_path, "bad")
    m = json.loads((folder / "manifest.json").read_text())
    m["tokens"]["defaults"]["shade"] = shade
    (folder / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BundleError, match="tokens.defaults.shade"):
        api.generate("bad", 1, 0, registry=Registry([tmp_path], builtin=False, env=False))


def test_the_corrector_shade_is_the_bundles_default_and_round_trips(tmp_path: Path) -> None:
    folder = write_pixel_model(tmp_path, "shaded")
    m = json.loads((folder / "manifest.json").read_text())
    m["tokens"]["defaults"].update(corrector=1, shade=0.1)
    (folder / "manifest.json").write_text(json.dumps(m))
    model = families.load(Registry([tmp_path], builtin=False, env=False).load("shaded"))
    assert model.spec.shade == 0.1 and model.settings("a", None, None, None).shade == 0.1
    assert model.spec.to_dict()["defaults"]["shade"] == 0.1


def test_cli_inpaint_writes_the_repaintings(preg: Registry, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from pixelsprite.cli import main
    from pixelsprite.imageio import read_image, write_png

    root = preg.search_path[0]
    image = api.generate("tpixel", 1, 3, label="a", registry=preg).sprites[0]
    mask = np.zeros((SIZE, SIZE, 4), np.uint8)
    mask[..., 3] = 255
    mask[:, :4, :3] = 255  # white = repaint the left half
    write_png(tmp_path / "s.png", image)
    write_png(tmp_path / "m.png", mask)
    out = tmp_path / "out"
    code = main(
        [
            "--models-dir",
            str(root),
            "--no-builtin-models",
            "inpaint",
            str(tmp_path / "s.png"),
            str(tmp_path / "m.png"),
            "--model",
            "tpixel",
            "-n",
            "3",
            "--seed",
            "4",
            "--label",
            "a",
            "--temperature",
            "0.9",
            "-o",
            str(out),
            "--separate",
        ]
    )
    assert code == 0
    want = api.inpaint("tpixel", image, mask, 3, 4, label="a", temperature=0.9, registry=preg).sprites
    files = sorted(out.glob("*.png"))
    assert len(files) == 3
    assert (np.stack([read_image(p) for p in files]) == want).all()
    assert (want[:, :, 4:] == image[:, 4:]).all()
    code = main(
        [
            "--models-dir",
            str(root),
            "--no-builtin-models",
            "generate",
            "--model",
            "tpixel",
            "-n",
            "1",
            "--temperature",
            "5",
            "-o",
            str(tmp_path / "x.png"),
        ]
    )
    assert code == 2 and "temperature" in capsys.readouterr().err


def test_inpaint_clean_up_and_previews_never_touch_kept_pixels(preg: Registry) -> None:
    image = np.zeros((SIZE, SIZE, 4), np.uint8)
    image[1:7, 1:7] = (250, 10, 10, 255)  # a colour outside the palette
    mask = np.zeros((SIZE, SIZE), bool)
    mask[:, 3:] = True  # 40 of 64 pixels: 3 of the 4 steps, so previews come
    shown: list[np.ndarray] = []
    res = api.inpaint(
        "tpixel",
        image,
        mask,
        2,
        0,
        outline="#000000",
        despeckle=True,
        registry=preg,
        preview=lambda s, d, t: shown.append(s),
    ).sprites
    assert (res[:, ~mask] == image[~mask]).all()
    assert shown and all((s[:, ~mask] == image[~mask]).all() for s in shown)
    with pytest.raises(InvalidRequest) as e:
        api.generate("tpixel", 1, 0, palette="pico-8", dither="bayer4", registry=preg)
    assert e.value.field == "dither"
