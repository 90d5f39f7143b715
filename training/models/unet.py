"""A small class-conditional residual U-Net for diffusion and flow matching (after Ho et al. 2020, appendix B,
and Dhariwal & Nichol 2021's adaptive group norm), for NCHW inputs: RGBA images in [-1, 1] or VAE latents.

    emb   = MLP(sinusoid(t · time_scale)) + Embedding(label)           label == num_labels is "no label" (CFG)
    stem  = conv3x3(x)
    down  : per level: blocks_per_level × ResBlock(emb) [+ self-attention], then a stride-2 conv (not on the last)
    mid   : ResBlock(emb), self-attention, ResBlock(emb)
    up    : per level, mirrored: (blocks_per_level + 1) × ResBlock(emb) on [h, skip] [+ attention], nearest 2x up
    out   = conv3x3(SiLU(GroupNorm(h)))  (zero-initialised, so training starts from a zero prediction)

ResBlock: h = conv(SiLU(GN(x))); h = GN(h) · (1 + scale) + shift with (scale, shift) = Linear(SiLU(emb));
h = conv(dropout(SiLU(h))); return skip(x) + h. GroupNorm, not BatchNorm: no batch statistics to refresh for the
EMA weights, and one sprite's output never depends on the others in its batch (a seed reproduces a sprite).

Forward: ``(x (B, C, S, S) float32, t (B,) float32, label (B,) int64) -> (B, C, S, S)``, the three ONNX inputs.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import cast

import torch
from torch import nn
from torch.nn import functional as F

from . import zero_init


@dataclass(frozen=True)
class UNetConfig:
    """Constructor arguments of :class:`UNet`; stored in every checkpoint next to the weights.

    ``widths[i]`` is the channel count at resolution ``image_size / 2**i``; ``attention[i]`` (0/1) adds
    self-attention after every block of level i. The defaults are the proposed ``diffusion16``/``flow16`` network
    (in the 8x4x4 latent of ``vae16``; see ``docs/diffusion-and-flow.md``). ``time_scale`` multiplies t before the
    sinusoid: 1 for integer diffusion timesteps, 1000 for flow times in [0, 1]. ``num_labels`` is set from the data
    at train time.
    """

    in_channels: int = 8  # set by the training script: 4 (RGBA) or the first stage's latent channels
    image_size: int = 4  # set by the training script: the sprite or latent size
    widths: tuple[int, ...] = (64, 128)
    blocks_per_level: int = 2
    attention: tuple[int, ...] = (0, 1)
    num_labels: int = 0  # set by the training script from the data
    time_scale: float = 1.0  # set by the training script: 1 (diffusion index) or 1000 (flow t)
    emb_dim: int = 128
    groups: int = 8
    dropout: float = 0.0
    circular: bool = False  # pad every convolution by wrapping around: the network lives on a torus (seamless tiles)

    def __post_init__(self) -> None:
        if len(self.attention) != len(self.widths):
            raise ValueError(f"attention {self.attention} needs one 0/1 per level of widths {self.widths}")
        if self.image_size % 2 ** (len(self.widths) - 1):
            raise ValueError(f"image_size {self.image_size} is not divisible by 2**{len(self.widths) - 1}")
        bad = [w for w in self.widths if w % self.groups]
        if bad:
            raise ValueError(f"widths {bad} are not divisible by groups={self.groups}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> UNetConfig:
        return cls(**{**d, "widths": tuple(d["widths"]), "attention": tuple(d["attention"])})


def sinusoid(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Transformer-style sinusoidal embedding of (B,) float times -> (B, dim) (Vaswani et al. 2017, §3.5)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10_000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


def wrap_padding(module: nn.Module) -> None:
    """Make every padded convolution in ``module`` pad by wrapping around (``padding_mode="circular"``), so the
    network sees its input as a torus: no pixel is at an edge, and what it makes tiles seamlessly."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d) and m.padding != (0, 0):
            m.padding_mode = "circular"


class ResBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, emb_dim: int, groups: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, 2 * c_out)
        self.norm2 = nn.GroupNorm(groups, c_out)
        self.drop = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        zero_init(self.conv2)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb(F.silu(emb))[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(self.drop(F.silu(h)))
        return self.skip(x) + h


class Attention(nn.Module):
    """Multi-head self-attention over the pixels of a feature map (heads of 32 channels), residual."""

    def __init__(self, channels: int, groups: int) -> None:
        super().__init__()
        self.heads = max(1, channels // 32)
        self.norm = nn.GroupNorm(groups, channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = nn.Conv2d(channels, channels, 1)
        zero_init(self.proj)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, self.heads, c // self.heads, h * w).unbind(1)
        # matmuls, not einsum: the same products, and onnxruntime's MatMul runs them ~10% faster end to end
        att = torch.softmax(torch.matmul(q.transpose(-1, -2), k) / math.sqrt(c // self.heads), dim=-1)  # (b,h,n,m)
        out = torch.matmul(v, att.transpose(-1, -2)).reshape(b, c, h, w)
        return x + self.proj(out)


class Level(nn.Module):
    """ResBlocks (each optionally followed by attention) of one resolution."""

    def __init__(
        self, chans: list[tuple[int, int]], emb_dim: int, groups: int, dropout: float, attention: bool
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([ResBlock(a, b, emb_dim, groups, dropout) for a, b in chans])
        self.attn = nn.ModuleList([Attention(b, groups) if attention else nn.Identity() for _, b in chans])


def _levels(modules: nn.ModuleList) -> list[Level]:
    """A ModuleList of levels, typed as such (a ModuleList iterates as plain Modules)."""
    return [cast(Level, m) for m in modules]


class UNet(nn.Module):
    def __init__(self, cfg: UNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w, e, g, p = cfg.widths, cfg.emb_dim, cfg.groups, cfg.dropout
        self.time_mlp = nn.Sequential(nn.Linear(w[0], e), nn.SiLU(), nn.Linear(e, e))
        self.label_emb = nn.Embedding(cfg.num_labels + 1, e)  # index num_labels: no label
        self.stem = nn.Conv2d(cfg.in_channels, w[0], 3, padding=1)
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        skips = [w[0]]
        ch = w[0]
        for i, width in enumerate(w):
            chans = []
            for _ in range(cfg.blocks_per_level):
                chans.append((ch, width))
                ch = width
                skips.append(ch)
            self.down.append(Level(chans, e, g, p, bool(cfg.attention[i])))
            if i + 1 < len(w):
                self.downsample.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
                skips.append(ch)
        self.mid1 = ResBlock(ch, ch, e, g, p)
        self.mid_attn = Attention(ch, g)
        self.mid2 = ResBlock(ch, ch, e, g, p)
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for i, width in reversed(list(enumerate(w))):
            chans = []
            for _ in range(cfg.blocks_per_level + 1):
                chans.append((ch + skips.pop(), width))
                ch = width
            self.up.append(Level(chans, e, g, p, bool(cfg.attention[i])))
            if i > 0:
                self.upsample.append(nn.Conv2d(ch, ch, 3, padding=1))
        self.out_norm = nn.GroupNorm(g, ch)
        self.out = nn.Conv2d(ch, cfg.in_channels, 3, padding=1)
        zero_init(self.out)
        if cfg.circular:
            wrap_padding(self)

    def forward(self, x: torch.Tensor, t: torch.Tensor, label: torch.Tensor, head: bool = True) -> torch.Tensor:
        """The output convolution's result, or with ``head=False`` what it sees: SiLU(GroupNorm(h)), (B,
        widths[0], H, W) float32 (a caller applies ``out`` to a part of it)."""
        emb = self.time_mlp(sinusoid(t * self.cfg.time_scale, self.cfg.widths[0])) + self.label_emb(label)
        h = self.stem(x)
        hs = [h]
        for i, level in enumerate(_levels(self.down)):
            for block, attn in zip(level.blocks, level.attn):
                h = attn(block(h, emb))
                hs.append(h)
            if i < len(self.downsample):
                h = self.downsample[i](h)
                hs.append(h)
        h = self.mid2(self.mid_attn(self.mid1(h, emb)), emb)
        for i, level in enumerate(_levels(self.up)):
            for block, attn in zip(level.blocks, level.attn):
                h = attn(block(torch.cat([h, hs.pop()], dim=1), emb))
            if i < len(self.upsample):
                h = self.upsample[i](F.interpolate(h, scale_factor=2.0, mode="nearest"))
        h = F.silu(self.out_norm(h))
        return self.out(h) if head else h
