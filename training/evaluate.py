"""Evaluation of the shipped generators, and the numbers a user can see (shared with the export scripts).

    python -m training.evaluate --data ../shared/datasets      # the evaluation suite: docs/evaluation.md

Running the module runs the suite (:mod:`training.evaluate_suite`, the same code as ``pixelsprite evaluate``).
The pixel-art statistics, nearest-sprite distance and memorization rate live in
:mod:`pixelsprite.evaluation.sprites` (torch-free) and are re-exported here for the export scripts.
All inputs are uint8 RGBA ``(N, S, S, 4)`` as the runtime returns them (hard alpha, post-processed).
"""

from __future__ import annotations

import numpy as np

from pixelsprite.evaluation.sprites import (
    MEMORIZATION_L1,
    memorization_rate,
    nearest_distance,
    pixel_art_stats,
    relative_gap,
)

__all__ = [
    "MEMORIZATION_L1",
    "memorization_rate",
    "nearest_distance",
    "pixel_art_stats",
    "reconstruction_error",
    "relative_gap",
]


def reconstruction_error(real: np.ndarray, recon: np.ndarray) -> dict[str, float]:
    """Held-out reconstruction: colour error on pixels opaque in both, and the alpha mismatch rate."""
    a, b = real.astype(np.int16), recon.astype(np.int16)
    both = (real[..., 3] > 0) & (recon[..., 3] > 0)
    colour = np.abs(a[..., :3] - b[..., :3]).mean(-1)
    return {
        "rgb_mae_255": float(colour[both].mean()) if both.any() else 0.0,
        "alpha_mismatch": float(((real[..., 3] > 0) != (recon[..., 3] > 0)).mean()),
    }


if __name__ == "__main__":
    from .evaluate_suite import main

    raise SystemExit(main())
