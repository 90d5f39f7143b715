"""Samplers for the iterative families, in plain numpy: one algorithm per file.

* :mod:`.schedules` — DDPM noise schedules (linear, cosine) and the quantities derived from them;
* :mod:`.paths` — flow-matching probability paths (linear, cosine);
* :mod:`.ddpm` — ancestral sampling (Ho et al. 2020), the reference;
* :mod:`.ddim` — deterministic DDIM sampling and its inversion (Song et al. 2021);
* :mod:`.euler`, :mod:`.midpoint`, :mod:`.heun` — ODE solvers for flow models (and for the reverse ODE);
* :mod:`.guidance` — classifier-free guidance (Ho & Salimans 2022).

Every sampler is a function of explicit inputs: the network as a callable, the starting array, the time grid,
per-sprite random generators where it draws noise, and a per-step hook. There is no hidden step counter, so
one loaded model serves concurrent requests.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

StepHook = Callable[[int, int], None]
"""Called after every step with ``(done, total)``; may raise to stop sampling (cancellation)."""

Predict = Callable[[np.ndarray, float], np.ndarray]
"""The (guided) network on a batch at one time: ``(x (B, ...), t) -> prediction (B, ...)`` float32."""


def call_hook(hook: StepHook | None, done: int, total: int) -> None:
    if hook is not None:
        hook(done, total)


def per_sprite_normal(rngs: list[np.random.Generator], shape: tuple[int, ...]) -> np.ndarray:
    """One standard-normal draw of ``shape`` from each sprite's own generator -> float32 ``(B, *shape)``.

    Row i depends on ``rngs[i]`` only, so a sprite's noise does not depend on the batch it is in.
    """
    return np.stack([r.standard_normal(shape, dtype=np.float32) for r in rngs])
