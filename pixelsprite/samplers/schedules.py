"""DDPM noise schedules (Ho et al. 2020, "Denoising Diffusion Probabilistic Models") in float64 numpy.

Forward process (Ho et al. eq. 4):  q(x_t | x_0) = N(sqrt(ᾱ_t) x_0, (1 - ᾱ_t) I),  ᾱ_t = prod_{s<=t} (1 - β_s),
for integer t = 0 .. T-1. ``t = -1`` denotes clean data (ᾱ = 1).

* ``linear``: β_t evenly spaced from ``beta_start`` to ``beta_end`` (Ho et al. §4: 1e-4 .. 0.02, T = 1000);
* ``cosine`` (Nichol & Dhariwal 2021, "Improved DDPM", eq. 17): ᾱ(t) = f(t) / f(0),
  f(t) = cos²(((t+1)/T + s) / (1 + s) · π/2), with β_t = 1 - ᾱ_t/ᾱ_{t-1} clipped to ``max_beta``.

Predictions the network may make (the manifest's ``prediction``):
* ``eps``: ε, the noise (Ho et al. eq. 14);
* ``v``: v = sqrt(ᾱ) ε - sqrt(1-ᾱ) x_0 (Salimans & Ho 2022, "Progressive Distillation", §4).
Both convert to (x̂_0, ε̂) with :meth:`DiffusionSchedule.x0_eps`.

The training code imports this module too, so training and the runtime use the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["SCHEDULES", "PREDICTIONS", "linear_betas", "cosine_betas", "DiffusionSchedule", "trailing_timesteps"]

SCHEDULES = ("linear", "cosine")
PREDICTIONS = ("eps", "v")


def linear_betas(T: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> np.ndarray:
    """β_1..β_T evenly spaced (Ho et al. 2020 §4) -> float64 (T,)."""
    return np.linspace(beta_start, beta_end, T, dtype=np.float64)


def cosine_betas(T: int, s: float = 0.008, max_beta: float = 0.999) -> np.ndarray:
    """β_t from the cosine ᾱ of Nichol & Dhariwal 2021, eq. 17, clipped to ``max_beta`` -> float64 (T,)."""

    def f(t: np.ndarray) -> np.ndarray:
        return np.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2

    steps = np.arange(T + 1, dtype=np.float64)
    alpha_bar = f(steps) / f(np.zeros(1))
    return np.minimum(1 - alpha_bar[1:] / alpha_bar[:-1], max_beta)


def trailing_timesteps(T: int, steps: int) -> np.ndarray:
    """``steps`` integer timesteps, descending from T-1 ("trailing" spacing, Lin et al. 2024, Table 2):
    t_i = round(T - i T / steps) - 1, i = 0 .. steps-1. ``steps == T`` gives T-1, T-2, ..., 0."""
    if not 1 <= steps <= T:
        raise ValueError(f"steps must be between 1 and {T}, got {steps}")
    t = np.round(T - np.arange(steps) * (T / steps)).astype(np.int64) - 1
    return t


@dataclass(frozen=True, eq=False)
class DiffusionSchedule:
    """β_t and everything derived from it, float64; ``kind`` and ``params`` are what the manifest stores."""

    kind: str
    T: int
    params: Mapping[str, float]
    betas: np.ndarray

    @classmethod
    def make(cls, kind: str, T: int, **params: float) -> DiffusionSchedule:
        if kind == "linear":
            p = {"beta_start": float(params.get("beta_start", 1e-4)), "beta_end": float(params.get("beta_end", 0.02))}
            betas = linear_betas(T, p["beta_start"], p["beta_end"])
        elif kind == "cosine":
            p = {"s": float(params.get("s", 0.008)), "max_beta": float(params.get("max_beta", 0.999))}
            betas = cosine_betas(T, p["s"], p["max_beta"])
        else:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {kind!r}")
        if not (betas.shape == (T,) and np.all(betas > 0) and np.all(betas < 1)):
            raise ValueError(f"schedule {kind} {p} gives betas outside (0, 1)")
        return cls(kind, T, p, betas)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DiffusionSchedule:
        """``{"type": "linear", "T": 500, "beta_start": 1e-4, "beta_end": 0.02}`` (or cosine's ``s``, ``max_beta``)."""
        params = {k: float(v) for k, v in d.items() if k not in ("type", "T")}
        return cls.make(str(d["type"]), int(d["T"]), **params)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.kind, "T": self.T, **self.params}

    @property
    def alphas(self) -> np.ndarray:
        """α_t = 1 - β_t (float64 (T,))."""
        return 1.0 - self.betas

    @property
    def alpha_bar(self) -> np.ndarray:
        """ᾱ_t = prod_{s<=t} α_s (Ho et al. eq. 4 notation; float64 (T,))."""
        return np.cumprod(self.alphas)

    def ab(self, t: int) -> float:
        """ᾱ_t for t in -1 .. T-1 (ᾱ_{-1} = 1: clean data)."""
        return 1.0 if t < 0 else float(self.alpha_bar[t])

    def q_sample(self, x0: np.ndarray, t: int, eps: np.ndarray) -> np.ndarray:
        """x_t = sqrt(ᾱ_t) x_0 + sqrt(1 - ᾱ_t) ε (Ho et al. eq. 4)."""
        a = self.ab(t)
        return (math.sqrt(a) * x0 + math.sqrt(1 - a) * eps).astype(np.float32)

    def x0_eps(
        self, x_t: np.ndarray, t: int, pred: np.ndarray, prediction: str, clip: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(x̂_0, ε̂) from the network's prediction at time t.

        eps: x̂_0 = (x_t - sqrt(1-ᾱ) ε̂) / sqrt(ᾱ) (Ho et al. eq. 15);
        v:   x̂_0 = sqrt(ᾱ) x_t - sqrt(1-ᾱ) v̂,  ε̂ = sqrt(1-ᾱ) x_t + sqrt(ᾱ) v̂ (Salimans & Ho 2022, §4).
        With ``clip`` = c, x̂_0 is clipped to [-c, c] and ε̂ recomputed from it (so the step stays consistent).
        """
        a = self.ab(t)
        sa, s1a = math.sqrt(a), math.sqrt(1 - a)
        if prediction == "eps":
            eps = pred
            x0 = (x_t - s1a * eps) / sa
        elif prediction == "v":
            x0 = sa * x_t - s1a * pred
            eps = s1a * x_t + sa * pred
        else:
            raise ValueError(f"prediction must be one of {PREDICTIONS}, got {prediction!r}")
        if clip is not None:
            x0 = np.clip(x0, -clip, clip)
            eps = (x_t - sa * x0) / s1a
        return x0.astype(np.float32), eps.astype(np.float32)

    def targets(self, x0: np.ndarray, eps: np.ndarray, t: int, prediction: str) -> np.ndarray:
        """What the network is trained to output for (x_0, ε, t): ε, or v = sqrt(ᾱ) ε - sqrt(1-ᾱ) x_0."""
        if prediction == "eps":
            return eps
        a = self.ab(t)
        return (math.sqrt(a) * eps - math.sqrt(1 - a) * x0).astype(np.float32)
