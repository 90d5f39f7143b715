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

Copy head (``copy=True``): pixel art repeats colours exactly (flat areas, a sprite's handful of colours), but a
softmax over 255 shades spreads its mass over near-identical colours, and independent draws from it are confetti.
The head therefore also gives every pixel 9 "copy" logits: "the colour of neighbour k" (its 8 neighbours, wrapping
around on a torus) and "a colour this sprite already shows" (the histogram of its revealed opaque pixels). A copy
whose source is masked, transparent or off the canvas gets no mass. The colour distribution is the mixture

    p(c) = softmax([palette, copy])_c + sum_k softmax(...)_{copy k} [neighbour k = c] + softmax(...)_{sprite} hist(c)

and channels 1..K carry log p(c): normalised log-probabilities, so the loss, the ONNX signature and the runtime's
sampler (temperature, guidance, palette lock) are unchanged. Copying an exact colour needs only "where to copy from",
not which of 255 shades it was, which the backbone cannot carry through a 2×2 cell.

Shade gate (``shades=M > 0``, with ``copy``): pixel art shades a shape with steps to a *nearby* colour (a tone
lighter or darker, OKLab distance .05-.20), which the exact copies cannot give and a broad palette softmax gives
rarely (it jumps to an unrelated hue: hard steps where real art has shading). One more gate, "a shade of a
neighbour's colour", puts its mass on the palette restricted to the shades of the revealed neighbours' colours:

    q(c) ∝ exp(palette_c) · Σ_k A[neighbour k, c]       A = ``shade_kernel`` (K, K): 1 where c is one of the M
                                                        palette colours nearest in OKLab to the row's colour

The network says "next to a neighbour's colour"; the palette logits say which one (lighter, darker, warmer). On
the 16×16 DCSS palette M = 48 covers all real neighbour steps of .05-.10 and about 80% of .10-.20 (M = 8: 62% and
7%). The kernel is a buffer computed from the palette by :meth:`TokenUNet.set_palette`, saved with the weights.
Measured (docs/pixel.md, docs/tiles.md): the gate ends with 1-4% of the colour mass and leaves held-out likelihood
where more training alone takes it.

Low-resolution conditioning (``lowres=True``, patch 1 or 2, with ``copy``): an upsampler, the second stage of a
cascade (``docs/pixel.md``, "pixel40 as a cascade"). The network also sees ``lowres`` (B, S/2, S/2) tokens: the
sprite at half resolution (:func:`reduce_tokens`, the pixel-art 2x reduction: a block's most frequent colour),
embedded with the same table and concatenated to the 2×2-cell features (patch 2) or, repeated over each block's
four pixels, to the pixels' own embeddings (patch 1). Nine more copy sources give each pixel "the colour of
low-resolution pixel k" for the 3×3 low-resolution pixels around its own block (its parent and the parent's
neighbours): at half resolution the sprite's shapes and shading are already decided, and the upsampler mostly
says which of them each pixel repeats.

Guide image (``guide=G > 0``, patch 1): a renderer, the second stage of a latent cascade (``docs/pixel.md``,
"pixel40 over diffusion40"). The network also sees ``guide`` (B, G, S, S) float32 in [-1, 1], an image of the
sprite at full size (G = 4: the RGBA a VAE decodes from the sprite's latent: the right shapes and colours, blurred),
concatenated to the pixels' token embeddings. It learns to draw the crisp palette sprite the blurred one stands for.
With ``guide_prior`` the head also gets the guide's colour directly, as a prior on the palette logits:

    palette_c += -β · |lab(guide) - lab(c)|² + m    β = 100 · softplus(one more head channel), per pixel

(OKLab; m renormalises, so the palette's total mass against the copy gates is the network's to say; the palette's
colours are a buffer filled by :meth:`TokenUNet.set_palette`). A colour near the blurred
guide's is then likely without the backbone having to carry exact colours through its GroupNorms to the 1×1 head,
which a renderer trained without the prior learned slowly (docs/pixel.md).

Forward: ``(tokens (B, S, S) int64, t (B,) float32, label (B,) int64[, lowres (B, S/2, S/2) int64][, guide (B, G,
S, S) float32]) -> (B, 1 + K, S, S) float32``, the ONNX signature.

Picked pixels (patch 1): ``forward(..., pick=(B, P) int64)``, flat pixel indices in [0, S·S), returns (B, 1 + K, P):
the same numbers for those pixels only. The backbone still sees the whole canvas; the per-pixel head (the 1×1
output convolution and the copy mixture over 255 colours) runs on the P pixels the sampler will draw, about an
eighth of the canvas a step at 8 reveal steps. Exported graphs take ``pick`` as their last input
(docs/bundle-format.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from pixelsprite.colorspace import LMS_TO_LAB, RGB_TO_LMS

from . import zero_init
from .unet import UNet, UNetConfig

NEIGHBOURS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))
COPIES = len(NEIGHBOURS) + 1  # the 8 neighbours and the sprite's own colours
SHADE_GATES = 1  # with shades: "a shade of a neighbour's colour"
LOWRES_AROUND = ((0, 0), *NEIGHBOURS)  # with lowres: the parent block's colour and its 8 neighbours' at half size


@dataclass(frozen=True)
class TokenUNetConfig:
    """Constructor arguments of :class:`TokenUNet`; stored in checkpoints next to the weights."""

    palette_size: int = 255  # K colours (tokens 1..K); token 0 transparent, K + 1 mask
    embed_dim: int = 32
    patch: int = 1  # P: the backbone sees P×P cells of pixels (the canvas size must be divisible by P)
    copy: bool = False  # the copy head (module docstring): colour = mixture of palette and copies of known colours
    shades: int = 0  # M > 0 (with copy): a gate for "a shade of a neighbour's colour" (its M nearest palette colours)
    lowres: bool = False  # an upsampler: also sees the sprite at half resolution (with copy; module docstring)
    guide: int = 0  # G > 0: a renderer, also sees a G-channel float image of the sprite (patch 1; module docstring)
    guide_prior: bool = False  # with guide: a per-pixel prior toward the guide's colour on the palette logits
    unet: UNetConfig = UNetConfig(in_channels=32, image_size=16, widths=(64, 128), attention=(0, 1), time_scale=1000.0)

    def to_dict(self) -> dict:
        return {
            "palette_size": self.palette_size,
            "embed_dim": self.embed_dim,
            "patch": self.patch,
            "copy": self.copy,
            "shades": self.shades,
            "lowres": self.lowres,
            "guide": self.guide,
            "guide_prior": self.guide_prior,
            "unet": asdict(self.unet),
        }

    @classmethod
    def from_dict(cls, d: dict) -> TokenUNetConfig:
        return cls(
            palette_size=d["palette_size"],
            embed_dim=d["embed_dim"],
            patch=d.get("patch", 1),
            copy=d.get("copy", False),
            shades=d.get("shades", 0),
            lowres=d.get("lowres", False),
            guide=d.get("guide", 0),
            guide_prior=d.get("guide_prior", False),
            unet=UNetConfig.from_dict(d["unet"]),
        )

    @property
    def canvas_size(self) -> int:
        """S: the sprite's side in pixels (the backbone's grid is S / patch)."""
        return self.unet.image_size * self.patch

    @property
    def mask_token(self) -> int:
        return self.palette_size + 1

    def head_groups(self) -> list[tuple[str, int]]:
        """The head's output channels in order, as (group, channels): opacity, palette, then the copy gates, the
        shade gate and the half-size copy gates that this configuration has. (With a patch P the head's conv has
        P² rows per channel, channel c's at c·P² .. c·P² + P² − 1, as ``pixel_shuffle`` reads them.)"""
        groups = [("opacity", 1), ("palette", self.palette_size)]
        groups += [("copies", COPIES)] if self.copy else []
        groups += [("shade", SHADE_GATES)] if self.shades else []
        groups += [("lowres", len(LOWRES_AROUND))] if self.lowres else []
        groups += [("guide", 1)] if self.guide_prior else []
        return groups


class TokenUNet(nn.Module):
    def __init__(self, cfg: TokenUNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.palette_size + 2, cfg.embed_dim)
        p = cfg.patch
        if cfg.lowres and not (p in (1, 2) and cfg.copy):
            raise ValueError("lowres needs patch 1 or 2 and the copy head (copy=True)")
        if cfg.guide and (p != 1 or cfg.lowres):
            raise ValueError("guide needs patch 1 and no lowres")
        if cfg.guide_prior and cfg.guide < 3:
            raise ValueError("guide_prior needs a guide image with RGB channels (guide >= 3)")
        self.backbone = UNet(replace(cfg.unet, in_channels=cfg.embed_dim * (p * p + cfg.lowres) + cfg.guide))
        out = self.backbone.out
        if cfg.shades and not cfg.copy:
            raise ValueError("shades needs the copy head (copy=True)")
        if not 0 <= cfg.shades < cfg.palette_size:
            raise ValueError(f"shades must be in [0, {cfg.palette_size - 1}], got {cfg.shades}")
        channels = sum(n for _, n in cfg.head_groups())
        self.shade_kernel: torch.Tensor | None
        if cfg.shades:  # filled by set_palette; saved with the weights
            self.register_buffer("shade_kernel", torch.zeros(cfg.palette_size, cfg.palette_size))
        else:
            self.shade_kernel = None
        self.palette_lab: torch.Tensor | None
        if cfg.guide_prior:  # the palette in OKLab, filled by set_palette; saved with the weights
            self.register_buffer("palette_lab", torch.zeros(cfg.palette_size, 3))
        else:
            self.palette_lab = None
        head = nn.Conv2d(out.in_channels, channels * p * p, 1)  # per-pixel logits
        zero_init(head)
        self.backbone.out = head

    def forward(
        self,
        tokens: torch.Tensor,
        t: torch.Tensor,
        label: torch.Tensor,
        lowres: torch.Tensor | None = None,
        pick: torch.Tensor | None = None,
        guide: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if self.cfg.lowres != (lowres is not None):
            raise ValueError("an upsampler (lowres=True) needs lowres tokens; any other model takes none")
        if bool(self.cfg.guide) != (guide is not None):
            raise ValueError("a renderer (guide > 0) needs a guide image; any other model takes none")
        x = self.embed(tokens).permute(0, 3, 1, 2)
        p = self.cfg.patch
        if pick is not None and p != 1:
            raise ValueError("pick needs patch 1 (a cell's pixels share one output row)")
        if p == 1:
            if lowres is not None:  # each half-size token repeated over its block's 2×2 pixels
                up = self.embed(lowres).permute(0, 3, 1, 2).repeat_interleave(2, 2).repeat_interleave(2, 3)
                x = torch.cat([x, up], 1)
            if guide is not None:
                x = torch.cat([x, guide.to(x.dtype)], 1)
            if pick is None:
                out = self.backbone(x, t, label)
            else:  # the 1×1 head on the picked pixels only: (B, C, P, 1)
                out = self.backbone.out(at_pixels(self.backbone(x, t, label, head=False), pick))
        else:
            cells = F.pixel_unshuffle(x, p)
            if lowres is not None:
                cells = torch.cat([cells, self.embed(lowres).permute(0, 3, 1, 2)], 1)
            out = F.pixel_shuffle(self.backbone(cells, t, label), p)
        if self.palette_lab is not None and guide is not None:  # the last head channel: the prior's weight
            k = self.cfg.palette_size
            near = guide_prior(guide[:, :3] if pick is None else at_pixels(guide[:, :3], pick), self.palette_lab)
            weight = 100.0 * F.softplus(out[:, -1:].float())
            palette = out[:, 1 : 1 + k].float()
            moved = palette - weight * near  # renormalised: the palette's share against the copy gates stays
            moved = moved - torch.logsumexp(moved, 1, keepdim=True) + torch.logsumexp(palette, 1, keepdim=True)
            out = torch.cat([out[:, :1].float(), moved, out[:, 1 + k : -1].float()], 1)
        if self.cfg.copy:
            k, wrap = self.cfg.palette_size, self.cfg.unet.circular
            out = copy_mixture(out, tokens, k, wrap, self.shade_kernel, lowres, pick)
        return out if pick is None else out[..., 0]

    def can_pick(self) -> bool:
        """Whether ``forward`` takes ``pick`` (patch 1: one output row per pixel)."""
        return self.cfg.patch == 1

    def set_palette(self, lab: torch.Tensor) -> None:
        """Fill the buffers made from the palette's colours ``lab`` (K, 3) float OKLab, in token order (token i + 1
        is ``lab[i]``): the shade kernel, ``shade_kernel[i, j]`` 1 where colour j is one of the ``shades`` colours
        nearest to colour i (i itself excluded), else 0; a renderer's ``palette_lab`` (``guide_prior``)."""
        if lab.shape != (self.cfg.palette_size, 3):
            raise ValueError(f"palette must be ({self.cfg.palette_size}, 3) OKLab, got {tuple(lab.shape)}")
        if self.palette_lab is not None:
            self.palette_lab.copy_(lab.float())
        if self.shade_kernel is None:
            return
        d = torch.cdist(lab.double(), lab.double())
        d.fill_diagonal_(float("inf"))
        kernel = torch.zeros_like(self.shade_kernel)
        kernel.scatter_(1, d.argsort(dim=1)[:, : self.cfg.shades], 1.0)
        self.shade_kernel.copy_(kernel)


class PickingTokenUNet(TokenUNet):
    """A :class:`TokenUNet` whose last positional input is ``pick``: ``(tokens, t, label[, lowres][, guide], pick) ->
    (B, 1 + K, P)``, the exported graph's signature (an exporter passes inputs by position). Same parameter names,
    so a graph exported from it keeps the weights' names (``training.bundle_network``)."""

    @classmethod
    def of(cls, net: TokenUNet) -> PickingTokenUNet:
        if not net.can_pick():
            raise ValueError("pick needs patch 1")
        picking = cls(net.cfg)
        picking.load_state_dict(net.state_dict())
        return picking.eval()

    def forward(  # type: ignore[override]  # positional, as an exporter passes inputs
        self, tokens: torch.Tensor, t: torch.Tensor, label: torch.Tensor, *rest: torch.Tensor
    ) -> torch.Tensor:
        extra = ("lowres",) * self.cfg.lowres + ("guide",) * bool(self.cfg.guide)
        if len(rest) != 1 + len(extra):
            raise ValueError(f"expected {' and '.join((*extra, 'pick'))} after tokens, t, label")
        given = dict(zip(extra, rest))
        return super().forward(tokens, t, label, given.get("lowres"), rest[-1], given.get("guide"))


def example_inputs(cfg: TokenUNetConfig, labels: int, count: int, seed: int, pick: int = 0) -> dict[str, torch.Tensor]:
    """Random inputs of :class:`TokenUNet` for parity checks: ``count`` canvases of tokens in 0..K + 1 (MASK
    included), mask ratios in [0, 1), every label and the null label (``labels``) in turn, half-size tokens for
    an upsampler, a guide image in [-1, 1] for a renderer, and with ``pick`` > 0 that many distinct pixels of
    each canvas. Deterministic given ``seed``; named as the ONNX graph's inputs."""
    s, k = cfg.canvas_size, cfg.palette_size
    g = torch.Generator().manual_seed(seed)
    example = {
        "tokens": torch.randint(0, k + 2, (count, s, s), generator=g),
        "t": torch.rand(count, generator=g),
        "label": torch.arange(count) % (labels + 1),
    }
    if cfg.lowres:
        example["lowres"] = torch.randint(0, k + 1, (count, s // 2, s // 2), generator=g)
    if cfg.guide:
        example["guide"] = torch.rand((count, cfg.guide, s, s), generator=g) * 2 - 1
    if pick:
        example["pick"] = torch.stack([torch.randperm(s * s, generator=g)[:pick] for _ in range(count)])
    return example


def _mix(x: torch.Tensor, m: np.ndarray) -> torch.Tensor:
    """(B, 3, H, W) -> the 3x3 matrix ``m`` applied to every pixel's channels (a 1x1 convolution)."""
    return F.conv2d(x, torch.as_tensor(m, dtype=x.dtype, device=x.device)[:, :, None, None])


def guide_lab(rgb: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) sRGB in [-1, 1] -> (B, 3, H, W) OKLab (L in [0, 1]), as ``pixelsprite.colorspace`` computes."""
    c = ((rgb.float() + 1.0) * 0.5).clamp(0.0, 1.0)
    linear = torch.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return _mix(_mix(linear, RGB_TO_LMS).clamp(min=1e-9) ** (1.0 / 3.0), LMS_TO_LAB)


def guide_prior(rgb: torch.Tensor, palette_lab: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) guide colours in [-1, 1], (K, 3) palette in OKLab -> (B, K, H, W) float32: the squared OKLab
    distance from each pixel's guide colour to every palette colour."""
    g = guide_lab(rgb)
    dot = F.conv2d(g, palette_lab.float()[:, :, None, None])
    return (g * g).sum(1, keepdim=True) - 2.0 * dot + (palette_lab.float() ** 2).sum(1)[None, :, None, None]


def at_pixels(x: torch.Tensor, pick: torch.Tensor) -> torch.Tensor:
    """(B, C, S, S) per-pixel values, (B, P) int64 flat pixel indices -> (B, C, P, 1): the picked pixels' values,
    laid out as a P×1 image so per-pixel code written for grids runs on them unchanged."""
    b, c = x.shape[0], x.shape[1]
    index = pick[:, None, :].expand(b, c, pick.shape[1])
    return x.reshape(b, c, -1).gather(2, index)[..., None]


def _shift(x: torch.Tensor, dy: int, dx: int, wrap: bool) -> torch.Tensor:
    """(B, C, S, S) -> y with y[..., i, j] = x[..., i + dy, j + dx]; 0 off the canvas (or wrapped around)."""
    if wrap:
        return torch.roll(x, shifts=(-dy, -dx), dims=(2, 3))
    s = x.shape[-1]
    padded = F.pad(x, (1, 1, 1, 1))
    return padded[:, :, 1 + dy : 1 + dy + s, 1 + dx : 1 + dx + s]


def _is_colour(tokens: torch.Tensor, k: int) -> torch.Tensor:
    """bool, same shape: the token is a revealed opaque colour (1..K), not transparent (0) or MASK (K + 1)."""
    return (tokens >= 1) & (tokens <= k)


def lowres_sources(lowres: torch.Tensor, wrap: bool) -> torch.Tensor:
    """(B, S/2, S/2) int64 half-resolution tokens -> (B, 9, S, S): for every pixel, the tokens of its block's
    parent and the parent's 8 neighbours (:data:`LOWRES_AROUND`; 0 off the canvas unless ``wrap``)."""
    around = torch.cat([_shift(lowres[:, None], dy, dx, wrap) for dy, dx in LOWRES_AROUND], 1)
    return around.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)


def shade_rows(tokens: torch.Tensor, shade_kernel: torch.Tensor, k: int) -> torch.Tensor:
    """(B, S, S) int64 tokens, (K, K) {0, 1} kernel -> (B, K, S, S) float32: each pixel's kernel row (the colours
    it is a shade of), zeros where the pixel has no colour (transparent, MASK)."""
    rows = torch.cat([shade_kernel, torch.zeros_like(shade_kernel[:1])], 0)  # (K + 1, K)
    which = torch.where(_is_colour(tokens, k), tokens - 1, torch.full_like(tokens, k))
    return F.embedding(which, rows).permute(0, 3, 1, 2)


def neighbour_sum(x: torch.Tensor, wrap: bool) -> torch.Tensor:
    """(B, C, S, S) small non-negative integers (as float) -> the sum over each pixel's 8 neighbours
    (:data:`NEIGHBOURS`; 0 off the canvas unless ``wrap``), exact: a 3x3 average pool times 9, less the pixel,
    rounded (one pass of onnxruntime's pooling kernel; its depthwise convolution is several times slower)."""
    if wrap:
        box = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="circular"), 3, stride=1)
    else:
        box = F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=True)
    return torch.round(box * 9.0 - x)


