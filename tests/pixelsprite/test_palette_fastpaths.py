"""The fast paths give the same arrays as the straightforward code they replace."""

from __future__ import annotations

import numpy as np

from pixelsprite import colorspace
from pixelsprite.palettes.enforce import DENSE_MIN, unique_inverse


def test_unique_inverse_matches_numpy_on_both_paths() -> None:
    rng = np.random.default_rng(0)
    for n in (0, 5, DENSE_MIN - 1, DENSE_MIN, 3 * DENSE_MIN):
        keys = rng.integers(0, 1 << 24, n).astype(np.int32)
        keys[: n // 2] = keys[n // 2 : n // 2 * 2]  # repeats
        uniq, inv = unique_inverse(keys)
        want_u, want_i = np.unique(keys, return_inverse=True)
        assert np.array_equal(uniq, want_u) and np.array_equal(inv, want_i.reshape(-1)), n
        assert uniq.dtype == np.int64 and inv.dtype == np.int64


def test_integer_oklab_lookup_equals_the_formula() -> None:
    rgb = np.random.default_rng(1).integers(0, 256, (10_001, 3))
    c = rgb.astype(np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    want = np.cbrt(linear @ colorspace.RGB_TO_LMS.T) @ colorspace.LMS_TO_LAB.T
    for arr in (rgb, rgb.astype(np.uint8)):
        assert np.array_equal(colorspace.srgb_to_oklab(arr), want)
    assert np.array_equal(colorspace.srgb_to_oklab(rgb.astype(np.float32)), want)
