"""Masked (absorbing-state) discrete diffusion over pixel tokens: the objective of the ``pixel`` family.

Forward process (MaskGIT, Chang et al. 2022, §3.2; MDLM, Sahoo et al. 2024): each pixel token is replaced by MASK
with probability r = cos(pi/2 * u), u ~ U(0, 1). The network sees the partly masked canvas, the label (dropped to the
null label with probability ``label_dropout``, for classifier-free guidance) and r, and predicts every masked pixel:
alpha by a logistic head, colour by a softmax over the palette given opaque. Loss: mean over masked pixels of
BCE(alpha) + [opaque] * CE(colour).

Training images arrive as the trainer's float RGBA in [-1, 1] (flips only: a hue rotation would leave the palette);
they were quantised to the palette beforehand, so converting back to tokens is an exact table look-up.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .models.token_unet import TokenUNet, reduce_tokens
from .trainer import unwrap


@dataclass(frozen=True)
class MaskedLossConfig:
    label_dropout: float = 0.1
    max_shift: int = 2  # 1-px shifts (up to this many) of the whole batch when the wrapped rows are transparent
    torus_roll: bool = False  # tiles: roll every canvas by a random offset (exact on a torus; replaces max_shift)
    lowres_noise: float = 0.0  # an upsampler: share of opaque half-size pixels replaced by a random colour in training
    loss_pixels: int = 0  # > 0 (patch 1): in training, the head runs on this many masked pixels a sprite (loss_pick)


def palette_keys(palette: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Sorted 24-bit keys of the (K, 3) uint8 palette and the token (1..K) of each sorted key."""
    keys = (palette[:, 0].astype(np.int64) << 16) | (palette[:, 1].astype(np.int64) << 8) | palette[:, 2]
    order = np.argsort(keys)
    return torch.from_numpy(keys[order]), torch.from_numpy(order + 1)


def image_to_tokens(x: torch.Tensor, keys: torch.Tensor, tokens_of_keys: torch.Tensor) -> torch.Tensor:
    """(B, 4, S, S) float in [-1, 1], palette colours only -> (B, S, S) int64 tokens (0 transparent)."""
    rgb = ((x[:, :3] + 1) * 127.5).round().long().clamp(0, 255)
    key = (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]
    pos = torch.searchsorted(keys.to(x.device), key).clamp(max=len(keys) - 1)
    tok = tokens_of_keys.to(x.device)[pos]
    return torch.where(x[:, 3] > 0, tok, torch.zeros_like(tok))


