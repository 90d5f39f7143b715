"""What the diffusion and flow objectives share: label dropout, the model space (pixels or a VAE first stage),
and drawing a sample sheet through the runtime's own numpy samplers (so training previews use the exact code
the bundle will run)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from pixelsprite.postprocess import hard_alpha_from_model

from .first_stage import FirstStage
from .models.unet import UNet
from .trainer import unwrap


def drop_labels(labels: torch.Tensor, null_label: int, p: float) -> torch.Tensor:
    """Replace each label by the null label with probability p (Ho & Salimans 2022, Algorithm 1)."""
    if p <= 0:
        return labels
    drop = torch.rand(labels.shape, device=labels.device) < p
    return torch.where(drop, torch.full_like(labels, null_label), labels)


def to_space(x: torch.Tensor, first_stage: FirstStage | None) -> torch.Tensor:
    """Augmented images (B, 4, S, S) in [-1, 1] -> what the network denoises (images, or normalised latents)."""
    return x if first_stage is None else first_stage.encode(x)


def numpy_network(model: nn.Module) -> Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    """The torch model as the runtime's ``(x, t, label) -> out`` numpy callable (eval mode, no grad)."""
    net = unwrap(model)
    device = next(net.parameters()).device

    @torch.no_grad()
    def run(x: np.ndarray, t: np.ndarray, label: np.ndarray) -> np.ndarray:
        out = net(torch.from_numpy(x).to(device), torch.from_numpy(t).to(device), torch.from_numpy(label).to(device))
        return out.float().cpu().numpy()

    return run


def sheet_labels(n: int, num_labels: int) -> np.ndarray:
    """Labels for a preview sheet: cycling through the labels (all "no label" for an unconditional model)."""
    return np.arange(n) % num_labels if num_labels > 0 else np.zeros(n, np.int64)


def finish_preview(x: np.ndarray, first_stage: FirstStage | None) -> torch.Tensor:
    """Model-space samples -> (N, S, S, 4) uint8 with hard alpha (no colour reduction)."""
    img = x if first_stage is None else first_stage.decode(x)
    return torch.from_numpy(hard_alpha_from_model(img, (-1.0, 1.0), 0.0))


def seed_from(gen: torch.Generator) -> int:
    return int(torch.randint(0, 2**31 - 1, (1,), generator=gen, device=gen.device).item())


def pixel_shape(model: nn.Module) -> tuple[int, int, int]:
    """(C, S, S) the (unwrapped) U-Net denoises."""
    cfg = unwrap(model, UNet).cfg
    return (cfg.in_channels, cfg.image_size, cfg.image_size)
