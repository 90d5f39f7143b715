"""sRGB <-> OKLab conversion (Björn Ottosson, "A perceptual color space for image processing", 2020).

Arrays are float64 with the colour on the last axis: ``(..., 3)``. sRGB values are in [0, 255] (uint8 or
float); OKLab is ``(L, a, b)`` with L in [0, 1].
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["srgb_to_oklab", "oklab_to_srgb", "RGB_TO_LMS", "LMS_TO_LAB"]

RGB_TO_LMS = np.array(
    [
        [0.4122214708, 0.5363325363, 0.0514459929],
        [0.2119034982, 0.6806995451, 0.1073969566],
        [0.0883024619, 0.2817188376, 0.6299787005],
    ]
)
"""Linear sRGB -> LMS cone response (Ottosson 2020); OKLab is ``LMS_TO_LAB @ cbrt(RGB_TO_LMS @ linear)``. Training
computes the same transform in torch from these matrices."""
LMS_TO_LAB = np.array(
    [
        [0.2104542553, 0.7936177850, -0.0040720468],
        [1.9779984951, -2.4285922050, 0.4505937099],
        [0.0259040371, 0.7827717662, -0.8086757660],
    ]
)
_LAB_TO_LMS = np.array(
    [
        [1.0, 0.3963377774, 0.2158037573],
        [1.0, -0.1055613458, -0.0638541728],
        [1.0, -0.0894841775, -1.2914855480],
    ]
)
_LMS_TO_RGB = np.array(
    [
        [4.0767416621, -3.3077115913, 0.2309699292],
        [-1.2684380046, 2.6097574011, -0.3413193965],
        [-0.0041960863, -0.7034186147, 1.7076147010],
    ]
)


def _linear(c: np.ndarray) -> np.ndarray:
    """sRGB in [0, 1] -> linear light (the sRGB transfer function)."""
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


_LINEAR_U8 = _linear(np.arange(256, dtype=np.float64) / 255.0)
"""The transfer function of every uint8 value: integer input is looked up instead of computed (same values)."""


def srgb_to_oklab(rgb: npt.ArrayLike) -> np.ndarray:
    """sRGB ``(..., 3)`` in [0, 255] -> OKLab ``(..., 3)`` float64 (integer input must lie in 0..255)."""
    arr = np.asarray(rgb)
    if np.issubdtype(arr.dtype, np.integer):
        linear = _LINEAR_U8[arr]
    else:
        linear = _linear(np.asarray(arr, dtype=np.float64) / 255.0)
    lms = np.cbrt(linear @ RGB_TO_LMS.T)
    return lms @ LMS_TO_LAB.T


def oklab_to_srgb(lab: npt.ArrayLike) -> np.ndarray:
    """OKLab ``(..., 3)`` -> sRGB ``(..., 3)`` uint8 (rounded, clipped to the gamut box)."""
    lms = (np.asarray(lab, dtype=np.float64) @ _LAB_TO_LMS.T) ** 3
    linear = np.clip(lms @ _LMS_TO_RGB.T, 0.0, 1.0)
    c = np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)
    return np.clip(np.rint(c * 255.0), 0, 255).astype(np.uint8)
