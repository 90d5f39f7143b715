"""Enforcement: known indices for a hand-drawn image, dithering patterns and determinism, outlines that survive."""

from __future__ import annotations

import numpy as np
import pytest

from pixelsprite.errors import InvalidRequest
from pixelsprite.palettes import BUILTIN, Palette, apply_palette, enforce, outline_mask, palette_indices
from pixelsprite.postprocess import reduce_colors

PAL = Palette.from_colors("rgbk", ["#000000", "#ffffff", "#ff0000", "#0000ff"])
# A hand-drawn 4x4 sprite: '.' transparent; letters are near-but-not-exact palette colours.
ART = ["..k.",
       ".rwr",
       "kbbk",
       "w..b"]  # fmt: skip
INK = {"k": (20, 10, 12), "w": (236, 240, 230), "r": (200, 30, 20), "b": (30, 40, 190)}
EXPECTED = [[-1, -1, 0, -1],
            [-1, 2, 1, 2],
            [0, 3, 3, 0],
            [1, -1, -1, 3]]  # fmt: skip


def _draw(rows: list[str], ink: dict[str, tuple[int, int, int]]) -> np.ndarray:
    out = np.zeros((len(rows), len(rows[0]), 4), np.uint8)
    for y, row in enumerate(rows):
        for x, ch in enumerate(row):
            if ch != ".":
                out[y, x] = (*ink[ch], 255)
    return out


def test_hand_drawn_image_quantizes_to_known_indices() -> None:
    art = _draw(ART, INK)
    idx = palette_indices(art, PAL)
    assert idx.dtype == np.int16 and idx.tolist() == EXPECTED
    out = apply_palette(art, PAL)
    assert np.array_equal(out[..., 3], art[..., 3])  # alpha never changes
    assert out[1, 1].tolist() == [255, 0, 0, 255] and out[0, 0].tolist() == [0, 0, 0, 0]
    batch = apply_palette(np.stack([art, art[::-1]]), PAL)  # a batch gives each sprite the same answer
    assert np.array_equal(batch[0], out) and np.array_equal(batch[1], apply_palette(art[::-1], PAL))


def test_exact_palette_colours_are_kept_even_when_dithering() -> None:
    art = apply_palette(_draw(ART, INK), PAL)
    for dither in ("none", "bayer2", "bayer4"):
        assert np.array_equal(apply_palette(art, PAL, dither), art)


def test_bayer_patterns_on_a_flat_grey() -> None:
    bw = Palette.from_colors("bw", ["#000000", "#ffffff"])
    grey = np.zeros((4, 4, 4), np.uint8)
    grey[...] = (99, 99, 99, 255)  # about halfway from black to white in OKLab lightness
    assert palette_indices(grey, bw, "none").tolist() == [[0] * 4] * 4
    two = palette_indices(grey, bw, "bayer2", keep_outline=False)
    assert two.tolist() == [[1, 0, 1, 0], [0, 1, 0, 1]] * 2
    four = palette_indices(grey, bw, "bayer4", keep_outline=False)
    assert int(four.sum()) == 8  # half of the 16 cells, in the Bayer order
    assert four.tolist() == [[1, 0, 1, 0], [0, 1, 0, 1]] * 2


def test_dithering_is_deterministic() -> None:
    rng = np.random.default_rng(3)
    sprites = rng.integers(0, 256, (32, 16, 16, 4), dtype=np.uint8)
    sprites[..., 3] = np.where(sprites[..., 3] > 60, 255, 0)
    a = enforce(sprites, BUILTIN["db32"], dither="bayer4")
    b = enforce(sprites.copy(), BUILTIN["db32"], dither="bayer4")
    assert np.array_equal(a, b)
    assert np.array_equal(a[..., 3], sprites[..., 3])
    opaque = a[..., 3] > 0
    allowed = {tuple(c) for c in BUILTIN["db32"].colors.tolist()}
    assert {tuple(c) for c in a[..., :3][opaque].tolist()} <= allowed


def _outlined() -> np.ndarray:
    """A 6x6 blob: a dark grey outline (70, 70, 75) around a red fill, transparent corners."""
    s = np.zeros((6, 6, 4), np.uint8)
    s[1:5, 1:5] = (200, 60, 60, 255)
    for y, x in [(0, 2), (0, 3), (5, 2), (5, 3), (2, 0), (3, 0), (2, 5), (3, 5), (1, 1), (1, 4), (4, 1), (4, 4)]:
        s[y, x] = (70, 70, 75, 255)
    return s


def test_outline_mask() -> None:
    mask = outline_mask(_outlined())
    assert mask[0, 2] and mask[1, 1] and not mask[2, 2]
    full = np.full((3, 3, 4), 255, np.uint8)
    assert not outline_mask(full).any()  # the image border is not a hole


def test_outlines_survive_on_a_light_palette() -> None:
    # Nearest colour would turn the dark-grey outline into the light grey (L 0.46 vs 0.54); the rule keeps it dark.
    pal = Palette.from_colors("light", ["#101010", "#7f7f7f", "#c04040", "#f0f0f0"])
    sprite = _outlined()
    plain = palette_indices(sprite, pal, keep_outline=False)
    kept = palette_indices(sprite, pal)
    assert plain[0, 2] == 1  # what a naive mapping does
    assert kept[0, 2] == 0 and kept[1, 1] == 0  # the outline maps to the dark colour
    assert kept[2, 2] == 2  # the fill keeps its nearest colour
    assert np.array_equal(kept >= 0, sprite[..., 3] > 0)  # the silhouette is unchanged


def test_outline_pixels_are_never_dithered() -> None:
    pal = Palette.from_colors("bw", ["#000000", "#ffffff"])
    s = np.zeros((6, 6, 4), np.uint8)
    s[1:5, 1:5] = (99, 99, 99, 255)
    s[0, 1:5] = s[5, 1:5] = s[1:5, 0] = s[1:5, 5] = (99, 99, 99, 255)  # a ring in the fill's colour ...
    s[0, 1:5] = (30, 30, 30, 255)  # ... except a dark top line, the darkest outline colour
    idx = palette_indices(s, pal, "bayer2")
    ring = outline_mask(s)
    assert set(idx[ring].tolist()) == {0}
    assert idx[0].tolist() == [-1, 0, 0, 0, 0, -1]
    assert set(idx[~ring & (s[..., 3] > 0)].tolist()) == {0, 1}  # the fill inside is dithered


def test_max_colors_without_palette_is_reduce_colors() -> None:
    rng = np.random.default_rng(0)
    sprites = rng.integers(0, 256, (4, 8, 8, 4), dtype=np.uint8)
    sprites[..., 3] = 255
    assert np.array_equal(enforce(sprites, max_colors=5), reduce_colors(sprites, 5))
    capped = enforce(sprites, BUILTIN["aap-64"], max_colors=3)
    for s in capped:
        assert len({tuple(c) for c in s[..., :3].reshape(-1, 3).tolist()}) <= 3


def test_dither_needs_a_known_name_and_a_palette() -> None:
    sprite = _outlined()
    with pytest.raises(InvalidRequest) as info:
        enforce(sprite, dither="bayer4")
    assert info.value.field == "dither"
    with pytest.raises(InvalidRequest, match="none, bayer2, bayer4"):
        enforce(sprite, PAL, dither="floyd")
