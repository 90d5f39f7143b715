"""Guidance distillation for the ``pixel`` family: a small student learns a trained model's *guided* predictions.

A trained token U-Net (the teacher, frozen) sampled with classifier-free guidance w costs two network evaluations
a step, and its size sets the cost of each. The student is trained on the same masked canvases as the teacher was
(real sprites through the palette, the cosine mask ratio; :class:`training.objectives_masked.MaskedTokenObjective`
makes them) to match, at every masked pixel, the distribution the runtime would sample from the teacher:

    G = U + w (C - U)          U, C: the teacher's output (B, 1 + K, S, S) without / with the label
    loss = BCE(student opacity logit, sigmoid(G_0)) + sigmoid(G_0) · KL(softmax(G_1..K) || softmax(student_1..K))

averaged over masked pixels. The runtime's guidance formula (``pixelsprite.pixel``, ``_guided_logits``) is the one
applied here, so a distilled bundle sampled with guidance 1 draws from what the teacher draws with guidance w, at
one evaluation of a smaller network a step. With probability ``label_dropout`` a canvas gets the null label and
the teacher's unguided ``U`` as target, so the student also generates without a label.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .objectives_masked import MaskedTokenObjective


@dataclass(frozen=True)
class DistillConfig:
    guidance: float = 2.0  # the teacher's guidance the student learns to draw from at guidance 1


class GuidanceDistillObjective:
    """The objective above. ``teacher``: a frozen TokenUNet in eval mode on the training device, with the same
    palette (tokens) and labels as the student. ``samples`` (the trainer's preview sheets) are the base objective's."""

    def __init__(self, cfg: DistillConfig, base: MaskedTokenObjective, teacher: nn.Module) -> None:
        self.cfg, self.base, self.teacher = cfg, base, teacher.eval().requires_grad_(False)

    def samples(self, model: nn.Module, n: int, gen: torch.Generator) -> torch.Tensor:
        return self.base.samples(model, n, gen)

    def targets(self, inputs: torch.Tensor, r: torch.Tensor, labels: torch.Tensor, null: torch.Tensor) -> torch.Tensor:
        """The teacher's guided output G (B, 1 + K, S, S) float32; rows where ``null`` is set get U. At guidance 1
        (a smaller copy of an unguided model) G is the conditional output itself, one teacher call."""
        with torch.no_grad():
            b = inputs.shape[0]
            unlabelled = torch.full_like(labels, self.base.num_labels)
            if self.cfg.guidance == 1.0:  # G = C: one teacher call, the null rows asking without a label
                return self.teacher(inputs, r, torch.where(null, unlabelled, labels)).float()
            both = self.teacher(torch.cat([inputs, inputs]), torch.cat([r, r]), torch.cat([unlabelled, labels])).float()
            u, c = both[:b], both[b:]
            g = u + self.cfg.guidance * (c - u)
            return torch.where(null[:, None, None, None], u, g)

    def loss(
        self, model: nn.Module, x: torch.Tensor, labels: torch.Tensor, step: int
    ) -> tuple[torch.Tensor, dict[str, float]]:
        _, r, masked, inputs = self.base.masked_canvas(x, model.training)
        null = torch.rand(x.shape[0], device=x.device) < self.base.cfg.label_dropout
        target = self.targets(inputs, r, labels, null)
        student_labels = torch.where(null, torch.full_like(labels, self.base.num_labels), labels)
        out = model(inputs, r, student_labels).float()
        p_opaque = torch.sigmoid(target[:, 0])
        bce = F.binary_cross_entropy_with_logits(out[:, 0], p_opaque, reduction="none")
        q_log = F.log_softmax(target[:, 1:], dim=1)
        kl = (q_log.exp() * (q_log - F.log_softmax(out[:, 1:], dim=1))).sum(1)
        per_pixel = bce + p_opaque * kl
        m = masked.float()
        n = m.sum().clamp(min=1)
        loss = (per_pixel * m).sum() / n
        with torch.no_grad():
            agree = (out[:, 1:].argmax(1) == target[:, 1:].argmax(1)).float()
            w = m * p_opaque
        return loss, {
            "loss": float(loss.detach()),
            "bce": float((bce.detach() * m).sum() / n),
            "kl": float((kl.detach() * w).sum() / w.sum().clamp(min=1e-6)),
            "top_agree": float((agree * w).sum() / w.sum().clamp(min=1e-6)),
        }
