"""Seams: does a tile step across its wrap-around edge the way it steps inside?

A tile repeats: its right column meets its own left column, its bottom row its top row. Pool the neighbour steps
(:mod:`.crispness`'s six OKLab bins) over the pairs that cross those edges, and over the pairs inside the tile; the
total-variation distance between the two profiles is the *seam distance* of a set of tiles: 0 when the edges step
like the interior (no visible seam), larger when repeating the tile draws a grid line or a jump. Real tiles give
the floor (they are drawn to tile, but not all perfectly). :func:`repeat_3x3` is the preview users see.
"""

from __future__ import annotations

import numpy as np

from ..colorspace import srgb_to_oklab
from .crispness import STEP_BINS, STEP_EDGES, profile_distance, step_profile

__all__ = ["edge_profile", "repeat_3x3", "seam_distance", "seam_report"]


def _check(rgba: np.ndarray) -> np.ndarray:
    rgba = np.asarray(rgba)
    if rgba.ndim != 4 or rgba.shape[-1] != 4:
        raise ValueError(f"tiles must be (N, H, W, 4), got shape {rgba.shape}")
    return rgba


def edge_profile(rgba: np.ndarray) -> np.ndarray:
    """(6,) float64: the step profile of the pairs across the wrap-around edges only (last row next to the first,
    last column next to the first) of (N, H, W, 4) uint8 tiles. Pairs with a transparent side are skipped."""
    rgba = _check(rgba)
    lab = srgb_to_oklab(rgba[..., :3])
    opaque = rgba[..., 3] > 0
    steps = []
    for a, b, oa, ob in (
        (lab[:, -1], lab[:, 0], opaque[:, -1], opaque[:, 0]),  # bottom row against top row
        (lab[:, :, -1], lab[:, :, 0], opaque[:, :, -1], opaque[:, :, 0]),  # right column against left
    ):
        steps.append(np.sqrt(((a - b) ** 2).sum(-1))[oa & ob])
    s = np.concatenate(steps)
    counts = np.bincount(np.searchsorted(np.asarray(STEP_EDGES), s, side="right"), minlength=len(STEP_BINS))
    return counts / counts.sum() if counts.sum() else counts.astype(np.float64)


def seam_distance(rgba: np.ndarray) -> float:
    """Total-variation distance between the edge profile and the interior profile of a set of tiles, in [0, 1]."""
    return profile_distance(edge_profile(rgba), step_profile(rgba))


def repeat_3x3(rgba: np.ndarray) -> np.ndarray:
    """(N, H, W, 4) or (H, W, 4) tiles -> the same tiles repeated 3x3: (N, 3H, 3W, 4) or (3H, 3W, 4), same dtype."""
    rgba = np.asarray(rgba)
    if rgba.ndim == 3:
        return np.tile(rgba, (3, 3, 1))
    return np.tile(_check(rgba), (1, 3, 3, 1))


def seam_report(tiles: np.ndarray, real: np.ndarray) -> dict[str, float]:
    """The seam measures of ``tiles`` against ``real`` tiles (both (N, H, W, 4) uint8):

    ``seam_distance`` (edge vs interior, this set) and ``seam_distance_real`` (the floor), ``step_distance``
    (interior profile vs real's, as for sprites) and ``repeat_step_distance`` (the 3x3 repeats' profiles against
    real tiles' 3x3 repeats: what a user sees on a tiled floor)."""
    return {
        "seam_distance": round(seam_distance(tiles), 4),
        "seam_distance_real": round(seam_distance(real), 4),
        "step_distance": round(profile_distance(step_profile(tiles), step_profile(real)), 4),
        "repeat_step_distance": round(
            profile_distance(step_profile(repeat_3x3(tiles)), step_profile(repeat_3x3(real))), 4
        ),
    }
