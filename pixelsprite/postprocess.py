"""Pixel-art post-processing of decoded sprites: hard alpha, colour reduction and selective despeckling.

Sprites are uint8 RGBA arrays ``(N, H, W, 4)`` (or one sprite ``(H, W, 4)``). After :func:`hard_alpha` every
pixel is either opaque (alpha 255) or fully transparent (RGBA ``(0, 0, 0, 0)``).

A decoder that averages (a VAE) paints dozens of in-between colours, and quantizing those gradients leaves stray
single pixels. :func:`finish` is the decoding policy the manifest's ``postprocess`` section configures:
hard alpha -> :func:`reduce_colors_adaptive` (the fewest colours, up to ``max_colors``, that stay within
``color_tolerance`` of the decoded colours) -> :func:`despeckle` (a lone pixel takes its nearest neighbour's colour
when the two are within ``despeckle`` in OKLab; contrasting highlights stay).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .colorspace import oklab_to_srgb, srgb_to_oklab

__all__ = [
    "COLOR_LADDER", "as_batch", "hard_alpha", "hard_alpha_from_model", "reduce_colors", "quantization_error",
    "reduce_colors_adaptive", "despeckle", "finish",
]  # fmt: skip

COLOR_LADDER = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256)
"""Colour counts tried, in order, by :func:`reduce_colors_adaptive`."""


def as_batch(rgba: npt.ArrayLike, name: str = "rgba") -> tuple[np.ndarray, bool]:
    """uint8 ``(N, H, W, 4)`` or one sprite ``(H, W, 4)`` -> ``(batch (N, H, W, 4), was_single)``; ValueError else."""
    arr = np.asarray(rgba)
    single = arr.ndim == 3
    if single:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[-1] != 4 or arr.dtype != np.uint8:
        raise ValueError(f"{name} must be uint8 (N, H, W, 4) or (H, W, 4), got {arr.dtype} {arr.shape}")
    return arr, single


def hard_alpha(rgba: npt.ArrayLike, threshold: int = 127) -> np.ndarray:
    """Make alpha binary: opaque iff alpha > ``threshold``; transparent pixels become ``(0, 0, 0, 0)``.

    Args:
        rgba: uint8 ``(..., 4)``.
        threshold: uint8 alpha threshold; the default 127 keeps pixels with alpha >= 128.

    Returns:
        a new uint8 array of the same shape with alpha in {0, 255}.
    """
    arr = np.asarray(rgba)
    if arr.dtype != np.uint8 or arr.shape[-1:] != (4,):
        raise ValueError(f"rgba must be uint8 (..., 4), got {arr.dtype} {arr.shape}")
    opaque = arr[..., 3] > threshold
    out = np.where(opaque[..., None], arr, 0).astype(np.uint8)
    out[..., 3] = np.where(opaque, 255, 0)
    return out


def hard_alpha_from_model(x: npt.ArrayLike, value_range: tuple[float, float], alpha_threshold: float) -> np.ndarray:
    """Model output -> uint8 sprites with hard alpha.

    Args:
        x: float ``(N, 4, H, W)`` RGBA in ``value_range`` (values outside are clipped).
        value_range: ``(lo, hi)`` from the manifest's ``image.value_range``.
        alpha_threshold: a pixel is opaque iff its alpha, in ``value_range`` units, is > this.

    Returns:
        uint8 ``(N, H, W, 4)``; opaque pixels have alpha 255, the others are ``(0, 0, 0, 0)``.
    """
    arr = np.asarray(x, dtype=np.float32)
    if arr.ndim != 4 or arr.shape[1] != 4:
        raise ValueError(f"x must be (N, 4, H, W), got {arr.shape}")
    lo, hi = value_range
    arr = np.nan_to_num(arr, nan=lo, posinf=hi, neginf=lo)  # a NaN pixel comes out transparent
    opaque = arr[:, 3] > alpha_threshold  # (N, H, W)
    rgb = np.clip(np.rint((arr[:, :3] - lo) * (255.0 / (hi - lo))), 0, 255).astype(np.uint8)
    out = np.zeros((arr.shape[0], arr.shape[2], arr.shape[3], 4), dtype=np.uint8)
    out[..., :3] = np.moveaxis(rgb, 1, -1)
    out[..., 3] = 255
    out[~opaque] = 0
    return out


def reduce_colors(rgba: npt.ArrayLike, max_colors: int, *, iterations: int = 10) -> np.ndarray:
    """Cap the number of distinct colours of each sprite with deterministic weighted k-means in OKLab.

    For each sprite, the unique RGB colours of its opaque pixels (alpha > 0) are clustered into
    ``k = min(max_colors, n_unique)`` clusters, each colour weighted by its pixel count:

    1. init: farthest-point seeding, starting from the most frequent colour (ties: lowest ``0xRRGGBB``);
       each next centre is the colour farthest (OKLab distance) from the centres so far (ties: lowest);
    2. Lloyd: assign colours to the nearest centre, move each centre to its members' weighted mean, for at
       most ``iterations`` rounds or until assignments stop changing (an empty cluster keeps its centre);
    3. each pixel takes its cluster's weighted mean colour converted back to sRGB and rounded.

    Sprites with at most ``max_colors`` colours are returned unchanged; alpha is never touched. There is no
    randomness: the same input gives the same bytes. The work is vectorised over the sprites of the batch.

    Args:
        rgba: uint8 ``(N, H, W, 4)`` or ``(H, W, 4)``, normally with hard alpha.
        max_colors: the cap; ``<= 0`` disables reduction.
        iterations: the maximum number of Lloyd rounds.

    Returns:
        a new uint8 array of the input's shape.
    """
    arr, single = as_batch(rgba)
    out = arr.copy()
    if max_colors <= 0 or arr.shape[0] == 0:
        return out[0] if single else out
    n = arr.shape[0]
    k = int(max_colors)

    # Unique colours per sprite: key = sprite << 24 | 0xRRGGBB, sorted by sprite then colour.
    opaque = arr[..., 3] > 0
    rgb = arr[..., :3].astype(np.int64)
    colour = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    sprite = np.broadcast_to(np.arange(n, dtype=np.int64)[:, None, None], colour.shape)
    keys = (sprite[opaque] << 24) | colour[opaque]
    uniq, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    u_sprite = uniq >> 24
    n_uniq = np.bincount(u_sprite, minlength=n)
    todo = np.flatnonzero(n_uniq > k)
    if todo.size == 0:
        return out[0] if single else out

    # Padded per-sprite tables for the sprites to reduce: P (R, U, 3) OKLab, weights (R, U).
    start = np.concatenate([[0], np.cumsum(n_uniq)[:-1]])
    row_of = np.full(n, -1, dtype=np.int64)
    row_of[todo] = np.arange(todo.size)
    sel = row_of[u_sprite] >= 0  # unique entries that belong to a sprite being reduced
    sel_idx = np.flatnonzero(sel)
    rows = row_of[u_sprite[sel]]
    pos = sel_idx - start[u_sprite[sel]]
    r_count, u_max = todo.size, int(n_uniq[todo].max())
    sel_rgb = np.stack([(uniq[sel] >> 16) & 255, (uniq[sel] >> 8) & 255, uniq[sel] & 255], axis=-1)
    points = np.zeros((r_count, u_max, 3))
    points[rows, pos] = srgb_to_oklab(sel_rgb)
    weights = np.zeros((r_count, u_max))
    weights[rows, pos] = counts[sel]
    valid = weights > 0
    ridx = np.arange(r_count)

    # 1. farthest-point init from the most frequent colour.
    first = np.argmax(weights, axis=1)
    centres = np.empty((r_count, k, 3))
    centres[:, 0] = points[ridx, first]
    mind = np.where(valid, ((points - centres[:, :1]) ** 2).sum(-1), -1.0)
    for j in range(1, k):
        nxt = np.argmax(mind, axis=1)
        centres[:, j] = points[ridx, nxt]
        mind = np.minimum(mind, ((points - centres[:, j : j + 1]) ** 2).sum(-1))

    wflat = weights.reshape(-1)
    wpoints = (points * weights[..., None]).reshape(-1, 3)
    offset = (ridx * k)[:, None]
    points32 = points.astype(np.float32)

    def assign(c: np.ndarray) -> np.ndarray:
        # argmin_k |p - c_k|^2 = argmin_k (|c_k|^2 - 2 p.c_k): float32 batched matmul, (R, U, K).
        c32 = c.astype(np.float32)
        d = (c32**2).sum(-1)[:, None, :] - 2.0 * (points32 @ c32.transpose(0, 2, 1))
        return np.argmin(d, axis=-1)

    def means(labels: np.ndarray, c: np.ndarray) -> np.ndarray:
        flat = (labels + offset).reshape(-1)
        total = np.bincount(flat, weights=wflat, minlength=r_count * k).reshape(r_count, k)
        sums = np.stack(
            [np.bincount(flat, weights=wpoints[:, i], minlength=r_count * k) for i in range(3)], axis=-1
        ).reshape(r_count, k, 3)
        return np.where(total[..., None] > 0, sums / np.maximum(total, 1e-12)[..., None], c)

    # 2. Lloyd iterations.
    labels = assign(centres)
    for _ in range(iterations):
        centres = means(labels, centres)
        new = assign(centres)
        if np.array_equal(new, labels):
            break
        labels = new
    palette = oklab_to_srgb(means(labels, centres))  # (R, K, 3) uint8

    # 3. map every opaque pixel through its unique colour.
    uniq_rgb = np.stack([(uniq >> 16) & 255, (uniq >> 8) & 255, uniq & 255], axis=-1).astype(np.uint8)
    uniq_rgb[sel_idx] = palette[rows, labels[rows, pos]]
    out[..., :3][opaque] = uniq_rgb[inverse.reshape(-1)]
    return out[0] if single else out


def quantization_error(before: npt.ArrayLike, after: npt.ArrayLike) -> np.ndarray:
    """Mean OKLab distance between two versions of each sprite over its opaque pixels; float64 ``(N,)``.

    Both uint8 ``(N, H, W, 4)`` with the same alpha; a sprite without opaque pixels scores 0.
    """
    a, _ = as_batch(before, "before")
    b, _ = as_batch(after, "after")
    return _error_from_lab(srgb_to_oklab(a[..., :3]), a[..., 3] > 0, b)


def _error_from_lab(lab_before: np.ndarray, opaque: np.ndarray, after: np.ndarray) -> np.ndarray:
    """:func:`quantization_error` with the first sprites already in OKLab ``(N, H, W, 3)`` and their opaque mask."""
    d = np.linalg.norm(lab_before - srgb_to_oklab(after[..., :3]), axis=-1) * opaque
    return d.sum((1, 2)) / np.maximum(opaque.sum((1, 2)), 1)


def reduce_colors_adaptive(rgba: npt.ArrayLike, max_colors: int, tolerance: float) -> np.ndarray:
    """Give each sprite (about) the fewest colours that keep it within ``tolerance`` of itself, at most ``max_colors``.

    The candidate counts are :data:`COLOR_LADDER` below ``max_colors``, then ``max_colors`` itself. Each sprite
    binary-searches them for the smallest count whose :func:`reduce_colors` result has a
    :func:`quantization_error` ``<= tolerance`` (the error falls as the count grows, so this is the first such
    count up to rare ties); sprites that need more get ``max_colors``. A flat icon keeps its 2-3 colours, a
    textured floor keeps dozens. Sprites sharing a candidate count are reduced together, about log2(len(ladder))
    rounds in all. ``tolerance <= 0`` is a plain cap (:func:`reduce_colors`); ``max_colors <= 0`` disables
    reduction. Deterministic.
    """
    arr, single = as_batch(rgba)
    if max_colors <= 0 or tolerance <= 0 or arr.shape[0] == 0:
        out = reduce_colors(arr, max_colors)
        return out[0] if single else out
    ladder = [k for k in COLOR_LADDER if k < max_colors] + [max_colors]
    lab, opaque = srgb_to_oklab(arr[..., :3]), arr[..., 3] > 0  # once, not per search round
    n = arr.shape[0]
    lo = np.zeros(n, np.int64)
    hi = np.full(n, len(ladder) - 1, np.int64)  # the cap always "fits": it is the fallback
    out = arr.copy()
    have = np.full(n, -1, np.int64)  # ladder index whose result sits in ``out``
    while True:
        active = np.flatnonzero(lo < hi)
        if active.size == 0:
            break
        mid = (lo[active] + hi[active]) // 2
        for m in np.unique(mid):
            idx = active[mid == m]
            reduced = reduce_colors(arr[idx], ladder[m])
            ok = _error_from_lab(lab[idx], opaque[idx], reduced) <= tolerance
            out[idx[ok]] = reduced[ok]
            have[idx[ok]] = m
            hi[idx[ok]] = m
            lo[idx[~ok]] = m + 1
    missing = np.flatnonzero(have != lo)
    for m in np.unique(lo[missing]):
        idx = missing[lo[missing] == m]
        out[idx] = reduce_colors(arr[idx], ladder[m])
    return out[0] if single else out


def despeckle(rgba: npt.ArrayLike, max_distance: float) -> np.ndarray:
    """Merge stray single pixels into a similar neighbour; one simultaneous pass, alpha untouched.

    An opaque pixel none of whose 4-neighbours has its exact colour takes the colour of its closest opaque
    4-neighbour (OKLab distance; ties: up, down, left, right) when that distance is below ``max_distance``.
    Deliberate highlights and dithering, which contrast with their surroundings, are kept. ``<= 0``: no-op.
    """
    arr, single = as_batch(rgba)
    out = arr.copy()
    if max_distance <= 0:
        return out[0] if single else out
    n, h, w, _ = arr.shape
    lab = srgb_to_oklab(arr[..., :3])
    opaque = arr[..., 3] > 0
    packed = np.ascontiguousarray(arr).view(np.uint32)[..., 0]
    pad = ((0, 0), (1, 1), (1, 1))
    p_packed = np.pad(packed, pad)
    p_lab = np.pad(lab, (*pad, (0, 0)))
    p_op = np.pad(opaque, pad)
    p_rgba = np.pad(arr, (*pad, (0, 0)))
    same = np.zeros((n, h, w), bool)
    best_d = np.full((n, h, w), np.inf)
    best = np.zeros_like(arr)
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        ys, xs = slice(1 + dy, 1 + dy + h), slice(1 + dx, 1 + dx + w)
        nb_op = p_op[:, ys, xs]
        same |= nb_op & (p_packed[:, ys, xs] == packed)
        d = np.where(nb_op, np.linalg.norm(p_lab[:, ys, xs] - lab, axis=-1), np.inf)
        closer = d < best_d
        best_d = np.where(closer, d, best_d)
        best = np.where(closer[..., None], p_rgba[:, ys, xs], best)
    fix = opaque & ~same & (best_d < max_distance)
    out[fix] = best[fix]
    return out[0] if single else out


def finish(
    x: npt.ArrayLike,
    value_range: tuple[float, float],
    *,
    alpha_threshold: float,
    max_colors: int,
    color_tolerance: float = 0.0,
    despeckle_distance: float = 0.0,
) -> np.ndarray:
    """The decoding policy: model output float ``(N, 4, H, W)`` -> finished uint8 sprites ``(N, H, W, 4)``.

    Hard alpha, then :func:`reduce_colors_adaptive` (``max_colors`` 0: no reduction), then :func:`despeckle`
    (only when colours were reduced: raw decoder output is left raw).
    """
    sprites = hard_alpha_from_model(x, value_range, alpha_threshold)
    if max_colors <= 0:
        return sprites
    return despeckle(reduce_colors_adaptive(sprites, max_colors, color_tolerance), despeckle_distance)
