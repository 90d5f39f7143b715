"""Euler's method for dx/dt = v(x, t) (solver name ``euler``; 1 network evaluation per step).

    x_{k+1} = x_k + h_k v(x_k, t_k),   h_k = t_{k+1} - t_k

Exact for a velocity field constant in time. The grid may run either way (0 -> 1 samples a flow model,
1 -> 0 inverts it).
"""

from __future__ import annotations

import numpy as np

from . import Predict, StepHook, call_hook

__all__ = ["NFE_PER_STEP", "integrate"]

NFE_PER_STEP = 1


def integrate(velocity: Predict, x: np.ndarray, ts: np.ndarray, *, hook: StepHook | None = None) -> np.ndarray:
    """Integrate from ``ts[0]`` to ``ts[-1]`` on the grid ``ts`` (len = steps + 1)."""
    x = np.asarray(x, dtype=np.float32)
    total = len(ts) - 1
    for k in range(total):
        t, h = float(ts[k]), float(ts[k + 1] - ts[k])
        x = (x + h * velocity(x, t)).astype(np.float32)
        call_hook(hook, k + 1, total)
    return x
