"""The "pixel" model family: pixel-art-native generation by masked discrete diffusion over palette tokens.

Every pixel is one token: 0 transparent, 1..K a colour of the bundle's global palette (OKLab k-means of the
training sprites, ``tokens.palette``), K + 1 MASK. The ``logits`` graph sees a partly masked canvas and predicts
every pixel: channel 0 the logit of "opaque", channels 1..K the colour logits given opaque. Sampling starts from
an all-MASK canvas (or a sprite with some pixels masked: variations and inpainting) and reveals pixels over
``steps`` steps on the cosine schedule of MaskGIT (Chang et al. 2022, eq. 3 with gamma(r) = cos(pi r / 2)):
after step i of N, a share cos(pi/2 (i+1)/N) of the pixels to fill is still masked. Colours come straight from
the palette: alpha is exact, there is no decoder and no colour clean-up afterwards, so sprites are crisp by
construction.

Graph ``logits``: ``tokens`` int64 ``(batch, H, W)``, ``t`` float32 ``(batch,)`` (share of the canvas still
masked), ``label`` int64 ``(batch,)`` (``num_labels`` = no label) -> ``logits`` float32 ``(batch, 1 + K, H, W)``.
A graph may also take ``pick`` int64 ``(batch, P)`` as its last input, flat pixel indices in ``[0, H*W)``, and then
returns ``(batch, 1 + K, P)``: the logits of those pixels only. The sampler knows before each evaluation which
pixels it will draw (the reveal order is drawn from the seed; the corrector's pixels from the canvas), so it asks
for those; the backbone still sees the whole canvas, but the per-pixel head (255 colours, the copy mixture) runs on
an eighth of it at 8 steps.

Solvers (the order pixels are revealed in; one network evaluation per step, two with guidance):
    * ``random``: a fixed random order per sprite (drawn from its seed);
    * ``confidence``: at each step the masked pixels whose drawn value is most probable, with Gumbel noise of
      weight ``(1 - progress)`` (MaskGIT §3.2).
Guidance: logits = l_null + w (l_label - l_null) on both heads (Ho & Salimans 2022). ``temperature`` divides the
colour logits only: the opacity head always samples at 1, so a cold sampler cannot empty a sprite.

Seeds: sprite i uses ``rng = numpy.random.default_rng(seed_i)``: ``rng.random(H*W)`` once (its reveal order and,
for variations, which pixels are re-masked), then per step ``rng.random((3, H*W))`` (opacity, colour, Gumbel
uniforms) whether or not the pixel is revealed, and ``rng.random((2, H*W))`` per corrector round; so a sprite
depends on its seed and settings only, never on the batch it was generated in.

Corrector (``tokens.defaults.corrector`` rounds, the bundle's measured default): after the reveal steps, the
confetti pixels (:func:`confetti`: opaque, with at least :data:`CONFETTI_NEIGHBOURS` opaque 4-neighbours, every one
of them a hard step, OKLab >= :data:`HARD_STEP`, away: an unrelated colour dropped into a shape) are masked again
and redrawn given the finished canvas around them, with their 4 neighbours' exact colours left out of the draw:
the pixel stays distinct (a highlight, a shade, an outline corner), but the network now picks it knowing
everything around it, usually a nearby shade. The floating pixels (:func:`floating`: opaque, no opaque
8-neighbour: specks in the air around a sprite) are redrawn with them. One network evaluation per round (a
predictor-corrector step in the spirit of ReMDM, Wang et al. 2025, restricted to the pixels pixel art rarely
has). Redrawing lone pixels without the exclusion was measured first: it copies a neighbour and flattens sprites
(docs/pixel.md). With ``tokens.defaults.shade`` (an OKLab distance, the bundle's measured default) the redraw is
also restricted to *shades* of the surroundings: colours within that distance of at least one opaque neighbour
(falling back to the exclusion alone where the network gives no such colour any mass), so a speck becomes a
highlight or a shadow of the shape it sits in, never a colour from elsewhere.

Palette lock: with ``locked`` colours (n, 3) uint8 the colour head is summed over the global colours nearest to
each locked colour (probabilities grouped by the OKLab-nearest locked colour), a locked colour is drawn, the
canvas gets the global token nearest to it (what the network understands) and the sprite gets the exact locked
colour. The sampler itself draws in the palette; nothing is mapped afterwards.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np

from .colorspace import srgb_to_oklab
from .datasets.reduce import reduce_2x
from .errors import BundleError, InvalidRequest
from .evaluation.crispness import STEP_EDGES
from .iterative import CancelCheck, IterativeModel, PreviewCallback, Previews, Progress, label_index, make_hook
from .palettes.model import parse_hex
from .pixel_guide import (
    drawn_guides,
    guide_stage,
    inpaint_evaluations,
    inpainted_guides,
    sprite_guides,
    stage_settings,
)
from .registry import Bundle

__all__ = [
    "FAMILY",
    "ROLE",
    "SOLVERS",
    "NFE_PER_STEP",
    "MAX_TEMPERATURE",
    "HARD_STEP",
    "CONFETTI_NEIGHBOURS",
    "TokenSpec",
    "PixelSettings",
    "PixelModel",
    "BASE_ROLE",
    "palette_tokens",
    "token_colours",
    "confetti",
    "floating",
]

FAMILY = "pixel"
ROLE = "logits"
BASE_ROLE = "base"
"""A cascade's first stage: the graph (and ``tokens.base`` section) of the half-resolution sampler."""
SOLVERS = ("random", "confidence")
NFE_PER_STEP = 1
"""Network evaluations per step of every solver (twice that with guidance != 1 on a conditional model)."""
MAX_TEMPERATURE = 2.0
MAX_CORRECTOR = 8
HARD_STEP = STEP_EDGES[-1]
"""OKLab distance from which a neighbour step is "hard" (the last bin of the neighbour-step profile)."""
CONFETTI_NEIGHBOURS = 3
"""Opaque 4-neighbours a pixel needs before the corrector may call it confetti (edges and tips are left alone)."""
PICK_INPUT = "pick"
"""The name of a ``logits`` graph's optional last input: the pixels whose logits are wanted (module docstring)."""
CHUNK_LOGITS = 256 * 16 * 16 * 256
"""Logits per network call (64 MB of float32): 256 sprites of 16x16 with 255 colours, 40 at 40x40, 64 tiles of
16x16 with 1023 colours (the logits are (rows, 1 + K, H, W) floats)."""


