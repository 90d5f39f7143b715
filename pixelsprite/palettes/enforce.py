"""Palette enforcement: map sprites onto a palette so that they read as the same sprite.

Rules, in order (all deterministic; alpha is never changed and transparent pixels stay as they are):

1. **Nearest colour in OKLab.** Each opaque pixel takes the palette colour nearest to it in OKLab (ties: the lower
   palette index). The work is done once per distinct colour of the batch, so it is fast on big batches.
2. **Ordered dithering** (``"bayer2"``, ``"bayer4"``): between a pixel's nearest colour ``c1`` and second nearest
   ``c2``, ``alpha = clip(((p - c1) . (c2 - c1)) / |c2 - c1|^2, 0, 1)`` says how far along the way from ``c1`` to
   ``c2`` the pixel sits; it takes ``c2`` where ``alpha`` exceeds the Bayer threshold ``(M[y % n, x % n] + 0.5) / n^2``
   at its position in its sprite. A colour that is in the palette (``alpha = 0``) is never dithered.
3. **Outlines and silhouettes survive.** Outline pixels (opaque pixels with a transparent 4-neighbour) are never
   dithered, and each sprite's darkest outline colour (lowest OKLab L among its outline pixels) maps, wherever it
   occurs in that sprite, to the nearest palette colour that is not lighter than it (L at most
   :data:`OUTLINE_L_TOLERANCE` above), or to the darkest palette colour when none is: a dark outline never turns
   into a light one.

:func:`enforce` adds ``max_colors``: without a palette it is :func:`pixelsprite.postprocess.reduce_colors` (per
sprite weighted k-means in OKLab); with one, sprites are first reduced to ``max_colors`` colours and then mapped,
so each sprite uses at most ``max_colors`` palette colours (dithering may add the second-nearest ones).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..colorspace import srgb_to_oklab
from ..errors import InvalidRequest
from ..postprocess import as_batch, reduce_colors
from .model import Palette

__all__ = [
    "DITHERS",
    "BAYER",
    "OUTLINE_L_TOLERANCE",
    "outline_mask",
    "unique_inverse",
    "palette_indices",
    "apply_palette",
    "enforce",
]

DITHERS = ("none", "bayer2", "bayer4")
BAYER = {
    "bayer2": np.array([[0, 2], [3, 1]]),
    "bayer4": np.array([[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]]),
}
"""Bayer index matrices; thresholds are ``(M + 0.5) / M.size``."""
OUTLINE_L_TOLERANCE = 0.02


def check_dither(dither: str) -> str:
    if dither not in DITHERS:
        raise InvalidRequest(f"dither must be one of {', '.join(DITHERS)}, got {dither!r}", field="dither")
    return dither


def outline_mask(rgba: npt.ArrayLike) -> np.ndarray:
    """bool ``(N, H, W)`` (or ``(H, W)``): opaque pixels with a transparent 4-neighbour inside the image."""
    arr, single = as_batch(rgba)
    opaque = arr[..., 3] > 0
    padded = np.pad(opaque, ((0, 0), (1, 1), (1, 1)), constant_values=True)  # outside the image is not a hole
    h, w = opaque.shape[1:]
    hole = np.zeros_like(opaque)
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        hole |= ~padded[:, 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]
    out = opaque & hole
    return out[0] if single else out


def _two_nearest(p: np.ndarray, c: np.ndarray, want2: bool, block: int = 1 << 15) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the nearest (and, with ``want2``, second nearest) of ``c (K, 3)`` to each of ``p (U, 3)``.

    ``argmin_k |p - c_k|^2 = argmin_k (|c_k|^2 - 2 p.c_k)``, in float32 blocks of ``block`` rows (ties: lower k).
    """
    c32 = c.astype(np.float32)
    cc = (c32**2).sum(-1)
    i1 = np.empty(len(p), dtype=np.int64)
    i2 = np.empty(len(p), dtype=np.int64) if want2 else i1
    rows = np.arange(min(block, len(p)))
    for lo in range(0, len(p), block):
        d = cc[None, :] - 2.0 * (p[lo : lo + block].astype(np.float32) @ c32.T)
        i1[lo : lo + block] = best = np.argmin(d, axis=1)
        if want2:
            d[rows[: len(best)], best] = np.inf
            i2[lo : lo + block] = np.argmin(d, axis=1)
    return i1, i2


DENSE_MIN = 1 << 16
"""From this many keys on, :func:`unique_inverse` uses a dense 2**24 table instead of sorting."""