def copy_mixture(
    out: torch.Tensor,
    tokens: torch.Tensor,
    k: int,
    wrap: bool,
    shade_kernel: torch.Tensor | None = None,
    lowres: torch.Tensor | None = None,
    pick: torch.Tensor | None = None,
) -> torch.Tensor:
    """The copy head's mixture (module docstring). out: (B, 1 + K + 9 [+ 1 with a shade kernel] [+ 9 with lowres],
    S, S) raw head output, or (B, ..., P, 1) for the pixels ``pick`` (B, P) int64 only (:func:`at_pixels`);
    tokens: (B, S, S) int64 input canvas; shade_kernel: None or (K, K) float {0, 1}; lowres: None or (B, S/2,
    S/2) int64 half-resolution tokens (an upsampler's nine more copy sources). Returns (B, 1 + K, S, S), or (B, 1 +
    K, P, 1) with ``pick``, float32: the opacity logit, then log p(colour) (sums to 1)."""
    opacity, palette, gates = out[:, :1].float(), out[:, 1 : 1 + k].float(), out[:, 1 + k :].float()
    b = tokens.shape[0]
    neighbours = torch.cat([_shift(tokens[:, None], dy, dx, wrap) for dy, dx in NEIGHBOURS], 1)  # (B, 8, S, S)
    parents = lowres_sources(lowres, wrap) if lowres is not None else None  # (B, 9, S, S)
    if pick is not None:  # the picked pixels' neighbours and parents: (B, 8 | 9, P, 1)
        neighbours = at_pixels(neighbours, pick)
        parents = None if parents is None else at_pixels(parents, pick)
    source = (neighbours - 1).clamp(0, k - 1)  # 0-based palette index of each neighbour (garbage where invalid)
    flat = tokens.reshape(b, -1)
    known = _is_colour(flat, k).float()
    counts = torch.zeros(b, k, device=out.device).scatter_add(1, (flat - 1).clamp(0, k - 1), known)  # (B, K)
    total = counts.sum(1, keepdim=True)
    hist = (counts / total.clamp(min=1.0))[:, :, None, None]
    is_colour = _is_colour(neighbours, k).float()
    valid = [is_colour, (total > 0).float()[:, :, None, None].expand_as(opacity)]
    if shade_kernel is not None:
        valid.append(is_colour.amax(1, keepdim=True))  # a shade needs at least one neighbour's colour
    if parents is not None:
        valid.append(_is_colour(parents, k).float())
    gates = gates + (torch.cat(valid, 1) - 1.0) * 1e4  # a copy with nothing to copy gets no mass (exp underflows)
    # softmax over [palette, gates] by hand: exp/sum is several times cheaper in onnxruntime than ReduceLogSumExp
    top = torch.maximum(palette.amax(1, keepdim=True), gates.amax(1, keepdim=True))
    e_palette, e_gates = torch.exp(palette - top), torch.exp(gates - top)
    z = e_palette.sum(1, keepdim=True) + e_gates.sum(1, keepdim=True)
    q, w = e_palette / z, e_gates / z  # (B, K, S, S) palette mass; (B, 9 [+ 1] [+ 9], S, S) gates
    p = q + w[:, COPIES - 1 : COPIES] * hist
    p = p.scatter_add(1, source, w[:, : COPIES - 1])
    if shade_kernel is not None:
        # how many revealed neighbours each colour is a shade of: the sum of their kernel rows. Each pixel's row is
        # gathered once (a row of zeros for a pixel without a colour), then summed over the 8 neighbours by a 3x3
        # pool (neighbour_sum): an eighth of the memory traffic of gathering 8 rows a pixel of the whole canvas
        if pick is None:
            support = neighbour_sum(shade_rows(tokens, shade_kernel, k), wrap)  # (B, K, S, S)
        else:  # few pixels: their 8 neighbours' rows gathered and summed, (B, K, 8, P) -> (B, K, P, 1)
            support = shade_rows(neighbours[..., 0], shade_kernel, k).sum(2, keepdim=True).transpose(2, 3)
        shade = q * support  # the palette restricted to the shades, renormalised
        total = shade.sum(1, keepdim=True)  # 0 where every shade underflowed: divide by 1 there (a finite gradient)
        p = p + w[:, COPIES : COPIES + SHADE_GATES] * shade / torch.where(total > 1e-30, total, torch.ones_like(total))
    if parents is not None:
        first = COPIES + (SHADE_GATES if shade_kernel is not None else 0)
        p = p.scatter_add(1, (parents - 1).clamp(0, k - 1), w[:, first:])
    return torch.cat([opacity, torch.log(p + 1e-30)], 1)


