"""The neighbour-step profile: what the eye sees as crisp pixel art versus soft, blurred blobs.

Pixel art is flat areas separated by deliberate steps. For every pair of 4-neighbour pixels that are both opaque,
take their colour difference in OKLab (Euclidean, L in [0, 1]) and count it in one of six bins
(:data:`STEP_EDGES`): identical, < .02, .02-.05 ("soft"), .05-.10, .10-.20, >= .20 ("hard"). Pooled over a set of
sprites and normalised, the six shares are the set's profile; the total-variation distance between two profiles
(half the L1 distance, in [0, 1]) says how differently two sets step from pixel to pixel. A blurred set has many
soft steps and few hard ones, whatever a classifier's features say about it.
"""

from __future__ import annotations

import numpy as np

from ..colorspace import srgb_to_oklab

__all__ = ["STEP_BINS", "STEP_EDGES", "profile_distance", "step_counts", "step_profile"]

STEP_EDGES = (1e-6, 0.02, 0.05, 0.10, 0.20)
"""Upper edges of the first five bins (OKLab Euclidean distance); the sixth bin is everything >= 0.20."""
STEP_BINS = ("identical", "<.02", ".02-.05", ".05-.10", ".10-.20", ">=.20")


def _pair_steps(lab: np.ndarray, opaque: np.ndarray, axis: int) -> np.ndarray:
    """OKLab distances of the opaque-opaque neighbour pairs along ``axis`` (1: vertical, 2: horizontal)."""
    n = lab.shape[axis]
    a = np.take(lab, range(n - 1), axis=axis)
    b = np.take(lab, range(1, n), axis=axis)
    both = np.take(opaque, range(n - 1), axis=axis) & np.take(opaque, range(1, n), axis=axis)
    return np.sqrt(((a - b) ** 2).sum(-1))[both]


def step_counts(rgba: np.ndarray, wrap: bool = False) -> np.ndarray:
    """Counts per bin of neighbour steps over a set of sprites.

    rgba: (N, H, W, 4) uint8 (alpha > 0 counts as opaque). ``wrap``: also count the pairs across the right/left and
    bottom/top edges (a tile's seam). Returns (6,) int64.
    """
    rgba = np.asarray(rgba)
    if rgba.ndim != 4 or rgba.shape[-1] != 4:
        raise ValueError(f"rgba must be (N, H, W, 4), got shape {rgba.shape}")
    lab = srgb_to_oklab(rgba[..., :3])
    opaque = rgba[..., 3] > 0
    pairs = []
    for axis in (1, 2):  # vertical, then horizontal neighbours
        lab_a, opaque_a = lab, opaque
        if wrap:  # the first row / column again after the last: each seam pair once
            lab_a = np.concatenate([lab, np.take(lab, [0], axis=axis)], axis=axis)
            opaque_a = np.concatenate([opaque, np.take(opaque, [0], axis=axis)], axis=axis)
        pairs.append(_pair_steps(lab_a, opaque_a, axis))
    steps = np.concatenate(pairs)
    bins = np.searchsorted(np.asarray(STEP_EDGES), steps, side="right")
    return np.bincount(bins, minlength=len(STEP_BINS)).astype(np.int64)


def step_profile(rgba: np.ndarray, wrap: bool = False) -> np.ndarray:
    """The normalised profile (6,) float64 summing to 1 (all zeros when no pair is opaque on both sides)."""
    counts = step_counts(rgba, wrap=wrap)
    total = counts.sum()
    return counts / total if total else counts.astype(np.float64)


def profile_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Total-variation distance between two profiles (6,): 0 = the same stepping, 1 = disjoint."""
    return 0.5 * float(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)).sum())
