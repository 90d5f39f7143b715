"""A U-Net over pixel tokens for masked (absorbing-state) discrete diffusion.

    tokens (B, S, S) int64 in [0, K + 1]:  0 transparent, 1..K palette colours, K + 1 = MASK
    h      = Embedding(K + 2, E)(tokens) -> (B, E, S, S)
    h      = pixel_unshuffle(h, P) -> (B, E·P², S/P, S/P)                     (patch P; 1 = none)
    out    = UNet backbone (training.models.unet, GroupNorm, label + time embedding) -> (B, (1 + K)·P², S/P, S/P)
    out    = pixel_shuffle(out, P) -> (B, 1 + K, S, S)

With a patch P > 1 the backbone runs on a P×-smaller grid of P×P pixel cells (P² times fewer positions: how a
40×40 canvas fits this CPU's budget), and each cell's P² pixels get their own logits from the cell's features.

Output channel 0 is the logit of "this pixel is opaque"; channels 1..K are the logits of its colour given that it is
opaque. Factoring alpha from colour keeps the transparent token, which dominates the per-pixel marginals, from
swamping the colour distribution (so colour temperature and confidence never push sprites toward emptiness).
``t`` is the share of masked pixels in [0, 1].

Forward: ``(tokens (B, S, S) int64, t (B,) float32, label (B,) int64) -> (B, 1 + K, S, S) float32``, the ONNX
signature.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import torch
from torch import nn
from torch.nn import functional as F

from . import zero_init
from .unet import UNet, UNetConfig


@dataclass(frozen=True)
class TokenUNetConfig:
    """Constructor arguments of :class:`TokenUNet`; stored in checkpoints next to the weights."""

    palette_size: int = 255  # K colours (tokens 1..K); token 0 transparent, K + 1 mask
    embed_dim: int = 32
    patch: int = 1  # P: the backbone sees P×P cells of pixels (the canvas size must be divisible by P)
    unet: UNetConfig = UNetConfig(in_channels=32, image_size=16, widths=(64, 128), attention=(0, 1), time_scale=1000.0)

    def to_dict(self) -> dict:
        return {
            "palette_size": self.palette_size,
            "embed_dim": self.embed_dim,
            "patch": self.patch,
            "unet": asdict(self.unet),
        }

    @classmethod
    def from_dict(cls, d: dict) -> TokenUNetConfig:
        return cls(
            palette_size=d["palette_size"],
            embed_dim=d["embed_dim"],
            patch=d.get("patch", 1),
            unet=UNetConfig.from_dict(d["unet"]),
        )

    @property
    def canvas_size(self) -> int:
        """S: the sprite's side in pixels (the backbone's grid is S / patch)."""
        return self.unet.image_size * self.patch

    @property
    def mask_token(self) -> int:
        return self.palette_size + 1


class TokenUNet(nn.Module):
    def __init__(self, cfg: TokenUNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.palette_size + 2, cfg.embed_dim)
        p = cfg.patch
        self.backbone = UNet(replace(cfg.unet, in_channels=cfg.embed_dim * p * p))
        out = self.backbone.out
        head = nn.Conv2d(out.in_channels, (1 + cfg.palette_size) * p * p, 1)  # per-pixel logits
        zero_init(head)
        self.backbone.out = head

    def forward(self, tokens: torch.Tensor, t: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        x = self.embed(tokens).permute(0, 3, 1, 2)
        p = self.cfg.patch
        if p == 1:
            return self.backbone(x, t, label)
        return F.pixel_shuffle(self.backbone(F.pixel_unshuffle(x, p), t, label), p)
