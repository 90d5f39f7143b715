"""The diffusion and flow families through the request layer, on tiny exported bundles: determinism, labels,
guidance, hooks, variations, interpolation, inversion, the latent space, and request errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from pixelsprite import api, cli
from pixelsprite.diffusion import DiffusionModel
from pixelsprite.errors import BundleError, Cancelled, InvalidRequest
from pixelsprite.flow import FlowModel
from pixelsprite.registry import Registry

from .iterative_bundles import SIZE

SETTINGS = [
    ("tdiff", "ddim", 4),
    ("tdiff", "ddpm", 6),
    ("tdiff-v", "ddim", 3),
    ("tflow", "euler", 3),
    ("tflow", "midpoint", 2),
    ("tflow", "heun", 2),
    ("tflow-lat", "heun", 2),
]


@pytest.mark.parametrize(("model", "solver", "steps"), SETTINGS)
def test_seed_reproduces_each_sprite_whatever_the_batch(
    iterative_registry: Registry, model: str, solver: str, steps: int
) -> None:
    kw = {"label": "b", "solver": solver, "steps": steps, "guidance": 2.5, "registry": iterative_registry}
    a = api.generate(model, 5, seed=10, **kw)
    b = api.generate(model, 5, seed=10, **kw)
    assert a.sprites.tobytes() == b.sprites.tobytes()
    assert a.sprites.shape == (5, SIZE, SIZE, 4) and set(np.unique(a.sprites[..., 3])) <= {0, 255}
    alone = api.generate(model, 1, seed=13, **kw)
    assert alone.sprites[0].tobytes() == a.sprites[3].tobytes()
    other = api.generate(model, 5, seed=10, **{**kw, "label": "a"})
    assert other.sprites.tobytes() != a.sprites.tobytes()  # the label matters


def test_guidance_zero_and_one_are_the_plain_predictions(iterative_registry: Registry) -> None:
    m = DiffusionModel(iterative_registry.load("tdiff"))
    x = np.random.default_rng(0).standard_normal((3, 4, SIZE, SIZE)).astype(np.float32)
    t = np.full(3, 17.0, np.float32)
    cond = m.network(x, t, np.full(3, 1, np.int64))
    uncond = m.network(x, t, np.full(3, 2, np.int64))
    assert not np.allclose(cond, uncond)
    for g, want in ((0.0, uncond), (1.0, cond), (3.0, uncond + 3 * (cond - uncond))):
        got = m.predictor(m.settings("b", None, None, g), 3)(x, 17.0)
        assert np.allclose(got, want, atol=1e-5)
    no_label = m.predictor(m.settings(None, None, None, 3.0), 3)(x, 17.0)
    assert np.allclose(no_label, uncond, atol=1e-6)  # no label: the unconditional model, guidance moot


def test_defaults_come_from_the_manifest(iterative_registry: Registry) -> None:
    m = FlowModel(iterative_registry.load("tflow"))
    s = m.settings(None, None, None, None)
    assert (s.solver, s.steps, s.guidance, s.label) == ("heun", 4, 2.0, 2)
    seen: list[tuple[int, int]] = []
    api.generate("tflow", 2, seed=0, progress=lambda d, t: seen.append((d, t)), registry=iterative_registry)
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_progress_and_cancel_through_handle(iterative_registry: Registry) -> None:
    seen: list[tuple[int, int]] = []
    req = api.GenerateRequest("tdiff", 2, 0, label="a", solver="ddpm", steps=5)
    api.handle(req, registry=iterative_registry, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(i, 5) for i in range(1, 6)]
    with pytest.raises(Cancelled) as e:
        api.handle(
            req, registry=iterative_registry, cancel=lambda: len(seen) >= 7, progress=lambda d, t: seen.append((d, t))
        )
    assert e.value.code == "cancelled" and len(seen) == 7


def test_variations_by_partial_noising(iterative_registry: Registry) -> None:
    sprite = api.generate("tdiff", 1, seed=3, label="a", registry=iterative_registry).sprites[0]
    for model in ("tdiff", "tflow", "tflow-lat"):
        same = api.variations(model, sprite, 3, strength=0.0, seed=1, max_colors=0, registry=iterative_registry)
        if model != "tflow-lat":  # pixel space: strength 0 gives the sprite back
            assert all(s.tobytes() == sprite.tobytes() for s in same.sprites)
        kw = {"label": "a", "steps": 6, "registry": iterative_registry}
        a = api.variations(model, sprite, 4, strength=0.5, seed=1, **kw)
        b = api.variations(model, sprite, 1, strength=0.5, seed=2, **kw)
        assert a.sprites[1].tobytes() == b.sprites[0].tobytes() and a.seeds == (1, 2, 3, 4)
    seen: list[tuple[int, int]] = []
    api.variations(
        "tdiff",
        sprite,
        2,
        strength=0.5,
        seed=1,
        steps=6,
        progress=lambda d, t: seen.append((d, t)),
        registry=iterative_registry,
    )
    assert seen[-1] == (3, 3)  # ceil(6 * 0.5) steps from the middle of the schedule


@pytest.mark.parametrize(("model", "solver"), [("tdiff", "ddim"), ("tflow", "heun"), ("tflow-lat", "euler")])
def test_interpolation_between_seeds_starts_and_ends_on_them(
    iterative_registry: Registry, model: str, solver: str
) -> None:
    kw = {"label": "a", "solver": solver, "guidance": 2.0, "registry": iterative_registry}
    strip = api.interpolate(model, 5, 9, count=5, method="lerp", steps=4, **kw)
    ends = (
        api.generate(model, 1, seed=5, steps=4, **kw).sprites[0],
        api.generate(model, 1, seed=9, steps=4, **kw).sprites[0],
    )
    assert strip.sprites.shape == (5, SIZE, SIZE, 4) and strip.layout == (1, 5)
    assert strip.sprites[0].tobytes() == ends[0].tobytes() and strip.sprites[-1].tobytes() == ends[1].tobytes()


def test_image_endpoints_invert_the_deterministic_sampler(iterative_registry: Registry) -> None:
    m = FlowModel(iterative_registry.load("tflow"))
    s = m.settings("a", "heun", 40, 1.0)
    x1 = np.clip(np.random.default_rng(0).standard_normal((1, 4, SIZE, SIZE)), -1, 1).astype(np.float32)
    noise = m._invert(x1, s, lambda d, t: None)
    back = m._sample(noise, s, [], 1.0, lambda d, t: None)
    assert np.allclose(back, x1, atol=2e-3)  # the reverse ODE, then the ODE, returns the start
    sprite = api.generate("tflow", 1, seed=4, label="a", registry=iterative_registry).sprites[0]
    strip = api.interpolate("tflow", sprite, 7, count=3, label="a", registry=iterative_registry)
    assert strip.sprites.shape == (3, SIZE, SIZE, 4)
    diff = api.interpolate("tdiff", sprite, sprite, count=3, steps=5, registry=iterative_registry)
    assert diff.sprites[0].tobytes() == diff.sprites[2].tobytes()


def test_latent_space_bundle_decodes_through_the_vae(iterative_registry: Registry) -> None:
    m = FlowModel(iterative_registry.load("tflow-lat"))
    assert m.spec.space == "latent" and m.has_encoder
    x = np.random.default_rng(1).standard_normal((2, 4, 2, 2)).astype(np.float32)
    raw = m.decode_raw(x)
    assert raw.shape == (2, 4, SIZE, SIZE)
    z = (
        x * np.array([1.0, 0.5, 2.0, 1.0], np.float32)[None, :, None, None]
        + np.array([0.1, -0.1, 0.0, 0.2], np.float32)[None, :, None, None]
    )
    assert np.allclose(raw, m.bundle.run("decoder", {"z": z})["image"], atol=1e-6)


def test_request_errors_name_the_field(iterative_registry: Registry, registry: Registry) -> None:
    reg = iterative_registry
    cases = [
        (lambda: api.generate("tdiff", 2, 0, label="dragon", registry=reg), "label", "valid labels: a, b"),
        (lambda: api.generate("tflow", 2, 0, solver="ddim", registry=reg), "solver", "euler, midpoint, heun"),
        (lambda: api.generate("tdiff", 2, 0, solver="heun", registry=reg), "solver", "supported: ddpm, ddim"),
        (lambda: api.generate("tdiff", 2, 0, steps=41, registry=reg), "steps", "between 1 and 40"),
        (lambda: api.generate("tdiff", 2, 0, steps=0, registry=reg), "steps", "between 1 and 1000"),
        (lambda: api.generate("tdiff", 2, 0, guidance=25.0, registry=reg), "guidance", "between 0.0 and 20.0"),
        (lambda: api.generate("tdiff-u", 2, 0, label="a", registry=reg), "label", "unconditional"),
        (
            lambda: api.variations("tdiff", np.zeros((SIZE, SIZE, 4), np.uint8), 2, 1.5, registry=reg),
            "strength",
            "between 0 and 1",
        ),
        (lambda: api.interpolate("tdiff", 1, 2, solver="ddpm", registry=reg), "solver", "deterministic"),
        (lambda: api.interpolate("tdiff", 1, 2, steps=99, registry=reg), "steps", "between 1 and 40"),
        (lambda: api.grid("tdiff", [1, 2, 3, 4], registry=reg), "model", "supports the families: vae"),
        (lambda: api.generate("tiny", 2, 0, label="a", registry=registry), "label", "takes no label"),
        (lambda: api.generate("tiny", 2, 0, steps=4, registry=registry), "steps", "has no sampler"),
        (lambda: api.interpolate("tiny", 1, 2, solver="ddim", registry=registry), "solver", "has no sampler"),
    ]
    for call, field, text in cases:
        with pytest.raises(InvalidRequest) as e:
            call()
        assert e.value.field == field and text in e.value.message, (field, e.value.message)


def test_broken_sampling_sections_are_bundle_errors(iterative_registry: Registry, tmp_path) -> None:
    import json
    import shutil

    src = iterative_registry.info("tdiff").path
    for key, value, text in (
        ("sampling", None, "needs a 'sampling' object"),
        ("solvers", ["ddim", "euler"], "sampling.solvers"),  # ddim stays the default: one fault only
        ("schedule", {"type": "quadratic", "T": 40}, "sampling.schedule"),
        ("max_steps", 80, "exceeds T"),
    ):
        folder = tmp_path / key / "tdiff"
        shutil.copytree(src, folder)
        d = json.loads((folder / "manifest.json").read_text())
        if key == "sampling":
            del d["sampling"]
        else:
            d["sampling"][key] = value
        (folder / "manifest.json").write_text(json.dumps(d))
        with pytest.raises(BundleError, match=text):
            api.generate("tdiff", 1, 0, registry=Registry([tmp_path / key], builtin=False, env=False))


def test_cli_sampler_options(iterative_registry: Registry, tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    root = str(iterative_registry.search_path[0])
    out = tmp_path / "s.png"
    code = cli.main(
        [
            "--models-dir",
            root,
            "generate",
            "--model",
            "tdiff",
            "-n",
            "3",
            "--seed",
            "1",
            "--label",
            "b",
            "--steps",
            "3",
            "--solver",
            "ddpm",
            "--guidance",
            "1.5",
            "-o",
            str(out),
        ]
    )
    assert code == 0 and out.is_file()
    code = cli.main(["--models-dir", root, "generate", "--model", "tdiff", "--label", "cat", "-o", str(out)])
    assert code == 2 and "valid labels: a, b" in capsys.readouterr().err
    code = cli.main(
        [
            "--models-dir",
            root,
            "interpolate",
            "--model",
            "tflow",
            "--seed-a",
            "1",
            "--seed-b",
            "2",
            "--count",
            "3",
            "--steps",
            "2",
            "--solver",
            "euler",
            "-o",
            str(out),
        ]
    )
    assert code == 0


def test_a_label_with_its_own_colour_policy_decodes_with_it(iterative_registry: Registry, tmp_path: Path) -> None:
    src = Path(iterative_registry.load("tflow").info.path)
    shutil.copytree(src, tmp_path / "tflow")
    path = tmp_path / "tflow" / "manifest.json"
    d = json.loads(path.read_text())
    d["postprocess"]["per_label"] = {"a": {"color_tolerance": 1.0, "despeckle": 0.0}}  # any error allowed: 1 colour
    path.write_text(json.dumps(d))
    own = Registry([tmp_path], builtin=False, env=False)
    for label, expect_change in (("a", True), ("b", False)):
        kw = {"label": label, "steps": 3}
        before = api.generate("tflow", 4, seed=0, registry=iterative_registry, **kw).sprites
        after = api.generate("tflow", 4, seed=0, registry=own, **kw).sprites
        assert np.array_equal(before[..., 3], after[..., 3])  # the policy changes colours, never the shape
        assert (not np.array_equal(before, after)) == expect_change
        if expect_change:
            assert all(len(np.unique(s[s[..., 3] > 0][:, :3], axis=0)) == 1 for s in after)
