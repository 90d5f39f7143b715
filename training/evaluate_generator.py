"""Evaluation helpers for the iterative generators: the Fréchet distance their sweeps use, and the choice of fast
defaults.

The Fréchet distance (Heusel et al. 2017, eq. 6) is computed in the features of the frozen **evaluator** bundle
(``pixelsprite/models/evaluator``, the network the evaluation suite uses; see ``docs/evaluation.md``), so a
bundle's quality-versus-steps table, its defaults and ``pixelsprite evaluate`` speak about one number. Named
``fd_evaluator`` everywhere.

Sprites larger than the evaluator's canvas (only possible with ``folder:PATH`` datasets) fall back to the
former interim distance ``fd_pixels8``: premultiplied RGBA in [0, 1], block-averaged to 8x8 (256 numbers that
see silhouette, colour layout and coverage but not single-pixel texture).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pixelsprite.api import default_registry
from pixelsprite.evaluation.distances import frechet_distance
from pixelsprite.evaluation.evaluator import Evaluator
from pixelsprite.registry import Registry

FEATURE_SIZE = 8


def pixel_features(rgba: np.ndarray) -> np.ndarray:
    """(N, S, S, 4) uint8 -> (N, 8 * 8 * 4) float64 block means of premultiplied RGBA in [0, 1]."""
    x = rgba.astype(np.float64) / 255.0
    x[..., :3] *= x[..., 3:4]
    n, s = x.shape[0], x.shape[1]
    if s % FEATURE_SIZE:
        raise ValueError(f"sprite size {s} is not a multiple of {FEATURE_SIZE}")
    b = s // FEATURE_SIZE
    return x.reshape(n, FEATURE_SIZE, b, FEATURE_SIZE, b, 4).mean(axis=(2, 4)).reshape(n, -1)


@dataclass(frozen=True)
class FrechetMeter:
    """Fréchet distance of generated sprites to one fixed real set, in one feature space.

    ``meter(generated)``: uint8 ``(N, S, S, 4)`` sprites, N >= 2 -> float >= 0 (lower is closer to ``real``).
    ``name`` is the key cards and manifests use; ``feature`` says in words what the features are.
    """

    name: str
    feature: str
    features: Callable[[np.ndarray], np.ndarray]
    real: np.ndarray  # float (M, D): the real set's features

    def __call__(self, generated: np.ndarray) -> float:
        return frechet_distance(self.real, self.features(generated))


def frechet_meter(real: np.ndarray, registry: Registry | None = None) -> FrechetMeter:
    """The evaluator's Fréchet distance against ``real`` (uint8 ``(M, S, S, 4)``), or ``fd_pixels8`` when the
    sprites do not fit the evaluator's canvas."""
    ev = Evaluator.load(registry or default_registry())
    if real.shape[1] <= ev.canvas:
        return FrechetMeter(
            "fd_evaluator",
            f"features of the frozen `{ev.name}` network (docs/evaluation.md)",
            ev.features,
            ev.features(real),
        )
    return FrechetMeter(
        "fd_pixels8",
        "8x8 block means of premultiplied RGBA (sprites larger than the evaluator's canvas)",
        pixel_features,
        pixel_features(real),
    )


def choose_default(rows: list[dict], reference_fd: float, tolerance: float = 0.10, max_nfe: int | None = None) -> dict:
    """The defaults from a quality-versus-steps sweep.

    Among the rows within the interactive budget (``nfe <= max_nfe``; all rows when None or none fits): the
    cheapest (fewest network evaluations, then fastest) whose ``fd`` is within ``tolerance`` (relative) of
    ``reference_fd``; when none is, the one with the lowest fd — the card then shows the gap."""
    affordable = [r for r in rows if max_nfe is None or r["nfe"] <= max_nfe] or rows
    ok = [r for r in affordable if r["fd"] <= reference_fd * (1 + tolerance)]
    if not ok:
        return min(affordable, key=lambda r: r["fd"])
    return min(ok, key=lambda r: (r["nfe"], -r["sprites_per_s"]))
