"""The DDPM objective (Ho et al. 2020, Algorithm 1) with ε- or v-prediction and label dropout for CFG.

Per batch: t ~ U{0..T-1}, ε ~ N(0, I), x_t = sqrt(ᾱ_t) x_0 + sqrt(1-ᾱ_t) ε (eq. 4, with ᾱ from
:class:`pixelsprite.samplers.schedules.DiffusionSchedule`, the runtime's own code), label -> null with
probability ``label_dropout`` (Ho & Salimans 2022), and

    loss = mean || f_θ(x_t, t, c) - target ||²,   target = ε (L_simple, eq. 14) or v = sqrt(ᾱ) ε - sqrt(1-ᾱ) x_0
                                                   (Salimans & Ho 2022, §4).

The network sees t as the integer index (``time_input: "index"``). x_0 is the augmented sprite in [-1, 1], or
its normalised latent when a first stage is given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from pixelsprite.samplers import ddim
from pixelsprite.samplers.guidance import guided
from pixelsprite.samplers.schedules import DiffusionSchedule, trailing_timesteps

from .first_stage import FirstStage
from .generator_common import (
    drop_labels,
    finish_preview,
    numpy_network,
    pixel_shape,
    seed_from,
    sheet_labels,
    to_space,
)


@dataclass(frozen=True)
class DiffusionLossConfig:
    schedule: str = "cosine"  # linear | cosine
    T: int = 500
    beta_start: float = 1e-4  # linear only
    beta_end: float = 0.02  # linear only
    prediction: str = "v"  # eps | v
    label_dropout: float = 0.1
    clip_denoised: float = 1.0  # pixel space: clip x̂_0 to [-c, c] while sampling; 0: never (latent space)
    preview_steps: int = 20  # DDIM steps for the per-epoch sample sheet
    preview_guidance: float = 2.0

    def make_schedule(self) -> DiffusionSchedule:
        if self.schedule == "linear":
            return DiffusionSchedule.make("linear", self.T, beta_start=self.beta_start, beta_end=self.beta_end)
        return DiffusionSchedule.make(self.schedule, self.T)


class DiffusionObjective:
    def __init__(self, cfg: DiffusionLossConfig, num_labels: int, first_stage: FirstStage | None = None) -> None:
        if cfg.prediction not in ("eps", "v"):
            raise ValueError(f"prediction must be eps or v, got {cfg.prediction!r}")
        self.cfg, self.num_labels, self.first_stage = cfg, num_labels, first_stage
        self.schedule = cfg.make_schedule()
        self._alpha_bar = torch.from_numpy(self.schedule.alpha_bar).float()

    def loss(
        self, model: nn.Module, x: torch.Tensor, labels: torch.Tensor, step: int
    ) -> tuple[torch.Tensor, dict[str, float]]:
        x0 = to_space(x, self.first_stage)
        b = x0.shape[0]
        # 1. t ~ U{0..T-1}, ε ~ N(0, I), x_t (Ho et al. eq. 4)
        t = torch.randint(0, self.cfg.T, (b,), device=x0.device)
        eps = torch.randn_like(x0)
        ab = self._alpha_bar.to(x0.device)[t][:, None, None, None]
        x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * eps
        # 2. label dropout for classifier-free guidance
        c = drop_labels(labels, self.num_labels, self.cfg.label_dropout)
        # 3. regress ε or v
        target = eps if self.cfg.prediction == "eps" else ab.sqrt() * eps - (1 - ab).sqrt() * x0
        out = model(x_t, t.float(), c).float()
        loss = (out - target).pow(2).mean()
        return loss, {"loss": float(loss.detach())}

    @torch.no_grad()
    def samples(self, model: nn.Module, n: int, gen: torch.Generator) -> torch.Tensor:
        """A preview sheet by DDIM through the runtime's sampler: labels cycle, guidance ``preview_guidance``."""
        rng = np.random.default_rng(seed_from(gen))
        shape = self.first_stage.latent_shape if self.first_stage else pixel_shape(model)
        x_T = rng.standard_normal((n, *shape), dtype=np.float32)
        predict = guided(
            numpy_network(model),
            sheet_labels(n, self.num_labels),
            self.num_labels,
            self.cfg.preview_guidance if self.num_labels else 1.0,
        )
        clip = self.cfg.clip_denoised if self.cfg.clip_denoised > 0 and self.first_stage is None else None
        steps = min(self.cfg.preview_steps, self.cfg.T)
        x0 = ddim.sample(
            predict, x_T, self.schedule, trailing_timesteps(self.cfg.T, steps), self.cfg.prediction, clip=clip
        )
        return finish_preview(x0, self.first_stage)