def unique_inverse(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(keys, return_inverse=True)`` for packed ``0xRRGGBB`` keys, the same arrays (uniq sorted, int64).

    Large inputs mark the colours present in a 2**24 bool table and number them through a 2**24 int32 lookup
    table (two linear passes instead of an O(n log n) sort); small ones sort.
    """
    if len(keys) < DENSE_MIN:
        uniq, inv = np.unique(keys, return_inverse=True)
        return uniq.astype(np.int64), inv.reshape(-1).astype(np.int64)
    seen = np.zeros(1 << 24, dtype=bool)
    seen[keys] = True
    uniq = np.flatnonzero(seen)
    lut = np.empty(1 << 24, dtype=np.int32)
    lut[uniq] = np.arange(len(uniq), dtype=np.int32)
    return uniq.astype(np.int64), lut[keys].astype(np.int64)


def palette_indices(
    rgba: npt.ArrayLike, palette: Palette, dither: str = "none", *, keep_outline: bool = True
) -> np.ndarray:
    """The palette index of every pixel: int16 ``(N, H, W)`` (or ``(H, W)``), -1 for transparent pixels."""
    check_dither(dither)
    arr, single = as_batch(rgba)
    opaque = arr[..., 3] > 0
    idx = np.full(opaque.shape, -1, dtype=np.int16)
    if not opaque.any():
        return idx[0] if single else idx

    # 1. nearest colour, once per distinct colour.
    px = arr[opaque]
    keys = (px[:, 0].astype(np.int32) << 16) | (px[:, 1].astype(np.int32) << 8) | px[:, 2]
    uniq, inv = unique_inverse(keys)
    u_rgb = np.stack([(uniq >> 16) & 255, (uniq >> 8) & 255, uniq & 255], axis=-1)
    p = srgb_to_oklab(u_rgb)  # (U, 3)
    c = palette.oklab  # (K, 3)
    want2 = dither != "none" and len(c) > 1
    i1, i2 = _two_nearest(p, c, want2)
    pix = i1[inv]

    sprite, ys, xs = np.nonzero(opaque)  # C order, the same order as arr[opaque]
    outline = outline_mask(arr)[opaque] if keep_outline else np.zeros(len(pix), bool)

    # 2. ordered dithering between the two nearest colours.
    if want2:
        seg = c[i2] - c[i1]
        alpha = np.clip(((p - c[i1]) * seg).sum(-1) / np.maximum((seg**2).sum(-1), 1e-12), 0.0, 1.0)
        m = BAYER[dither]
        n = m.shape[0]
        threshold = (m[ys % n, xs % n] + 0.5) / m.size
        use2 = (alpha[inv] > threshold) & ~outline
        pix = np.where(use2, i2[inv], pix)

    # 3. each sprite's darkest outline colour goes to a palette colour that is not lighter.
    if keep_outline and outline.any():
        light = p[:, 0]
        sel = np.flatnonzero(outline)
        order = np.lexsort((uniq[inv[sel]], light[inv[sel]], sprite[sel]))
        first = np.unique(sprite[sel][order], return_index=True)[1]
        dark_of_sprite = np.full(arr.shape[0], -1, dtype=np.int64)
        dark_of_sprite[sprite[sel][order][first]] = inv[sel][order][first]
        dark = np.unique(dark_of_sprite[dark_of_sprite >= 0])  # the few distinct colours the rule applies to
        d2 = ((p[dark, None, :] - c[None]) ** 2).sum(-1)  # (D, K)
        ok = c[None, :, 0] <= light[dark, None] + OUTLINE_L_TOLERANCE
        target = np.full(len(p), -1, dtype=np.int64)
        target[dark] = np.where(ok.any(axis=1), np.argmin(np.where(ok, d2, np.inf), axis=1), int(np.argmin(c[:, 0])))
        is_dark = inv == dark_of_sprite[sprite]
        pix = np.where(is_dark, target[inv], pix)

    idx[opaque] = pix
    return idx[0] if single else idx


def apply_palette(
    rgba: npt.ArrayLike, palette: Palette, dither: str = "none", *, keep_outline: bool = True
) -> np.ndarray:
    """Sprites mapped onto ``palette`` (see the module doc); uint8, the input's shape, alpha unchanged."""
    arr, single = as_batch(rgba)
    idx = palette_indices(arr, palette, dither, keep_outline=keep_outline)
    out = arr.copy()
    opaque = idx >= 0
    out[..., :3][opaque] = palette.colors[idx[opaque]]
    return out[0] if single else out


def enforce(
    rgba: npt.ArrayLike,
    palette: Palette | None = None,
    *,
    dither: str = "none",
    max_colors: int | None = None,
    keep_outline: bool = True,
) -> np.ndarray:
    """Cap colours and/or map onto a palette: the request layer's palette step.

    ``max_colors`` (> 0) first reduces each sprite with :func:`~pixelsprite.postprocess.reduce_colors`; then, when a
    palette is given, :func:`apply_palette` maps onto it. Dithering needs a palette.

    Raises:
        InvalidRequest: an unknown ``dither``, or a dither other than ``"none"`` without a palette (field
            ``dither``).
    """
    check_dither(dither)
    arr, single = as_batch(rgba)
    if palette is None and dither != "none":
        raise InvalidRequest(f"dither {dither!r} needs a palette to dither between", field="dither")
    out = reduce_colors(arr, max_colors) if max_colors else arr.copy()
    if palette is not None:
        out = apply_palette(out, palette, dither, keep_outline=keep_outline)
    return out[0] if single else out
