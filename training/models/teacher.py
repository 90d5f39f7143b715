"""The quality teacher: residual CNN backbone -> softmax gate -> k experts -> quality, embedding and class heads.

Input: float32 NCHW RGBA ``(B, 4, S, S)`` in [-1, 1] (transparent pixels -1 on every channel) at the sprite's
*native* size (16 or 40; the network is fully convolutional up to a global pool), and a size flag
``(B, 1)`` float32 = ``(S - 16) / 24`` (0 for 16x16, 1 for 40x40), so one set of weights serves both sizes
without resampling pixels (a 1-pixel artefact stays a 1-pixel artefact at either size).

Story of :meth:`TeacherNet.forward`:

1. backbone: the image plus two coordinate channels (:func:`coordinates`); 3x3 stem at full resolution + one
   residual block, then per extra width a stride-2 3x3 conv and a residual block (BatchNorm with per-size
   statistics, :class:`SizeNorm`, + SiLU); global average *and* max pool -> ``(B, 2 * widths[-1])``; concatenated
   with the size flag and projected to the feature ``f`` ``(B, feature_dim)``;
2. gate: ``g = softmax(W_g f)`` ``(B, k)`` (rows sum to 1);
3. experts: ``E_i(f)`` small MLPs (Linear -> SiLU -> Linear) ``(B, hidden)``; mixed ``h = sum_i g_i E_i(f)``
   (soft mixture of experts, Jacobs et al. 1991; dense, every expert runs);
4. heads on ``h``: quality ``sigmoid(w_q . h + b_q)`` ``(B,)`` in [0, 1]; embedding
   ``e = normalize(W_e h)`` ``(B, embed_dim)`` (unit L2 norm); class logits ``scale * e . normalize(c_j)``
   ``(B, num_labels)`` (a cosine classifier, so the embedding's geometry *is* the class geometry).

``forward`` returns ``(quality, embedding, logits, gate)``; the gate is exported too so the runtime can report
expert use. :func:`load_balance` is the Shazeer et al. (2017) importance term: the squared coefficient of
variation of the batch's mean gate weights, ``k * sum_i p_i^2 - 1`` (0 when every expert gets the same share).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from . import zero_init

SIZES = (16, 40)


def size_flag(size: int) -> float:
    """The size flag fed next to a ``size`` x ``size`` sprite: 0.0 for 16, 1.0 for 40."""
    return (size - SIZES[0]) / (SIZES[1] - SIZES[0])


@dataclass(frozen=True)
class TeacherConfig:
    """Constructor arguments of :class:`TeacherNet`; stored in the checkpoint next to the weights."""

    widths: tuple[int, ...] = (16, 32, 64, 96)
    feature_dim: int = 128
    experts: int = 4
    expert_hidden: int = 128
    hidden: int = 96
    embed_dim: int = 64
    num_labels: int = 14
    logit_scale: float = 16.0

    def to_dict(self) -> dict:
        return {**asdict(self), "widths": list(self.widths)}

    @classmethod
    def from_dict(cls, d: dict) -> TeacherConfig:
        return cls(**{**d, "widths": tuple(d["widths"])})


class SizeNorm(nn.Module):
    """BatchNorm with running statistics of its own for each sprite size (16x16 and 40x40 statistics differ).

    Training batches hold one size, so a batch normalises with its own statistics and updates that size's
    running ones. In eval mode (and in the exported graph) each sprite picks its size's statistics by its flag.
    """

    def __init__(self, c: int) -> None:
        super().__init__()
        self.norms = nn.ModuleList([nn.BatchNorm2d(c), nn.BatchNorm2d(c)])

    def forward(self, x: torch.Tensor, flag: torch.Tensor) -> torch.Tensor:
        if self.training:
            return self.norms[int(float(flag[0, 0]) > 0.5)](x)
        big = (flag > 0.5).to(x.dtype)[:, :, None, None]
        return self.norms[0](x) * (1 - big) + self.norms[1](x) * big


class ResBlock(nn.Module):
    """x + conv(silu(norm(conv(silu(norm(x)))))), channels kept; starts as the identity."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.n1, self.c1 = SizeNorm(c), nn.Conv2d(c, c, 3, 1, 1)
        self.n2, self.c2 = SizeNorm(c), nn.Conv2d(c, c, 3, 1, 1)
        zero_init(self.c2)

    def forward(self, x: torch.Tensor, flag: torch.Tensor) -> torch.Tensor:
        return x + self.c2(F.silu(self.n2(self.c1(F.silu(self.n1(x, flag))), flag)))


