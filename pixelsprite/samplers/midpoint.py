"""The explicit midpoint method for dx/dt = v(x, t) (solver name ``midpoint``; 2 evaluations per step, order 2).

    x_mid   = x_k + h/2 · v(x_k, t_k)
    x_{k+1} = x_k + h · v(x_mid, t_k + h/2)

Exact for a velocity field that is linear in t and independent of x.
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
        t, h = float(ts[k]), float(ts[k + 1] - ts[k])
        # 1. half an Euler step
        x_mid = (x + (h / 2) * velocity(x, t)).astype(np.float32)
        # 2. a full step with the slope at the midpoint
        x = (x + h * velocity(x_mid, t + h / 2)).astype(np.float32)
        call_hook(hook, k + 1, total)
    return x
