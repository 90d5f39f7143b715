"""The flow-matching objective (Lipman et al. 2023, eq. 23; Liu et al. 2023, eq. 1) with label dropout for CFG.

Per batch: x_1 = the augmented sprite (or its normalised latent), x_0 ~ N(0, I), t from ``time_sampling``
(uniform, or logit-normal as in Esser et al. 2024, §3.1, which spends more updates at mid t), label -> null
with probability ``label_dropout``, and on the path of :class:`pixelsprite.samplers.paths.FlowPath`
(the runtime's code)

    x_t = α_t x_1 + σ_t x_0,   loss = mean || v_θ(x_t, t, c) - (α'_t x_1 + σ'_t x_0) ||².

For the linear path the target is x_1 - x_0 (rectified flow). The network sees t in [0, 1]
(``time_input: "t"``; the U-Net's ``time_scale`` stretches it for the sinusoid).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from pixelsprite.samplers import heun
from pixelsprite.samplers.guidance import guided
from pixelsprite.samplers.paths import PATHS, uniform_grid

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
class FlowLossConfig:
    path: str = "linear"  # linear | cosine
    time_sampling: str = "logit_normal"  # uniform | logit_normal
    logit_mean: float = 0.0
    logit_std: float = 1.0
    label_dropout: float = 0.1
    preview_steps: int = 10  # Heun steps for the per-epoch sample sheet
    preview_guidance: float = 2.0


class FlowObjective:
    def __init__(self, cfg: FlowLossConfig, num_labels: int, first_stage: FirstStage | None = None) -> None:
        if cfg.path not in PATHS:
            raise ValueError(f"path must be one of {PATHS}, got {cfg.path!r}")
        if cfg.time_sampling not in ("uniform", "logit_normal"):
            raise ValueError(f"time_sampling must be uniform or logit_normal, got {cfg.time_sampling!r}")
        self.cfg, self.num_labels, self.first_stage = cfg, num_labels, first_stage

    def _coefficients(self, t: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(α_t, σ_t, α'_t, σ'_t) of the path, as in pixelsprite.samplers.paths.FlowPath."""
        if self.cfg.path == "linear":
            return t, 1 - t, torch.ones_like(t), -torch.ones_like(t)
        h = math.pi / 2
        return torch.sin(h * t), torch.cos(h * t), h * torch.cos(h * t), -h * torch.sin(h * t)

    def sample_t(self, b: int, device: torch.device) -> torch.Tensor:
        if self.cfg.time_sampling == "uniform":
            return torch.rand(b, device=device)
        return torch.sigmoid(self.cfg.logit_mean + self.cfg.logit_std * torch.randn(b, device=device))

    def loss(
        self, model: nn.Module, x: torch.Tensor, labels: torch.Tensor, step: int
    ) -> tuple[torch.Tensor, dict[str, float]]:
        x1 = to_space(x, self.first_stage)
        b = x1.shape[0]
        # 1. t, x_0 ~ N(0, I), the point on the path
        t = self.sample_t(b, x1.device)
        x0 = torch.randn_like(x1)
        a, s, da, ds = (c[:, None, None, None] for c in self._coefficients(t))
        x_t = a * x1 + s * x0
        # 2. label dropout for classifier-free guidance
        c = drop_labels(labels, self.num_labels, self.cfg.label_dropout)
        # 3. regress the conditional velocity
        target = da * x1 + ds * x0
        loss = (model(x_t, t, c).float() - target).pow(2).mean()
        return loss, {"loss": float(loss.detach())}

    @torch.no_grad()
    def samples(self, model: nn.Module, n: int, gen: torch.Generator) -> torch.Tensor:
        """A preview sheet by Heun through the runtime's solver: labels cycle, guidance ``preview_guidance``."""
        rng = np.random.default_rng(seed_from(gen))
        shape = self.first_stage.latent_shape if self.first_stage else pixel_shape(model)
        x = rng.standard_normal((n, *shape), dtype=np.float32)
        predict = guided(
            numpy_network(model),
            sheet_labels(n, self.num_labels),
            self.num_labels,
            self.cfg.preview_guidance if self.num_labels else 1.0,
        )
        x1 = heun.integrate(predict, x, uniform_grid(self.cfg.preview_steps))
        return finish_preview(x1, self.first_stage)
