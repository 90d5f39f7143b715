"""Pixel-art statistics: exact answers on hand-drawn sprites."""

from __future__ import annotations

import numpy as np
import pytest

from pixelsprite.metrics import (
    colors_per_sprite,
    isolated_pixel_rate,
    non_binary_alpha_share,
    opaque_coverage,
    sprite_stats,
)

_ = (0, 0, 0, 0)
R = (255, 0, 0, 255)
G = (0, 255, 0, 255)
r = (255, 0, 0, 128)  # same RGB as R, semi-transparent but opaque (alpha >= 128)
h = (9, 9, 9, 100)  # semi-transparent, counts as transparent


def _batch(*sprites: list[list[tuple[int, int, int, int]]]) -> np.ndarray:
    return np.array(sprites, dtype=np.uint8)


SPRITES = _batch(
    # R block of 3 (not isolated), lone G at (0,3), lone R at (3,3): 5 opaque, 2 isolated
    [[R, R, _, G], [R, _, _, _], [_, _, _, _], [_, _, _, R]],
    # G left column (4 pixels) + r at (0,2) next to nothing equal + h
    [[G, _, r, _], [G, _, _, _], [G, _, _, h], [G, _, _, _]],
    # empty
    [[_] * 4] * 4,
)


def test_colors_per_sprite() -> None:
    np.testing.assert_array_equal(colors_per_sprite(SPRITES), [2, 2, 0])


def test_isolated_pixel_rate() -> None:
    np.testing.assert_allclose(isolated_pixel_rate(SPRITES), [2 / 5, 1 / 5, 0.0])


def test_isolated_requires_same_rgba() -> None:
    s = _batch([[R, r], [_, _]])  # same RGB, different alpha: both isolated
    np.testing.assert_allclose(isolated_pixel_rate(s), [1.0])
    edge = _batch([[R]])  # a 1x1 sprite: outside neighbours don't count
    np.testing.assert_allclose(isolated_pixel_rate(edge), [1.0])


def test_non_binary_alpha_share() -> None:
    np.testing.assert_allclose(non_binary_alpha_share(SPRITES), [0.0, 2 / 16, 0.0])


def test_opaque_coverage() -> None:
    np.testing.assert_allclose(opaque_coverage(SPRITES), [5 / 16, 5 / 16, 0.0])


def test_sprite_stats_keys_and_validation() -> None:
    stats = sprite_stats(SPRITES)
    assert set(stats) == {
        "colors_per_sprite",
        "isolated_pixel_rate",
        "non_binary_alpha_share",
        "opaque_coverage",
    }
    assert all(v.shape == (3,) for v in stats.values())
    with pytest.raises(ValueError, match=r"\(N, H, W, 4\)"):
        colors_per_sprite(SPRITES[0])
