"""Ordering colours the way pixel artists lay out palettes: greys first, then ramps by hue, dark to light.

In OKLab ``(L, a, b)``, chroma is ``hypot(a, b)`` and hue ``atan2(b, a)``. A colour is a grey when its chroma is
below :data:`GREY_CHROMA`. Chromatic colours fall into 12 hue bins of 30 degrees (the first centred on hue 0,
OKLab's pinkish red, going through orange, yellow, green, cyan, blue and purple); each bin is one ramp, sorted by
lightness. The order is a pure function of the colours (ties: lower ``0xRRGGBB`` first).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..colorspace import srgb_to_oklab

__all__ = ["GREY_CHROMA", "HUE_BINS", "ramp_order", "sort_ramps"]

GREY_CHROMA = 0.03
HUE_BINS = 12


def ramp_order(rgb: npt.ArrayLike) -> np.ndarray:
    """The permutation that sorts uint8 ``(K, 3)`` colours into greys-then-hue-ramps order; int64 ``(K,)``."""
    arr = np.asarray(rgb, dtype=np.uint8).reshape(-1, 3)
    lab = srgb_to_oklab(arr)
    chroma = np.hypot(lab[:, 1], lab[:, 2])
    hue = np.degrees(np.arctan2(lab[:, 2], lab[:, 1])) % 360.0
    width = 360.0 / HUE_BINS
    hue_bin = np.floor(((hue + width / 2) % 360.0) / width).astype(np.int64)
    group = np.where(chroma < GREY_CHROMA, -1, hue_bin)
    key = (arr[:, 0].astype(np.int64) << 16) | (arr[:, 1].astype(np.int64) << 8) | arr[:, 2]
    # np.lexsort sorts by the last key first: group, then lightness, then the packed colour.
    return np.lexsort((key, np.round(lab[:, 0], 9), group))


def sort_ramps(rgb: npt.ArrayLike) -> np.ndarray:
    """uint8 ``(K, 3)`` colours in greys-then-hue-ramps order."""
    arr = np.asarray(rgb, dtype=np.uint8).reshape(-1, 3)
    return arr[ramp_order(arr)]
