"""Evaluation numbers a user can see, computed the same way for every generator and for real sprites.

All inputs are uint8 RGBA ``(N, S, S, 4)`` as the runtime returns them (hard alpha, post-processed). These were
``training.evaluate``'s; training re-exports them, so a bundle's card and the evaluation suite agree.
"""

from __future__ import annotations

import numpy as np

from .. import metrics

__all__ = ["MEMORIZATION_L1", "memorization_rate", "nearest_distance", "pixel_art_stats", "relative_gap"]

MEMORIZATION_L1 = 2.0  # a sample "is" a training sprite when their nearest_distance < this (0..255 units)


def pixel_art_stats(rgba: np.ndarray) -> dict[str, float]:
    """Means over sprites: colours per sprite (and median), isolated-pixel rate, non-binary alpha share, coverage.

    The isolated-pixel rate is :func:`pixelsprite.metrics.isolated_pixel_rate`: the share of a sprite's opaque
    pixels none of whose four neighbours has exactly the same RGBA, averaged over sprites.
    """
    colours = metrics.colors_per_sprite(rgba)
    return {
        "colors_per_sprite": float(colours.mean()),
        "colors_per_sprite_median": float(np.median(colours)),
        "isolated_pixel_rate": float(metrics.isolated_pixel_rate(rgba).mean()),
        "non_binary_alpha_share": float(metrics.non_binary_alpha_share(rgba).mean()),
        "opaque_coverage": float(metrics.opaque_coverage(rgba).mean()),
        "count": int(len(rgba)),
    }


def relative_gap(generated: dict[str, float], real: dict[str, float], key: str) -> float:
    """|generated - real| / real for one statistic (the issue's "within 25%" rule)."""
    return abs(generated[key] - real[key]) / max(real[key], 1e-9)


def nearest_distance(samples: np.ndarray, reference: np.ndarray, chunk: int | None = None) -> np.ndarray:
    """Distance from each sample to its nearest reference sprite; float64 (N,).

    Distance = sum of |RGBA differences| (0..255) over the pixels opaque in either sprite, divided by 4x their count:
    the mean channel difference where there is something to see, so two small sprites on large empty canvases are
    not "close" just because both are mostly transparent. ``chunk``: samples per step (default: as many as keep
    the step's int16 difference array near 64 Mi elements).
    """
    if chunk is None:
        chunk = max(1, 2**26 // max(1, reference[0].size * len(reference)))
    ref = reference.reshape(len(reference), -1).astype(np.int16)
    ref_op = (reference[..., 3] > 0).reshape(len(reference), -1).astype(np.float32)
    out = np.empty(len(samples))
    for s in range(0, len(samples), chunk):
        q = samples[s : s + chunk]
        q_op = (q[..., 3] > 0).reshape(len(q), -1).astype(np.float32)
        union = q_op.sum(1)[:, None] + ref_op.sum(1)[None] - q_op @ ref_op.T  # (chunk, N)
        diff = np.abs(q.reshape(len(q), 1, -1).astype(np.int16) - ref[None]).sum(-1)  # (chunk, N)
        out[s : s + chunk] = (diff / np.maximum(4 * union, 1)).min(-1)
    return out


def _distance_lower_bound(samples: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """A lower bound of :func:`nearest_distance`'s pairwise distance; float64 (len(samples), len(reference)).

    Per channel, ``sum |q - r| >= |sum q - sum r|`` (sums over all pixels), and the pixels opaque in either
    sprite number at most ``n_q + n_r``; so ``d >= sum_c |S_q,c - S_r,c| / max(4 (n_q + n_r), 1)``.
    """

    def sums(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return x.reshape(len(x), -1, 4).sum(1, dtype=np.int64), (x[..., 3] > 0).reshape(len(x), -1).sum(1)

    (s_q, n_q), (s_r, n_r) = sums(samples), sums(reference)
    gap = np.abs(s_q[:, None, :] - s_r[None]).sum(-1)
    return gap / np.maximum(4 * (n_q[:, None] + n_r[None]), 1)


def memorization_rate(samples: np.ndarray, train: np.ndarray, threshold: float = MEMORIZATION_L1) -> float:
    """Share of samples whose nearest training sprite is almost identical (:func:`nearest_distance` < 2/255).

    Exact, but fast: the full distance is computed only to the training sprites that a cheap lower bound does not
    already place beyond ``threshold``.
    """
    hits = 0
    for s in range(0, len(samples), 256):
        chunk = samples[s : s + 256]
        bound = _distance_lower_bound(chunk, train)
        for q, row in zip(chunk, bound):
            near = np.flatnonzero(row < threshold)
            hits += bool(near.size) and bool(nearest_distance(q[None], train[near])[0] < threshold)
    return hits / max(len(samples), 1)
