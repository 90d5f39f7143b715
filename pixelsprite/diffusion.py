"""The "diffusion" model family: a DDPM-trained ε- or v-prediction network sampled with ``ddpm`` or ``ddim``.

Graphs (see ``docs/diffusion-and-flow.md``):
    * ``denoiser``: ``x`` float32 ``(batch, *sampling.shape)``, ``t`` float32 ``(batch,)`` (the integer timestep
      0..T-1, ``sampling.time_input == "index"``), ``label`` int64 ``(batch,)`` (``num_labels`` = no label) ->
      the prediction (ε or v, ``sampling.prediction``) of x's shape;
    * ``decoder`` / ``encoder``: the VAE first stage when ``sampling.space == "latent"``.

The schedule is ``sampling.schedule`` (``{"type": "linear", "T": 500, "beta_start": 1e-4, "beta_end": 0.02}`` or
``{"type": "cosine", "T": ..., "s": 0.008, "max_beta": 0.999}``), rebuilt with
:class:`pixelsprite.samplers.schedules.DiffusionSchedule`, the same code training uses.

Steps: ``steps`` timesteps with trailing spacing (:func:`~pixelsprite.samplers.schedules.trailing_timesteps`);
``ddpm`` with steps = T is Ho et al.'s sampler. Variations with strength s start at timestep
``round(s T) - 1`` and take ``ceil(steps * s)`` steps (at most that many timesteps exist).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .errors import BundleError
from .iterative import IterativeModel, Observer, SamplingSpec, Settings
from .samplers import StepHook, ddim, ddpm
from .samplers.schedules import DiffusionSchedule, trailing_timesteps

__all__ = ["FAMILY", "SOLVERS", "DiffusionModel"]

FAMILY = "diffusion"
SOLVERS = ("ddpm", "ddim")


@dataclass(frozen=True)
class DiffusionModel(IterativeModel):
    schedule: DiffusionSchedule = field(init=False, repr=False)

    FAMILY = FAMILY
    ROLE = "denoiser"
    SOLVERS = SOLVERS
    PREDICTIONS = ("eps", "v")
    DETERMINISTIC = ("ddim",)

    def _check_family(self, spec: SamplingSpec, where: str) -> None:
        if spec.schedule is None:
            raise BundleError(f"{where}: manifest key 'sampling.schedule' is missing (diffusion needs its schedule)")
        if spec.time_input != "index":
            raise BundleError(f"{where}: manifest key 'sampling.time_input' must be 'index' for diffusion")
        schedule = spec.schedule.build()
        object.__setattr__(self, "schedule", schedule)

    def _t_start(self, strength: float) -> int:
        return min(self.schedule.T - 1, max(0, round(strength * self.schedule.T) - 1))

    def phase_steps(self, s: Settings, strength: float = 1.0) -> int:
        if strength <= 0:
            return 0
        return min(max(1, math.ceil(s.steps * strength - 1e-9)), self._t_start(strength) + 1)

    def _sample(
        self,
        x: np.ndarray,
        s: Settings,
        rngs: list[np.random.Generator],
        strength: float,
        hook: StepHook,
        observe: Observer | None = None,
    ) -> np.ndarray:
        timesteps = trailing_timesteps(self._t_start(strength) + 1, self.phase_steps(s, strength))
        predict = self.predictor(s, x.shape[0], observe)
        if s.solver == "ddpm":
            return ddpm.sample(
                predict,
                x,
                self.schedule,
                timesteps,
                self.spec.prediction,
                rngs,
                clip=self.spec.clip_denoised,
                hook=hook,
            )
        return ddim.sample(
            predict, x, self.schedule, timesteps, self.spec.prediction, clip=self.spec.clip_denoised, hook=hook
        )

    def _clean_estimate(self, x: np.ndarray, t: float, pred: np.ndarray) -> np.ndarray:
        """x̂_0 at timestep t (Ho et al. eq. 15, or the v identity), clipped as the samplers clip it."""
        return self.schedule.x0_eps(x, int(t), pred, self.spec.prediction, self.spec.clip_denoised)[0]

    def _noised(self, x0: np.ndarray, noise: np.ndarray, s: Settings, strength: float) -> np.ndarray:
        return self.schedule.q_sample(x0, self._t_start(strength), noise)

    def _invert(self, x0: np.ndarray, s: Settings, hook: StepHook) -> np.ndarray:
        timesteps = trailing_timesteps(self.schedule.T, s.steps)
        return ddim.invert(
            self.predictor(s, x0.shape[0]), x0, self.schedule, timesteps, self.spec.prediction, hook=hook
        )
