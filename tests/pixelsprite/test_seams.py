"""The seam measures: a periodic pattern has no seam, a ramp that jumps at the wrap-around edge has one."""

from __future__ import annotations

import numpy as np
import pytest

from pixelsprite.evaluation.crispness import step_profile
from pixelsprite.evaluation.seams import edge_profile, repeat_3x3, seam_distance, seam_report


def _checker(n: int = 8, s: int = 16) -> np.ndarray:
    """Opaque 1-px checkerboards in random colours: every step, inside or across the edge, is the same jump."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:s, 0:s]
    board = ((y + x) % 2).astype(bool)
    out = np.zeros((n, s, s, 4), np.uint8)
    for i in range(n):
        a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        out[i, ..., :3] = np.where(board[..., None], a, b)
    out[..., 3] = 255
    return out


def _ramp(n: int = 8, s: int = 16) -> np.ndarray:
    """Opaque horizontal grey ramps: soft steps inside, one hard jump from the last column back to the first."""
    out = np.zeros((n, s, s, 4), np.uint8)
    out[..., :3] = np.linspace(0, 255, s).astype(np.uint8)[None, None, :, None]
    out[..., 3] = 255
    return out


def test_periodic_tiles_have_no_seam() -> None:
    assert seam_distance(_checker()) < 0.02


def test_a_jump_at_the_edge_is_a_seam() -> None:
    ramp = _ramp()
    assert seam_distance(ramp) > 0.3
    assert edge_profile(ramp)[-1] > 0.4  # half of the edge pairs (the horizontal ones) are hard jumps
    assert step_profile(ramp)[-1] < 0.05  # inside, no step is hard


def test_rolling_a_seamless_tile_keeps_it_seamless() -> None:
    tiles = _checker()
    rolled = np.roll(tiles, (3, 5), axis=(1, 2))
    assert abs(seam_distance(rolled) - seam_distance(tiles)) < 0.05


def test_repeat_3x3_shapes_and_content() -> None:
    tiles = _checker(2, 4)
    big = repeat_3x3(tiles)
    assert big.shape == (2, 12, 12, 4)
    np.testing.assert_array_equal(big[:, 4:8, 8:12], tiles)
    assert repeat_3x3(tiles[0]).shape == (12, 12, 4)
    with pytest.raises(ValueError, match="tiles must be"):
        edge_profile(tiles[0])


def test_report_against_real() -> None:
    r = seam_report(_ramp(), _checker())
    assert set(r) == {"seam_distance", "seam_distance_real", "step_distance", "repeat_step_distance"}
    assert r["seam_distance"] > r["seam_distance_real"]
