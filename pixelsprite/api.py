"""The request layer: the one entry point every transport (CLI, websocket server, watch folder, Python) calls.

A transport builds a frozen request dataclass (construction validates it and raises
:class:`~pixelsprite.errors.InvalidRequest` naming the field and the limit), then calls :func:`handle`, or
calls the keyword-friendly functions :func:`generate`, :func:`variations`, ... which do both. Results are
frozen dataclasses holding uint8 RGBA sprites ``(N, H, W, 4)`` with hard alpha, per-sprite seeds, the model
name and the elapsed seconds.

Limits (module constants, also named in error messages):

=================  =====================  ==================================================
field              limit                  note
=================  =====================  ==================================================
count              1 .. 1024              sprites per generate / variations request
count (interp.)    2 .. 64                interpolation frames, endpoints included
images, latents    1 .. 1024              items per encode / decode request
rows, cols         2 .. 16                grid size
strength           0.0 .. 2.0             variation noise scale (latent standard deviations)
seed               0 .. 2**53 - 1         JSON-safe; ``seed + count - 1`` must fit as well
max_colors         0 .. 256               None: the manifest's default; 0: no colour reduction
method             "lerp" | "slerp"
label              a name of the model's  diffusion/flow only; None: unconditional (the null label)
steps              1 .. 1000              diffusion/flow sampler steps (generate, variations, interpolate); also
                                          <= the model's max
solver             the model's solvers    diffusion: ``ddpm``, ``ddim``; flow: ``euler``, ``midpoint``, ``heun``
guidance           0.0 .. 20.0            classifier-free guidance: 0 unconditional, 1 conditional, > 1 stronger
strength           0.0 .. 1.0             diffusion/flow variations: the noise level the sprite is taken to
palette            built-in name, colour  generate, variations, interpolate, grid, decode: map the sprites onto it
                   list or palette file   (see :mod:`pixelsprite.palettes` and docs/palettes.md)
dither             "none" | "bayer2" |    ordered dithering while mapping onto ``palette`` (needs a palette)
                   "bayer4"
alpha_threshold    0 .. 255               sprite requests: input images are opaque where alpha > it (default 127)
despeckle          true | false           sprite requests: lone pixels take their most common neighbour colour
outline            "#rrggbb" | "darkest"  sprite requests: 1-pixel outline on transparent pixels next to opaque ones
                   | null                 ("darkest": of the palette if given, else of each sprite)
colors             1 .. 256               palette op: colours in the proposed palette
format             gpl hex pal act png    palette op: the file format returned with the proposal
                   tres
candidates         1 .. 16                generate, variations, interpolate: make this many per sprite and
                                          return the teacher's best (see *Candidates* below)
teacher            a teacher bundle name  the model that scores (default ``teacher``)
keep_class         true | false           variations: only keep candidates of the source's teacher class
images             1 .. 1024              score, similar: sprites to score / rank (16x16 or 40x40)
top                1 .. 1024              similar: return only the ``top`` most similar
=================  =====================  ==================================================

None for steps, solver or guidance means the bundle's measured default (``sampling.defaults`` in its
manifest). VAE models take none of label, steps, solver or guidance: giving one is an InvalidRequest naming it.
Diffusion and flow requests accept ``progress(done, total)`` and ``cancel() -> bool`` hooks through
:func:`handle` (and the keyword functions); ``cancel`` returning True raises :class:`~pixelsprite.errors.Cancelled`.

Previews: ``generate`` and ``variations`` (through :func:`handle` too) take ``preview=``, a
:class:`~pixelsprite.iterative.Previews` (callback, ``every`` k steps, ``min_interval_s``) or a bare callback
``preview(sprites, done, total)``: diffusion and flow models hand it the current clean estimate of each requested
sprite (with ``candidates`` C > 1: candidate 0 of each, seed ``seed + i*C``), decoded with hard alpha only, after
sampler steps (never the last one); see :mod:`pixelsprite.iterative`. VAE models make sprites in one pass and
call it never. Previews never change the result; without ``preview`` nothing is decoded early.

Palettes: ``palette`` is applied after the model's own clean-up (hard alpha, ``max_colors``, despeckle) with
:func:`pixelsprite.palettes.enforce`: nearest colour in OKLab, optional Bayer dithering, outlines kept dark; alpha
never changes. Clean-up (:mod:`pixelsprite.cleanup`) runs in the same place, in the order ``despeckle`` ->
``palette``/``dither`` -> ``outline``. The ``palette`` operation (:class:`PaletteRequest`, :func:`palette`)
proposes a palette from a model's samples or from given sprites.

Seeds: sprite ``i`` of a seeded request gets seed ``seed + i``; ``seed=None`` draws a base seed from
``os.urandom`` and reports it. Generating with ``seed=s, count=1`` reproduces that sprite byte for byte.

Candidates (:mod:`pixelsprite.teacher`): with ``candidates=C`` sprite ``i`` is the teacher's best (highest
quality, after every clean-up and palette step, as the user gets it) of the C sprites with seeds
``seed + i*C + j``, ``j = 0 .. C-1`` (generate: prior seeds; variations: noise seeds), and ``seeds`` reports the
winner's seed, so ``count=1, candidates=1, seed=<reported seed>`` reproduces it byte for byte (and the same
request reproduces the whole result). ``C = 1`` is the plain request. Interpolate (VAE models): each inner frame
``i`` (endpoints are the user's) has candidate 0 = the plain interpolated latent and candidates ``j >= 1`` = that
latent plus ``CANDIDATE_JITTER * N(0, I)`` drawn from ``default_rng(seed + i*C + j)``; ``seeds`` reports the
jitter seed of frames whose winner was jittered, else None. Results carry ``scores`` (the teacher's verdict on
every returned sprite) and ``candidate_quality`` ``(N, C)``. ``keep_class`` (variations) picks the best
candidate whose teacher class equals the source's; when no candidate keeps it, the best overall, flagged in
``kept_class``.
"""

from __future__ import annotations

import dataclasses
import math
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import families
from . import latent as latent_ops
from .cleanup import outline as draw_outline
from .cleanup import parse_outline, remove_isolated
from .errors import ImageError, InvalidRequest, PixelspriteError, UnknownModel
from .imageio import read_image
from .iterative import MAX_GUIDANCE, CancelCheck, IterativeModel, PreviewCallback, Previews, Progress
from .palettes import (
    DITHERS,
    FORMATS,
    MAX_PALETTE_COLORS,
    Palette,
    PaletteSpec,
    encode_palette,
    enforce,
    extract,
    resolve_palette,
    swatch_png,
)
from .palettes import METHODS as PALETTE_METHODS
from .pixel import MAX_TEMPERATURE, PixelModel
from .postprocess import hard_alpha, reduce_colors
from .registry import Registry
from .teacher import DEFAULT_TEACHER, Scores, TeacherModel, cosine
from .teacher import FAMILY as TEACHER_FAMILY
from .vae import FAMILY as VAE_FAMILY
from .vae import VaeModel

__all__ = [
    "MAX_COUNT", "MIN_FRAMES", "MAX_FRAMES", "MIN_GRID", "MAX_GRID", "MAX_STRENGTH", "MAX_SEED", "MAX_COLORS",
    "METHODS", "ImageInput", "Endpoint",
    "ModelsRequest", "GenerateRequest", "EncodeRequest", "DecodeRequest", "VariationsRequest",
    "InterpolateRequest", "InpaintRequest", "GridRequest", "PaletteRequest", "ScoreRequest", "SimilarRequest",
    "Request", "DITHERS",
    "PALETTE_METHODS", "FORMATS", "MAX_CANDIDATES", "CANDIDATE_JITTER",
    "Sprite", "SpriteResult", "SimilarResult", "LatentResult", "ModelInfo", "ModelsResult", "PaletteResult",
    "ScoreResult", "Result",
    "handle", "models", "generate", "encode", "decode", "variations", "interpolate", "inpaint", "grid", "palette",
    "apply",
    "score", "similar",
    "default_registry", "random_seed", "Previews", "PreviewCallback",
]  # fmt: skip

MAX_COUNT = 1024
MIN_FRAMES, MAX_FRAMES = 2, 64  # interpolate: frames (count), endpoints included
MIN_GRID, MAX_GRID = 2, 16
MAX_STRENGTH = 2.0
MAX_SEED = 2**53 - 1
MAX_COLORS = 256
METHODS = ("lerp", "slerp")
MAX_SAMPLE_STEPS = 1000
MAX_CANDIDATES = 16
CANDIDATE_JITTER = 0.15
"""Interpolate candidates: the latent noise scale of jittered candidates (latent standard deviations)."""

ImageInput = np.ndarray | str | os.PathLike | bytes
"""An image: uint8 ``(H, W, 4)`` array, a file path, or encoded file bytes (PNG, ...)."""
Endpoint = int | np.ndarray | str | os.PathLike | bytes
"""An interpolation endpoint or grid corner: an int seed, or an :data:`ImageInput` (encoded to its mean)."""


# ------------------------------------------------------------------------------------------- validation
def _int(value: Any, field: str, lo: int, hi: int, label: str | None = None) -> int:
    label = label or field
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidRequest(f"{label} must be an integer between {lo} and {hi}, got {value!r}", field=field)
    if not lo <= int(value) <= hi:
        raise InvalidRequest(f"{label} must be between {lo} and {hi}, got {value}", field=field)
    return int(value)


