"""Flow-matching probability paths (Lipman et al. 2023, "Flow Matching for Generative Modeling"; Liu et al. 2023,
"Flow Straight and Fast: rectified flow").

Time runs from t = 0 (noise x_0 ~ N(0, I)) to t = 1 (data x_1). A path is x_t = α_t x_1 + σ_t x_0 (Lipman et al.
eq. 20 with σ_min = 0) and the network regresses the conditional velocity (eq. 21 / Liu et al. eq. 1)

    u_t(x | x_1, x_0) = α'_t x_1 + σ'_t x_0.

* ``linear`` (rectified flow / OT path): α_t = t, σ_t = 1 - t, so u = x_1 - x_0 (straight lines);
* ``cosine``: α_t = sin(π t / 2), σ_t = cos(π t / 2), u = (π/2) (cos(π t/2) x_1 - sin(π t/2) x_0)
  (variance preserving: α² + σ² = 1).

Sampling integrates dx/dt = v_θ(x, t) from t = 0 to 1; inversion integrates the same ODE from 1 to 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["PATHS", "FlowPath", "uniform_grid"]

PATHS = ("linear", "cosine")


@dataclass(frozen=True)
class FlowPath:
    kind: str

    def __post_init__(self) -> None:
        if self.kind not in PATHS:
            raise ValueError(f"path must be one of {PATHS}, got {self.kind!r}")

    def alpha_sigma(self, t: float) -> tuple[float, float]:
        """(α_t, σ_t)."""
        if self.kind == "linear":
            return t, 1.0 - t
        return math.sin(math.pi * t / 2), math.cos(math.pi * t / 2)

    def d_alpha_sigma(self, t: float) -> tuple[float, float]:
        """(α'_t, σ'_t)."""
        if self.kind == "linear":
            return 1.0, -1.0
        h = math.pi / 2
        return h * math.cos(h * t), -h * math.sin(h * t)

    def x_t(self, x1: np.ndarray, x0: np.ndarray, t: float) -> np.ndarray:
        a, s = self.alpha_sigma(t)
        return (a * x1 + s * x0).astype(np.float32)

    def velocity(self, x1: np.ndarray, x0: np.ndarray, t: float) -> np.ndarray:
        """The conditional target u_t = α'_t x_1 + σ'_t x_0."""
        da, ds = self.d_alpha_sigma(t)
        return (da * x1 + ds * x0).astype(np.float32)

    def x1_estimate(self, x_t: np.ndarray, v: np.ndarray, t: float) -> np.ndarray:
        """The clean estimate x̂_1 at (x_t, t) from a velocity v: solve x_t = α x_1 + σ x_0, v = α' x_1 + σ' x_0
        for x_1, i.e. x̂_1 = (σ' x_t - σ v) / (σ' α - σ α').

        linear: x̂_1 = x_t + (1 - t) v; cosine: x̂_1 = sin(πt/2) x_t + cos(πt/2) v / (π/2). Exact when v is the
        true conditional velocity (a constant field integrates to this endpoint in one Euler step).
        """
        a, s = self.alpha_sigma(t)
        da, ds = self.d_alpha_sigma(t)
        return ((ds * x_t - s * v) / (ds * a - s * da)).astype(np.float32)


def uniform_grid(steps: int, t_start: float = 0.0, t_end: float = 1.0) -> np.ndarray:
    """``steps + 1`` evenly spaced times from ``t_start`` to ``t_end`` (either direction), float64."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    return np.linspace(t_start, t_end, steps + 1, dtype=np.float64)