def shift_if_free(tokens: torch.Tensor, gen: torch.Generator | None, max_shift: int, stride: int = 1) -> torch.Tensor:
    """Roll the batch by (dy, dx) in [-max_shift, max_shift] (multiples of ``stride``: 2 keeps the 2x2 blocks of
    an upsampler's half-resolution sprite where they were) when every pixel that wraps is transparent (exact)."""
    if max_shift < stride:
        return tokens
    d = (torch.randint(-(max_shift // stride), max_shift // stride + 1, (2,), generator=gen) * stride).tolist()
    rolled = tokens.roll(shifts=(d[0], d[1]), dims=(1, 2))
    occupied_rows = tokens.any(dim=2).any(dim=0)  # (S,)
    occupied_cols = tokens.any(dim=1).any(dim=0)
    s = tokens.shape[1]

    def wraps(occupied: torch.Tensor, k: int) -> bool:
        if k == 0:
            return False
        edge = occupied[s - k :] if k > 0 else occupied[:-k]
        return bool(edge.any())

    return tokens if wraps(occupied_rows, d[0]) or wraps(occupied_cols, d[1]) else rolled


def roll_each(tokens: torch.Tensor, gen: torch.Generator | None) -> torch.Tensor:
    """Roll each (S, S) canvas of the (B, S, S) batch by its own random (dy, dx) in [0, S): a tile rolled on the
    torus is the same seamless tile seen from another origin."""
    b, s = tokens.shape[0], tokens.shape[1]
    d = torch.randint(0, s, (b, 2), generator=gen, device="cpu").to(tokens.device)
    rows = (torch.arange(s, device=tokens.device)[None, :] - d[:, :1]) % s  # (B, S)
    cols = (torch.arange(s, device=tokens.device)[None, :] - d[:, 1:]) % s
    return tokens.gather(1, rows[:, :, None].expand(b, s, s)).gather(2, cols[:, None, :].expand(b, s, s))


def mask_ratio(u: torch.Tensor) -> torch.Tensor:
    """The cosine schedule: share of masked pixels at u in [0, 1] (1 at u=0, 0 at u=1)."""
    return torch.cos(0.5 * math.pi * u)


def corrupt_lowres(lowres: torch.Tensor, share: float, k: int) -> torch.Tensor:
    """(B, s, s) int64 half-size tokens with each opaque one replaced, with probability ``share``, by a random colour
    1..K: half-size sprites as wrong in places as a first stage's, so the upsampler learns not to copy every parent
    blindly."""
    hit = (lowres > 0) & (torch.rand(lowres.shape, device=lowres.device) < share)
    return torch.where(hit, torch.randint(1, k + 1, lowres.shape, device=lowres.device), lowres)


def loss_pick(masked: torch.Tensor, pixels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Which pixels the loss looks at when the head runs on a few of them: masked (B, S, S) bool -> (pick (B, P)
    int64 flat indices, weight (B, P) float32), P = min(pixels, S·S). Each sprite's pick is a uniform sample
    without replacement of its masked pixels (then unmasked ones, weight 0, when it has fewer than P); a picked
    masked pixel weighs n_i / min(P, n_i) for the sprite's n_i masked pixels, so the weighted sum is an unbiased
    estimate of the sum over every masked pixel (the whole-canvas loss's numerator)."""
    b = masked.shape[0]
    flat = masked.reshape(b, -1)
    p = min(pixels, flat.shape[1])
    score = torch.rand(flat.shape, device=masked.device) - flat.float()  # masked pixels first, in random order
    pick = score.argsort(1)[:, :p]
    count = flat.float().sum(1, keepdim=True)
    weight = flat.gather(1, pick).float() * count / count.clamp(max=p).clamp(min=1)
    return pick, weight


def tokens_to_rgba(tokens: torch.Tensor, palette: np.ndarray) -> torch.Tensor:
    """(B, S, S) int64 tokens (0 transparent, 1..K colours) -> (B, 4, S, S) float32 RGBA in [-1, 1], transparent
    pixels (-1, -1, -1, -1), as ``to_model_range`` gives a palette-exact sprite."""
    table = np.concatenate([np.zeros((1, 4)), np.concatenate([palette, np.full((len(palette), 1), 255)], 1)])
    rgba = torch.from_numpy(table.astype(np.float32) / 127.5 - 1.0).to(tokens.device)
    return rgba[tokens.clamp(0, len(palette))].permute(0, 3, 1, 2).contiguous()


def token_luma(palette: np.ndarray) -> torch.Tensor:
    """(K + 1,) float64: token 0 (transparent) then each (K, 3) uint8 palette colour's 299 R + 587 G + 114 B, the
    brightness ``reduce_2x`` breaks ties with."""
    rgb = palette.astype(np.float64)
    return torch.from_numpy(np.concatenate([[0.0], 299 * rgb[:, 0] + 587 * rgb[:, 1] + 114 * rgb[:, 2]]))


class MaskedTokenObjective:
    """The masked-token loss. An upsampler (``TokenUNetConfig.lowres``) also gets each training sprite's own 2x
    reduction; ``preview`` (uint8 (n, S, S, 4) palette-exact sprites and their (n,) labels) gives its preview sheet
    something to upsample."""

    def __init__(
        self,
        cfg: MaskedLossConfig,
        palette: np.ndarray,
        num_labels: int,
        mask_token: int,
        preview: tuple[np.ndarray, np.ndarray] | None = None,
        guide: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        self.cfg, self.num_labels, self.mask_token = cfg, num_labels, mask_token
        self.guide = guide  # a renderer's guide images: rgba (B, 4, S, S) [-1, 1] -> (B, G, S, S) (vae_guide)
        self.palette = palette
        self.keys, self.tokens_of_keys = palette_keys(palette)
        self.luma = token_luma(palette)
        self.preview = preview

    def masked_canvas(
        self, x: torch.Tensor, augment: bool, stride: int = 1
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The forward process on a batch x (B, 4, S, S) in [-1, 1]: (tokens (B, S, S) int64, after the 1-px shift
        (multiples of ``stride``) or torus roll when ``augment``; mask ratio r (B,); masked (B, S, S) bool; the
        network's input canvas)."""
        tokens = image_to_tokens(x, self.keys, self.tokens_of_keys)
        if augment and self.cfg.torus_roll:
            tokens = roll_each(tokens, None)
        elif augment:
            tokens = shift_if_free(tokens, None, self.cfg.max_shift, stride)
        r = mask_ratio(torch.rand(tokens.shape[0], device=x.device)).clamp(min=1.0 / tokens[0].numel())
        masked = torch.rand(tokens.shape, device=x.device) < r[:, None, None]
        return tokens, r, masked, torch.where(masked, torch.full_like(tokens, self.mask_token), tokens)

    def loss(
        self, model: nn.Module, x: torch.Tensor, labels: torch.Tensor, step: int
    ) -> tuple[torch.Tensor, dict[str, float]]:
        upsampler = unwrap(model, TokenUNet).cfg.lowres
        tokens, r, masked, inputs = self.masked_canvas(x, model.training, 2 if upsampler else 1)
        b = tokens.shape[0]
        drop = torch.rand(b, device=x.device) < self.cfg.label_dropout
        labels = torch.where(drop, torch.full_like(labels, self.num_labels), labels)
        lowres = reduce_tokens(tokens, self.luma) if upsampler else None  # the half-size sprite it sees
        whole = tokens  # the whole sprite, for a renderer's guide
        if lowres is not None and model.training and self.cfg.lowres_noise > 0:
            lowres = corrupt_lowres(lowres, self.cfg.lowres_noise, len(self.palette))
        pick = None
        n = masked.float().sum().clamp(min=1)
        m = masked.float()
        if model.training and self.cfg.loss_pixels and unwrap(model, TokenUNet).can_pick():
            pick, m = loss_pick(masked, self.cfg.loss_pixels)
            tokens, masked = tokens.reshape(b, -1).gather(1, pick), masked.reshape(b, -1).gather(1, pick)
        logits = self.run(model, inputs, r, labels, lowres, self.guide_of(model, whole), pick).float()
        opaque = tokens > 0
        bce = F.binary_cross_entropy_with_logits(logits[:, 0], opaque.float(), reduction="none")
        ce = F.cross_entropy(logits[:, 1:], (tokens - 1).clamp(min=0), reduction="none")
        per_pixel = bce + torch.where(opaque, ce, torch.zeros_like(ce))
        loss = (per_pixel * m).sum() / n
        with torch.no_grad():
            hit = (logits[:, 1:].argmax(1) + 1 == tokens) & opaque & masked
            acc = hit.float().sum() / (opaque & masked).float().sum().clamp(min=1)
        return loss, {
            "loss": float(loss.detach()),
            "bce": float((bce.detach() * m).sum() / n),
            "ce": float((ce.detach() * (m * opaque)).sum() / (m * opaque).sum().clamp(min=1)),
            "colour_acc": float(acc),
        }

    def guide_of(self, model: nn.Module, tokens: torch.Tensor) -> torch.Tensor | None:
        """A renderer's guide images for the clean sprites ``tokens`` (B, S, S); None for any other model."""
        if not unwrap(model, TokenUNet).cfg.guide:
            return None
        if self.guide is None:
            raise ValueError("a renderer (guide > 0) needs MaskedTokenObjective.guide")
        return self.guide(tokens_to_rgba(tokens, self.palette))

    @staticmethod
    def run(
        model: nn.Module,
        tokens: torch.Tensor,
        r: torch.Tensor,
        labels: torch.Tensor,
        lowres: torch.Tensor | None,
        guide: torch.Tensor | None,
        pick: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The network on a canvas, with the conditioning its kind takes (and the head on ``pick`` only)."""
        if guide is not None or pick is not None:
            return model(tokens, r, labels, lowres, pick, guide=guide)
        return model(tokens, r, labels) if lowres is None else model(tokens, r, labels, lowres)

    @torch.no_grad()
    def samples(self, model: nn.Module, n: int, gen: torch.Generator) -> torch.Tensor:
        """Preview sheet: labels in turn, 16 random-order unmasking steps, temperature 1, no guidance."""
        device = next(model.parameters()).device
        s = unwrap(model, TokenUNet).cfg.canvas_size
        labels = torch.arange(n, device=device) % max(1, self.num_labels)
        lowres = guide = None
        cfg = unwrap(model, TokenUNet).cfg
        if cfg.lowres or cfg.guide:
            if self.preview is None:
                raise ValueError("an upsampler's preview needs sprites to upsample (MaskedTokenObjective.preview)")
            images, preview_labels = self.preview
            which = np.arange(n) % len(images)
            real = image_to_tokens(
                torch.from_numpy(images[which]).permute(0, 3, 1, 2).float() / 127.5 - 1, self.keys, self.tokens_of_keys
            )
            if cfg.lowres:
                lowres = reduce_tokens(real, self.luma).to(device)
            else:
                guide = self.guide_of(model, real)
                guide = None if guide is None else guide.to(device)
            labels = torch.from_numpy(preview_labels[which]).to(device)
        tokens = torch.full((n, s, s), self.mask_token, dtype=torch.long, device=device)
        priority = torch.rand((n, s * s), generator=gen, device=device)
        order = priority.argsort(dim=1)  # position k of the order is unmasked at the step that reaches k
        steps = 16
        done = 0
        for i in range(steps):
            target = s * s - int(math.floor(s * s * math.cos(0.5 * math.pi * (i + 1) / steps)))
            r = torch.full((n,), 1.0 - done / (s * s), device=device)
            logits = self.run(model, tokens, r, labels, lowres, guide).float()
            alpha = torch.rand((n, s, s), generator=gen, device=device) < torch.sigmoid(logits[:, 0])
            probs = torch.softmax(logits[:, 1:], dim=1).permute(0, 2, 3, 1).reshape(-1, logits.shape[1] - 1)
            colour = torch.multinomial(probs, 1, generator=gen).reshape(n, s, s) + 1
            new = torch.where(alpha, colour, torch.zeros_like(colour))
            pick = order[:, done:target]
            flat = tokens.reshape(n, -1)
            flat.scatter_(1, pick, new.reshape(n, -1).gather(1, pick))
            tokens = flat.reshape(n, s, s)
            done = target
        table = np.concatenate(
            [
                np.zeros((1, 4), np.uint8),
                np.concatenate([self.palette, np.full((len(self.palette), 1), 255, np.uint8)], 1),
            ]
        )
        return torch.from_numpy(table[tokens.cpu().numpy()])
