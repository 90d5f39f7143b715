"""Evaluation numbers a user can see, computed the same way for every generator and for real sprites.

All inputs are uint8 RGBA ``(N, S, S, 4)`` as the runtime returns them (hard alpha, post-processed).
"""

from __future__ import annotations

import numpy as np

from pixelsprite import metrics

MEMORIZATION_L1 = 2.0  # a sample "is" a training sprite when their nearest_distance < this (0..255 units)


def pixel_art_stats(rgba: np.ndarray) -> dict[str, float]:
    """Means over sprites: colours per sprite (and median), isolated-pixel rate, non-binary alpha share, coverage."""
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


def nearest_distance(samples: np.ndarray, reference: np.ndarray, chunk: int = 32) -> np.ndarray:
    """Distance from each sample to its nearest reference sprite; float64 (N,).

    Distance = sum of |RGBA differences| (0..255) over the pixels opaque in either sprite, divided by 4x their count:
    the mean channel difference where there is something to see, so two small sprites on large empty canvases are
    not "close" just because both are mostly transparent.
    """
    ref = reference.reshape(len(reference), -1).astype(np.int16)
    ref_op = (reference[..., 3] > 0).reshape(len(reference), -1).astype(np.float32)
    out = np.empty(len(samples))
    for s in range(0, len(samples), chunk):
        q = samples[s:s + chunk]
        q_op = (q[..., 3] > 0).reshape(len(q), -1).astype(np.float32)
        union = q_op.sum(1)[:, None] + ref_op.sum(1)[None] - q_op @ ref_op.T  # (chunk, N)
        diff = np.abs(q.reshape(len(q), 1, -1).astype(np.int16) - ref[None]).sum(-1)  # (chunk, N)
        out[s:s + chunk] = (diff / np.maximum(4 * union, 1)).min(-1)
    return out


def memorization_rate(samples: np.ndarray, train: np.ndarray) -> float:
    """Share of samples whose nearest training sprite is almost identical (:func:`nearest_distance` < 2/255)."""
    return float((nearest_distance(samples, train) < MEMORIZATION_L1).mean())


def reconstruction_error(real: np.ndarray, recon: np.ndarray) -> dict[str, float]:
    """Held-out reconstruction: colour error on pixels opaque in both, and the alpha mismatch rate."""
    a, b = real.astype(np.int16), recon.astype(np.int16)
    both = (real[..., 3] > 0) & (recon[..., 3] > 0)
    colour = np.abs(a[..., :3] - b[..., :3]).mean(-1)
    return {
        "rgb_mae_255": float(colour[both].mean()) if both.any() else 0.0,
        "alpha_mismatch": float(((real[..., 3] > 0) != (recon[..., 3] > 0)).mean()),
    }
