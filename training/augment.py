"""Augmentations that keep pixels crisp: flips and hue rotations only, never resampling.

All functions take and return float NCHW RGBA in [-1, 1] with transparent pixels (-1, -1, -1, -1).
"""

from __future__ import annotations

import math

import torch


def hflip(x: torch.Tensor, p: float, gen: torch.Generator) -> torch.Tensor:
    flip = torch.rand(x.shape[0], generator=gen, device=gen.device) < p
    return torch.where(flip.to(x.device)[:, None, None, None], x.flip(-1), x)


def hue_rotate(x: torch.Tensor, p: float, gen: torch.Generator) -> torch.Tensor:
    """Rotate RGB around the grey axis by a random angle per sprite (a per-sprite palette shift).

    A rotation is a bijection on colours, so no in-between colours appear; values are clamped to range.
    """
    n = x.shape[0]
    theta = torch.rand(n, generator=gen, device=gen.device) * 2 * math.pi
    theta = torch.where(torch.rand(n, generator=gen, device=gen.device) < p, theta, torch.zeros_like(theta))
    c, s = torch.cos(theta), torch.sin(theta)
    k = 1.0 / 3.0
    r3 = math.sqrt(k)
    # Rodrigues rotation about the unit axis (1, 1, 1)/sqrt(3), acting on [0, 1] colours.
    m = torch.stack(
        [
            torch.stack([c + (1 - c) * k, k * (1 - c) - r3 * s, k * (1 - c) + r3 * s], -1),
            torch.stack([k * (1 - c) + r3 * s, c + (1 - c) * k, k * (1 - c) - r3 * s], -1),
            torch.stack([k * (1 - c) - r3 * s, k * (1 - c) + r3 * s, c + (1 - c) * k], -1),
        ],
        -2,
    ).to(x.device, x.dtype)  # (n, 3, 3)
    rgb01 = (x[:, :3] + 1) / 2
    rotated = torch.einsum("nij,njhw->nihw", m, rgb01).clamp(0, 1) * 2 - 1
    opaque = x[:, 3:4] > 0
    return torch.cat([torch.where(opaque, rotated, x[:, :3]), x[:, 3:4]], 1)


def augment(x: torch.Tensor, gen: torch.Generator, flip_p: float = 0.5, hue_p: float = 0.2) -> torch.Tensor:
    if flip_p > 0:
        x = hflip(x, flip_p, gen)
    if hue_p > 0:
        x = hue_rotate(x, hue_p, gen)
    return x


def to_model_range(images_uint8: torch.Tensor) -> torch.Tensor:
    """(N, H, W, 4) uint8 -> (N, 4, H, W) float32 in [-1, 1]."""
    return images_uint8.permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """(N, 4, H, W) float in [-1, 1] -> (N, H, W, 4) uint8 with hard alpha (threshold 0) and clean transparency."""
    u = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous()
    opaque = x[:, 3] > 0
    u[..., 3] = torch.where(opaque, 255, 0).to(torch.uint8)
    u[~opaque] = 0
    return u