def palette_tokens(rgba: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """uint8 ``(..., H, W, 4)`` -> int64 tokens ``(..., H, W)``: 0 where alpha is 0, else 1 + the OKLab-nearest colour
    of ``palette`` (K, 3) uint8."""
    lab = srgb_to_oklab(rgba[..., :3].reshape(-1, 3))
    pal = srgb_to_oklab(palette)
    out = np.empty(len(lab), np.int64)
    for i in range(0, len(lab), 65536):  # bounded (chunk, K) distance blocks
        x = lab[i : i + 65536]
        out[i : i + 65536] = np.argmin((pal**2).sum(1)[None] - 2 * x @ pal.T, axis=1) + 1
    return np.where(rgba[..., 3] > 0, out.reshape(rgba.shape[:-1]), 0).astype(np.int64)


def token_colours(tokens: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """int tokens ``(..., H, W)`` -> uint8 RGBA ``(..., H, W, 4)``: token k in 1..K is ``palette[k - 1]``, opaque;
    0 and MASK (K + 1) are transparent black."""
    k = len(palette)
    table = np.zeros((k + 2, 4), np.uint8)
    table[1 : k + 1, :3] = palette
    table[1 : k + 1, 3] = 255
    return table[tokens]


@dataclass(frozen=True)
class TokenSpec:
    """The manifest's ``tokens`` section, written by ``training.export_pixel`` and read here.

    Attributes:
        palette: (K, 3) uint8 colours of tokens 1..K (token 0 is transparent, K + 1 is MASK).
        null_label: the label index meaning "no label" (= number of labels), None for unconditional models.
        schedule: the masking schedule (``"cosine"``).
        solvers: reveal orders this bundle supports.
        max_steps: the largest step count a request may ask for (at most H*W).
        default_solver, default_steps, default_guidance, default_temperature: used when a request leaves them out.
        corrector: corrector rounds after the reveal steps.
        shade: None, or the OKLab distance within which the corrector redraws a confetti pixel as a shade of one
            of its neighbours (module docstring).
        tiling: the network lives on a torus (every convolution wraps around), so what it makes tiles seamlessly;
            the corrector then compares pixels with their wrapped-around neighbours too.
        opaque: every pixel is opaque (trained on fully opaque images, e.g. terrain tiles): the opacity head is
            overridden, so no pixel can come out transparent.
    """

    palette: np.ndarray
    null_label: int | None
    schedule: str
    solvers: tuple[str, ...]
    max_steps: int
    default_solver: str
    default_steps: int
    default_guidance: float
    default_temperature: float
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)
    corrector: int = 0
    tiling: bool = False
    opaque: bool = False
    shade: float | None = None

    @property
    def mask_token(self) -> int:
        return len(self.palette) + 1

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.raw,
            "palette": [f"#{int(c[0]):02x}{int(c[1]):02x}{int(c[2]):02x}" for c in self.palette],
            "transparent": 0,
            "mask_token": self.mask_token,
            "schedule": self.schedule,
            "conditioning": {**self.raw.get("conditioning", {}), "null_label": self.null_label},
            "solvers": list(self.solvers),
            "max_steps": self.max_steps,
            "defaults": {
                "solver": self.default_solver,
                "steps": self.default_steps,
                "guidance": self.default_guidance,
                "temperature": self.default_temperature,
                "corrector": self.corrector,
                **({"shade": self.shade} if self.shade is not None else {}),
            },
            **({"tiling": True} if self.tiling else {}),
            **({"opaque": True} if self.opaque else {}),
        }

    @classmethod
    def parse(cls, labels: Sequence[str], d: Any, pixels: int, where: str) -> TokenSpec:
        def bad(key: str, msg: str) -> BundleError:
            return BundleError(f"{where}: manifest key 'tokens.{key}' {msg}")

        if not isinstance(d, Mapping):
            raise BundleError(f"{where}: a 'pixel' bundle needs a 'tokens' object in its manifest")
        pal = d.get("palette")
        if not (isinstance(pal, list) and 1 <= len(pal) <= 4095):
            raise bad("palette", f"must be a list of 1..4095 '#rrggbb' colours, got {type(pal).__name__}")
        try:
            palette = np.array([parse_hex(c) for c in pal], np.uint8)
        except (ValueError, AttributeError) as e:
            raise bad("palette", f"must hold '#rrggbb' strings ({e})") from None
        if d.get("transparent", 0) != 0 or d.get("mask_token", len(pal) + 1) != len(pal) + 1:
            raise bad("mask_token", f"must be {len(pal) + 1} with transparent 0")
        if d.get("schedule", "cosine") != "cosine":
            raise bad("schedule", f"must be 'cosine', got {d.get('schedule')!r}")
        cond = d.get("conditioning", {})
        null = cond.get("null_label") if isinstance(cond, Mapping) else None
        if labels and null != len(labels):
            raise bad("conditioning.null_label", f"must equal the number of labels ({len(labels)}), got {null!r}")
        if not labels and null is not None:
            raise bad("conditioning.null_label", "must be null for a model without labels")
        solvers = d.get("solvers")
        if not (isinstance(solvers, list) and solvers and all(s in SOLVERS for s in solvers)):
            raise bad("solvers", f"must be a non-empty list of {SOLVERS}, got {solvers!r}")
        max_steps = d.get("max_steps")
        if isinstance(max_steps, bool) or not isinstance(max_steps, int) or not 1 <= max_steps <= pixels:
            raise bad("max_steps", f"must be an integer in 1..{pixels}, got {max_steps!r}")
        defaults = d.get("defaults")
        if not isinstance(defaults, Mapping):
            raise bad("defaults", "must be an object {solver, steps, guidance, temperature}")
        solver, steps = defaults.get("solver"), defaults.get("steps")
        guidance, temperature = defaults.get("guidance"), defaults.get("temperature", 1.0)
        if solver not in solvers:
            raise bad("defaults.solver", f"must be one of {solvers}, got {solver!r}")
        if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= max_steps:
            raise bad("defaults.steps", f"must be an integer in 1..{max_steps}, got {steps!r}")
        for key, v, hi in (("guidance", guidance, 20.0), ("temperature", temperature, MAX_TEMPERATURE)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= hi:
                raise bad(f"defaults.{key}", f"must be a number in 0..{hi:g}, got {v!r}")
        corrector = defaults.get("corrector", 0)
        if isinstance(corrector, bool) or not isinstance(corrector, int) or not 0 <= corrector <= MAX_CORRECTOR:
            raise bad("defaults.corrector", f"must be an integer in 0..{MAX_CORRECTOR}, got {corrector!r}")
        shade = defaults.get("shade")
        if shade is not None and (isinstance(shade, bool) or not isinstance(shade, (int, float)) or not 0 < shade <= 1):
            raise bad("defaults.shade", f"must be null or a number in (0, 1], got {shade!r}")
        tiling, opaque = d.get("tiling", False), d.get("opaque", False)
        if not isinstance(tiling, bool):
            raise bad("tiling", f"must be true or false, got {tiling!r}")
        if not isinstance(opaque, bool):
            raise bad("opaque", f"must be true or false, got {opaque!r}")
        return cls(
            palette,
            null,
            "cosine",
            tuple(solvers),
            max_steps,
            str(solver),
            int(steps),
            float(guidance),  # type: ignore[arg-type]
            float(temperature),
            dict(d),
            corrector,
            tiling,
            opaque,
            None if shade is None else float(shade),
        )


OPAQUE_LOGIT = 60.0
"""The opacity logit of every pixel of an ``opaque`` bundle: sigmoid(60) rounds to 1.0 in float32 and float64."""

TILE_BORDER = 1
"""Pixels of a tile's edge that ``inpaint`` keeps on a tiling bundle (where it meets its neighbours)."""


def border_ring(h: int, w: int, width: int) -> np.ndarray:
    """bool (H, W): True on the outer ``width`` pixels of the canvas."""
    ring = np.ones((h, w), bool)
    ring[width : h - width, width : w - width] = False
    return ring


def own_colours(rgba: np.ndarray) -> np.ndarray:
    """The distinct opaque colours of one (H, W, 4) uint8 image: (n, 3) uint8, n >= 1 (black when it has none)."""
    rgb = rgba[..., :3][rgba[..., 3] > 0]
    return np.unique(rgb, axis=0) if len(rgb) else np.zeros((1, 3), np.uint8)


@dataclass(frozen=True)
class PixelSettings:
    """A request's resolved sampler settings."""

    solver: str
    steps: int
    guidance: float
    temperature: float
    label: int  # the label index; null_label (or -1 for unconditional models) for "no label"
    corrector: int = 0  # corrector rounds after the reveal steps (the bundle's default)
    shade: float | None = None  # the corrector redraws confetti as shades within this OKLab distance (the bundle's)


def _pad1(a: np.ndarray, wrap: bool) -> np.ndarray:
    """(N, H, W) -> (N, H + 2, W + 2): one pixel around every canvas, wrapped around (a torus) or zero."""
    return np.pad(a, ((0, 0), (1, 1), (1, 1)), mode="wrap" if wrap else "constant")


def confetti(tokens: np.ndarray, lab: np.ndarray, wrap: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The confetti pixels the corrector redraws (with :func:`floating`), and their neighbours.

    tokens: int (N, H, W) (0 transparent, 1..K palette, anything above K counts as not opaque); lab: float (K, 3)
    the palette in OKLab; ``wrap``: neighbours wrap around the edges (a tile on a torus), else pixels off the
    canvas are transparent. Returns (bool (N, H, W): opaque pixels with at least :data:`CONFETTI_NEIGHBOURS`
    opaque 4-neighbours, each a step >= :data:`HARD_STEP` away; int64 (N, H, W, 4): the tokens of the up, down,
    left and right neighbours, 0 off the canvas).
    """
    k = len(lab)
    table = np.zeros((k + 2, 3))
    table[1 : k + 1] = lab
    tokens = np.minimum(np.asarray(tokens, np.int64), k + 1)
    pad = _pad1(tokens, wrap)
    around = [pad[:, :-2, 1:-1], pad[:, 2:, 1:-1], pad[:, 1:-1, :-2], pad[:, 1:-1, 2:]]  # up, down, left, right
    opaque = (tokens >= 1) & (tokens <= k)
    here = table[tokens]
    opaque_around = np.zeros(tokens.shape, np.int64)
    hard_around = np.zeros(tokens.shape, np.int64)
    for nb in around:
        nb_opaque = (nb >= 1) & (nb <= k)
        opaque_around += nb_opaque
        hard_around += nb_opaque & (np.sqrt(((here - table[nb]) ** 2).sum(-1)) >= HARD_STEP)
    picked = opaque & (opaque_around >= CONFETTI_NEIGHBOURS) & (hard_around == opaque_around)
    return picked, np.stack(around, axis=-1)


def floating(tokens: np.ndarray, k: int, wrap: bool = False) -> np.ndarray:
    """bool (N, H, W): opaque pixels (tokens 1..``k``) with no opaque pixel among their 8 neighbours (off the canvas
    counts as transparent; with ``wrap`` the neighbours wrap around the edges)."""
    tokens = np.asarray(tokens)
    opaque = (tokens >= 1) & (tokens <= k)
    h, w = opaque.shape[1:]
    padded = _pad1(opaque, wrap)
    company = np.zeros(opaque.shape, bool)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            if (dy, dx) != (1, 1):
                company |= padded[:, dy : dy + h, dx : dx + w]
    return opaque & ~company


def _draw(
    lg: np.ndarray,
    u_opaque: np.ndarray,
    u_colour: np.ndarray,
    temperature: float,
    onehot: np.ndarray | None,
    exclude: np.ndarray | None = None,
    allowed: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One draw for m pixels from their logits ``lg`` (m, 1 + K) with uniforms (m,) each: opacity at temperature 1,
    colour at ``temperature`` by inverse CDF (with ``onehot`` (K, n): over the locked colours, each getting its
    palette colours' mass). ``exclude`` int (m, j): colour indices (palette, or locked with ``onehot``) each pixel
    may not take, -1 for none; a pixel whose whole mass is excluded draws without the exclusion. ``allowed`` bool
    (m, K or n): the colours each pixel may take besides (the corrector's shades); a pixel whose whole remaining
    mass is outside them draws without that restriction. Returns (opaque
    bool (m,), colour index (m,), p(opaque) (m,), unnormalised colour probabilities (m, K or n), their sums (m,))."""
    p_opaque = 1.0 / (1.0 + np.exp(-lg[:, 0]))
    col = lg[:, 1:] / temperature
    prob = np.exp(col - col.max(1, keepdims=True))
    if onehot is not None:
        prob = prob @ onehot
    if exclude is not None and len(prob):
        rows = np.repeat(np.arange(len(prob)), exclude.shape[1])
        cols = exclude.reshape(-1)
        cut = prob.copy()
        cut[rows[cols >= 0], cols[cols >= 0]] = 0.0
        prob = np.where(cut.sum(1, keepdims=True) > 0, cut, prob)
    if allowed is not None and len(prob):
        near = prob * allowed
        prob = np.where(near.sum(1, keepdims=True) > 0, near, prob)
    cdf = np.cumsum(prob, axis=1)
    pick = np.minimum((cdf < (u_colour * cdf[:, -1])[:, None]).sum(1), prob.shape[1] - 1)
    return u_opaque < p_opaque, pick, p_opaque, prob, cdf[:, -1]


def pick_lists(sel: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """bool (n, H*W) pixels to draw -> (pick int64 (n, P): each sprite's selected flat indices in order, padded
    with 0 to the longest (P >= 1), rows (m,), cols (m,), slots (m,)): ``np.nonzero(sel)`` and where each selected
    pixel sits in ``pick`` (the logits of pixel ``(rows[j], cols[j])`` are ``logits[rows[j], :, slots[j]]``)."""
    rows, cols = np.nonzero(sel)
    counts = sel.sum(1)
    starts = np.cumsum(counts) - counts
    slots = np.arange(len(rows)) - starts[rows]
    pick = np.zeros((sel.shape[0], max(int(counts.max(initial=0)), 1)), np.int64)
    pick[rows, slots] = cols
    return pick, rows, cols, slots


def still_masked(fill: int, step: int, steps: int) -> int:
    """Pixels (of ``fill`` to fill) still masked after step ``step`` (0-based) of ``steps``: cosine schedule."""
    return int(math.floor(fill * math.cos(0.5 * math.pi * (step + 1) / steps)))


@dataclass(frozen=True)
class PixelModel:
    """A loaded ``pixel`` bundle. Stateless; safe to share between threads.

    A *cascade* bundle (``tokens.base`` in its manifest, a ``base`` graph beside ``logits``) samples in two stages:
    the base draws the sprite at half resolution (``tokens.base.size``, centred on the half-size canvas), then the
    ``logits`` graph, an upsampler that also takes ``lowres`` int64 ``(batch, H/2, W/2)`` tokens, draws every
    pixel at full size given that half-size sprite (``training.models.token_unet``, ``lowres``). ``base`` is then the
    first stage's sampler (a :class:`PixelModel` of the same bundle running the ``base`` graph); None otherwise.

    A *renderer* bundle (``tokens.guide``) samples in two stages too: a latent generator over the bundle's own
    graphs draws the sprite and its VAE decodes it into a blurred guide image, then the ``logits`` graph, which also
    takes ``guide`` float32 ``(batch, 4, H, W)``, draws every pixel given it (:mod:`pixelsprite.pixel_guide`).
    ``guide`` is then that generator; None otherwise.
    """

    bundle: Bundle
    stage: str = ROLE  # the graph this sampler runs: ROLE, or BASE_ROLE for a cascade's first stage
    spec: TokenSpec = field(init=False, repr=False)
    base: PixelModel | None = field(init=False, repr=False, default=None)
    guide: IterativeModel | None = field(init=False, repr=False, default=None)
    _palette_lab: np.ndarray = field(init=False, repr=False)
    _size: tuple[int, int] = field(init=False, repr=False)
    _picks: bool = field(init=False, repr=False)  # the graph takes ``pick`` (module docstring)

    FAMILY: ClassVar[str] = FAMILY
    ROLE: ClassVar[str] = ROLE
    SOLVERS: ClassVar[tuple[str, ...]] = SOLVERS

    def __post_init__(self) -> None:
        m, where = self.bundle.manifest, str(self.bundle.info.path)
        section = m.extra.get("tokens")
        cascade = isinstance(section, Mapping) and "base" in section
        guide = section.get("guide") if self.stage == ROLE and isinstance(section, Mapping) else None
        guided = isinstance(guide, Mapping)
        if self.stage == BASE_ROLE:
            section = section.get("base") if isinstance(section, Mapping) else None
            size = section.get("size") if isinstance(section, Mapping) else None
            if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= m.image.height // 2:
                raise BundleError(
                    f"{where}: manifest key 'tokens.base.size' must be an integer in 1..{m.image.height // 2} "
                    f"(the first stage's sprites fit the half-size canvas), got {size!r}"
                )
            if (m.image.height // 2 - size) % 2 or m.image.height != m.image.width:
                raise BundleError(f"{where}: a cascade needs a square canvas whose half size minus {size} is even")
            h = w = size
            cascade, where = False, f"{where} (tokens.base)"
        else:
            h, w = m.image.height, m.image.width
        spec = TokenSpec.parse(m.labels, section, h * w, where)
        g = m.graph(self.stage)
        inputs = 4 if cascade or guided else 3
        picks = len(g.inputs) == inputs + 1 and g.inputs[-1].name == PICK_INPUT
        ok = (
            len(g.inputs) == inputs + picks
            and g.inputs[0].dtype == "int64"
            and tuple(g.inputs[0].shape[1:]) == (h, w)
            and g.inputs[1].dtype == "float32"
            and g.inputs[2].dtype == "int64"
            and (not cascade or (g.inputs[3].dtype == "int64" and tuple(g.inputs[3].shape[1:]) == (h // 2, w // 2)))
            and (not guided or (g.inputs[3].dtype == "float32" and tuple(g.inputs[3].shape[1:]) == (4, h, w)))
            and (not picks or (g.inputs[-1].dtype == "int64" and len(g.inputs[-1].shape) == 2))
            and len(g.outputs[0].shape) == (3 if picks else 4)
            and g.outputs[0].shape[1] == 1 + len(spec.palette)
            and (picks or tuple(g.outputs[0].shape[2:]) == (h, w))
        )
        if not ok:
            fourth = f", lowres int64 [batch, {h // 2}, {w // 2}]" if cascade else ""
            fourth = f", guide float32 [batch, 4, {h}, {w}]" if guided else fourth
            raise BundleError(
                f"{where}: the {self.stage!r} graph must take tokens int64 [batch, {h}, {w}], t float32 "
                f"[batch], label int64 [batch]{fourth} and return float32 [batch, {1 + len(spec.palette)}, "
                f"{h}, {w}] (or also take {PICK_INPUT} int64 [batch, pixels] last and return float32 [batch, "
                f"{1 + len(spec.palette)}, pixels])"
            )
        object.__setattr__(self, "_picks", picks)
        object.__setattr__(self, "spec", spec)
        object.__setattr__(self, "_palette_lab", srgb_to_oklab(spec.palette))
        object.__setattr__(self, "_size", (w, h))
        if cascade:
            object.__setattr__(self, "base", PixelModel(self.bundle, BASE_ROLE))
        if isinstance(guide, Mapping):
            object.__setattr__(self, "guide", guide_stage(self.bundle, guide, where))

    @property
    def manifest(self) -> Any:
        return self.bundle.manifest

    @property
    def name(self) -> str:
        return self.bundle.name

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of what this sampler draws (a cascade's first stage: the half-resolution sprite)."""
        return self._size

    # ----------------------------------------------------------------------------------- request settings
    def settings(
        self,
        label: str | None,
        solver: str | None,
        steps: int | None,
        guidance: float | None,
        temperature: float | None = None,
    ) -> PixelSettings:
        """Resolve a request's options; InvalidRequest naming the field when one does not fit."""
        spec = self.spec
        index = label_index(label, self.manifest.labels, spec.null_label, self.name, self.manifest.label_aliases)
        solver = spec.default_solver if solver is None else solver
        if solver not in spec.solvers:
            raise InvalidRequest(
                f"model {self.name!r} ({FAMILY}) does not support solver {solver!r}; "
                f"supported: {', '.join(spec.solvers)}",
                field="solver",
            )
        steps = spec.default_steps if steps is None else steps
        if not 1 <= steps <= spec.max_steps:
            raise InvalidRequest(
                f"steps must be between 1 and {spec.max_steps} for model {self.name!r}, got {steps}", field="steps"
            )
        temperature = spec.default_temperature if temperature is None else float(temperature)
        if not 0 < temperature <= MAX_TEMPERATURE:
            raise InvalidRequest(
                f"temperature must be in (0, {MAX_TEMPERATURE:g}], got {temperature}", field="temperature"
            )
        g = spec.default_guidance if guidance is None else float(guidance)
        return PixelSettings(solver, steps, g, temperature, index, spec.corrector, spec.shade)

    # ---------------------------------------------------------------------------------------- the network
    def network(
        self,
        tokens: np.ndarray,
        t: np.ndarray,
        label: np.ndarray,
        condition: np.ndarray | None = None,
        pick: np.ndarray | None = None,
    ) -> np.ndarray:
        """Raw logits float32 ``(B, 1 + K, H, W)``, or ``(B, 1 + K, P)`` for the pixels ``pick`` (B, P) int64 (flat
        indices), in chunks of at most :data:`CHUNK_LOGITS` logits; ``condition``: a second stage's fourth input, a
        cascade's half-size tokens (B, H/2, W/2) int64 or a renderer's guide image (B, 4, H, W) float32. A graph
        that takes ``pick`` computes only those pixels (all of them when ``pick`` is None); for one that does not
        they are taken from the whole canvas."""
        g = self.manifest.graphs[self.stage]
        names = [s.name for s in g.inputs]
        n, h, w = tokens.shape
        every = np.broadcast_to(np.arange(h * w, dtype=np.int64), (n, h * w))
        want = every if pick is None else np.ascontiguousarray(pick, dtype=np.int64)
        per_row = (want.shape[1] if self._picks else h * w) * (1 + len(self.spec.palette))
        rows = max(1, CHUNK_LOGITS // per_row)
        out = []
        for i in range(0, n, rows):
            feeds: dict[str, np.ndarray] = {
                names[0]: np.ascontiguousarray(tokens[i : i + rows], dtype=np.int64),
                names[1]: np.ascontiguousarray(t[i : i + rows], dtype=np.float32),
                names[2]: np.ascontiguousarray(label[i : i + rows], dtype=np.int64),
            }
            if condition is not None:
                feeds[names[3]] = np.ascontiguousarray(condition[i : i + rows])
            if self._picks:  # the graph computes the pixels asked for (all of them without ``pick``)
                feeds[PICK_INPUT] = np.ascontiguousarray(want[i : i + rows])
            chunk = self.bundle.run(self.stage, feeds)[g.outputs[0].name].astype(np.float32, copy=False)
            if not self._picks and pick is not None:  # (rows, C, H, W) -> the picked pixels (rows, C, P)
                flat = chunk.reshape(chunk.shape[0], chunk.shape[1], h * w)
                chunk = np.take_along_axis(flat, want[i : i + rows, None, :], axis=2)
            out.append(chunk)
        logits = np.concatenate(out)
        return logits.reshape(n, -1, h, w) if pick is None else logits

    def guided_logits(
        self,
        tokens: np.ndarray,
        t: np.ndarray,
        s: PixelSettings,
        condition: np.ndarray | None = None,
        pick: np.ndarray | None = None,
    ) -> np.ndarray:
        """Logits with classifier-free guidance for sprites of label ``s.label`` (one batched call), of every pixel
        or of ``pick`` (:meth:`network`); for an ``opaque`` bundle the opacity logit is pinned high, so every draw
        is opaque (the uniforms drawn are the same, so seeds keep their meaning)."""
        out = self._guided_logits(tokens, t, s, condition, pick)
        if self.spec.opaque:
            out[:, 0] = OPAQUE_LOGIT
        return out

    def _guided_logits(
        self, tokens: np.ndarray, t: np.ndarray, s: PixelSettings, condition: np.ndarray | None, pick: np.ndarray | None
    ) -> np.ndarray:
        n = len(tokens)
        null = self.spec.null_label
        if null is None:
            return self.network(tokens, t, np.zeros(n, np.int64), condition, pick)
        label = np.full(n, s.label, np.int64)
        if s.label == null or s.guidance == 1.0:
            return self.network(tokens, t, label, condition, pick)
        if s.guidance == 0.0:
            return self.network(tokens, t, np.full(n, null, np.int64), condition, pick)
        both = self.network(
            np.concatenate([tokens, tokens]),
            np.concatenate([t, t]),
            np.concatenate([label, np.full(n, null, np.int64)]),
            None if condition is None else np.concatenate([condition, condition]),
            None if pick is None else np.concatenate([pick, pick]),
        )
        cond, uncond = both[:n], both[n:]
        return uncond + s.guidance * (cond - uncond)

    # ------------------------------------------------------------------------------------------- images
    def to_tokens(self, rgba: np.ndarray) -> np.ndarray:
        """uint8 ``(N, H, W, 4)`` -> int64 ``(N, H, W)`` (:func:`palette_tokens` with this bundle's palette)."""
        return palette_tokens(rgba, self.spec.palette)

    def colours(self, tokens: np.ndarray) -> np.ndarray:
        """int tokens ``(..., H, W)`` -> uint8 RGBA ``(..., H, W, 4)`` (:func:`token_colours`)."""
        return token_colours(tokens, self.spec.palette)

    def lock(self, colours: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Locked colours (n, 3) uint8 -> (group (K,) int64: the nearest locked colour of every palette colour,
        representative (n,) int64: the palette token nearest to each locked colour)."""
        lab = srgb_to_oklab(np.asarray(colours, np.uint8))
        d = ((self._palette_lab[:, None] - lab[None]) ** 2).sum(-1)  # (K, n)
        return d.argmin(1).astype(np.int64), d.argmin(0).astype(np.int64) + 1

    def shades(self, distance: float, locked: np.ndarray | None = None) -> np.ndarray:
        """bool (K, K) (with ``locked`` (n, 3) uint8: (n, n)): which colours lie within OKLab ``distance`` of which
        (palette colours, or the locked colours; the corrector's shades of a neighbour)."""
        lab = self._palette_lab if locked is None else srgb_to_oklab(np.asarray(locked, np.uint8))
        sq = (lab**2).sum(1)
        d2 = sq[:, None] + sq[None] - 2 * lab @ lab.T
        return d2 < distance**2

    # ------------------------------------------------------------------------------------------- sampling
    def sample(
        self,
        tokens: np.ndarray,
        fill: np.ndarray,
        rngs: Sequence[np.random.Generator],
        s: PixelSettings,
        steps: int,
        *,
        locked: np.ndarray | None = None,
        hook: Any = None,
        preview: Previews | None = None,
        condition: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Fill the ``fill`` pixels of ``tokens`` (a second stage: given ``condition``, :meth:`network`).

        tokens: int64 (N, H, W) (the pixels to fill may hold anything); fill: bool (N, H, W); rngs: one per
        sprite (its next draw is the reveal order: ``random(H*W)``, then ``random((3, H*W))`` per step);
        steps: reveal steps.
        locked: (n, 3) uint8 colours the sampler may use. Returns (tokens int64 (N, H, W), locked colour index
        int64 (N, H, W) of every filled opaque pixel, -1 elsewhere, or None without a lock).
        """
        n, h, w = tokens.shape
        hw = h * w
        mask_tok = self.spec.mask_token
        state = np.where(fill, mask_tok, tokens).reshape(n, hw).astype(np.int64)
        fill = fill.reshape(n, hw)
        order_keys = np.stack([r.random(hw) for r in rngs])  # the reveal order (random solver)
        to_fill = fill.sum(1)
        chosen = np.full((n, hw), -1, np.int64)
        group = rep = onehot = None
        if locked is not None:
            group, rep = self.lock(locked)
            onehot = np.eye(len(rep), dtype=np.float32)[group]  # (K, n_locked)
        remaining = fill.copy()
        rank_random = np.argsort(
            np.argsort(np.where(fill, order_keys, np.inf), axis=1, kind="stable"), axis=1, kind="stable"
        )  # position of each pixel in its sprite's random order
        revealed = np.zeros(n, np.int64)
        for i in range(steps):
            u = np.stack([r.random((3, hw)) for r in rngs])  # (n, 3, hw)
            masked_now = remaining.sum(1)
            t = (masked_now / hw).astype(np.float32)
            target = to_fill - np.array([still_masked(int(f), i, steps) for f in to_fill])  # revealed after step
            if s.solver == "random":
                candidates = remaining & (rank_random < target[:, None])
            else:
                candidates = remaining
            wanted, rows, cols, slots = pick_lists(candidates)
            logits = self.guided_logits(state.reshape(n, h, w), t, s, condition, wanted)
            opaque, pick, p_opaque, prob, total = _draw(
                logits[rows, :, slots], u[rows, 0, cols], u[rows, 1, cols], s.temperature, onehot
            )
            if s.solver == "random":
                now_rows, now_cols, sel = rows, cols, np.ones(len(rows), bool)
            else:
                p_pick = prob[np.arange(len(rows)), pick] / total
                conf = np.where(opaque, p_opaque * p_pick, 1.0 - p_opaque)
                gumbel = -np.log(-np.log(np.clip(u[rows, 2, cols], 1e-12, 1 - 1e-12)))
                score = np.full((n, hw), -np.inf)
                score[rows, cols] = np.log(np.maximum(conf, 1e-12)) + (1.0 - i / steps) * gumbel
                ranks = np.argsort(np.argsort(-score, axis=1, kind="stable"), axis=1, kind="stable")
                sel = ranks[rows, cols] < (target - revealed)[rows]
                now_rows, now_cols = rows[sel], cols[sel]
            token = pick[sel] + 1 if rep is None else rep[pick[sel]]
            state[now_rows, now_cols] = np.where(opaque[sel], token, 0)
            if group is not None:
                chosen[now_rows, now_cols] = np.where(opaque[sel], pick[sel], -1)
            remaining[now_rows, now_cols] = False
            revealed = to_fill - remaining.sum(1)
            if preview is not None and i + 1 < steps and (i + 1) % preview.every == 0:
                shown = np.where(remaining, 0, state).reshape(n, h, w)
                if preview.rows is not None:
                    shown = shown[np.asarray(preview.rows, np.int64)]
                preview.callback(self.colours(shown), i + 1, steps)
            if hook is not None:
                hook(i + 1, steps + s.corrector)
        shades = None if s.shade is None else self.shades(s.shade, locked)
        for c in range(s.corrector):  # corrector rounds: redraw confetti (not as a neighbour's colour) and floaters
            u = np.stack([r.random((2, hw)) for r in rngs])
            canvas = state.reshape(n, h, w)
            redo, around = confetti(canvas, self._palette_lab, self.spec.tiling)
            redo = (redo | floating(canvas, len(self.spec.palette), self.spec.tiling)).reshape(n, hw) & fill
            t = (redo.sum(1) / hw).astype(np.float32)
            masked = np.where(redo, mask_tok, state).reshape(n, h, w)
            wanted, rows, cols, slots = pick_lists(redo)
            if not len(rows):  # nothing to redraw: no evaluation (the uniforms above were drawn all the same)
                if hook is not None:
                    hook(steps + c + 1, steps + s.corrector)
                continue
            logits = self.guided_logits(masked, t, s, condition, wanted)
            exclude = around.reshape(n, hw, 4)[rows, cols] - 1  # colour index, -1 for transparent / off the canvas
            if group is not None:
                exclude = np.where(exclude >= 0, group[np.maximum(exclude, 0)], -1)
            allowed = None if shades is None else (shades[np.maximum(exclude, 0)] & (exclude >= 0)[..., None]).any(1)
            opaque, pick, *_ = _draw(
                logits[rows, :, slots], u[rows, 0, cols], u[rows, 1, cols], s.temperature, onehot, exclude, allowed
            )
            token = pick + 1 if rep is None else rep[pick]
            state[rows, cols] = np.where(opaque, token, 0)
            if group is not None:
                chosen[rows, cols] = np.where(opaque, pick, -1)
            if hook is not None:
                hook(steps + c + 1, steps + s.corrector)
        return state.reshape(n, h, w), (chosen.reshape(n, h, w) if group is not None else None)

    def render(
        self,
        tokens: np.ndarray,
        chosen: np.ndarray | None,
        locked: np.ndarray | None,
        base: np.ndarray | None = None,
        fill: np.ndarray | None = None,
    ) -> np.ndarray:
        """Sampled tokens -> uint8 RGBA; locked pixels take their exact locked colour; with ``base`` (N, H, W, 4)
        every pixel outside ``fill`` keeps the base's exact value."""
        out = self.colours(tokens)
        if chosen is not None and locked is not None:
            hit = chosen >= 0
            out[..., :3][hit] = np.asarray(locked, np.uint8)[chosen[hit]]
        if base is not None and fill is not None:
            out = np.where(fill[..., None], out, base)
        return out

    # ------------------------------------------------------------------------------------------ operations
    def _run(
        self,
        tokens: np.ndarray,
        fill: np.ndarray,
        rngs: list[np.random.Generator],
        s: PixelSettings,
        steps: int,
        locked: np.ndarray | None,
        progress: Progress | None,
        cancel: CancelCheck | None,
        preview: Previews | PreviewCallback | None,
        base: np.ndarray | None = None,
        condition: np.ndarray | None = None,
        before: int = 0,
    ) -> np.ndarray:
        """Sample, render, keep ``base``'s pixels outside ``fill``. ``before``: steps a first stage already
        reported, so progress counts over the whole request."""
        hooks = make_hook(progress, cancel, before + steps + s.corrector)
        previews = Previews.of(preview)
        if previews is not None and base is not None:  # show the kept pixels as they are, not as palette tokens
            rows = np.arange(len(base)) if previews.rows is None else np.asarray(previews.rows, np.int64)
            shown_base, shown_fill, callback = base[rows], fill[rows], previews.callback

            def composite(sprites: np.ndarray, done: int, total: int) -> None:
                callback(np.where(shown_fill[..., None], sprites, shown_base), done, total)

            previews = replace(previews, callback=composite)
        out, chosen = self.sample(
            tokens, fill, rngs, s, steps, locked=locked, hook=hooks(before), preview=previews, condition=condition
        )
        return self.render(out, chosen, locked, base, fill if base is not None else None)

    # ------------------------------------------------------------------------------------ cascade stages
    def base_settings(self, s: PixelSettings) -> PixelSettings:
        """The first stage's settings for a request: its bundle's measured defaults, the request's label."""
        b = self._first().spec
        return PixelSettings(
            b.default_solver, b.default_steps, b.default_guidance, b.default_temperature, s.label, b.corrector, b.shade
        )

    def _first(self) -> PixelModel:
        if self.base is None:
            raise TypeError(f"model {self.name!r} is not a cascade")
        return self.base

    def _offset(self) -> int:
        """Where the first stage's sprite sits on the half-size canvas (centred)."""
        return (self.size[1] // 2 - self._first().size[1]) // 2

    def lowres_tokens(self, small: np.ndarray, around: np.ndarray | None = None) -> np.ndarray:
        """First-stage sprites uint8 (N, b, b, 4) -> the upsampler's (N, H/2, W/2) int64 tokens: centred on
        ``around`` (H/2, W/2, 4) (a sprite's own reduction) or on transparency, in this bundle's palette."""
        n = len(small)
        w, h = self.size
        o, b = self._offset(), small.shape[1]
        canvas = np.zeros((n, h // 2, w // 2, 4), np.uint8) if around is None else np.repeat(around[None], n, 0)
        canvas[:, o : o + b, o : o + b] = small
        return self.to_tokens(canvas)

    def _lifted(self, preview: Previews | PreviewCallback | None, total: int) -> Previews | None:
        """First-stage previews drawn at full size (each half-size pixel as 2x2, centred): what the upsampler
        will refine. ``done`` counts over the whole request (``total``)."""
        previews = Previews.of(preview)
        if previews is None:
            return None
        w, h = self.size
        o = 2 * self._offset()
        callback = previews.callback

        def lift(sprites: np.ndarray, done: int, _total: int) -> None:
            big = sprites.repeat(2, axis=1).repeat(2, axis=2)
            canvas = np.zeros((len(sprites), h, w, 4), np.uint8)
            canvas[:, o : o + big.shape[1], o : o + big.shape[2]] = big
            callback(canvas, done, total)

        return replace(previews, callback=lift)

    @staticmethod
    def _stage_rngs(seeds: Sequence[int]) -> list[np.random.Generator]:
        """A cascade upsampler's generators: a stream of each seed apart from the first stage's."""
        return [np.random.default_rng((int(x), 1)) for x in seeds]

    # ------------------------------------------------------------------------------------------ operations
    def generate(
        self,
        seeds: Sequence[int],
        s: PixelSettings,
        *,
        locked: np.ndarray | None = None,
        progress: Progress | None = None,
        cancel: CancelCheck | None = None,
        preview: Previews | PreviewCallback | None = None,
    ) -> np.ndarray:
        """uint8 sprites ``(N, H, W, 4)``; sprite i depends on ``seeds[i]`` and the settings only. A cascade
        draws the half-size sprite first (its base's defaults), then every pixel at full size given it."""
        w, h = self.size
        n = len(seeds)
        rngs = [np.random.default_rng(int(x)) for x in seeds]
        tokens = np.zeros((n, h, w), np.int64)
        fill = np.ones((n, h, w), bool)
        if self.guide is not None:
            first_g = stage_settings(self.guide, s.label)
            total = first_g.steps + s.steps + s.corrector
            guides = drawn_guides(self.guide, seeds, first_g, progress=progress, cancel=cancel, total=total)
            return self._run(tokens, fill, self._stage_rngs(seeds), s, s.steps, locked, progress, cancel, preview,
                             condition=guides, before=first_g.steps)  # fmt: skip
        if self.base is None:
            return self._run(tokens, fill, rngs, s, s.steps, locked, progress, cancel, preview)
        first = self.base_settings(s)
        done = first.steps + first.corrector
        total = done + s.steps + s.corrector
        small = self.base.generate(
            seeds, first, locked=locked, progress=_shifted(progress, total), cancel=cancel,
            preview=self._lifted(preview, total),
        )  # fmt: skip
        return self.upsample(small, seeds, s, locked=locked, progress=progress, cancel=cancel, preview=preview,
                             done=done)  # fmt: skip

    def upsample(
        self,
        small: np.ndarray,
        seeds: Sequence[int],
        s: PixelSettings,
        *,
        locked: np.ndarray | None = None,
        progress: Progress | None = None,
        cancel: CancelCheck | None = None,
        preview: Previews | PreviewCallback | None = None,
        done: int = 0,
    ) -> np.ndarray:
        """A cascade's second stage alone: half-size sprites uint8 (N, b, b, 4) (``tokens.base.size``, e.g. the
        first stage's) -> full-size sprites uint8 (N, H, W, 4), every pixel drawn given them; sprite i depends on
        ``small[i]``, ``seeds[i]`` and the settings. ``done``: steps of the request already reported."""
        bw, bh = self._first().size
        w, h = self.size
        n = len(seeds)
        if small.shape != (n, bh, bw, 4):
            raise InvalidRequest(f"upsample needs {n} sprites of {bw}x{bh}, got {small.shape}", field="image")
        return self._run(
            np.zeros((n, h, w), np.int64), np.ones((n, h, w), bool), self._stage_rngs(seeds), s, s.steps, locked,
            progress, cancel, preview, condition=self.lowres_tokens(small), before=done,
        )  # fmt: skip

    def phase_steps(self, s: PixelSettings, share: float) -> int:
        """Steps for filling a ``share`` of the canvas: ceil(steps * share), at least 1."""
        return max(1, math.ceil(s.steps * share - 1e-9))

    def _reduced(self, rgba: np.ndarray) -> np.ndarray:
        """A full-size sprite (H, W, 4) -> its pixel-art 2x reduction (H/2, W/2, 4) (any alpha > 0 is opaque)."""
        hard = np.asarray(rgba, np.uint8).copy()
        hard[..., 3] = np.where(hard[..., 3] > 0, 255, 0)
        return reduce_2x(hard)

    def variations(
        self,
        rgba: np.ndarray,
        seeds: Sequence[int],
        strength: float,
        s: PixelSettings,
        *,
        locked: np.ndarray | None = None,
        progress: Progress | None = None,
        cancel: CancelCheck | None = None,
        preview: Previews | PreviewCallback | None = None,
    ) -> np.ndarray:
        """Re-mask a share ``strength`` in [0, 1] of the pixels (each seed picks which) and resample them; the
        rest keeps the sprite's exact pixels. strength 0 returns the sprite unchanged. A tiling bundle draws the
        new pixels in the tile's own colours unless ``locked`` says otherwise (a variation of a tile keeps its
        palette, and stays seamless because the network wraps around). A cascade varies the half-size sprite
        first (the same strength, its base's defaults), then redraws the chosen pixels and every pixel whose
        half-size block changed."""
        w, h = self.size
        n = len(seeds)
        base = np.repeat(np.asarray(rgba, np.uint8)[None], n, axis=0)
        if strength <= 0:
            return base
        if locked is None and self.spec.tiling:
            locked = own_colours(np.asarray(rgba, np.uint8))
        rngs = [np.random.default_rng(int(x)) for x in seeds]
        k = max(1, int(round(strength * h * w)))
        flat = np.zeros((n, h * w), bool)
        for i, r in enumerate(rngs):
            flat[i, np.argsort(r.random(h * w), kind="stable")[:k]] = True
        fill = flat.reshape(n, h, w)
        tokens = self.to_tokens(base)
        if self.base is None:
            guides = None if self.guide is None else sprite_guides(self.guide, rgba, n)
            return self._run(
                tokens, fill, rngs, s, self.phase_steps(s, k / (h * w)), locked, progress, cancel, preview, base,
                guides,
            )  # fmt: skip
        reduced = self._reduced(rgba)
        o, bw = self._offset(), self.base.size[0]
        first = self.base_settings(s)
        small_k = max(1, int(round(strength * bw * bw)))  # as the first stage's own variations count them
        done = self.base.phase_steps(first, small_k / (bw * bw)) + first.corrector
        steps = self.phase_steps(s, k / (h * w))
        small = self.base.variations(
            reduced[o : o + bw, o : o + bw], seeds, strength, first, locked=locked,
            progress=_shifted(progress, done + steps + s.corrector), cancel=cancel,
            preview=self._lifted(preview, done + steps + s.corrector),
        )  # fmt: skip
        lowres = self.lowres_tokens(small, reduced)
        changed = lowres != self.to_tokens(reduced)[None]  # (N, H/2, W/2): blocks the first stage redrew
        fill = fill | changed.repeat(2, axis=1).repeat(2, axis=2)
        return self._run(
            tokens, fill, self._stage_rngs(seeds), s, steps, locked, progress, cancel, preview, base,
            lowres, before=done,
        )  # fmt: skip

    def inpaint(
        self,
        rgba: np.ndarray,
        mask: np.ndarray,
        seeds: Sequence[int],
        s: PixelSettings,
        *,
        locked: np.ndarray | None = None,
        progress: Progress | None = None,
        cancel: CancelCheck | None = None,
        preview: Previews | PreviewCallback | None = None,
    ) -> np.ndarray:
        """Regenerate the pixels where ``mask`` (bool (H, W)) is True; every other pixel keeps the sprite's exact
        value. An empty mask returns the sprite unchanged. A tiling bundle also keeps the tile's outer
        :data:`TILE_BORDER` ring, so the repainted tile still meets its neighbours as before. A cascade repaints
        the half-size blocks the mask touches first (its base's defaults), then the masked pixels given them; a
        renderer's first stage redraws the latent cells the mask touches (its defaults, the request's label;
        :func:`~pixelsprite.pixel_guide.inpainted_guides`), then the masked pixels are drawn given that guide."""
        w, h = self.size
        n = len(seeds)
        base = np.repeat(np.asarray(rgba, np.uint8)[None], n, axis=0)
        mask = np.asarray(mask, bool)
        if self.spec.tiling:
            mask = mask & ~border_ring(h, w, TILE_BORDER)
        if not mask.any():
            return base
        fill = np.repeat(mask[None], n, axis=0)
        tokens = self.to_tokens(base)
        steps = self.phase_steps(s, mask.mean())
        if self.guide is not None:
            first_g = stage_settings(self.guide, s.label)
            before = inpaint_evaluations(self.guide, first_g)
            guides = inpainted_guides(self.guide, rgba, mask, seeds, first_g, progress=progress, cancel=cancel,
                                      total=before + steps + s.corrector)  # fmt: skip
            return self._run(tokens, fill, self._stage_rngs(seeds), s, steps, locked, progress, cancel, preview,
                             base, guides, before=before)  # fmt: skip
        if self.base is None:
            rngs = [np.random.default_rng(int(x)) for x in seeds]
            return self._run(tokens, fill, rngs, s, steps, locked, progress, cancel, preview, base)
        reduced = self._reduced(rgba)
        o, bw = self._offset(), self.base.size[0]
        blocks = np.asarray(mask.reshape(h // 2, 2, w // 2, 2).any(axis=(1, 3)))[o : o + bw, o : o + bw]
        first = self.base_settings(s)
        done = (self.base.phase_steps(first, blocks.mean()) + first.corrector) if blocks.any() else 0
        small = self.base.inpaint(
            reduced[o : o + bw, o : o + bw], blocks, seeds, first, locked=locked,
            progress=_shifted(progress, done + steps + s.corrector), cancel=cancel,
            preview=self._lifted(preview, done + steps + s.corrector),
        )  # fmt: skip
        return self._run(
            tokens, fill, self._stage_rngs(seeds), s, steps, locked, progress, cancel, preview, base,
            self.lowres_tokens(small, reduced), before=done,
        )  # fmt: skip


def _shifted(progress: Progress | None, total: int) -> Progress | None:
    """A first stage's progress reported against the whole request's ``total`` steps."""
    if progress is None:
        return None
    report = progress

    def inner(done: int, _stage_total: int) -> None:
        report(done, total)

    return inner
