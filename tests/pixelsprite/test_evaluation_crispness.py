"""The neighbour-step profile on hand-drawn sprites whose steps are known, and the damage that must move it."""

from __future__ import annotations

import numpy as np
import pytest

from pixelsprite.evaluation.corruptions import CORRUPTIONS, blur, half_resolution, posterize, rgb_noise
from pixelsprite.evaluation.crispness import STEP_BINS, profile_distance, step_counts, step_profile

# Neutral greys have OKLab a = b = 0 and L = cbrt(linear(v)), so the step between greys 128 and v is
# cbrt(lin(v)) - cbrt(lin(128)): 130 -> 0.0067 (< .02), 136 -> 0.027 (.02-.05), 144 -> 0.053 (.05-.10),
# 160 -> 0.106 (.10-.20), 192 -> 0.208 (>= .20); black to white is 1.0.
ONE_PER_BIN = (128, 130, 136, 144, 160, 192)


def grey(v: int, alpha: int = 255) -> tuple[int, int, int, int]:
    return (v, v, v, alpha)


def pairs_sprite() -> np.ndarray:
    """(1, 11, 2, 4): rows 0, 2, ..., 10 hold the pairs [128, v] (one step per bin), odd rows are transparent, so
    the only opaque-opaque neighbours are the six horizontal pairs."""
    out = np.zeros((1, 11, 2, 4), np.uint8)
    for i, v in enumerate(ONE_PER_BIN):
        out[0, 2 * i, 0], out[0, 2 * i, 1] = grey(128), grey(v)
    return out


def test_one_step_in_each_bin_horizontally_and_vertically() -> None:
    sprite = pairs_sprite()
    assert step_counts(sprite).tolist() == [1, 1, 1, 1, 1, 1]
    assert step_counts(sprite.transpose(0, 2, 1, 3)).tolist() == [1, 1, 1, 1, 1, 1]  # the same pairs, vertical
    assert np.allclose(step_profile(sprite), np.full(6, 1 / 6))
    assert len(STEP_BINS) == 6


def test_transparent_neighbours_do_not_count_and_any_alpha_is_opaque() -> None:
    sprite = np.zeros((1, 2, 3, 4), np.uint8)
    sprite[0, 0] = [grey(0), grey(255, alpha=1), grey(255)]  # alpha 1 is opaque: black-white, white-white
    sprite[0, 1, 0] = grey(0)  # below the black pixel: identical; the rest of row 1 is transparent
    assert step_counts(sprite).tolist() == [2, 0, 0, 0, 0, 1]
    assert step_profile(sprite) == pytest.approx([2 / 3, 0, 0, 0, 0, 1 / 3])


def test_counts_pool_over_sprites_and_wrap_adds_the_seams() -> None:
    bw = np.array([[[grey(0), grey(255)]]], np.uint8)  # (1, 1, 2, 4): one black-white pair
    assert step_counts(bw).tolist() == [0, 0, 0, 0, 0, 1]
    # wrapped: the right edge meets the left (white-black, hard) and the single row meets itself (2 identical)
    assert step_counts(bw, wrap=True).tolist() == [2, 0, 0, 0, 0, 2]
    both = np.concatenate([bw, np.zeros_like(bw), pairs_sprite()[:, :1]])  # sets of different sprites pool
    assert step_counts(both).tolist() == [1, 0, 0, 0, 0, 1]


def test_no_opaque_pair_gives_a_zero_profile() -> None:
    lonely = np.zeros((2, 3, 3, 4), np.uint8)
    lonely[:, 1, 1] = grey(200)
    assert step_counts(lonely).tolist() == [0] * 6 and step_profile(lonely).tolist() == [0.0] * 6


def test_total_variation_distance_has_known_answers() -> None:
    flat, hard = np.eye(6)[0], np.eye(6)[5]
    uniform = np.full(6, 1 / 6)
    assert profile_distance(flat, flat) == 0.0
    assert profile_distance(flat, hard) == pytest.approx(1.0)
    assert profile_distance(flat, uniform) == pytest.approx(5 / 6)
    assert profile_distance([0.5, 0, 0, 0, 0, 0.5], [0.5, 0.5, 0, 0, 0, 0]) == pytest.approx(0.5)
    assert profile_distance(step_profile(pairs_sprite()), flat) == pytest.approx(5 / 6)


def test_shape_is_checked() -> None:
    with pytest.raises(ValueError, match="must be"):
        step_counts(np.zeros((4, 4, 4), np.uint8))


def crisp_sprites(n: int, seed: int, size: int = 12) -> np.ndarray:
    """uint8 (n, size, size, 4) hard-alpha sprites of a few flat rectangles with hard steps between them."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, size, size, 4), np.uint8)
    for i in range(n):
        for _ in range(int(rng.integers(2, 5))):
            y0, x0 = rng.integers(0, size - 3, 2)
            h, w = rng.integers(3, size // 2 + 2, 2)
            out[i, y0 : y0 + h, x0 : x0 + w, :3] = rng.integers(0, 256, 3)
            out[i, y0 : y0 + h, x0 : x0 + w, 3] = 255
    return out


def test_blur_and_noise_move_the_profile_the_right_way() -> None:
    crisp = crisp_sprites(40, 0)
    real = step_profile(crisp)
    soft = slice(1, 4)  # above 0, below .10
    blurred = blur(crisp)
    assert (blurred[..., 3] == crisp[..., 3]).all()  # alpha stays hard and in place
    assert (blurred[blurred[..., 3] == 0] == 0).all()
    b = step_profile(blurred)
    assert b[0] < real[0] - 0.2 and b[soft].sum() > real[soft].sum() + 0.2 and b[5] < real[5] / 2
    assert profile_distance(b, real) > 0.25
    noisy = step_profile(rgb_noise(crisp, np.random.default_rng(0), 8.0))
    assert noisy[0] == 0 and profile_distance(noisy, real) > 0.8  # every flat area broken
    assert profile_distance(step_profile(posterize(crisp)), real) < 0.05 and len(CORRUPTIONS) == 5


def test_half_resolution_flattens_one_pixel_detail() -> None:
    """A 1-px checkerboard is all hard steps; at half resolution (top-left of each 2x2 block) it is one flat area."""
    yy, xx = np.mgrid[0:8, 0:8]
    board = np.where(((yy + xx) % 2 == 0)[..., None], grey(20), grey(230)).astype(np.uint8)[None]
    assert step_profile(board).tolist() == [0, 0, 0, 0, 0, 1]
    halved = half_resolution(board)
    assert step_profile(halved).tolist() == [1, 0, 0, 0, 0, 0] and (halved[..., :3] == 20).all()
    assert profile_distance(step_profile(halved), step_profile(board)) == 1.0


def test_blur_uses_only_opaque_neighbours() -> None:
    """A one-colour sprite on a transparent canvas stays that colour: the background does not bleed in."""
    s = np.zeros((1, 6, 6, 4), np.uint8)
    s[0, 1:5, 1:5] = (200, 40, 10, 255)
    assert np.array_equal(blur(s), s)
    s[0, 1:5, 3:5, :3] = (0, 0, 0)  # left half red, right half black: the seam becomes a ramp
    out = blur(s)
    assert out[0, 2, 2, 0] == 150  # the 1-2-1 weights: 12 of 16 on the red columns
    assert out[0, 1, 1, 0] == 200 and out[0, 1, 2, 0] == 150  # at the edge only the 9 / 12 opaque weights count
    assert out[0, 2, 4, 0] == 0 and out[0, 2, 3, 0] == 50  # the black column next to the seam: 4 of 16 red
