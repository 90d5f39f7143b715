"""Keyword-friendly functions: build the request (checked on construction) and run it, in one call.

Each takes its request type's positional fields, its options as keyword arguments (``**options``, typed by a
``TypedDict`` composed of the option groups of :mod:`.options`: the names and defaults are the request's), plus
``registry`` (default: the process-wide one) and, for the operations that sample in steps, ``progress``,
``cancel`` and ``preview`` hooks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..iterative import CancelCheck, PreviewCallback, Previews, Progress
from ..palettes import PaletteSpec
from ..registry import Registry
from . import catalog, latent_space, pipeline, resolve, teacher_ops
from .checks import image_input
from .finishing import finish, resolve_finishing
from .generators import Hooks
from .options import CandidateKwargs, FinishingKwargs, FinishingOptions, InputKwargs, InputOptions, SamplerKwargs
from .requests import (
    DecodeRequest,
    EncodeRequest,
    Endpoint,
    GenerateRequest,
    GridRequest,
    ImageInput,
    InpaintRequest,
    InterpolateRequest,
    ModelsRequest,
    PaletteRequest,
    ScoreRequest,
    SimilarRequest,
    VariationsRequest,
)
from .results import LatentResult, ModelsResult, PaletteResult, ScoreResult, SimilarResult, SpriteResult

if TYPE_CHECKING:  # typing.Unpack is Python 3.11+; annotations are not evaluated at run time
    from typing_extensions import Unpack

__all__ = [
    "models", "generate", "generate_many", "encode", "decode", "variations", "inpaint", "interpolate", "grid",
    "apply", "palette", "score", "similar", "GenerateOptions", "DecodeOptions", "VariationsOptions",
    "InpaintOptions", "InterpolateOptions", "GridOptions",
]  # fmt: skip


def _registry(registry: Registry | None) -> Registry:
    return registry or resolve.default_registry()


def models(*, registry: Registry | None = None) -> ModelsResult:
    """List bundles: name, family, size, labels, ..."""
    return catalog.models(ModelsRequest(), _registry(registry))


class GenerateOptions(SamplerKwargs, FinishingKwargs, CandidateKwargs, total=False):
    """The keyword options of :func:`generate`: :class:`GenerateRequest`'s."""

    max_colors: int | None


class DecodeOptions(FinishingKwargs, total=False):
    """The keyword options of :func:`decode`: :class:`DecodeRequest`'s."""

    max_colors: int | None


class VariationsOptions(SamplerKwargs, FinishingKwargs, InputKwargs, CandidateKwargs, total=False):
    """The keyword options of :func:`variations`: :class:`VariationsRequest`'s."""

    max_colors: int | None
    keep_class: bool


class InpaintOptions(SamplerKwargs, FinishingKwargs, InputKwargs, total=False):
    """The keyword options of :func:`inpaint`: :class:`InpaintRequest`'s."""

    max_colors: int | None


class InterpolateOptions(SamplerKwargs, FinishingKwargs, InputKwargs, CandidateKwargs, total=False):
    """The keyword options of :func:`interpolate`: :class:`InterpolateRequest`'s."""

    max_colors: int | None
    seed: int | None


class GridOptions(FinishingKwargs, InputKwargs, total=False):
    """The keyword options of :func:`grid`: :class:`GridRequest`'s."""

    max_colors: int | None


def generate(
    model: str | None = None,
    count: int = 16,
    seed: int | None = None,
    *,
    registry: Registry | None = None,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
    preview: Previews | PreviewCallback | None = None,
    **options: Unpack[GenerateOptions],
) -> SpriteResult:
    """``count`` sprites sampled from the prior; sprite ``i`` has seed ``seed + i``.

    ``options``: ``max_colors``; the sampler options ``label``, ``steps``, ``solver``, ``guidance``,
    ``temperature``; the finishing options ``palette``, ``dither``, ``despeckle``, ``outline``; ``candidates`` and
    ``teacher`` (sprite ``i`` is the teacher's anchored pick, :mod:`.candidates`, of seeds
    ``seed + i*C .. seed + i*C + C - 1``).
    ``progress``, ``cancel`` and ``preview`` (the clean estimate during sampling): models that sample in steps.
    """
    req = GenerateRequest(model, count, seed, **options)
    return pipeline.generate(req, _registry(registry), Hooks(progress, cancel, preview))


def generate_many(
    requests: Sequence[GenerateRequest],
    *,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
    registry: Registry | None = None,
) -> list[SpriteResult]:
    """Several generate requests for one model in one model call (micro-batching); result ``i`` equals
    ``generate`` of request ``i`` byte for byte. The requests must agree on ``model``, ``max_colors`` and the
    sampler options (and, for pixel models, the palette); see :func:`pixelsprite.api.pipeline.generate_many`."""
    return pipeline.generate_many(requests, _registry(registry), Hooks(progress, cancel))


