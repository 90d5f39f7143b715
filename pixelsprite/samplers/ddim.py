"""DDIM (Song et al. 2021, "Denoising Diffusion Implicit Models"): deterministic sampling with any number of
steps (solver name ``ddim``), and its inversion (image -> noise) for image endpoints.

Sampling, along descending ``timesteps`` t -> s (s = -1 after the last, i.e. clean data), eq. 12:

    x_s = sqrt(ᾱ_s) x̂_0 + sqrt(1 - ᾱ_s - σ²) ε̂ + σ z,    σ = η sqrt((1-ᾱ_s)/(1-ᾱ_t)) sqrt(1 - ᾱ_t/ᾱ_s)  (eq. 16)

with (x̂_0, ε̂) from the network. η = 0 (the ``ddim`` solver) is deterministic: an Euler step of the
probability-flow ODE in the variables (x/sqrt(ᾱ), sqrt((1-ᾱ)/ᾱ)) (Song et al. eq. 14). η = 1 equals the
ancestral sampler.

Inversion runs eq. 12 (η = 0) with ᾱ increasing: from clean data to x_{T-1}, using ε̂ evaluated at the
current point (Song et al. §4.3; Dhariwal & Nichol 2021, appendix F); the first step, which starts on clean
data, evaluates the network at the first timestep of the grid.
"""

from __future__ import annotations

import math

import numpy as np

from . import Predict, StepHook, call_hook, per_sprite_normal
from .schedules import DiffusionSchedule

__all__ = ["NFE_PER_STEP", "sample", "invert"]

NFE_PER_STEP = 1


def sample(
    predict: Predict,
    x_T: np.ndarray,
    schedule: DiffusionSchedule,
    timesteps: np.ndarray,
    prediction: str,
    *,
    eta: float = 0.0,
    rngs: list[np.random.Generator] | None = None,
    clip: float | None = None,
    hook: StepHook | None = None,
) -> np.ndarray:
    """x_T (B, ...) -> x_0 along descending integer ``timesteps``; ``rngs`` are needed only when eta > 0."""
    x = np.asarray(x_T, dtype=np.float32)
    ts = [int(t) for t in timesteps]
    total = len(ts)
    for i, t in enumerate(ts):
        s = ts[i + 1] if i + 1 < total else -1
        ab_t, ab_s = schedule.ab(t), schedule.ab(s)
        # 1. (x̂_0, ε̂) from the prediction (Song et al. eq. 9)
        x0, eps = schedule.x0_eps(x, t, predict(x, float(t)), prediction, clip)
        # 2. σ from η (eq. 16)
        sigma = eta * math.sqrt((1 - ab_s) / (1 - ab_t) * (1 - ab_t / ab_s)) if s >= 0 else 0.0
        # 3. eq. 12: predicted x_0, direction pointing to x_t, random noise
        x_s = math.sqrt(ab_s) * x0 + math.sqrt(max(1 - ab_s - sigma**2, 0.0)) * eps
        if sigma > 0:
            assert rngs is not None, "eta > 0 needs per-sprite generators"
            x_s = x_s + sigma * per_sprite_normal(rngs, x.shape[1:])
        x = np.asarray(x_s, dtype=np.float32)
        call_hook(hook, i + 1, total)
    return x


def invert(
    predict: Predict,
    x_0: np.ndarray,
    schedule: DiffusionSchedule,
    timesteps: np.ndarray,
    prediction: str,
    *,
    hook: StepHook | None = None,
) -> np.ndarray:
    """Clean x_0 (B, ...) -> x at the largest of ``timesteps`` by eq. 12 (η = 0) run forwards in t.

    ``timesteps`` is the sampling grid (descending); inversion walks it in reverse.
    """
    x = np.asarray(x_0, dtype=np.float32)
    ts = [int(t) for t in timesteps][::-1]  # ascending
    total = len(ts)
    prev = -1
    for i, t_next in enumerate(ts):
        t_eval = prev if prev >= 0 else t_next
        # 1. ε̂ at the current point (for the first step: at the first grid time, on clean data)
        pred = predict(x, float(t_eval))
        if prev >= 0:
            x0, eps = schedule.x0_eps(x, prev, pred, prediction)
        else:
            x0, eps = x, schedule.x0_eps(x, t_eval, pred, prediction)[1]
        # 2. eq. 12 with η = 0 towards the noisier time
        ab_n = schedule.ab(t_next)
        x = (math.sqrt(ab_n) * x0 + math.sqrt(1 - ab_n) * eps).astype(np.float32)
        prev = t_next
        call_hook(hook, i + 1, total)
    return x