def reduce_tokens(tokens: torch.Tensor, luma: torch.Tensor) -> torch.Tensor:
    """The pixel-art 2x reduction on tokens (``pixelsprite.datasets.reduce.reduce_2x``): (B, S, S) int64 (0
    transparent, 1..K colours) -> (B, S/2, S/2) int64. A block is opaque when at least 2 of its 4 pixels are; its
    token is the most frequent opaque one, ties to the darkest. luma: (K + 1,) float, the brightness of each token
    (any values that order the colours as ``reduce_2x``'s 299 R + 587 G + 114 B does)."""
    b, s, _ = tokens.shape
    blocks = tokens.reshape(b, s // 2, 2, s // 2, 2).permute(0, 1, 3, 2, 4).reshape(b, s // 2, s // 2, 4)
    opaque = blocks > 0
    same = (blocks[..., :, None] == blocks[..., None, :]) & opaque[..., None, :] & opaque[..., :, None]
    lum = luma.to(tokens.device)[blocks]
    score = torch.where(opaque, same.sum(-1).double() * 1e9 - lum.double(), torch.full_like(lum.double(), -1e18))
    pick = blocks.gather(-1, score.argmax(-1, keepdim=True))[..., 0]
    return torch.where(opaque.sum(-1) >= 2, pick, torch.zeros_like(pick))
