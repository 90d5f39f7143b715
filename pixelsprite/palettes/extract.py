"""Palette extraction: the N colours that best stand for one sprite or a batch.

Both methods work on the distinct colours of the opaque pixels (alpha > 0; transparent pixels are ignored), each
weighted by its pixel count over the whole batch, in OKLab, and both are deterministic:

* ``"kmeans"``: weighted k-means. Init: the most frequent colour (ties: lowest ``0xRRGGBB``), then repeatedly the
  colour maximising ``count * d^2`` to the nearest centre so far (a greedy, deterministic k-means++); then Lloyd
  rounds (assign to the nearest centre, move each centre to its members' weighted mean) until assignments settle or
  ``iterations`` rounds ran.
* ``"median_cut"``: start with one box holding every colour; repeatedly split the box with the largest weighted
  squared error along its axis of largest weighted variance, at the weighted median; each box gives its weighted
  mean.

When the sprites hold ``<= n`` distinct colours those colours are returned exactly. Cluster means are converted
back to sRGB and rounded; duplicates after rounding are merged. The result is ordered by
:func:`~pixelsprite.palettes.order.sort_ramps` (greys, then hue ramps dark to light).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..colorspace import oklab_to_srgb, srgb_to_oklab
from ..errors import InvalidRequest
from .model import MAX_PALETTE_COLORS, Palette
from .order import sort_ramps

__all__ = ["METHODS", "color_counts", "kmeans", "median_cut", "extract"]

METHODS = ("kmeans", "median_cut")
SpriteBatch = np.ndarray | Sequence[np.ndarray]


def color_counts(sprites: SpriteBatch) -> tuple[np.ndarray, np.ndarray]:
    """Distinct opaque colours and their pixel counts over a batch.

    Args:
        sprites: uint8 ``(N, H, W, 4)``, one ``(H, W, 4)``, or a sequence of ``(H, W, 4)`` of any sizes.

    Returns:
        ``(rgb uint8 (U, 3), counts int64 (U,))`` sorted by ``0xRRGGBB``.
    """
    arrays = [np.asarray(sprites)] if isinstance(sprites, np.ndarray) else [np.asarray(s) for s in sprites]
    keys = []
    for a in arrays:
        if a.dtype != np.uint8 or a.shape[-1:] != (4,) or a.ndim not in (3, 4):
            raise ValueError(f"sprites must be uint8 (N, H, W, 4) or (H, W, 4), got {a.dtype} {a.shape}")
        px = a.reshape(-1, 4)
        px = px[px[:, 3] > 0].astype(np.int64)
        keys.append((px[:, 0] << 16) | (px[:, 1] << 8) | px[:, 2])
    flat = np.concatenate(keys) if keys else np.zeros(0, np.int64)
    uniq, counts = np.unique(flat, return_counts=True)
    rgb = np.stack([(uniq >> 16) & 255, (uniq >> 8) & 255, uniq & 255], axis=-1).astype(np.uint8)
    return rgb, counts.astype(np.int64)


def _finish(lab_centres: np.ndarray) -> np.ndarray:
    rgb = oklab_to_srgb(lab_centres).reshape(-1, 3)
    keys = (rgb[:, 0].astype(np.int64) << 16) | (rgb[:, 1].astype(np.int64) << 8) | rgb[:, 2]
    _, first = np.unique(keys, return_index=True)
    return sort_ramps(rgb[np.sort(first)])


def kmeans(points: np.ndarray, weights: np.ndarray, n: int, iterations: int = 20) -> np.ndarray:
    """Weighted k-means of OKLab ``points (U, 3)``; ``n <= U`` centres float64 ``(n, 3)`` (see module doc)."""
    w = weights.astype(np.float64)
    centres = np.empty((n, 3))
    centres[0] = points[np.argmax(w)]  # argmax takes the first maximum: points are sorted by 0xRRGGBB
    mind = ((points - centres[0]) ** 2).sum(-1)
    for j in range(1, n):
        centres[j] = points[np.argmax(mind * w)]
        mind = np.minimum(mind, ((points - centres[j]) ** 2).sum(-1))
    labels = np.full(len(points), -1)
    for _ in range(iterations):
        d = (centres**2).sum(-1)[None, :] - 2.0 * (points @ centres.T)  # |p - c|^2 - |p|^2: (U, n)
        new = np.argmin(d, axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
        total = np.bincount(labels, weights=w, minlength=n)
        sums = np.stack([np.bincount(labels, weights=w * points[:, i], minlength=n) for i in range(3)], -1)
        centres = np.where(total[:, None] > 0, sums / np.maximum(total, 1e-12)[:, None], centres)
    return centres


def median_cut(points: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
    """Weighted median cut of OKLab ``points (U, 3)``; at most ``n`` box means float64 ``(<=n, 3)``."""
    w = weights.astype(np.float64)

    def stats(idx: np.ndarray) -> tuple[float, np.ndarray]:
        ww = w[idx]
        mean = (points[idx] * ww[:, None]).sum(0) / ww.sum()
        return float((ww * ((points[idx] - mean) ** 2).sum(-1)).sum()), mean

    boxes = [np.arange(len(points))]
    errors = [stats(boxes[0])[0]]
    while len(boxes) < n:
        order = np.argsort([-e if len(b) > 1 else np.inf for b, e in zip(boxes, errors)], kind="stable")
        i = int(order[0])
        if len(boxes[i]) < 2:
            break
        idx = boxes[i]
        ww, p = w[idx], points[idx]
        mean = (p * ww[:, None]).sum(0) / ww.sum()
        axis = int(np.argmax((ww[:, None] * (p - mean) ** 2).sum(0)))
        srt = idx[np.argsort(p[:, axis], kind="stable")]
        cum = np.cumsum(w[srt])
        cut = int(np.searchsorted(cum, cum[-1] / 2.0)) + 1
        cut = min(max(cut, 1), len(srt) - 1)
        left, right = srt[:cut], srt[cut:]
        boxes[i:i + 1] = [left, right]
        errors[i:i + 1] = [stats(left)[0], stats(right)[0]]
    return np.stack([stats(b)[1] for b in boxes])


def extract(
    sprites: SpriteBatch, n: int = 16, *, method: str = "kmeans", name: str = "extracted", iterations: int = 20
) -> Palette:
    """An ``n``-colour palette (fewer when the sprites have fewer colours) from one sprite or a batch.

    Raises:
        InvalidRequest: ``n`` out of 1..256 (field ``colors``), unknown ``method`` (field ``method``), or no
            opaque pixel at all (field ``sprites``).
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= int(n) <= MAX_PALETTE_COLORS:
        raise InvalidRequest(f"colors must be an integer between 1 and {MAX_PALETTE_COLORS}, got {n!r}",
                             field="colors")
    if method not in METHODS:
        raise InvalidRequest(f"method must be one of {', '.join(METHODS)}, got {method!r}", field="method")
    rgb, counts = color_counts(sprites)
    if len(rgb) == 0:
        raise InvalidRequest("the sprites have no opaque pixels to take colours from", field="sprites")
    source = f"{method} of {int(counts.sum())} opaque pixels ({len(rgb)} distinct colours)"
    if len(rgb) <= n:
        return Palette(name, sort_ramps(rgb), source)
    lab = srgb_to_oklab(rgb)
    centres = kmeans(lab, counts, int(n), iterations) if method == "kmeans" else median_cut(lab, counts, int(n))
    return Palette(name, _finish(centres), source)
