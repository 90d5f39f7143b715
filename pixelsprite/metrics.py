"""Pixel-art statistics of sprite batches, in numpy (training's evaluation imports these too).

Every function takes uint8 RGBA ``(N, H, W, 4)`` and returns one value per sprite, shape ``(N,)``.
A pixel is *opaque* iff its alpha is >= 128 (the same rule as :func:`pixelsprite.postprocess.hard_alpha`).
Rates over an empty set (a sprite with no opaque pixels) are 0.0, so batch means stay finite.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "OPAQUE_MIN_ALPHA",
    "colors_per_sprite",
    "isolated_pixel_rate",
    "non_binary_alpha_share",
    "opaque_coverage",
    "sprite_stats",
]

OPAQUE_MIN_ALPHA = 128


def _batch(rgba: npt.ArrayLike) -> np.ndarray:
    arr = np.asarray(rgba)
    if arr.ndim != 4 or arr.shape[-1] != 4 or arr.dtype != np.uint8:
        raise ValueError(f"rgba must be uint8 (N, H, W, 4), got {arr.dtype} {arr.shape}")
    return arr


def _opaque(arr: np.ndarray) -> np.ndarray:
    return arr[..., 3] >= OPAQUE_MIN_ALPHA


def colors_per_sprite(rgba: npt.ArrayLike) -> np.ndarray:
    """Number of distinct RGB colours among each sprite's opaque pixels; int64 ``(N,)``."""
    arr = _batch(rgba)
    n = arr.shape[0]
    rgb = arr[..., :3].astype(np.int64)
    key = (np.arange(n, dtype=np.int64)[:, None, None] << 24) | (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    uniq = np.unique(key[_opaque(arr)])
    return np.bincount(uniq >> 24, minlength=n).astype(np.int64)


def isolated_pixel_rate(rgba: npt.ArrayLike) -> np.ndarray:
    """Share of opaque pixels none of whose 4-neighbours has exactly the same RGBA; float64 ``(N,)``.

    Neighbours outside the image never count as the same colour.
    """
    arr = _batch(rgba)
    packed = np.ascontiguousarray(arr).view(np.uint32)[..., 0]  # one uint32 per RGBA pixel, (N, H, W)
    same = np.zeros(packed.shape, dtype=bool)
    same[:, 1:, :] |= packed[:, 1:, :] == packed[:, :-1, :]
    same[:, :-1, :] |= packed[:, :-1, :] == packed[:, 1:, :]
    same[:, :, 1:] |= packed[:, :, 1:] == packed[:, :, :-1]
    same[:, :, :-1] |= packed[:, :, :-1] == packed[:, :, 1:]
    opaque = _opaque(arr)
    n_opaque = opaque.sum(axis=(1, 2))
    n_isolated = (opaque & ~same).sum(axis=(1, 2))
    return np.where(n_opaque > 0, n_isolated / np.maximum(n_opaque, 1), 0.0)


def non_binary_alpha_share(rgba: npt.ArrayLike) -> np.ndarray:
    """Share of all pixels whose alpha is neither 0 nor 255; float64 ``(N,)``."""
    a = _batch(rgba)[..., 3]
    return ((a != 0) & (a != 255)).mean(axis=(1, 2))


def opaque_coverage(rgba: npt.ArrayLike) -> np.ndarray:
    """Share of all pixels that are opaque (alpha >= 128); float64 ``(N,)``."""
    return _opaque(_batch(rgba)).mean(axis=(1, 2))


def sprite_stats(rgba: npt.ArrayLike) -> dict[str, np.ndarray]:
    """All statistics above, keyed by name, each ``(N,)``."""
    return {
        "colors_per_sprite": colors_per_sprite(rgba),
        "isolated_pixel_rate": isolated_pixel_rate(rgba),
        "non_binary_alpha_share": non_binary_alpha_share(rgba),
        "opaque_coverage": opaque_coverage(rgba),
    }