def encode(model: str | None, images: Sequence[ImageInput], *, registry: Registry | None = None) -> LatentResult:
    """Posterior means float32 ``(N, *latent_shape)`` of images (RGBA arrays, paths or PNG bytes)."""
    return latent_space.encode(EncodeRequest(model, tuple(images)), _registry(registry))


def decode(
    model: str | None, latents: np.ndarray, *, registry: Registry | None = None, **options: Unpack[DecodeOptions]
) -> SpriteResult:
    """Sprites from latents float ``(N, *latent_shape)``; ``options``: ``max_colors`` and the finishing options."""
    return latent_space.decode(DecodeRequest(model, latents, **options), _registry(registry))


def variations(
    model: str | None,
    image: ImageInput,
    count: int = 8,
    strength: float = 0.5,
    seed: int | None = None,
    *,
    registry: Registry | None = None,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
    preview: Previews | PreviewCallback | None = None,
    **options: Unpack[VariationsOptions],
) -> SpriteResult:
    """``count`` variations of ``image``: ``mean + strength * N(0, I)``, variation ``i`` seeded ``seed+i``.

    Diffusion/flow: the image noised to level ``strength`` (0..1) with each seed's noise, then sampled back; pixel:
    a share ``strength`` of the pixels re-drawn. ``options``: those of :func:`generate`, ``alpha_threshold`` and
    ``keep_class`` (the teacher's pick of C noise seeds per variation, of the source's class).
    """
    req = VariationsRequest(model, image, count, strength, seed, **options)
    return pipeline.variations(req, _registry(registry), Hooks(progress, cancel, preview))


def inpaint(
    model: str | None,
    image: ImageInput,
    mask: ImageInput,
    count: int = 8,
    seed: int | None = None,
    *,
    registry: Registry | None = None,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
    preview: Previews | PreviewCallback | None = None,
    **options: Unpack[InpaintOptions],
) -> SpriteResult:
    """``count`` repaintings of the ``mask`` pixels of ``image`` (pixel models); every other pixel is kept
    exactly; repainting ``i`` has seed ``seed + i``. See :class:`InpaintRequest` for what a mask may be.
    ``options``: ``max_colors``, the sampler and finishing options, ``alpha_threshold``."""
    req = InpaintRequest(model, image, mask, count, seed, **options)
    return pipeline.inpaint(req, _registry(registry), Hooks(progress, cancel, preview))


def interpolate(
    model: str | None,
    a: Endpoint,
    b: Endpoint,
    count: int = 8,
    method: str = "slerp",
    *,
    registry: Registry | None = None,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
    **options: Unpack[InterpolateOptions],
) -> SpriteResult:
    """``count`` sprites (frames) from ``a`` to ``b`` (seeds or images), endpoints included.

    Diffusion/flow: slerp/lerp of the starting noise (an image's noise by inverting the deterministic sampler),
    sampled deterministically with ``steps`` sampler steps. ``candidates`` (VAE): each inner frame is the
    teacher's pick of the plain frame and C - 1 jittered ones (jitter seeds from ``seed``).
    The names are those of :class:`InterpolateRequest` and the wire protocol.
    """
    req = InterpolateRequest(model, a, b, count, method, **options)
    return pipeline.interpolate(req, _registry(registry), Hooks(progress, cancel))


def grid(
    model: str | None,
    corners: Sequence[Endpoint],
    rows: int = 4,
    cols: int = 4,
    method: str = "slerp",
    *,
    registry: Registry | None = None,
    **options: Unpack[GridOptions],
) -> SpriteResult:
    """A ``rows x cols`` grid spanned by four corners (tl, tr, bl, br; seeds or images), row-major.
    ``options``: ``max_colors``, the finishing options, ``alpha_threshold``."""
    req = GridRequest(model, tuple(corners), rows, cols, method, **options)
    return latent_space.grid(req, _registry(registry))


@dataclass(frozen=True, eq=False)
class _Apply(FinishingOptions, InputOptions):
    """The finishing options of :func:`apply` and how its image is read, checked like a sprite request's."""

    def __post_init__(self) -> None:
        self._check_finishing()
        self._check_input()


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
    opts = _Apply(palette=palette, dither=dither, alpha_threshold=alpha_threshold, despeckle=despeckle, outline=outline)
    image_input(image, "image")
    return finish(resolve.sprite(image, "image", alpha_threshold)[None], resolve_finishing(opts))[0]


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
    return catalog.palette(req, _registry(registry))


def score(
    images: Sequence[ImageInput],
    *,
    teacher: str | None = None,
    alpha_threshold: int = 127,
    registry: Registry | None = None,
) -> ScoreResult:
    """The teacher's verdict on 16x16 / 40x40 sprites: ``.scores.quality`` ``(N,)`` in [0, 1], ``.embedding``
    ``(N, 64)`` unit norm, ``.label_name``, ``.probability``."""
    return teacher_ops.score(ScoreRequest(tuple(images), teacher, alpha_threshold), _registry(registry))


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
    return teacher_ops.similar(req, _registry(registry))