def _float(value: Any, field: str, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise InvalidRequest(f"{field} must be a number between {lo} and {hi}, got {value!r}", field=field)
    if not (math.isfinite(float(value)) and lo <= float(value) <= hi):
        raise InvalidRequest(f"{field} must be between {lo} and {hi}, got {value}", field=field)
    return float(value)


def _model(value: Any) -> None:
    if value is not None and (not isinstance(value, str) or not value):
        raise InvalidRequest(f"model must be a non-empty string or null, got {value!r}", field="model")


def _seed(value: Any, count: int, field: str = "seed") -> None:
    if value is not None:
        _int(value, field, 0, MAX_SEED - count + 1)


def _max_colors(value: Any) -> None:
    if value is not None:
        _int(value, "max_colors", 0, MAX_COLORS)


def _method(value: Any) -> None:
    if value not in METHODS:
        raise InvalidRequest(f"method must be one of {', '.join(METHODS)}, got {value!r}", field="method")


def _sampler_options(label: Any, steps: Any, solver: Any, guidance: Any) -> None:
    """Model-independent checks of the diffusion/flow options; the model checks the rest when it runs."""
    if label is not None and (not isinstance(label, str) or not label):
        raise InvalidRequest(f"label must be a non-empty string or null, got {label!r}", field="label")
    if steps is not None:
        _int(steps, "steps", 1, MAX_SAMPLE_STEPS)
    if solver is not None and (not isinstance(solver, str) or not solver):
        raise InvalidRequest(f"solver must be a non-empty string or null, got {solver!r}", field="solver")
    if guidance is not None:
        _float(guidance, "guidance", 0.0, MAX_GUIDANCE)


def _temperature(value: Any) -> None:
    if value is not None:
        _float(value, "temperature", 0.0, MAX_TEMPERATURE)
        if float(value) <= 0:
            raise InvalidRequest(
                f"temperature must be above 0 and at most {MAX_TEMPERATURE:g}, got {value}", field="temperature"
            )


def _teacher_options(req: Any, count: int) -> None:
    """Check ``candidates`` (1..16), ``teacher`` and that the seeds of every candidate fit (``count * C``)."""
    _int(req.candidates, "candidates", 1, MAX_CANDIDATES)
    if req.teacher is not None and (not isinstance(req.teacher, str) or not req.teacher):
        raise InvalidRequest(f"teacher must be a non-empty string or null, got {req.teacher!r}", field="teacher")
    _seed(req.seed, count * req.candidates)


def _palette_options(req: Any) -> None:
    """Resolve ``req.palette`` (name, colour list, file path or Palette) to a Palette and check ``dither``."""
    if req.palette is not None:
        object.__setattr__(req, "palette", resolve_palette(req.palette, field="palette"))
    if req.dither not in DITHERS:
        raise InvalidRequest(f"dither must be one of {', '.join(DITHERS)}, got {req.dither!r}", field="dither")
    if req.dither != "none" and req.palette is None:
        raise InvalidRequest(f"dither {req.dither!r} needs a palette to dither between", field="dither")


def _cleanup_options(req: Any) -> None:
    """Check the clean-up options (see :mod:`pixelsprite.cleanup`)."""
    _int(req.alpha_threshold, "alpha_threshold", 0, 255)
    if not isinstance(req.despeckle, bool):
        raise InvalidRequest(f"despeckle must be true or false, got {req.despeckle!r}", field="despeckle")
    try:
        parse_outline(req.outline)
    except ValueError as e:
        raise InvalidRequest(str(e), field="outline") from None


def _image_input(value: Any, field: str) -> None:
    if isinstance(value, np.ndarray):
        if value.dtype != np.uint8 or value.ndim != 3 or value.shape[-1] != 4:
            raise ImageError(
                f"{field} must be a uint8 (H, W, 4) RGBA array, got {value.dtype} {value.shape}", field=field
            )
    elif not isinstance(value, (str, os.PathLike, bytes)):
        raise InvalidRequest(
            f"{field} must be an image (path, PNG bytes or RGBA array), got {type(value).__name__}",
            field=field,
        )


def _endpoint(value: Any, field: str) -> None:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        _int(value, field, 0, MAX_SEED)
    else:
        _image_input(value, field)


# ---------------------------------------------------------------------------------------------- requests
@dataclass(frozen=True)
class ModelsRequest:
    """List the registered bundles."""


@dataclass(frozen=True)
class GenerateRequest:
    """``count`` new sprites from the prior; sprite ``i`` uses seed ``seed + i``."""

    model: str | None = None
    count: int = 16
    seed: int | None = None
    max_colors: int | None = None
    label: str | None = None
    steps: int | None = None
    solver: str | None = None
    guidance: float | None = None
    palette: PaletteSpec | None = None
    dither: str = "none"
    alpha_threshold: int = 127
    despeckle: bool = False
    outline: str | None = None
    candidates: int = 1
    teacher: str | None = None
    temperature: float | None = None

    def __post_init__(self) -> None:
        _model(self.model)
        _int(self.count, "count", 1, MAX_COUNT)
        _seed(self.seed, self.count)
        _max_colors(self.max_colors)
        _sampler_options(self.label, self.steps, self.solver, self.guidance)
        _temperature(self.temperature)
        _palette_options(self)
        _cleanup_options(self)
        _teacher_options(self, self.count)


@dataclass(frozen=True, eq=False)
class EncodeRequest:
    """Encode images to their posterior means."""

    model: str | None
    images: tuple[ImageInput, ...]

    def __post_init__(self) -> None:
        _model(self.model)
        object.__setattr__(self, "images", tuple(self.images))
        _int(len(self.images), "images", 1, MAX_COUNT, "the number of images")
        for i, im in enumerate(self.images):
            _image_input(im, f"images[{i}]")


@dataclass(frozen=True, eq=False)
class DecodeRequest:
    """Decode latents float ``(N, *latent_shape)`` to sprites."""

    model: str | None
    latents: np.ndarray
    max_colors: int | None = None
    palette: PaletteSpec | None = None
    dither: str = "none"
    alpha_threshold: int = 127
    despeckle: bool = False
    outline: str | None = None

    def __post_init__(self) -> None:
        _model(self.model)
        z = np.asarray(self.latents)
        if z.ndim < 2 or not np.issubdtype(z.dtype, np.number):
            raise InvalidRequest(
                f"latents must be a numeric (N, *latent_shape) array, got {z.dtype} {z.shape}",
                field="latents",
            )
        _int(z.shape[0], "latents", 1, MAX_COUNT, "the number of latents")
        if not np.isfinite(z).all():
            raise InvalidRequest("latents must be finite (no NaN or inf)", field="latents")
        object.__setattr__(self, "latents", z.astype(np.float32))
        _max_colors(self.max_colors)
        _palette_options(self)
        _cleanup_options(self)


@dataclass(frozen=True, eq=False)
class VariationsRequest:
    """``count`` variations of one image: latent mean + ``strength`` * N(0, I), noise seeded per variation."""

    model: str | None
    image: ImageInput
    count: int = 8
    strength: float = 0.5
    seed: int | None = None
    max_colors: int | None = None
    label: str | None = None
    steps: int | None = None
    solver: str | None = None
    guidance: float | None = None
    palette: PaletteSpec | None = None
    dither: str = "none"
    alpha_threshold: int = 127
    despeckle: bool = False
    outline: str | None = None
    candidates: int = 1
    teacher: str | None = None
    keep_class: bool = False
    temperature: float | None = None

    def __post_init__(self) -> None:
        _model(self.model)
        _image_input(self.image, "image")
        _int(self.count, "count", 1, MAX_COUNT)
        _float(self.strength, "strength", 0.0, MAX_STRENGTH)
        _seed(self.seed, self.count)
        _max_colors(self.max_colors)
        _sampler_options(self.label, self.steps, self.solver, self.guidance)
        _temperature(self.temperature)
        _palette_options(self)
        _cleanup_options(self)
        _teacher_options(self, self.count)
        if not isinstance(self.keep_class, bool):
            raise InvalidRequest(f"keep_class must be true or false, got {self.keep_class!r}", field="keep_class")
        if self.keep_class and self.candidates < 2:
            raise InvalidRequest(
                "keep_class picks among candidates: it needs candidates between 2 and "
                f"{MAX_CANDIDATES}, got {self.candidates}",
                field="keep_class",
            )


@dataclass(frozen=True, eq=False)
class InpaintRequest:
    """``count`` repaintings of the ``mask`` pixels of ``image``; every other pixel is kept exactly.

    ``mask``: a (H, W) bool/uint8 array (non-zero = repaint), or an image (path, bytes, RGBA array) of the sprite's
    size: where it has transparent pixels its opaque pixels are the mask (the alpha of a second image), else
    its light pixels (luminance > 127: a 1-bit or grey mask, white = repaint).
    """

    model: str | None
    image: ImageInput
    mask: ImageInput
    count: int = 8
    seed: int | None = None
    max_colors: int | None = None
    label: str | None = None
    steps: int | None = None
    solver: str | None = None
    guidance: float | None = None
    temperature: float | None = None
    palette: PaletteSpec | None = None
    dither: str = "none"
    alpha_threshold: int = 127
    despeckle: bool = False
    outline: str | None = None

    def __post_init__(self) -> None:
        _model(self.model)
        _image_input(self.image, "image")
        if not (isinstance(self.mask, np.ndarray) and self.mask.ndim == 2):
            _image_input(self.mask, "mask")
        _int(self.count, "count", 1, MAX_COUNT)
        _seed(self.seed, self.count)
        _max_colors(self.max_colors)
        _sampler_options(self.label, self.steps, self.solver, self.guidance)
        _temperature(self.temperature)
        _palette_options(self)
        _cleanup_options(self)


@dataclass(frozen=True, eq=False)
class InterpolateRequest:
    """``count`` sprites (frames) from endpoint ``a`` to ``b`` (each a seed or an image), endpoints included;
    ``steps`` are sampler steps (diffusion/flow), as in the wire protocol and :func:`interpolate`."""

    model: str | None
    a: Endpoint
    b: Endpoint
    count: int = 8
    method: str = "slerp"
    max_colors: int | None = None
    label: str | None = None
    steps: int | None = None
    solver: str | None = None
    guidance: float | None = None
    palette: PaletteSpec | None = None
    dither: str = "none"
    alpha_threshold: int = 127
    despeckle: bool = False
    outline: str | None = None
    candidates: int = 1
    teacher: str | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        _model(self.model)
        _endpoint(self.a, "a")
        _endpoint(self.b, "b")
        _int(self.count, "count", MIN_FRAMES, MAX_FRAMES)
        _method(self.method)
        _max_colors(self.max_colors)
        _sampler_options(self.label, self.steps, self.solver, self.guidance)
        _palette_options(self)
        _cleanup_options(self)
        _teacher_options(self, self.count)


@dataclass(frozen=True, eq=False)
class GridRequest:
    """A ``rows x cols`` grid spanned by four corners (top-left, top-right, bottom-left, bottom-right)."""

    model: str | None
    corners: tuple[Endpoint, Endpoint, Endpoint, Endpoint]
    rows: int = 4
    cols: int = 4
    method: str = "slerp"
    max_colors: int | None = None
    palette: PaletteSpec | None = None
    dither: str = "none"
    alpha_threshold: int = 127
    despeckle: bool = False
    outline: str | None = None

    def __post_init__(self) -> None:
        _model(self.model)
        if not isinstance(self.corners, (tuple, list)) or len(self.corners) != 4:
            raise InvalidRequest(
                "corners must be a list of exactly 4 seeds or images (tl, tr, bl, br)", field="corners"
            )
        object.__setattr__(self, "corners", tuple(self.corners))
        for i, c in enumerate(self.corners):
            _endpoint(c, f"corners[{i}]")
        _int(self.rows, "rows", MIN_GRID, MAX_GRID)
        _int(self.cols, "cols", MIN_GRID, MAX_GRID)
        _method(self.method)
        _max_colors(self.max_colors)
        _palette_options(self)
        _cleanup_options(self)


@dataclass(frozen=True, eq=False)
class PaletteRequest:
    """Propose a ``colors``-colour palette from ``count`` samples of a model, or from given ``sprites``.

    With ``sprites`` (images of any size: paths, PNG bytes or RGBA arrays) the model is not used and ``model``,
    ``seed`` and ``label`` must be left unset. ``method``: ``"kmeans"`` or ``"median_cut"``; ``format``: the palette
    file format returned next to the colours and the swatch PNG.
    """

    model: str | None = None
    count: int = 64
    seed: int | None = None
    colors: int = 16
    method: str = "kmeans"
    sprites: tuple[ImageInput, ...] | None = None
    label: str | None = None
    format: str = "gpl"
    name: str = "proposed"

    def __post_init__(self) -> None:
        _model(self.model)
        _int(self.count, "count", 1, MAX_COUNT)
        _seed(self.seed, self.count)
        _int(self.colors, "colors", 1, MAX_PALETTE_COLORS)
        if self.method not in PALETTE_METHODS:
            raise InvalidRequest(
                f"method must be one of {', '.join(PALETTE_METHODS)}, got {self.method!r}", field="method"
            )
        if not isinstance(self.format, str) or self.format.lower().lstrip(".") not in FORMATS:
            raise InvalidRequest(f"format must be one of {', '.join(FORMATS)}, got {self.format!r}", field="format")
        object.__setattr__(self, "format", self.format.lower().lstrip("."))
        if not isinstance(self.name, str) or not self.name.strip() or len(self.name) > 64:
            raise InvalidRequest(
                f"name must be a non-empty string of at most 64 characters, got {self.name!r}", field="name"
            )
        _sampler_options(self.label, None, None, None)
        if self.sprites is not None:
            if not isinstance(self.sprites, (tuple, list)):
                raise InvalidRequest("sprites must be a list of images", field="sprites")
            object.__setattr__(self, "sprites", tuple(self.sprites))
            _int(len(self.sprites), "sprites", 1, MAX_COUNT, "the number of sprites")
            for i, im in enumerate(self.sprites):
                _image_input(im, f"sprites[{i}]")
            for field, value in (("model", self.model), ("seed", self.seed), ("label", self.label)):
                if value is not None:
                    raise InvalidRequest(f"give sprites or a model to sample, not both ({field} is set)", field=field)


def _images_field(value: Any, field: str) -> tuple[ImageInput, ...]:
    if not isinstance(value, (tuple, list)):
        raise InvalidRequest(f"{field} must be a list of images", field=field)
    _int(len(value), field, 1, MAX_COUNT, f"the number of {field}")
    for i, im in enumerate(value):
        _image_input(im, f"{field}[{i}]")
    return tuple(value)


@dataclass(frozen=True, eq=False)
class ScoreRequest:
    """Score sprites with a teacher: quality in [0, 1], a unit embedding, a class with its probability.

    ``images``: 1..1024 images (paths, PNG bytes or RGBA arrays), each 16x16 or 40x40 (the teacher's sizes; sizes
    may be mixed). Alpha is hardened at ``alpha_threshold`` first, like every request's inputs.
    """

    images: tuple[ImageInput, ...]
    teacher: str | None = None
    alpha_threshold: int = 127

    def __post_init__(self) -> None:
        object.__setattr__(self, "images", _images_field(self.images, "images"))
        if self.teacher is not None and (not isinstance(self.teacher, str) or not self.teacher):
            raise InvalidRequest(f"teacher must be a non-empty string or null, got {self.teacher!r}", field="teacher")
        _int(self.alpha_threshold, "alpha_threshold", 0, 255)


@dataclass(frozen=True, eq=False)
class SimilarRequest:
    """Rank sprites by the cosine similarity of their teacher embeddings to a ``reference`` sprite's.

    Either given ``images`` (then ``model`` and ``seed`` stay unset), or ``count`` fresh samples of generator
    ``model`` from ``seed`` (sprite ``i`` seed ``seed + i``, as ``generate``). The reference and the sprites must
    have one size. ``top``: return only the ``top`` most similar (default: all, ranked).
    """

    reference: ImageInput
    images: tuple[ImageInput, ...] | None = None
    model: str | None = None
    count: int = 16
    seed: int | None = None
    top: int | None = None
    teacher: str | None = None
    alpha_threshold: int = 127

    def __post_init__(self) -> None:
        _image_input(self.reference, "reference")
        _model(self.model)
        _int(self.count, "count", 1, MAX_COUNT)
        _seed(self.seed, self.count)
        if self.images is not None:
            object.__setattr__(self, "images", _images_field(self.images, "images"))
            for field, value in (("model", self.model), ("seed", self.seed)):
                if value is not None:
                    raise InvalidRequest(f"give images or a model to sample, not both ({field} is set)", field=field)
        if self.top is not None:
            _int(self.top, "top", 1, MAX_COUNT)
        if self.teacher is not None and (not isinstance(self.teacher, str) or not self.teacher):
            raise InvalidRequest(f"teacher must be a non-empty string or null, got {self.teacher!r}", field="teacher")
        _int(self.alpha_threshold, "alpha_threshold", 0, 255)


Request = (
    ModelsRequest
    | GenerateRequest
    | EncodeRequest
    | DecodeRequest
    | VariationsRequest
    | InterpolateRequest
    | InpaintRequest
    | GridRequest
    | PaletteRequest
    | ScoreRequest
    | SimilarRequest
)


# ----------------------------------------------------------------------------------------------- results
@dataclass(frozen=True)
class Sprite:
    """One sprite: uint8 ``(H, W, 4)`` with hard alpha, and its seed (None when it was not seeded)."""

    rgba: np.ndarray
    seed: int | None


@dataclass(frozen=True, eq=False)
class SpriteResult:
    """Sprites made by one request.

    Attributes:
        op: the operation ("generate", "variations", "decode", "interpolate", "grid").
        model: the model name used.
        sprites: uint8 ``(N, H, W, 4)``, alpha in {0, 255}, transparent pixels ``(0, 0, 0, 0)``.
        seeds: per-sprite seeds, None for sprites that are not seeded (decode, interpolate, grid).
        base_seed: the request's seed, or the random one drawn for it; None for unseeded ops.
        elapsed_s: wall-clock seconds spent in the request layer.
        layout: ``(rows, cols)`` for a sheet: ``(1, N)`` strips for interpolate, the grid for grid,
            ``(0, 0)`` when the layout is free.
        scores: the teacher's verdict on every returned sprite when the request had ``candidates`` > 1
            (or for ``similar``), else None.
        candidate_quality: float32 ``(N, C)``: the quality of every candidate of every sprite (candidates only).
        kept_class: bool ``(N,)``: whether the returned variation has the source's class (``keep_class``).
    """

    op: str
    model: str
    sprites: np.ndarray
    seeds: tuple[int | None, ...]
    base_seed: int | None
    elapsed_s: float
    layout: tuple[int, int] = (0, 0)
    scores: Scores | None = None
    candidate_quality: np.ndarray | None = None
    kept_class: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.sprites.shape[0])

    def __iter__(self) -> Iterator[Sprite]:
        for rgba, seed in zip(self.sprites, self.seeds, strict=True):
            yield Sprite(rgba, seed)

    def score_rows(self) -> list[dict[str, Any]] | None:
        """Per sprite: ``quality``, ``label``, ``probability`` (and ``candidates``: every candidate's quality,
        ``kept_class``) when the result was scored, else None."""
        if self.scores is None:
            return None
        rows = self.scores.rows()
        for i, row in enumerate(rows):
            if self.candidate_quality is not None:
                row["candidates"] = [round(float(q), 6) for q in self.candidate_quality[i]]
            if self.kept_class is not None:
                row["kept_class"] = bool(self.kept_class[i])
        return rows

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary without pixels."""
        out = {
            "op": self.op,
            "model": self.model,
            "count": len(self),
            "size": [int(self.sprites.shape[2]), int(self.sprites.shape[1])],
            "base_seed": self.base_seed,
            "seeds": list(self.seeds),
            "seconds": round(self.elapsed_s, 4),
        }
        rows = self.score_rows()
        if rows is not None:
            out["scores"] = rows
        return out


@dataclass(frozen=True, eq=False)
class SimilarResult(SpriteResult):
    """Sprites ranked by similarity to a reference (most similar first).

    Attributes (besides :class:`SpriteResult`'s; ``sprites``, ``seeds`` and ``scores`` are in ranked order):
        teacher: the teacher that embedded them.
        similarity: float32 ``(N,)`` cosine similarity to the reference, descending.
        index: int64 ``(N,)`` each sprite's position among the given images / samples.
        reference: the teacher's verdict on the reference sprite.
    """

    teacher: str = DEFAULT_TEACHER
    similarity: np.ndarray | None = None
    index: np.ndarray | None = None
    reference: Scores | None = None

    def summary(self) -> dict[str, Any]:
        out = super().summary()
        assert self.similarity is not None and self.index is not None
        out.update(
            {
                "teacher": self.teacher,
                "similarity": [round(float(v), 6) for v in self.similarity],
                "index": [int(i) for i in self.index],
                "reference": self.reference.row(0) if self.reference is not None else None,
            }
        )
        return out


@dataclass(frozen=True, eq=False)
class ScoreResult:
    """The teacher's verdict on given sprites, in request order.

    Attributes:
        op: ``"score"``.
        teacher: the teacher's name.
        scores: :class:`pixelsprite.teacher.Scores` (quality ``(N,)``, embedding ``(N, E)``, label, ...).
        sizes: each sprite's side in pixels.
        elapsed_s: wall-clock seconds spent in the request layer.
    """

    op: str
    teacher: str
    scores: Scores
    sizes: tuple[int, ...]
    elapsed_s: float

    def __len__(self) -> int:
        return len(self.scores)

    def summary(self, *, embedding: bool = False) -> dict[str, Any]:
        """JSON-ready: per sprite ``index``, ``size``, ``quality``, ``label``, ``probability`` (+ ``embedding``)."""
        rows = [
            {"index": i, "size": [s, s], **r}
            for i, (s, r) in enumerate(zip(self.sizes, self.scores.rows(embedding=embedding), strict=True))
        ]
        return {
            "op": self.op,
            "teacher": self.teacher,
            "count": len(self),
            "scores": rows,
            "seconds": round(self.elapsed_s, 4),
        }


@dataclass(frozen=True, eq=False)
class LatentResult:
    """Latent means float32 ``(N, *latent_shape)`` of encoded images."""

    op: str
    model: str
    latents: np.ndarray
    elapsed_s: float


@dataclass(frozen=True)
class ModelInfo:
    """One registered bundle, as listed by :func:`models`."""

    name: str
    family: str
    width: int
    height: int
    labels: tuple[str, ...]
    description: str
    latent_shape: tuple[int, ...] | None
    builtin: bool
    path: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "family": self.family,
            "size": [self.width, self.height],
            "labels": list(self.labels),
            "description": self.description,
            "latent_shape": list(self.latent_shape) if self.latent_shape is not None else None,
            "builtin": self.builtin,
            "path": self.path,
        }


@dataclass(frozen=True)
class ModelsResult:
    """The registered bundles, sorted by name, and problems met while scanning (skipped bundles)."""

    models: tuple[ModelInfo, ...]
    default: str | None
    problems: tuple[str, ...]
    elapsed_s: float


@dataclass(frozen=True, eq=False)
class PaletteResult:
    """A proposed palette.

    Attributes:
        op: ``"palette"``.
        model: the model sampled, or None when the colours came from given sprites.
        palette: the proposal, ordered as ramps (greys, then hues, dark to light).
        swatch_png: PNG bytes of a swatch (8x8-pixel cells, 16 per row).
        format: the palette file format of ``file``.
        file: the palette as that file's bytes (text formats are UTF-8).
        base_seed: the seed of the first sample (None for given sprites).
        sample_count: sprites the colours were taken from.
        elapsed_s: wall-clock seconds spent in the request layer.
    """

    op: str
    model: str | None
    palette: Palette
    swatch_png: bytes
    format: str
    file: bytes
    base_seed: int | None
    sample_count: int
    elapsed_s: float

    @property
    def colors(self) -> np.ndarray:
        """uint8 ``(K, 3)``."""
        return self.palette.colors

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary (colours as ``#rrggbb``; no swatch or file bytes)."""
        return {
            "op": self.op,
            "model": self.model,
            "name": self.palette.name,
            "size": len(self.palette),
            "colors": list(self.palette.hex),
            "format": self.format,
            "base_seed": self.base_seed,
            "samples": self.sample_count,
            "seconds": round(self.elapsed_s, 4),
        }


Result = SpriteResult | LatentResult | ModelsResult | PaletteResult | ScoreResult


# ------------------------------------------------------------------------------------------- operations
_default_registry: Registry | None = None
_default_lock = threading.Lock()


def default_registry() -> Registry:
    """The process-wide registry (built-ins + ``$PIXELSPRITE_MODELS``), created on first use."""
    global _default_registry
    with _default_lock:
        if _default_registry is None:
            _default_registry = Registry()
        return _default_registry


def random_seed() -> int:
    """A fresh base seed from ``os.urandom``: 0 .. 2**32 - 1."""
    return int.from_bytes(os.urandom(4), "little")


def _family_model(registry: Registry, name: str | None, op: str) -> Any:
    """The runtime model ``name`` (default: the registry's default) when its family answers ``op``; otherwise an
    InvalidRequest naming ``model`` and the families that do. The family's declared operations decide
    (:mod:`pixelsprite.families`)."""
    name = name or registry.default_model()
    bundle = registry.load(name)
    family = families.FAMILIES.get(bundle.manifest.family)
    if family is None or op not in family.operations or family.model is None:
        raise InvalidRequest(
            f"model {name!r} is a {bundle.manifest.family!r} model; {op} supports the families: "
            f"{', '.join(families.families_with(op))}",
            field="model",
        )
    return families.load(bundle)


def _vae(registry: Registry, name: str | None, op: str) -> VaeModel:
    model = _family_model(registry, name, op)
    if not isinstance(model, VaeModel):
        raise InvalidRequest(
            f"model {model.name!r} is a {model.FAMILY!r} model; {op} supports the families: "
            f"{', '.join(f for f in families.families_with(op) if f == VAE_FAMILY)}",
            field="model",
        )
    return model


def _unsupported(model: Any, req: Any) -> None:
    """Reject optional sampler parameters (label, steps, solver, guidance, temperature) the model's family does
    not honour, naming the field."""
    caps = families.capabilities(model.manifest)
    for key in families.SAMPLER_PARAMETERS:
        if getattr(req, key, None) is not None and key not in caps.parameters:
            why = " (it is unconditional)" if key in ("label", "guidance") and not caps.labels else ""
            raise InvalidRequest(
                f"model {model.name!r} ({caps.family}) does not take {key!r}{why}; the parameters "
                f"it takes: {', '.join(caps.parameters) or 'none'}",
                field=key,
            )


def _no_sampler_options(model: VaeModel, req: Any, hint: str = "") -> None:
    """A VAE takes no label and has no sampler: reject those options, naming the field (``hint`` is appended to
    the message about ``steps``)."""
    for field, value in (
        ("label", req.label),
        ("steps", req.steps),
        ("solver", req.solver),
        ("guidance", req.guidance),
    ):
        if value is not None:
            what = "takes no label (it is unconditional)" if field == "label" else f"has no sampler ({field})"
            extra = hint if field == "steps" else ""
            raise InvalidRequest(f"model {model.name!r} is a {VAE_FAMILY!r} model: it {what}{extra}", field=field)


def _image(
    model: VaeModel | IterativeModel | PixelModel, value: ImageInput, field: str, threshold: int = 127
) -> np.ndarray:
    """An image input -> uint8 (H, W, 4) with hard alpha at the model's size; ImageError naming ``field``."""
    w, h = model.size
    if isinstance(value, np.ndarray):
        if value.shape != (h, w, 4):
            raise ImageError(
                f"{field} is {value.shape[1]}x{value.shape[0]} pixels, expected {w}x{h} for model {model.name!r}",
                field=field,
            )
        return hard_alpha(value, threshold)
    try:
        name = field if isinstance(value, bytes) else str(Path(value))
        return read_image(value, size=(w, h), name=name, alpha_threshold=threshold)
    except ImageError as e:
        raise ImageError(
            f"{e.message} for model {model.name!r}" if "expected" in e.message else e.message, field=field
        ) from None


def _need_encoder(model: VaeModel, field: str) -> None:
    if not model.has_encoder:
        raise InvalidRequest(f"model {model.name!r} has no encoder, so {field} cannot be an image", field=field)


def _endpoint_latent(model: VaeModel, value: Endpoint, field: str, threshold: int = 127) -> np.ndarray:
    if isinstance(value, (int, np.integer)):
        return model.prior(int(value))  # bools were rejected when the request was built
    _need_encoder(model, field)
    return model.encode(_image(model, value, field, threshold)[None])[0]


def _paletted(sprites: np.ndarray, req: Any, *, locked: bool = False) -> np.ndarray:
    """The request's clean-up and palette steps, in one place, after the model's own decoding policy.

    Order: ``despeckle`` (so dithering survives) -> ``palette``/``dither`` -> ``outline`` (never remapped).
    ``locked``: the sampler already drew in the palette (nothing is mapped afterwards).
    """
    if req.despeckle:
        sprites = remove_isolated(sprites)
    if req.palette is not None and not locked:
        sprites = enforce(sprites, req.palette, dither=req.dither)
    colour = parse_outline(req.outline)
    if colour is not None:
        sprites = draw_outline(sprites, colour, None if req.palette is None else req.palette.colors)
    return sprites


def _teacher(registry: Registry, name: str | None) -> TeacherModel:
    """The teacher bundle ``name`` (default ``teacher``); errors name the field ``teacher``."""
    name = name or DEFAULT_TEACHER
    try:
        bundle = registry.load(name)
    except UnknownModel:
        raise UnknownModel(name, registry.names(), field="teacher") from None
    if bundle.manifest.family != TEACHER_FAMILY:
        raise InvalidRequest(
            f"model {name!r} is a {bundle.manifest.family!r} model, not a {TEACHER_FAMILY!r}; "
            "candidates, score and similar need a teacher",
            field="teacher",
        )
    return TeacherModel(bundle)


@dataclass(frozen=True, eq=False)
class _Pick:
    """The best of each group of C candidates: flat indices ``(N,)``, their scores, all qualities ``(N, C)``."""

    index: np.ndarray
    scores: Scores
    quality: np.ndarray
    kept_class: np.ndarray | None


def _pick(teacher: TeacherModel, sprites: np.ndarray, count: int, c: int, keep_label: int | None = None) -> _Pick:
    """Score ``count * c`` sprites (group ``i`` = rows ``i*c .. i*c + c - 1``) and pick each group's best quality
    (the first on ties); with ``keep_label`` the best among candidates of that class, if any."""
    sc = teacher.score(sprites)
    q = sc.quality.reshape(count, c)
    kept = None
    if keep_label is None:
        j = q.argmax(1)
    else:
        same = (sc.label == keep_label).reshape(count, c)
        j = np.where(same.any(1), np.where(same, q, -1.0).argmax(1), q.argmax(1))
        kept = same[np.arange(count), j]
    flat = np.arange(count) * c + j
    return _Pick(flat, sc.take(flat), q, kept)


def _best(
    op: str,
    model: str,
    teacher_name: str | None,
    registry: Registry,
    sprites: np.ndarray,
    seeds: tuple[int | None, ...],
    count: int,
    c: int,
    base: int | None,
    t0: float,
    layout: tuple[int, int] = (0, 0),
    keep: np.ndarray | None = None,
) -> SpriteResult:
    """A SpriteResult of the best candidate per sprite (``c > 1``), or of all sprites as they are (``c == 1``)."""
    if c == 1:
        return SpriteResult(op, model, sprites, seeds, base, time.perf_counter() - t0, layout)
    teacher = _teacher(registry, teacher_name)
    keep_label = None
    if keep is not None:
        keep_label = int(teacher.score(keep[None]).label[0])
    p = _pick(teacher, sprites, count, c, keep_label)
    return SpriteResult(
        op,
        model,
        sprites[p.index],
        tuple(seeds[i] for i in p.index),
        base,
        time.perf_counter() - t0,
        layout,
        p.scores,
        p.quality,
        p.kept_class,
    )


def _score_mixed(teacher: TeacherModel, sprites: list[np.ndarray], field: str) -> Scores:
    """Score sprites of any of the teacher's sizes (mixed) -> Scores in the given order."""
    by_size: dict[int, list[int]] = {}
    for i, sp in enumerate(sprites):
        by_size.setdefault(teacher.check_size(sp[None], f"{field}[{i}]"), []).append(i)
    parts = {size: teacher.score(np.stack([sprites[i] for i in idx])) for size, idx in by_size.items()}
    order = np.concatenate([np.asarray(idx) for idx in by_size.values()])
    merged = [parts[size] for size in by_size]
    inverse = np.empty(len(order), np.int64)
    inverse[order] = np.arange(len(order))
    names = sum((list(m.label_name) for m in merged), [])
    return Scores(
        np.concatenate([m.quality for m in merged])[inverse],
        np.concatenate([m.embedding for m in merged])[inverse],
        np.concatenate([m.label for m in merged])[inverse],
        tuple(names[i] for i in inverse),
        np.concatenate([m.probability for m in merged])[inverse],
        np.concatenate([m.gate for m in merged])[inverse],
        teacher.labels,
    )


def _score(req: ScoreRequest, registry: Registry) -> ScoreResult:
    t0 = time.perf_counter()
    teacher = _teacher(registry, req.teacher)
    sprites = [_sprite(im, f"images[{i}]", req.alpha_threshold) for i, im in enumerate(req.images)]
    scores = _score_mixed(teacher, sprites, "images")
    return ScoreResult("score", teacher.name, scores, tuple(int(s.shape[0]) for s in sprites), time.perf_counter() - t0)


def _similar(req: SimilarRequest, registry: Registry) -> SimilarResult:
    t0 = time.perf_counter()
    teacher = _teacher(registry, req.teacher)
    ref = _sprite(req.reference, "reference", req.alpha_threshold)
    side = teacher.check_size(ref[None], "reference")
    base: int | None = None
    if req.images is not None:
        listed = [_sprite(im, f"images[{i}]", req.alpha_threshold) for i, im in enumerate(req.images)]
        for i, sp in enumerate(listed):
            if sp.shape[:2] != (side, side):
                raise ImageError(
                    f"images[{i}] is {sp.shape[1]}x{sp.shape[0]} pixels; the reference is "
                    f"{side}x{side} and similarity compares one size",
                    field=f"images[{i}]",
                )
        sprites = np.stack(listed)
        seeds: tuple[int | None, ...] = (None,) * len(sprites)
        model = teacher.name
    else:
        res = _generate(GenerateRequest(req.model, req.count, req.seed), registry)
        if res.sprites.shape[1:3] != (side, side):
            raise InvalidRequest(
                f"model {res.model!r} makes {res.sprites.shape[2]}x{res.sprites.shape[1]} sprites; "
                f"the reference is {side}x{side}",
                field="model",
            )
        sprites, seeds, base, model = res.sprites, res.seeds, res.base_seed, res.model
    scores = teacher.score(sprites)
    reference = teacher.score(ref[None])
    sim = cosine(reference.embedding[0], scores.embedding)
    order = np.argsort(-sim, kind="stable")[: req.top or len(sprites)]
    return SimilarResult(
        "similar",
        model,
        sprites[order],
        tuple(seeds[i] for i in order),
        base,
        time.perf_counter() - t0,
        (0, 0),
        scores.take(order),
        teacher=teacher.name,
        similarity=sim[order],
        index=order.astype(np.int64),
        reference=reference,
    )


def _models(req: ModelsRequest, registry: Registry) -> ModelsResult:
    t0 = time.perf_counter()
    infos = []
    for b in registry.bundles():
        m = b.manifest
        infos.append(
            ModelInfo(
                name=b.name,
                family=m.family,
                width=m.image.width,
                height=m.image.height,
                labels=m.labels,
                description=m.description,
                latent_shape=m.latent.shape if m.latent is not None else None,
                builtin=b.builtin,
                path=str(b.path),
            )
        )
    try:
        default: str | None = registry.default_model()
    except PixelspriteError:
        default = None
    return ModelsResult(tuple(infos), default, registry.problems, time.perf_counter() - t0)


def _previews(preview: Previews | PreviewCallback | None, count: int, c: int) -> Previews | None:
    """The request's previews, showing candidate 0 of each requested sprite when there are candidates."""
    previews = Previews.of(preview)
    if previews is None or c == 1 or previews.rows is not None:
        return previews
    return dataclasses.replace(previews, rows=tuple(range(0, count * c, c)))


def _generate(
    req: GenerateRequest,
    registry: Registry,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
    preview: Previews | PreviewCallback | None = None,
) -> SpriteResult:
    t0 = time.perf_counter()
    c = req.candidates
    found = _family_model(registry, req.model, "generate")
    if not isinstance(found, VaeModel):
        _unsupported(found, req)
    if isinstance(found, PixelModel):
        s = found.settings(req.label, req.solver, req.steps, req.guidance, req.temperature)
        base = req.seed if req.seed is not None else random_seed()
        seeds = tuple(range(base, base + req.count * c))
        raw = found.generate(
            seeds, s, locked=_locked(req), progress=progress, cancel=cancel, preview=_previews(preview, req.count, c)
        )
        sprites = _pixel_finish(raw, req)
        return _best("generate", found.name, req.teacher, registry, sprites, seeds, req.count, c, base, t0)
    it = found if isinstance(found, IterativeModel) else None
    if it is not None:
        settings = it.settings(req.label, req.solver, req.steps, req.guidance)
        base = req.seed if req.seed is not None else random_seed()
        seeds = tuple(range(base, base + req.count * c))
        sprites = _paletted(
            it.generate(
                seeds,
                settings,
                req.max_colors,
                progress=progress,
                cancel=cancel,
                preview=_previews(preview, req.count, c),
            ),
            req,
        )
        return _best("generate", it.name, req.teacher, registry, sprites, seeds, req.count, c, base, t0)
    model = found
    _no_sampler_options(model, req)
    base = req.seed if req.seed is not None else random_seed()
    seeds = tuple(range(base, base + req.count * c))
    sprites = _paletted(model.decode(model.sample_latents(seeds), req.max_colors), req)
    return _best("generate", model.name, req.teacher, registry, sprites, seeds, req.count, c, base, t0)


def _locked(req: Any) -> np.ndarray | None:
    """The colours a palette-locking sampler may draw: the request's palette, or None."""
    return None if req.palette is None else np.asarray(req.palette.colors, np.uint8)


def _pixel_finish(sprites: np.ndarray, req: Any) -> np.ndarray:
    """A pixel model's sprites -> the user's: ``max_colors`` (when asked) and the request's clean-up; the palette
    was already honoured by the sampler (so there is nothing to dither)."""
    if req.dither != "none":
        raise InvalidRequest(
            f"dither {req.dither!r} has nothing to do with a pixel model: its sampler draws in the "
            "palette itself (palette lock); leave dither out",
            field="dither",
        )
    if req.max_colors:
        sprites = reduce_colors(sprites, req.max_colors)
    return _paletted(sprites, req, locked=True)


def _mask(model: Any, value: Any, image: np.ndarray) -> np.ndarray:
    """A request's ``mask`` -> bool (H, W): True where the sprite is repainted (see :class:`InpaintRequest`)."""
    h, w = image.shape[:2]
    if isinstance(value, np.ndarray) and value.ndim == 2:
        if value.shape != (h, w):
            raise ImageError(
                f"mask is {value.shape[1]}x{value.shape[0]} pixels, expected {w}x{h} for model {model.name!r}",
                field="mask",
            )
        return value.astype(bool)
    rgba = _image(model, value, "mask", threshold=127)  # alpha > 127 is opaque, for arrays and files alike
    if rgba.shape != (h, w, 4):
        raise ImageError(
            f"mask is {rgba.shape[1]}x{rgba.shape[0]} pixels, expected {w}x{h} for model {model.name!r}", field="mask"
        )
    alpha = rgba[..., 3]
    if (alpha < 128).any():
        return alpha >= 128
    luminance = rgba[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    return luminance > 127


def _inpaint(
    req: InpaintRequest,
    registry: Registry,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
    preview: Previews | PreviewCallback | None = None,
) -> SpriteResult:
    t0 = time.perf_counter()
    model = _family_model(registry, req.model, "inpaint")
    _unsupported(model, req)
    s = model.settings(req.label, req.solver, req.steps, req.guidance, req.temperature)
    image = _image(model, req.image, "image", req.alpha_threshold)
    mask = _mask(model, req.mask, image)
    base = req.seed if req.seed is not None else random_seed()
    seeds = tuple(range(base, base + req.count))
    raw = model.inpaint(
        image,
        mask,
        seeds,
        s,
        locked=_locked(req),
        progress=progress,
        cancel=cancel,
        preview=_previews(preview, req.count, 1),
    )
    sprites = _pixel_finish(raw, req) if mask.any() else raw
    sprites[:, ~mask] = image[~mask]  # clean-up (outline, despeckle, max_colors) never touches kept pixels
    return SpriteResult("inpaint", model.name, sprites, seeds, base, time.perf_counter() - t0)


def _encode(req: EncodeRequest, registry: Registry) -> LatentResult:
    t0 = time.perf_counter()
    model = _vae(registry, req.model, "encode")
    _need_encoder(model, "images")
    images = np.stack([_image(model, im, f"images[{i}]") for i, im in enumerate(req.images)])
    return LatentResult("encode", model.name, model.encode(images), time.perf_counter() - t0)


def _decode(req: DecodeRequest, registry: Registry) -> SpriteResult:
    t0 = time.perf_counter()
    model = _vae(registry, req.model, "decode")
    if req.latents.shape[1:] != model.latent_shape:
        raise InvalidRequest(
            f"latents must have shape (N, {', '.join(map(str, model.latent_shape))}) "
            f"for model {model.name!r}, "
            f"got {req.latents.shape}",
            field="latents",
        )
    sprites = _paletted(model.decode(req.latents, req.max_colors), req)
    n = len(sprites)
    return SpriteResult("decode", model.name, sprites, (None,) * n, None, time.perf_counter() - t0)


def _variations(
    req: VariationsRequest,
    registry: Registry,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
    preview: Previews | PreviewCallback | None = None,
) -> SpriteResult:
    t0 = time.perf_counter()
    found = _family_model(registry, req.model, "variations")
    if not isinstance(found, VaeModel):
        _unsupported(found, req)
    if isinstance(found, PixelModel):
        if req.strength > 1.0:
            raise InvalidRequest(
                f"strength must be between 0 and 1 for pixel model {found.name!r} (the share of "
                f"pixels re-drawn), got {req.strength}",
                field="strength",
            )
        s = found.settings(req.label, req.solver, req.steps, req.guidance, req.temperature)
        image = _image(found, req.image, "image", req.alpha_threshold)
        base = req.seed if req.seed is not None else random_seed()
        seeds = tuple(range(base, base + req.count * req.candidates))
        raw = found.variations(
            image,
            seeds,
            req.strength,
            s,
            locked=_locked(req),
            progress=progress,
            cancel=cancel,
            preview=_previews(preview, req.count, req.candidates),
        )
        sprites = raw if req.strength <= 0 else _pixel_finish(raw, req)
        return _best(
            "variations",
            found.name,
            req.teacher,
            registry,
            sprites,
            seeds,
            req.count,
            req.candidates,
            base,
            t0,
            keep=image if req.keep_class else None,
        )
    it = found if isinstance(found, IterativeModel) else None
    if it is not None:
        if req.strength > 1.0:
            raise InvalidRequest(
                f"strength must be between 0 and 1 for {it.FAMILY} model {it.name!r} (the noise "
                f"level the sprite is taken to), got {req.strength}",
                field="strength",
            )
        settings = it.settings(req.label, req.solver, req.steps, req.guidance)
        if not it.has_encoder:
            raise InvalidRequest(f"model {it.name!r} has no encoder, so image cannot be an image", field="image")
        image = _image(it, req.image, "image", req.alpha_threshold)
        base = req.seed if req.seed is not None else random_seed()
        seeds = tuple(range(base, base + req.count * req.candidates))
        sprites = _paletted(
            it.variations(
                image,
                seeds,
                req.strength,
                settings,
                req.max_colors,
                progress=progress,
                cancel=cancel,
                preview=_previews(preview, req.count, req.candidates),
            ),
            req,
        )
        return _best(
            "variations",
            it.name,
            req.teacher,
            registry,
            sprites,
            seeds,
            req.count,
            req.candidates,
            base,
            t0,
            keep=image if req.keep_class else None,
        )
    model = found
    _no_sampler_options(model, req)
    _need_encoder(model, "image")
    image = _image(model, req.image, "image", req.alpha_threshold)
    mean = model.encode(image[None])[0]
    base = req.seed if req.seed is not None else random_seed()
    seeds = tuple(range(base, base + req.count * req.candidates))
    strength = np.float32(req.strength)
    z = np.stack([mean + strength * model.noise(s) for s in seeds])
    sprites = _paletted(model.decode(z, req.max_colors), req)
    return _best(
        "variations",
        model.name,
        req.teacher,
        registry,
        sprites,
        seeds,
        req.count,
        req.candidates,
        base,
        t0,
        keep=image if req.keep_class else None,
    )


def _interpolate(
    req: InterpolateRequest, registry: Registry, progress: Progress | None = None, cancel: CancelCheck | None = None
) -> SpriteResult:
    t0 = time.perf_counter()
    found = _family_model(registry, req.model, "interpolate")
    it = found if isinstance(found, IterativeModel) else None
    if it is not None:
        if req.candidates > 1:
            raise InvalidRequest(
                f"candidates on interpolate needs a 'vae' model; {it.FAMILY} model {it.name!r} "
                "interpolates deterministically (use candidates=1)",
                field="candidates",
            )
        settings = it.settings(req.label, req.solver, req.steps, req.guidance, deterministic=True)
        ends: list[int | np.ndarray] = []
        for field, value in (("a", req.a), ("b", req.b)):
            if isinstance(value, (int, np.integer)):
                ends.append(int(value))
            elif not it.has_encoder:
                raise InvalidRequest(f"model {it.name!r} has no encoder, so {field} cannot be an image", field=field)
            else:
                ends.append(_image(it, value, field, req.alpha_threshold))
        sprites = _paletted(
            it.interpolate(
                ends[0], ends[1], req.count, req.method, settings, req.max_colors, progress=progress, cancel=cancel
            ),
            req,
        )
        return SpriteResult(
            "interpolate", it.name, sprites, (None,) * req.count, None, time.perf_counter() - t0, (1, req.count)
        )
    model = found
    _no_sampler_options(model, req, "; the number of frames is 'count'")
    za = _endpoint_latent(model, req.a, "a", req.alpha_threshold)
    zb = _endpoint_latent(model, req.b, "b", req.alpha_threshold)
    z = latent_ops.interpolate(za, zb, req.count, req.method)
    c = req.candidates
    if c > 1:
        base = req.seed if req.seed is not None else random_seed()
        z, seeds = _jittered(model, z, c, base)
        sprites = _paletted(model.decode(z, req.max_colors), req)
        return _best(
            "interpolate", model.name, req.teacher, registry, sprites, seeds, req.count, c, base, t0, (1, req.count)
        )
    sprites = _paletted(model.decode(z, req.max_colors), req)
    return SpriteResult(
        "interpolate",
        model.name,
        sprites,
        (None,) * req.count,
        None,
        time.perf_counter() - t0,
        (1, req.count),
    )


def _jittered(model: VaeModel, z: np.ndarray, c: int, base: int) -> tuple[np.ndarray, tuple[int | None, ...]]:
    """Interpolate candidates: frame ``i``'s candidate 0 is ``z[i]``; inner frames' candidates ``j >= 1`` add
    ``CANDIDATE_JITTER * default_rng(base + i*c + j).standard_normal``. -> latents ``(F*c, ...)``, seeds."""
    frames = len(z)
    out = np.repeat(z, c, axis=0)
    seeds: list[int | None] = [None] * (frames * c)
    jitter = np.float32(CANDIDATE_JITTER)
    for i in range(1, frames - 1):
        for j in range(1, c):
            s = base + i * c + j
            out[i * c + j] = z[i] + jitter * model.noise(s)
            seeds[i * c + j] = s
    return out, tuple(seeds)


def _grid(req: GridRequest, registry: Registry) -> SpriteResult:
    t0 = time.perf_counter()
    model = _vae(registry, req.model, "grid")
    corners = np.stack(
        [_endpoint_latent(model, c, f"corners[{i}]", req.alpha_threshold) for i, c in enumerate(req.corners)]
    )
    z = latent_ops.bilinear_grid(corners, req.rows, req.cols, req.method)
    z = z.reshape((req.rows * req.cols, *model.latent_shape))
    sprites = _paletted(model.decode(z, req.max_colors), req)
    n = len(sprites)
    return SpriteResult("grid", model.name, sprites, (None,) * n, None, time.perf_counter() - t0, (req.rows, req.cols))


def _sprite(value: ImageInput, field: str, threshold: int = 127) -> np.ndarray:
    """An image input of any size -> uint8 (H, W, 4) with hard alpha; ImageError naming ``field``."""
    if isinstance(value, np.ndarray):
        return hard_alpha(value, threshold)
    try:
        name = field if isinstance(value, bytes) else str(Path(value))
        return read_image(value, name=name, alpha_threshold=threshold)
    except ImageError as e:
        raise ImageError(e.message, field=field) from None


def _palette(req: PaletteRequest, registry: Registry) -> PaletteResult:
    t0 = time.perf_counter()
    model: str | None = None
    base: int | None = None
    if req.sprites is not None:
        sprites: list[np.ndarray] | np.ndarray = [_sprite(im, f"sprites[{i}]") for i, im in enumerate(req.sprites)]
    else:
        res = _generate(GenerateRequest(req.model, req.count, req.seed, label=req.label), registry)
        sprites, model, base = res.sprites, res.model, res.base_seed
    where = f"{req.count} samples of model {model!r} from seed {base}" if model else f"{len(sprites)} sprites"
    try:
        pal = extract(sprites, req.colors, method=req.method, name=req.name)
    except InvalidRequest as e:
        raise InvalidRequest(f"{e.message} ({where})", field=e.field) from None
    pal = pal.renamed(req.name, f"proposed by pixelsprite: {req.method} over {where}")
    return PaletteResult(
        "palette",
        model,
        pal,
        swatch_png(pal),
        req.format,
        encode_palette(pal, req.format),
        base,
        len(sprites),
        time.perf_counter() - t0,
    )


_HANDLERS: dict[type, Callable[..., Any]] = {
    ModelsRequest: _models,
    GenerateRequest: _generate,
    EncodeRequest: _encode,
    DecodeRequest: _decode,
    VariationsRequest: _variations,
    InterpolateRequest: _interpolate,
    InpaintRequest: _inpaint,
    GridRequest: _grid,
    PaletteRequest: _palette,
    ScoreRequest: _score,
    SimilarRequest: _similar,
}
_HOOKED = (GenerateRequest, VariationsRequest, InterpolateRequest, InpaintRequest)  # take progress= and cancel=
_PREVIEWED = (GenerateRequest, VariationsRequest, InpaintRequest)  # handlers taking preview=


def handle(
    request: Request,
    *,
    registry: Registry | None = None,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
    preview: Previews | PreviewCallback | None = None,
) -> Result:
    """Run one request. Transports call this (off their event loop: it blocks on onnxruntime).

    ``progress(done, total)`` is called after every sampler step and ``cancel()`` checked between steps
    (diffusion/flow generate, variations and interpolate; other requests ignore both). ``preview`` (see the
    module docstring) is honoured by diffusion/flow generate and variations; other requests ignore it.

    Raises:
        PixelspriteError subclasses only, for anything a caller can cause (Cancelled when ``cancel`` says so).
    """
    fn = _HANDLERS.get(type(request))
    if fn is None:
        raise InvalidRequest(f"unsupported request type {type(request).__name__}", field="op")
    hooks: dict[str, Any] = {"progress": progress, "cancel": cancel} if type(request) in _HOOKED else {}
    if type(request) in _PREVIEWED:
        hooks["preview"] = preview
    result: Result = fn(request, registry or default_registry(), **hooks)
    return result


# ------------------------------------------------------------------------------- keyword-friendly wrappers
def models(*, registry: Registry | None = None) -> ModelsResult:
    """List bundles: name, family, size, labels, ..."""
    return _models(ModelsRequest(), registry or default_registry())


def generate(
    model: str | None = None,
    count: int = 16,
    seed: int | None = None,
    *,
    max_colors: int | None = None,
    label: str | None = None,
    steps: int | None = None,
    solver: str | None = None,
    guidance: float | None = None,
    palette: PaletteSpec | None = None,
    dither: str = "none",
    alpha_threshold: int = 127,
    despeckle: bool = False,
    outline: str | None = None,
    candidates: int = 1,
    teacher: str | None = None,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
    registry: Registry | None = None,
    preview: Previews | PreviewCallback | None = None,
    temperature: float | None = None,
) -> SpriteResult:
    """``count`` sprites sampled from the prior; sprite ``i`` has seed ``seed + i``.

    ``label``, ``steps``, ``solver``, ``guidance``, ``progress``, ``cancel`` and ``preview`` (the clean estimate
    during sampling, see :mod:`pixelsprite.iterative`): diffusion and flow models only.
    ``palette`` (a built-in name, a colour list or a palette file) and ``dither``: map the sprites onto a palette.
    ``candidates``: sprite ``i`` is the ``teacher``'s best of seeds ``seed + i*C .. seed + i*C + C - 1``.
    """
    req = GenerateRequest(
        model,
        count,
        seed,
        max_colors,
        label=label,
        steps=steps,
        solver=solver,
        guidance=guidance,
        palette=palette,
        dither=dither,
        alpha_threshold=alpha_threshold,
        despeckle=despeckle,
        outline=outline,
        candidates=candidates,
        teacher=teacher,
        temperature=temperature,
    )
    return _generate(req, registry or default_registry(), progress, cancel, preview)


def encode(model: str | None, images: Sequence[ImageInput], *, registry: Registry | None = None) -> LatentResult:
    """Posterior means float32 ``(N, *latent_shape)`` of images (RGBA arrays, paths or PNG bytes)."""
    return _encode(EncodeRequest(model, tuple(images)), registry or default_registry())


def decode(
    model: str | None,
    latents: np.ndarray,
    *,
    max_colors: int | None = None,
    palette: PaletteSpec | None = None,
    dither: str = "none",
    alpha_threshold: int = 127,
    despeckle: bool = False,
    outline: str | None = None,
    registry: Registry | None = None,
) -> SpriteResult:
    """Sprites from latents float ``(N, *latent_shape)``."""
    req = DecodeRequest(
        model,
        latents,
        max_colors,
        palette=palette,
        dither=dither,
        alpha_threshold=alpha_threshold,
        despeckle=despeckle,
        outline=outline,
    )
    return _decode(req, registry or default_registry())


def variations(
    model: str | None,
    image: ImageInput,
    count: int = 8,
    strength: float = 0.5,
    seed: int | None = None,
    *,
    max_colors: int | None = None,
    label: str | None = None,
    steps: int | None = None,
    solver: str | None = None,
    guidance: float | None = None,
    palette: PaletteSpec | None = None,
    dither: str = "none",
    alpha_threshold: int = 127,
    despeckle: bool = False,
    outline: str | None = None,
    candidates: int = 1,
    teacher: str | None = None,
    keep_class: bool = False,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
    registry: Registry | None = None,
    preview: Previews | PreviewCallback | None = None,
    temperature: float | None = None,
) -> SpriteResult:
    """``count`` variations of ``image``: ``mean + strength * N(0, I)``, variation ``i`` seeded ``seed+i``.

    Diffusion/flow: the image noised to level ``strength`` (0..1) with each seed's noise, then sampled back.
    ``candidates``/``keep_class``: the teacher's best of C noise seeds per variation (of the source's class).
    """
    req = VariationsRequest(
        model,
        image,
        count,
        strength,
        seed,
        max_colors,
        label=label,
        steps=steps,
        solver=solver,
        guidance=guidance,
        palette=palette,
        dither=dither,
        alpha_threshold=alpha_threshold,
        despeckle=despeckle,
        outline=outline,
        candidates=candidates,
        teacher=teacher,
        keep_class=keep_class,
        temperature=temperature,
    )
    return _variations(req, registry or default_registry(), progress, cancel, preview)


def inpaint(
    model: str | None,
    image: ImageInput,
    mask: ImageInput,
    count: int = 8,
    seed: int | None = None,
    *,
    max_colors: int | None = None,
    label: str | None = None,
    steps: int | None = None,
    solver: str | None = None,
    guidance: float | None = None,
    temperature: float | None = None,
    palette: PaletteSpec | None = None,
    dither: str = "none",
    alpha_threshold: int = 127,
    despeckle: bool = False,
    outline: str | None = None,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
    registry: Registry | None = None,
    preview: Previews | PreviewCallback | None = None,
) -> SpriteResult:
    """``count`` repaintings of the ``mask`` pixels of ``image`` (pixel models); every other pixel is kept
    exactly; repainting ``i`` has seed ``seed + i``. See :class:`InpaintRequest` for what a mask may be."""
    req = InpaintRequest(
        model,
        image,
        mask,
        count,
        seed,
        max_colors,
        label=label,
        steps=steps,
        solver=solver,
        guidance=guidance,
        temperature=temperature,
        palette=palette,
        dither=dither,
        alpha_threshold=alpha_threshold,
        despeckle=despeckle,
        outline=outline,
    )
    return _inpaint(req, registry or default_registry(), progress, cancel, preview)


def interpolate(
    model: str | None,
    a: Endpoint,
    b: Endpoint,
    count: int = 8,
    method: str = "slerp",
    *,
    max_colors: int | None = None,
    label: str | None = None,
    steps: int | None = None,
    solver: str | None = None,
    guidance: float | None = None,
    palette: PaletteSpec | None = None,
    dither: str = "none",
    alpha_threshold: int = 127,
    despeckle: bool = False,
    outline: str | None = None,
    candidates: int = 1,
    teacher: str | None = None,
    seed: int | None = None,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
    registry: Registry | None = None,
) -> SpriteResult:
    """``count`` sprites (frames) from ``a`` to ``b`` (seeds or images), endpoints included.

    Diffusion/flow: slerp/lerp of the starting noise (an image's noise by inverting the deterministic sampler),
    sampled deterministically with ``steps`` sampler steps. ``candidates`` (VAE): each inner frame is the
    teacher's best of the plain frame and C - 1 jittered ones (jitter seeds from ``seed``).
    The names are those of :class:`InterpolateRequest` and the wire protocol.
    """
    req = InterpolateRequest(
        model,
        a,
        b,
        count,
        method,
        max_colors,
        label=label,
        steps=steps,
        solver=solver,
        guidance=guidance,
        palette=palette,
        dither=dither,
        alpha_threshold=alpha_threshold,
        despeckle=despeckle,
        outline=outline,
        candidates=candidates,
        teacher=teacher,
        seed=seed,
    )
    return _interpolate(req, registry or default_registry(), progress, cancel)


def grid(
    model: str | None,
    corners: Sequence[Endpoint],
    rows: int = 4,
    cols: int = 4,
    method: str = "slerp",
    *,
    max_colors: int | None = None,
    palette: PaletteSpec | None = None,
    dither: str = "none",
    alpha_threshold: int = 127,
    despeckle: bool = False,
    outline: str | None = None,
    registry: Registry | None = None,
) -> SpriteResult:
    """A ``rows x cols`` grid spanned by four corners (tl, tr, bl, br; seeds or images), row-major."""
    req = GridRequest(
        model,
        tuple(corners),
        rows,
        cols,
        method,
        max_colors,  # type: ignore[arg-type]
        palette=palette,
        dither=dither,
        alpha_threshold=alpha_threshold,
        despeckle=despeckle,
        outline=outline,
    )
    return _grid(req, registry or default_registry())


@dataclass(frozen=True, eq=False)
class _Finishing:
    """The palette and clean-up options of a sprite request, on their own (validated the same way)."""

    palette: PaletteSpec | None = None
    dither: str = "none"
    alpha_threshold: int = 127
    despeckle: bool = False
    outline: str | None = None

    def __post_init__(self) -> None:
        _palette_options(self)
        _cleanup_options(self)


def apply(
    image: ImageInput,
    palette: PaletteSpec | None = None,
    *,
    dither: str = "none",
    alpha_threshold: int = 127,
    despeckle: bool = False,
    outline: str | None = None,
) -> np.ndarray:
    """Clean up one image of any size and map it onto ``palette``, exactly as sprite requests finish their sprites.

    Hard alpha by ``alpha_threshold``, then despeckle -> palette/dither -> outline. Returns uint8 ``(H, W, 4)``.
    """
    opts = _Finishing(palette, dither, alpha_threshold, despeckle, outline)
    _image_input(image, "image")
    return _paletted(_sprite(image, "image", alpha_threshold)[None], opts)[0]


def palette(
    model: str | None = None,
    count: int = 64,
    seed: int | None = None,
    *,
    colors: int = 16,
    method: str = "kmeans",
    sprites: Sequence[ImageInput] | None = None,
    label: str | None = None,
    format: str = "gpl",
    name: str = "proposed",
    registry: Registry | None = None,
) -> PaletteResult:
    """Propose a ``colors``-colour palette from ``count`` samples of ``model`` (seeded), or from ``sprites``.

    Returns the colours (ramp-ordered), a swatch PNG and the palette as a ``format`` file
    (``gpl``, ``hex``, ``pal``, ``act``, ``png`` or ``tres``).
    """
    req = PaletteRequest(
        model, count, seed, colors, method, tuple(sprites) if sprites is not None else None, label, format, name
    )
    return _palette(req, registry or default_registry())


def score(
    images: Sequence[ImageInput],
    *,
    teacher: str | None = None,
    alpha_threshold: int = 127,
    registry: Registry | None = None,
) -> ScoreResult:
    """The teacher's verdict on 16x16 / 40x40 sprites: ``.scores.quality`` ``(N,)`` in [0, 1], ``.embedding``
    ``(N, 64)`` unit norm, ``.label_name``, ``.probability``."""
    return _score(ScoreRequest(tuple(images), teacher, alpha_threshold), registry or default_registry())


def similar(
    reference: ImageInput,
    images: Sequence[ImageInput] | None = None,
    *,
    model: str | None = None,
    count: int = 16,
    seed: int | None = None,
    top: int | None = None,
    teacher: str | None = None,
    alpha_threshold: int = 127,
    registry: Registry | None = None,
) -> SimilarResult:
    """Rank ``images`` (or ``count`` fresh samples of ``model`` from ``seed``) by cosine similarity of their teacher
    embeddings to ``reference``'s, most similar first; ``top`` keeps only the first ``top``."""
    req = SimilarRequest(
        reference, tuple(images) if images is not None else None, model, count, seed, top, teacher, alpha_threshold
    )
    return _similar(req, registry or default_registry())
