"""A tiling ``pixel`` bundle (``tokens.tiling``): its network wraps around, its corrector compares wrapped-around
neighbours, variations keep the tile's colours and inpainting keeps the tile's border."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from pixelsprite import families
from pixelsprite.pixel import TILE_BORDER, PixelModel, border_ring, confetti, own_colours
from pixelsprite.registry import Registry

from .pixel_bundles import PALETTE, SIZE, write_pixel_model


@pytest.fixture(scope="module")
def tiles(tmp_path_factory: pytest.TempPathFactory) -> tuple[PixelModel, Path]:
    root = tmp_path_factory.mktemp("tiles")
    folder = write_pixel_model(root, "ttile", tiling=True)
    model = families.load(Registry([root], builtin=False, env=False).load("ttile"))
    assert isinstance(model, PixelModel)
    return model, folder


def _tile(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rgba = np.zeros((SIZE, SIZE, 4), np.uint8)
    rgba[..., :3] = PALETTE[rng.integers(0, 3, (SIZE, SIZE))]
    rgba[..., 3] = 255
    return rgba


def test_the_exported_network_lives_on_a_torus(tiles: tuple[PixelModel, Path]) -> None:
    """Rolling the input canvas rolls the logits (by a multiple of the U-Net's stride): no pixel is at an edge."""
    model, folder = tiles
    assert model.spec.tiling
    sess = ort.InferenceSession(str(folder / "logits.onnx"))
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, len(PALETTE) + 2, (2, SIZE, SIZE)).astype(np.int64)
    feed = {"t": np.array([0.3, 0.8], np.float32), "label": np.array([0, 1], np.int64)}
    out = sess.run(None, {"tokens": tokens, **feed})[0]
    rolled = sess.run(None, {"tokens": np.roll(tokens, (2, 4), axis=(1, 2)), **feed})[0]
    np.testing.assert_allclose(np.roll(out, (2, 4), axis=(2, 3)), rolled, atol=1e-4)


def test_confetti_pixels_wrap_around() -> None:
    """A corner pixel unlike everything around it has two neighbours on a canvas (too few to be confetti) and four
    on a torus."""
    lab = np.array([[0.2, 0.0, 0.0], [0.9, 0.0, 0.0]])
    t = np.ones((1, 4, 4), np.int64)
    t[0, 0, 0] = 2
    assert not confetti(t, lab)[0][0, 0, 0]
    picked, around = confetti(t, lab, wrap=True)
    assert picked[0, 0, 0] and picked.sum() == 1
    assert around[0, 0, 0].tolist() == [1, 1, 1, 1]  # up (the bottom row), down, left (the last column), right


def test_inpaint_keeps_the_border(tiles: tuple[PixelModel, Path]) -> None:
    model, _ = tiles
    tile = _tile()
    s = model.settings("a", None, None, None, None)
    out = model.inpaint(tile, np.ones((SIZE, SIZE), bool), [1, 2, 3], s)
    ring = border_ring(SIZE, SIZE, TILE_BORDER)
    assert (out[:, ring] == tile[ring]).all()
    assert (out[:, ~ring] != tile[~ring]).any()  # the inside was repainted


def test_variations_keep_the_tiles_colours(tiles: tuple[PixelModel, Path]) -> None:
    model, _ = tiles
    tile = _tile(1)
    s = model.settings("b", None, None, None, None)
    out = model.variations(tile, [4, 5, 6], 0.8, s)
    allowed = {tuple(c) for c in own_colours(tile)}
    opaque = out[..., 3] > 0
    assert {tuple(c) for c in out[..., :3][opaque]} <= allowed
    assert (out != tile).any()
    np.testing.assert_array_equal(model.variations(tile, [4], 0.0, s)[0], tile)


def test_seeds_reproduce_tiles(tiles: tuple[PixelModel, Path]) -> None:
    model, _ = tiles
    s = model.settings("a", None, None, None, None)
    a = model.generate([7, 8], s)
    b = model.generate([8], s)
    np.testing.assert_array_equal(a[1], b[0])


def test_the_catalog_says_tiling(tiles: tuple[PixelModel, Path]) -> None:
    model, _ = tiles
    caps = families.capabilities(model.manifest)
    assert caps.tiling and caps.to_dict()["tiling"] is True
    assert caps.operations == ("generate", "variations", "inpaint")


def test_sprite_models_do_not_tile(tmp_path: Path) -> None:
    write_pixel_model(tmp_path, "tsprite")
    bundle = Registry([tmp_path], builtin=False, env=False).load("tsprite")
    assert families.capabilities(bundle.manifest).tiling is False


def test_an_opaque_bundle_never_draws_a_transparent_pixel(tmp_path: Path) -> None:
    """The tiny network's random weights make many transparent pixels; ``tokens.opaque`` pins them all opaque,
    in generate, variations (strength 1) and the corrector alike, and seeds still reproduce tiles."""
    write_pixel_model(tmp_path, "plain", tiling=True)
    write_pixel_model(tmp_path, "solid", tiling=True, opaque=True)
    reg = Registry([tmp_path], builtin=False, env=False)
    plain, solid = families.load(reg.load("plain")), families.load(reg.load("solid"))
    assert solid.spec.opaque and not plain.spec.opaque
    s = replace(solid.settings("a", None, None, None, None), corrector=1)
    assert (plain.generate(list(range(8)), s)[..., 3] == 0).any()
    tiles = solid.generate(list(range(8)), s)
    assert (tiles[..., 3] == 255).all()
    np.testing.assert_array_equal(solid.generate([3], s)[0], tiles[3])
    assert (solid.variations(tiles[0], [1, 2], 1.0, s)[..., 3] == 255).all()
