"""Extraction: exact colours back for few-colour sprites, weighting, transparency ignored, ramp order, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from pixelsprite.errors import InvalidRequest
from pixelsprite.palettes import color_counts, extract, sort_ramps

METHODS = ("kmeans", "median_cut")


def _sprite(colors: list[tuple[int, int, int]], counts: list[int], size: int = 8) -> np.ndarray:
    px = np.zeros((size * size, 4), np.uint8)
    i = 0
    for c, n in zip(colors, counts):
        px[i : i + n] = (*c, 255)
        i += n
    return px.reshape(size, size, 4)


@pytest.mark.parametrize("method", METHODS)
def test_few_colours_come_back_exactly_in_ramp_order(method: str) -> None:
    s = _sprite([(200, 40, 40), (40, 40, 200), (128, 128, 128), (40, 200, 40)], [10, 10, 10, 10])
    pal = extract(s, 8, method=method)
    # greys first, then the hue bins: red (~30 deg in OKLab), green (~140), blue (~265)
    assert pal.hex == ("#808080", "#c82828", "#28c828", "#2828c8")


def test_median_cut_splits_at_the_weighted_median() -> None:
    s = _sprite([(0, 0, 0), (20, 20, 20), (235, 235, 235), (255, 255, 255)], [10, 10, 10, 10])
    pal = extract(s, 2, method="median_cut")
    dark, light = pal.colors.tolist()  # greys, dark to light
    assert dark[0] == dark[1] == dark[2] < 20 and 235 < light[0] == light[1] == light[2]


def test_transparent_pixels_are_ignored() -> None:
    s = _sprite([(10, 20, 30)], [5])
    s[7, 7] = (255, 0, 0, 0)  # colour under alpha 0 must not count
    rgb, counts = color_counts(s)
    assert rgb.tolist() == [[10, 20, 30]] and counts.tolist() == [5]
    assert extract(s, 4).hex == ("#0a141e",)


def test_kmeans_weighting_by_pixel_count() -> None:
    # Two reds cover most pixels, one blue is rare: 2 colours -> a weighted red mean and the blue.
    s = _sprite([(200, 0, 0), (210, 0, 0), (0, 0, 255)], [30, 30, 4])
    pal = extract(s, 2, method="kmeans")
    assert len(pal) == 2
    reds = [c for c in pal.colors.tolist() if c[0] > 150]
    assert len(reds) == 1 and 200 <= reds[0][0] <= 210 and [0, 0, 255] in pal.colors.tolist()


@pytest.mark.parametrize("method", METHODS)
def test_batches_of_any_size_and_determinism(method: str) -> None:
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (20, 16, 16, 4), dtype=np.uint8)
    b = rng.integers(0, 256, (12, 10, 4), dtype=np.uint8)
    p1 = extract([*a, b], 16, method=method)
    p2 = extract([*a.copy(), b.copy()], 16, method=method)
    assert len(p1) == 16 and p1 == p2
    assert np.array_equal(p1.colors, sort_ramps(p1.colors))


def test_bad_arguments() -> None:
    s = _sprite([(1, 2, 3)], [3])
    with pytest.raises(InvalidRequest) as info:
        extract(s, 0)
    assert info.value.field == "colors"
    with pytest.raises(InvalidRequest, match="kmeans, median_cut"):
        extract(s, 4, method="octree")
    with pytest.raises(InvalidRequest, match="no opaque pixels"):
        extract(np.zeros((4, 4, 4), np.uint8), 4)


# ------------------------------------------------------------------------ near-identical colours (issue 18)
def _with_near_blacks() -> np.ndarray:
    """A sprite with three blacks nobody can tell apart (the issue's) and 24 clearly different colours."""
    rng = np.random.default_rng(0)
    others = [tuple(int(v) for v in c) for c in rng.integers(40, 256, (24, 3))]
    colours = [(0, 0, 0), (5, 5, 7), (1, 2, 3)] + others
    return _sprite(colours, [20, 10, 10] + [1] * 24)


@pytest.mark.parametrize("method", METHODS)
def test_near_identical_colours_take_one_slot(method: str) -> None:
    pal = extract(_with_near_blacks(), 16, method=method)
    blacks = [h for h in pal.hex if max(int(h[i : i + 2], 16) for i in (1, 3, 5)) < 12]
    assert blacks == ["#000000"], pal.hex  # before: #000000, #050507 and #010203 took three of the 16 slots
    assert len(pal) == 16


def test_merge_close_keeps_the_most_frequent_colour_of_a_group() -> None:
    from pixelsprite.palettes.extract import JND, merge_close

    rgb = np.array([[0, 0, 0], [1, 2, 3], [5, 5, 7], [128, 128, 128], [129, 128, 128], [255, 0, 0]], np.uint8)
    counts = np.array([5, 9, 2, 3, 4, 1])
    keep, total = merge_close(rgb, counts)
    assert rgb[keep].tolist() == [[1, 2, 3], [129, 128, 128], [255, 0, 0]] and total.tolist() == [16, 7, 1]
    assert JND == 2.3
    # a difference you can see stays: two greys 8 levels apart are about 3 delta E apart
    keep, _ = merge_close(np.array([[120, 120, 120], [128, 128, 128]], np.uint8), np.array([1, 1]))
    assert len(keep) == 2


def test_few_colours_still_come_back_exactly_even_when_close() -> None:
    s = _sprite([(0, 0, 0), (1, 2, 3), (200, 0, 0)], [10, 10, 10])
    assert extract(s, 8).hex == ("#000000", "#010203", "#c80000")  # <= n colours: exactly, as documented


def test_extract_merges_many_colours_fast() -> None:
    import time

    rng = np.random.default_rng(1)
    big = rng.integers(0, 256, (1024, 1024, 4), dtype=np.uint8)
    big[..., 3] = 255
    t0 = time.perf_counter()
    pal = extract(big, 16)
    assert len(pal) == 16 and time.perf_counter() - t0 < 30
