"""Convolutional residual VAE for RGBA sprites (Kingma & Welling 2014, "Auto-Encoding Variational Bayes").

Encoder: conv stem -> per level (residual blocks, stride-2 downsample) -> 1x1 conv to (mean, logvar).
Decoder: the mirror image with nearest-neighbour 2x upsampling followed by a conv.

Images are float32 NCHW RGBA in [-1, 1] (alpha too; transparent pixels are (-1, -1, -1, -1)). The decoder
returns ``tanh`` of its last layer for all four channels; for alpha that equals ``2 * sigmoid(2 * a) - 1``, so
the alpha channel is trained as a Bernoulli logit ``2 * a`` (see ``training.losses``) while the exported graph
stays in the manifest's value range.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from . import zero_init


@dataclass(frozen=True)
class VAEConfig:
    """Constructor arguments of :class:`VAE`; stored in every checkpoint next to the weights.

    ``widths[i]`` is the channel count at resolution ``image_size / 2**i``; the latent lives at
    ``image_size / 2**(len(widths) - 1)`` with ``latent_channels`` channels.
    """

    image_size: int = 16
    widths: tuple[int, ...] = (24, 32, 64)
    blocks_per_level: int = 1
    latent_channels: int = 8

    @property
    def latent_size(self) -> int:
        size = self.image_size
        for _ in self.widths[1:]:
            if size % 2:
                raise ValueError(f"image_size {self.image_size} is not divisible by 2**{len(self.widths) - 1}")
            size //= 2
        return size

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        return (self.latent_channels, self.latent_size, self.latent_size)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> VAEConfig:
        return cls(**{**d, "widths": tuple(d["widths"])})


class ResBlock(nn.Module):
    """x + conv(act(norm(conv(act(norm(x)))))); BatchNorm folds into the convs at export."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(channels)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm2 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        zero_init(self.conv2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        return x + self.conv2(F.silu(self.norm2(h)))


class Encoder(nn.Module):
    """image (B, 4, S, S) in [-1, 1] -> (mean, logvar), each (B, C_z, S_z, S_z) float32."""

    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        w = cfg.widths
        layers: list[nn.Module] = [nn.Conv2d(4, w[0], 3, padding=1)]
        for i, width in enumerate(w):
            layers += [ResBlock(width) for _ in range(cfg.blocks_per_level)]
            if i + 1 < len(w):
                layers.append(nn.Conv2d(width, w[i + 1], 3, stride=2, padding=1))
        layers += [nn.BatchNorm2d(w[-1]), nn.SiLU(), nn.Conv2d(w[-1], 2 * cfg.latent_channels, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, logvar = self.net(image).chunk(2, dim=1)
        return mean, logvar.clamp(-12.0, 6.0)


class Upsample(nn.Module):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Decoder(nn.Module):
    """z (B, C_z, S_z, S_z) -> pre-activation logits (B, 4, S, S); ``forward`` applies tanh."""

    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        w = cfg.widths[::-1]
        layers: list[nn.Module] = [nn.Conv2d(cfg.latent_channels, w[0], 3, padding=1)]
        for i, width in enumerate(w):
            layers += [ResBlock(width) for _ in range(cfg.blocks_per_level)]
            if i + 1 < len(w):
                layers.append(Upsample(width, w[i + 1]))
        layers += [nn.BatchNorm2d(w[-1]), nn.SiLU(), nn.Conv2d(w[-1], 4, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net(z))


class VAE(nn.Module):
    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns (decoder logits (B,4,S,S), mean, logvar); z = mean + exp(logvar/2) * eps (reparameterisation)."""
        mean, logvar = self.encoder(image)
        z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
        return self.decoder.logits(z), mean, logvar
