"""DDPM ancestral sampling (Ho et al. 2020, Algorithm 2), the reference sampler; solver name ``ddpm``.

With all T steps this is Ho et al.'s sampler; with fewer, the same ancestral step runs on a sub-sequence of
timesteps with the respaced β' (Nichol & Dhariwal 2021, §4). Each step draws x_s ~ q(x_s | x_t, x̂_0), the
Gaussian posterior of Ho et al. eq. 6-7, with x̂_0 from the network (optionally clipped):

    μ̃ = sqrt(ᾱ_s) β'/(1 - ᾱ_t) · x̂_0 + sqrt(ᾱ_t/ᾱ_s) (1 - ᾱ_s)/(1 - ᾱ_t) · x_t,   β' = 1 - ᾱ_t/ᾱ_s
    β̃ = (1 - ᾱ_s)/(1 - ᾱ_t) · β'                       (the "σ_t² = β̃_t" choice of Ho et al. §3.2)
    x_s = μ̃ + sqrt(β̃) z,  z ~ N(0, I) from each sprite's own generator (none on the last step, where β̃ = 0).
"""

from __future__ import annotations

import math

import numpy as np

from . import Predict, StepHook, call_hook, per_sprite_normal
from .schedules import DiffusionSchedule

__all__ = ["NFE_PER_STEP", "sample"]

NFE_PER_STEP = 1


def sample(
    predict: Predict,
    x_T: np.ndarray,
    schedule: DiffusionSchedule,
    timesteps: np.ndarray,
    prediction: str,
    rngs: list[np.random.Generator],
    *,
    clip: float | None = None,
    hook: StepHook | None = None,
) -> np.ndarray:
    """x_T (B, ...) -> x_0 by ancestral steps along descending integer ``timesteps`` (ending at clean data).

    ``predict(x, t)`` returns the network's (guided) ε or v; ``rngs[i]`` draws sprite i's step noise.
    """
    x = np.asarray(x_T, dtype=np.float32)
    ts = [int(t) for t in timesteps]
    total = len(ts)
    for i, t in enumerate(ts):
        s = ts[i + 1] if i + 1 < total else -1
        ab_t, ab_s = schedule.ab(t), schedule.ab(s)
        # 1. x̂_0 from the prediction (Ho et al. eq. 15, or the v identity)
        x0, _ = schedule.x0_eps(x, t, predict(x, float(t)), prediction, clip)
        # 2. posterior mean and variance (Ho et al. eq. 7) with the respaced β'
        beta = 1.0 - ab_t / ab_s
        c0 = math.sqrt(ab_s) * beta / (1.0 - ab_t)
        ct = math.sqrt(ab_t / ab_s) * (1.0 - ab_s) / (1.0 - ab_t)
        mean = c0 * x0 + ct * x
        var = (1.0 - ab_s) / (1.0 - ab_t) * beta
        # 3. x_s = μ̃ + sqrt(β̃) z (Ho et al. Algorithm 2, line 4)
        if s >= 0:
            x = (mean + math.sqrt(var) * per_sprite_normal(rngs, x.shape[1:])).astype(np.float32)
        else:
            x = mean.astype(np.float32)
        call_hook(hook, i + 1, total)
    return x
