"""The evaluator network: a small plain CNN classifier whose pooled penultimate activations are the feature space
of the evaluation suite (Fréchet distance, KID, precision/recall; see ``pixelsprite.evaluation``).

Input: float32 NCHW RGBA ``(B, 4, C, C)`` in [-1, 1] (transparent pixels -1 on every channel), C = ``canvas``.
Body: 3x3 conv stem at full resolution, then per extra width a stride-2 3x3 conv and a 3x3 conv, each followed by
BatchNorm and ReLU. Features: the global average of the last ReLU, ``(B, widths[-1])`` (non-negative).
Head: dropout and one linear layer to ``(B, num_labels)`` logits. ``forward`` returns ``(features, logits)``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class EvaluatorNetConfig:
    """Constructor arguments of :class:`EvaluatorNet`; stored in the checkpoint next to the weights."""

    canvas: int = 40
    widths: tuple[int, ...] = (24, 48, 96, 128)
    num_labels: int = 12
    dropout: float = 0.2

    @property
    def feature_dim(self) -> int:
        return self.widths[-1]

    def to_dict(self) -> dict:
        return {**asdict(self), "widths": list(self.widths)}

    @classmethod
    def from_dict(cls, d: dict) -> EvaluatorNetConfig:
        return cls(**{**d, "widths": tuple(d["widths"])})


def _conv(c_in: int, c_out: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class EvaluatorNet(nn.Module):
    def __init__(self, cfg: EvaluatorNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        layers = _conv(4, cfg.widths[0])
        for c_in, c_out in zip(cfg.widths[:-1], cfg.widths[1:]):
            layers += _conv(c_in, c_out, stride=2) + _conv(c_out, c_out)
        self.body = nn.Sequential(*layers)
        self.dropout = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.feature_dim, cfg.num_labels)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (B, 4, C, C) in [-1, 1] -> features (B, D) >= 0, logits (B, num_labels)."""
        features = self.body(x).mean(dim=(2, 3))
        return features, self.head(self.dropout(features))