class Down(nn.Module):
    """norm -> SiLU -> stride-2 3x3 conv."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.norm, self.conv = SizeNorm(c_in), nn.Conv2d(c_in, c_out, 3, 2, 1)

    def forward(self, x: torch.Tensor, flag: torch.Tensor) -> torch.Tensor:
        return self.conv(F.silu(self.norm(x, flag)))


class Expert(nn.Module):
    def __init__(self, d_in: int, d_hidden: int, d_out: int) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(d_in, d_hidden), nn.Linear(d_hidden, d_out)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.silu(self.fc1(f)))


class TeacherNet(nn.Module):
    def __init__(self, cfg: TeacherConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w = cfg.widths
        self.stem = nn.Conv2d(6, w[0], 3, 1, 1)
        blocks: list[nn.Module] = [ResBlock(w[0])]
        for c_in, c_out in zip(w[:-1], w[1:]):
            blocks += [Down(c_in, c_out), ResBlock(c_out)]
        self.blocks = nn.ModuleList(blocks)
        self.out_norm = SizeNorm(w[-1])
        self.project = nn.Linear(2 * w[-1] + 1, cfg.feature_dim)
        self.gate = nn.Linear(cfg.feature_dim, cfg.experts)
        self.experts = nn.ModuleList(Expert(cfg.feature_dim, cfg.expert_hidden, cfg.hidden) for _ in range(cfg.experts))
        self.quality = nn.Linear(cfg.hidden, 1)
        self.embed = nn.Linear(cfg.hidden, cfg.embed_dim)
        self.classes = nn.Parameter(torch.randn(cfg.num_labels, cfg.embed_dim) * 0.1)
        nn.init.zeros_(self.gate.weight)  # start uniform: every expert gets 1/k

    def features(self, x: torch.Tensor, flag: torch.Tensor) -> torch.Tensor:
        """x (B, 4, S, S), flag (B, 1) -> f (B, feature_dim)."""
        a = self.stem(torch.cat([x, *coordinates(x)], 1))
        for block in self.blocks:
            a = block(a, flag)
        a = F.silu(self.out_norm(a, flag))
        pooled = torch.cat([a.mean(dim=(2, 3)), a.amax(dim=(2, 3)), flag], 1)
        return F.silu(self.project(pooled))

    def raw(self, x: torch.Tensor, flag: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """As :meth:`forward` but the quality head's pre-sigmoid logit instead of the quality (for a stable BCE)."""
        f = self.features(x, flag)
        gate = torch.softmax(self.gate(f), dim=1)
        h = F.silu(torch.einsum("bk,kbd->bd", gate, torch.stack([e(f) for e in self.experts])))
        embedding = F.normalize(self.embed(h), dim=1, eps=1e-6)
        logits = self.cfg.logit_scale * embedding @ F.normalize(self.classes, dim=1, eps=1e-6).t()
        return self.quality(h)[:, 0], embedding, logits, gate

    def forward(
        self, x: torch.Tensor, flag: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """x: (B, 4, S, S) in [-1, 1]; flag: (B, 1) -> quality (B,) in [0, 1], embedding (B, E) unit norm,
        logits (B, L), gate (B, k) (rows sum to 1)."""
        q, embedding, logits, gate = self.raw(x, flag)
        return torch.sigmoid(q), embedding, logits, gate


def coordinates(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel-centre coordinates of ``x`` (B, C, H, W) in (-1, 1): y (B, 1, H, W) and x (B, 1, H, W).

    Made with cumulative sums of ones so that the exported ONNX graph keeps H and W dynamic. They let the
    globally pooled features say *where* things are, which is how an off-centre sprite differs from a real one.
    """
    ones = torch.ones_like(x[:, :1])
    yy = (ones.cumsum(2) - 0.5) / ones.sum(2, keepdim=True) * 2 - 1
    xx = (ones.cumsum(3) - 0.5) / ones.sum(3, keepdim=True) * 2 - 1
    return yy, xx


def load_balance(gate: torch.Tensor) -> torch.Tensor:
    """Squared coefficient of variation of the experts' importance (Shazeer et al. 2017, eq. 6).

    gate: (B, k) rows summing to 1. With ``p = gate.mean(0)`` this is ``k * sum(p^2) - 1``: 0 when every expert
    carries 1/k of the batch, ``k - 1`` when one expert carries everything.
    """
    p = gate.mean(0)
    return gate.shape[1] * (p * p).sum() - 1.0


def expert_use(gate: torch.Tensor) -> dict[str, list[float]]:
    """Per expert: mean gate weight and share of sprites for which it has the largest weight (top-1)."""
    k = gate.shape[1]
    top = torch.bincount(gate.argmax(1), minlength=k).float() / max(1, len(gate))
    return {"mean_gate": [round(float(v), 4) for v in gate.mean(0)], "top1_share": [round(float(v), 4) for v in top]}
