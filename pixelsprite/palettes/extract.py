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

When the sprites hold ``<= n`` distinct colours those colours are returned exactly. Otherwise colours closer than a
just-noticeable difference are merged first (:func:`merge_close`: the most frequent colour of a group stands for it
with the group's pixel count), so near-identical shades (``#000000``, ``#010203``, ``#050507``) take one slot, not
three; if that leaves ``<= n`` colours they are returned exactly. The merge measures CIE 1976 ``delta E*ab``
(:data:`JND` 2.3): OKLab is the space the methods cluster in, but its cube root has no linear toe, so near black it
calls steps nobody can see on a screen large (``#000000`` to ``#010203`` is 0.08 in OKLab, four times the 0.02
usually taken as its JND, and 0.5 in CIELAB, whose lightness is linear near black). Cluster
means are converted back to sRGB and rounded; duplicates after rounding are merged. The result is ordered by
:func:`~pixelsprite.palettes.order.sort_ramps` (greys, then hue ramps dark to light).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..colorspace import oklab_to_srgb, srgb_to_oklab
from ..errors import InvalidRequest
from .model import MAX_PALETTE_COLORS, Palette
from .order import sort_ramps

__all__ = ["METHODS", "JND", "color_counts", "merge_close", "kmeans", "median_cut", "extract"]

METHODS = ("kmeans", "median_cut")
JND = 2.3
"""A just-noticeable colour difference: CIE 1976 ``delta E*ab`` (Sharma, *Digital Color Imaging Handbook*, 2003)."""
_EXACT_MERGE = 8192  # above this many colours, merge within grid cells first (vectorised), then exactly
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


def _cielab(rgb: np.ndarray) -> np.ndarray:
    """sRGB uint8 ``(U, 3)`` -> CIE L*a*b* ``(U, 3)`` (D65 white, the sRGB primaries)."""
    c = rgb.astype(np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = (
        linear
        @ np.array(
            [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]
        ).T
    )
    t = xyz / np.array([0.95047, 1.0, 1.08883])
    d = 6.0 / 29.0
    f = np.where(t > d**3, np.cbrt(t), t / (3 * d * d) + 4.0 / 29.0)
    return np.stack([116.0 * f[:, 1] - 16.0, 500.0 * (f[:, 0] - f[:, 1]), 200.0 * (f[:, 1] - f[:, 2])], axis=-1)


def merge_close(rgb: np.ndarray, counts: np.ndarray, jnd: float = JND) -> tuple[np.ndarray, np.ndarray]:
    """Merge colours less than ``jnd`` apart (CIE76 ``delta E*ab``): leader clustering, most frequent colour first.

    Colours are visited by pixel count (descending; ties by input order); each joins the first kept colour closer
    than ``jnd``, else is kept. A kept colour keeps its own value and gains its members' counts.

    Args:
        rgb: distinct sRGB colours uint8 ``(U, 3)``; counts: their pixel counts ``(U,)``.

    Returns:
        ``(indices (K,), counts (K,))``: the kept colours' indices into ``rgb`` (in visiting order) and their summed
        counts.
    """
    order = np.argsort(-counts, kind="stable")
    lab, counts = _cielab(rgb[order]), counts[order]
    index = order
    if len(lab) > _EXACT_MERGE:  # cells of side jnd/sqrt(3): two colours in one cell are closer than jnd
        cell = np.floor(lab / (jnd / np.sqrt(3.0))).astype(np.int64)
        cell -= cell.min(axis=0)
        span = cell.max(axis=0) + 1
        key = (cell[:, 0] * span[1] + cell[:, 1]) * span[2] + cell[:, 2]
        _, first, group = np.unique(key, return_index=True, return_inverse=True)
        sums = np.bincount(group.reshape(-1), weights=counts, minlength=len(first)).astype(np.int64)
        keep = np.argsort(first, kind="stable")  # a cell's first member is its most frequent colour
        lab, counts, index = lab[first[keep]], sums[keep], index[first[keep]]
        if len(lab) > _EXACT_MERGE:
            return index, counts
    kept: list[int] = []
    total: list[int] = []
    centres = np.empty_like(lab)
    limit = jnd * jnd
    for i in range(len(lab)):
        k = len(kept)
        if k:
            d = ((centres[:k] - lab[i]) ** 2).sum(-1)
            j = int(np.argmin(d))
            if d[j] < limit:
                total[j] += int(counts[i])
                continue
        kept.append(i)
        total.append(int(counts[i]))
        centres[k] = lab[i]
    return index[np.asarray(kept, dtype=np.int64)], np.asarray(total, dtype=np.int64)


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
        boxes[i : i + 1] = [left, right]
        errors[i : i + 1] = [stats(left)[0], stats(right)[0]]
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
        raise InvalidRequest(f"colors must be an integer between 1 and {MAX_PALETTE_COLORS}, got {n!r}", field="colors")
    if method not in METHODS:
        raise InvalidRequest(f"method must be one of {', '.join(METHODS)}, got {method!r}", field="method")
    rgb, counts = color_counts(sprites)
    if len(rgb) == 0:
        raise InvalidRequest("the sprites have no opaque pixels to take colours from", field="sprites")
    source = f"{method} of {int(counts.sum())} opaque pixels ({len(rgb)} distinct colours)"
    if len(rgb) <= n:
        return Palette(name, sort_ramps(rgb), source)
    keep, counts = merge_close(rgb, counts)
    keep_sorted = np.argsort(keep, kind="stable")  # back to 0xRRGGBB order: the methods' tie-breaks rely on it
    rgb, counts = rgb[keep[keep_sorted]], counts[keep_sorted]
    if len(rgb) <= n:
        return Palette(name, sort_ramps(rgb), source)
    lab = srgb_to_oklab(rgb)
    centres = kmeans(lab, counts, int(n), iterations) if method == "kmeans" else median_cut(lab, counts, int(n))
    return Palette(name, _finish(centres), source)
