"""Latent-space arithmetic in numpy: linear and spherical interpolation, and 2-D bilinear grids.

Latents are float arrays of any shape (e.g. ``(8, 4, 4)``); spherical interpolation treats them as flat
vectors. Results are float32.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = ["Method", "lerp", "slerp", "interpolate", "bilinear_grid"]

Method = Literal["lerp", "slerp"]
METHODS: tuple[str, ...] = ("lerp", "slerp")


def _t(t: npt.ArrayLike) -> tuple[np.ndarray, bool]:
    arr = np.asarray(t, dtype=np.float64)
    return arr.reshape(-1), arr.ndim == 0


def lerp(a: npt.ArrayLike, b: npt.ArrayLike, t: npt.ArrayLike) -> np.ndarray:
    """Linear interpolation ``(1 - t) a + t b``.

    Args:
        a, b: latents of the same shape S.
        t: a scalar (result shape S) or a 1-D array of T weights (result ``(T, *S)``).
    """
    a64, b64 = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    ts, scalar = _t(t)
    ts = ts.reshape((-1,) + (1,) * a64.ndim)
    out = (1.0 - ts) * a64 + ts * b64
    return (out[0] if scalar else out).astype(np.float32)


def slerp(a: npt.ArrayLike, b: npt.ArrayLike, t: npt.ArrayLike, *, eps: float = 1e-6) -> np.ndarray:
    """Spherical linear interpolation (Shoemake 1985) between two latents, as flat vectors.

    ``slerp(a, b, t) = sin((1 - t) w) / sin w * a + sin(t w) / sin w * b`` with ``w`` the angle between a
    and b. Falls back to :func:`lerp` when ``sin w < eps`` (near-parallel or anti-parallel vectors) or when
    either vector is zero. Endpoints are reproduced: t=0 gives a, t=1 gives b (up to float32 rounding).

    Args:
        a, b: latents of the same shape S.
        t: a scalar (result shape S) or a 1-D array of T weights (result ``(T, *S)``).
    """
    a64, b64 = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a64.shape != b64.shape:
        raise ValueError(f"a and b must have the same shape, got {a64.shape} and {b64.shape}")
    na, nb = np.linalg.norm(a64), np.linalg.norm(b64)
    if na == 0.0 or nb == 0.0:
        return lerp(a64, b64, t)
    cos_w = float(np.clip(np.dot(a64.ravel() / na, b64.ravel() / nb), -1.0, 1.0))
    w = np.arccos(cos_w)
    sin_w = np.sin(w)
    if sin_w < eps:
        return lerp(a64, b64, t)
    ts, scalar = _t(t)
    ts = ts.reshape((-1,) + (1,) * a64.ndim)
    out = (np.sin((1.0 - ts) * w) / sin_w) * a64 + (np.sin(ts * w) / sin_w) * b64
    return (out[0] if scalar else out).astype(np.float32)


def interpolate(a: npt.ArrayLike, b: npt.ArrayLike, count: int, method: str = "lerp") -> np.ndarray:
    """``count`` latents from a to b, endpoints included: ``(count, *S)`` float32."""
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    ts = np.linspace(0.0, 1.0, count)
    if method == "lerp":
        return lerp(a, b, ts)
    if method == "slerp":
        return slerp(a, b, ts)
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")


def bilinear_grid(corners: npt.ArrayLike, rows: int, cols: int, method: str = "lerp") -> np.ndarray:
    """A ``rows x cols`` grid spanned by four corner latents.

    Interpolates along the top edge (top-left -> top-right) and the bottom edge (bottom-left ->
    bottom-right) with ``cols`` points each, then down every column between the two edges with ``rows``
    points, using ``method`` ("lerp" or "slerp") for every step. With "lerp" this is exact bilinear
    interpolation. The four corners are reproduced at the grid's corners.

    Args:
        corners: ``(4, *S)``: top-left, top-right, bottom-left, bottom-right.
        rows, cols: grid size, each >= 1.

    Returns:
        float32 ``(rows, cols, *S)``.
    """
    c = np.asarray(corners, dtype=np.float32)
    if c.shape[0] != 4:
        raise ValueError(f"corners must have 4 entries (tl, tr, bl, br), got shape {c.shape}")
    if rows < 1 or cols < 1:
        raise ValueError(f"rows and cols must be >= 1, got {rows}x{cols}")
    top = interpolate(c[0], c[1], cols, method)  # (cols, *S)
    bottom = interpolate(c[2], c[3], cols, method)
    columns = [interpolate(top[j], bottom[j], rows, method) for j in range(cols)]  # cols x (rows, *S)
    return np.stack(columns, axis=1)
