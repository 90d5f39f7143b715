"""Heun's method (explicit trapezoid) for dx/dt = v(x, t) (solver name ``heun``; 2 evaluations per step, order 2;
the second-order step of Karras et al. 2022, Algorithm 1).

    x̃       = x_k + h · v(x_k, t_k)                        (Euler predictor)
    x_{k+1} = x_k + h/2 · (v(x_k, t_k) + v(x̃, t_{k+1}))    (trapezoidal corrector)

Exact for a velocity field linear in t (and independent of x) and for v(x, t) = a x to second order.
"""

from __future__ import annotations

import numpy as np

from . import Predict, StepHook, call_hook

__all__ = ["NFE_PER_STEP", "integrate"]

NFE_PER_STEP = 2


def integrate(velocity: Predict, x: np.ndarray, ts: np.ndarray, *, hook: StepHook | None = None) -> np.ndarray:
    """Integrate from ``ts[0]`` to ``ts[-1]`` on the grid ``ts`` (len = steps + 1)."""
    x = np.asarray(x, dtype=np.float32)
    total = len(ts) - 1
    for k in range(total):
        t, t_next = float(ts[k]), float(ts[k + 1])
        h = t_next - t
        # 1. Euler predictor
        v0 = velocity(x, t)
        x_pred = (x + h * v0).astype(np.float32)
        # 2. trapezoidal corrector
        x = (x + (h / 2) * (v0 + velocity(x_pred, t_next))).astype(np.float32)
        call_hook(hook, k + 1, total)
    return x
