"""A renderer bundle (``tokens.guide``): a latent generator draws the sprite, its VAE decodes it into a guide
image, and the pixel network fills the canvas given it. Seeds, labels, the guide, the operations' promises
(kept pixels, palette lock, strength 0) and progress, on a tiny renderer over the tiny latent flow."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from pixelsprite import api, families
from pixelsprite.errors import BundleError, Cancelled, InvalidRequest
from pixelsprite.flow import FlowModel
from pixelsprite.pixel_guide import (
    INPAINT_LEVELS,
    inpaint_evaluations,
    inpainted_guides,
    latent_mask,
    sprite_guides,
    stage_settings,
)
from pixelsprite.registry import Registry

from .pixel_bundles import PALETTE, SIZE, write_renderer_model


@pytest.fixture(scope="module")
def reg(tmp_path_factory: pytest.TempPathFactory, iterative_registry: Registry) -> Registry:
    root = tmp_path_factory.mktemp("renderer")
    write_renderer_model(root, iterative_registry.info("tflow-lat").path)
    return Registry([root], builtin=False, env=False)


@pytest.fixture(scope="module")
def model(reg: Registry) -> families.PixelModel:
    return families.load(reg.load("trender"))


def test_a_renderer_loads_its_latent_first_stage_from_its_own_graphs(model: families.PixelModel) -> None:
    assert isinstance(model.guide, FlowModel) and model.base is None
    spec = model.manifest.graphs["logits"]
    assert [i.name for i in spec.inputs] == ["tokens", "t", "label", "guide", "pick"]
    assert spec.inputs[3].dtype == "float32" and tuple(spec.inputs[3].shape[1:]) == (4, SIZE, SIZE)
    assert model.manifest.labels == ("a", "b")


def test_the_network_follows_the_guide_and_ignores_the_label(model: families.PixelModel) -> None:
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, len(PALETTE) + 2, (4, SIZE, SIZE)).astype(np.int64)
    t = rng.random(4).astype(np.float32)
    guide = rng.uniform(-1, 1, (4, 4, SIZE, SIZE)).astype(np.float32)
    a = model.network(tokens, t, np.zeros(4, np.int64), guide)
    assert np.array_equal(a, model.network(tokens, t, np.ones(4, np.int64), guide))  # the label is the first stage's
    assert not np.allclose(a, model.network(tokens, t, np.zeros(4, np.int64), -guide), atol=1e-3)


def test_generate_is_seeded_per_sprite_and_the_label_reaches_the_first_stage(model: families.PixelModel) -> None:
    s = model.settings("a", None, None, None)
    both = model.generate([5, 9], s)
    assert both.shape == (2, SIZE, SIZE, 4) and both.dtype == np.uint8
    assert np.array_equal(both[1:], model.generate([9], s))
    assert np.array_equal(both, model.generate([5, 9], s))
    assert set(np.unique(both[..., 3])) <= {0, 255}
    opaque = both[both[..., 3] > 0][:, :3]
    assert {tuple(c) for c in opaque} <= {tuple(c) for c in PALETTE}  # colours straight from the palette
    other = model.generate(list(range(8)), model.settings("b", None, None, None))
    assert not np.array_equal(model.generate(list(range(8)), s), other)


def test_progress_counts_both_stages_and_cancel_stops(model: families.PixelModel) -> None:
    s = model.settings("a", None, None, None)
    seen: list[tuple[int, int]] = []
    model.generate([1, 2], s, progress=lambda done, total: seen.append((done, total)))
    first = model.guide.settings(None, None, None, None).steps if model.guide is not None else 0
    total = first + s.steps + s.corrector
    assert [d for d, _ in seen] == list(range(1, total + 1)) and {n for _, n in seen} == {total}
    with pytest.raises(Cancelled):
        model.generate([1], s, cancel=lambda: True)


def test_variations_and_inpainting_keep_what_they_promise(model: families.PixelModel) -> None:
    s = model.settings("a", None, None, None)
    sprite = model.generate([3], s)[0]
    assert np.array_equal(model.variations(sprite, [1, 2], 0.0, s)[0], sprite)
    varied = model.variations(sprite, [1, 2, 3], 0.5, s)
    assert varied.shape == (3, SIZE, SIZE, 4)
    same = (varied == sprite[None]).all(-1).mean(axis=(1, 2))
    assert (same >= 0.45).all()  # the pixels not re-masked keep their exact values
    mask = np.zeros((SIZE, SIZE), bool)
    mask[:, : SIZE // 2] = True
    painted = model.inpaint(sprite, mask, [4, 5], s)
    assert np.array_equal(painted[:, ~mask], np.repeat(sprite[None], 2, 0)[:, ~mask])
    assert np.array_equal(painted, model.inpaint(sprite, mask, [4, 5], s))


def test_a_latent_cell_is_masked_when_any_of_its_pixels_is() -> None:
    mask = np.zeros((8, 8), bool)
    mask[5, 1] = True
    assert latent_mask(mask, (2, 2)).tolist() == [[False, False], [True, False]]
    odd = np.zeros((40, 40), bool)
    odd[:, 13] = True  # 40 pixels over 3 cells: 0..13, 13..26, 26..39 share their edge pixels
    assert latent_mask(odd, (3, 3))[0].tolist() == [True, True, False]
    assert not latent_mask(np.zeros((40, 40), bool), (5, 5)).any() and latent_mask(np.ones((8, 8), bool), (2, 2)).all()


def test_inpainting_redraws_the_masked_latent_cells_and_keeps_the_others(model: families.PixelModel) -> None:
    stage = model.guide
    assert stage is not None
    s = stage_settings(stage, 0)
    sprite = model.generate([3], model.settings("a", None, None, None))[0]
    nothing = inpainted_guides(stage, sprite, np.zeros((SIZE, SIZE), bool), [1, 2], s)
    assert np.allclose(nothing, sprite_guides(stage, sprite, 2), atol=1e-5)  # no cell masked: the VAE's redraw
    mask = np.zeros((SIZE, SIZE), bool)
    mask[:, :2] = True  # touches the left latent column (cells of 4x4 pixels) only
    guides = inpainted_guides(stage, sprite, mask, [1, 2, 3], s)
    redraw = sprite_guides(stage, sprite, 1)[0]
    left = np.abs(guides - redraw[None])[..., : SIZE // 2].max(axis=(1, 2, 3))
    assert (left > 1e-2).all()  # the generator drew something new there, differently for each seed
    assert np.abs(guides[0] - guides[1]).max() > 1e-2
    assert np.array_equal(guides[2:], inpainted_guides(stage, sprite, mask, [3], s))  # seeded per sprite
    assert inpaint_evaluations(stage, s) == sum(stage.phase_steps(s, level) for level in INPAINT_LEVELS)


def test_renderer_inpainting_counts_both_stages_and_cancels(model: families.PixelModel) -> None:
    s = model.settings("a", None, None, None)
    sprite = model.generate([3], s)[0]
    mask = np.zeros((SIZE, SIZE), bool)
    mask[2:6, 2:6] = True
    seen: list[tuple[int, int]] = []
    painted = model.inpaint(sprite, mask, [4, 5], s, progress=lambda done, total: seen.append((done, total)))
    assert model.guide is not None
    total = (
        inpaint_evaluations(model.guide, stage_settings(model.guide, s.label))
        + model.phase_steps(s, float(mask.mean()))
        + s.corrector
    )
    assert [d for d, _ in seen] == list(range(1, total + 1)) and {n for _, n in seen} == {total}
    assert np.array_equal(painted[1:], model.inpaint(sprite, mask, [5], s))
    with pytest.raises(Cancelled):
        model.inpaint(sprite, mask, [1], s, cancel=lambda: True)


def test_palette_lock_draws_in_the_locked_colours(model: families.PixelModel) -> None:
    locked = np.array([[250, 250, 250], [10, 10, 10], [200, 60, 60]], np.uint8)
    out = model.generate(list(range(4)), model.settings("b", None, None, None), locked=locked)
    opaque = out[out[..., 3] > 0][:, :3]
    assert len(opaque) and {tuple(c) for c in opaque} <= {tuple(c) for c in locked}


def test_the_api_answers_a_renderer_like_any_pixel_model(reg: Registry) -> None:
    result = api.generate("trender", 3, 7, label="b", registry=reg)
    assert result.sprites.shape == (3, SIZE, SIZE, 4)
    with pytest.raises(InvalidRequest) as e:
        api.generate("trender", 1, 0, label="nope", registry=reg)
    assert e.value.field == "label"


def test_an_unknown_first_stage_family_is_a_bundle_error(
    tmp_path: Path, iterative_registry: Registry, reg: Registry
) -> None:
    folder = tmp_path / "bad"
    shutil.copytree(reg.info("trender").path, folder)
    d = json.loads((folder / "manifest.json").read_text())
    d["name"], d["tokens"]["guide"]["family"] = "bad", "vae"
    (folder / "manifest.json").write_text(json.dumps(d))
    with pytest.raises(BundleError, match="tokens.guide.family"):
        families.load(Registry([tmp_path], builtin=False, env=False).load("bad"))


def test_a_renderers_graph_quantises_with_guides_from_its_first_stage(
    reg: Registry, model: families.PixelModel, tmp_path: Path
) -> None:
    import onnx

    from pixelsprite.pixel_guide import sprite_guides
    from training.quantize_pixel import masked_canvases, output_drift, quantize_graph, vae_guides

    folder = reg.info("trender").path
    rng = np.random.default_rng(0)
    sprites = rng.integers(0, 256, (6, SIZE, SIZE, 4), dtype=np.uint8)
    sprites[..., 3] = np.where(rng.random((6, SIZE, SIZE)) < 0.5, 255, 0)
    assert model.guide is not None
    guides = vae_guides(model.guide, sprites, chunk=4)  # two chunks
    assert guides.shape == (6, 4, SIZE, SIZE) and guides.dtype == np.float32
    assert np.allclose(guides[5], sprite_guides(model.guide, sprites[5], 1)[0], atol=1e-6)
    feeds = masked_canvases(sprites, np.zeros(6, np.int64), PALETTE, 2, 3, 4, seed=0, guides=guides)
    assert all(f["guide"].shape == (4, 4, SIZE, SIZE) for f in feeds)
    out = tmp_path / "q.onnx"
    quantize_graph(folder / "logits.onnx", out, feeds)
    assert {"QuantizeLinear", "DequantizeLinear"} <= {n.op_type for n in onnx.load(str(out)).graph.node}
    drift = output_drift(folder / "logits.onnx", out, feeds)
    assert 0 < drift["colour_mean_tv"] < 0.5
