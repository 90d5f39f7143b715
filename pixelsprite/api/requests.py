"""The request types: frozen dataclasses, one per operation, checked when they are built.

Construction checks every field it can without I/O and raises :class:`~pixelsprite.errors.InvalidRequest` (or
:class:`~pixelsprite.errors.ImageError`) naming the field and its limit (:mod:`.limits`). It never reads a file
and never rewrites a field: image paths and palette files are read, and latents converted to float32, when the
request runs (:mod:`.resolve`). Sprite requests compose the option groups of :mod:`.options`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InvalidRequest
from ..palettes import FORMATS, MAX_PALETTE_COLORS
from ..palettes import METHODS as PALETTE_METHODS
from . import checks
from .limits import MAX_CANDIDATES, MAX_COLORS, MAX_COUNT, MAX_FRAMES, MAX_GRID, MAX_STRENGTH, MIN_FRAMES, MIN_GRID
from .options import CandidateOptions, FinishingOptions, InputOptions, SamplerOptions

__all__ = [
    "ImageInput", "Endpoint", "ModelsRequest", "GenerateRequest", "EncodeRequest", "DecodeRequest",
    "VariationsRequest", "InterpolateRequest", "InpaintRequest", "GridRequest", "PaletteRequest", "ScoreRequest",
    "SimilarRequest", "Request",
]  # fmt: skip

ImageInput = np.ndarray | str | os.PathLike | bytes
"""An image: uint8 ``(H, W, 4)`` array, a file path, or encoded file bytes (PNG, ...)."""
Endpoint = int | np.ndarray | str | os.PathLike | bytes
"""An interpolation endpoint or grid corner: an int seed, or an :data:`ImageInput` (encoded to its mean)."""


def _max_colors(value: object) -> None:
    if value is not None:
        checks.integer(value, "max_colors", 0, MAX_COLORS)


@dataclass(frozen=True)
class ModelsRequest:
    """List the registered bundles."""


@dataclass(frozen=True)
class GenerateRequest(SamplerOptions, FinishingOptions, CandidateOptions):
    """``count`` (1..1024) new sprites from the prior; sprite ``i`` uses seed ``seed + i`` (with candidates C:
    seeds ``seed + i*C .. seed + i*C + C - 1``). ``max_colors``: the model's colour cap (None: the manifest's)."""

    model: str | None = None
    count: int = 16
    seed: int | None = None
    max_colors: int | None = None

    def __post_init__(self) -> None:
        checks.model(self.model)
        checks.integer(self.count, "count", 1, MAX_COUNT)
        checks.seed(self.seed, self.count)
        _max_colors(self.max_colors)
        self._check_sampler()
        self._check_finishing()
        self._check_candidates(self.seed, self.count)


@dataclass(frozen=True, eq=False)
class EncodeRequest:
    """Encode 1..1024 images (model-sized) to their posterior means."""

    model: str | None
    images: Sequence[ImageInput]

    def __post_init__(self) -> None:
        checks.model(self.model)
        checks.images(self.images, "images", "the number of images")


@dataclass(frozen=True, eq=False)
class DecodeRequest(FinishingOptions):
    """Decode latents, numbers ``(N, *latent_shape)`` with 1 <= N <= 1024 (finite), to sprites."""

    model: str | None
    latents: np.ndarray
    max_colors: int | None = None

    def __post_init__(self) -> None:
        checks.model(self.model)
        z = np.asarray(self.latents)
        if z.ndim < 2 or not np.issubdtype(z.dtype, np.number):
            raise InvalidRequest(
                f"latents must be a numeric (N, *latent_shape) array, got {z.dtype} {z.shape}",
                field="latents",
            )
        checks.integer(z.shape[0], "latents", 1, MAX_COUNT, "the number of latents")
        if not np.isfinite(z).all():
            raise InvalidRequest("latents must be finite (no NaN or inf)", field="latents")
        _max_colors(self.max_colors)
        self._check_finishing()


@dataclass(frozen=True, eq=False)
class VariationsRequest(SamplerOptions, FinishingOptions, InputOptions, CandidateOptions):
    """``count`` variations of one image, each from its own noise seed: VAE: latent mean + ``strength`` (0..2)
    * N(0, I); diffusion/flow: the image noised to level ``strength`` (0..1) and sampled back; pixel: a share
    ``strength`` (0..1) of the pixels re-drawn. ``keep_class`` picks, among candidates, one of the source's class."""

    model: str | None
    image: ImageInput
    count: int = 8
    strength: float = 0.5
    seed: int | None = None
    max_colors: int | None = None
    keep_class: bool = False

    def __post_init__(self) -> None:
        checks.model(self.model)
        checks.image_input(self.image, "image")
        checks.integer(self.count, "count", 1, MAX_COUNT)
        checks.number(self.strength, "strength", 0.0, MAX_STRENGTH)
        checks.seed(self.seed, self.count)
        _max_colors(self.max_colors)
        self._check_sampler()
        self._check_finishing()
        self._check_input()
        self._check_candidates(self.seed, self.count)
        checks.flag(self.keep_class, "keep_class")
        if self.keep_class and self.candidates < 2:
            raise InvalidRequest(
                "keep_class picks among candidates: it needs candidates between 2 and "
                f"{MAX_CANDIDATES}, got {self.candidates}",
                field="keep_class",
            )


@dataclass(frozen=True, eq=False)
class InpaintRequest(SamplerOptions, FinishingOptions, InputOptions):
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

    def __post_init__(self) -> None:
        checks.model(self.model)
        checks.image_input(self.image, "image")
        if not (isinstance(self.mask, np.ndarray) and self.mask.ndim == 2):
            checks.image_input(self.mask, "mask")
        checks.integer(self.count, "count", 1, MAX_COUNT)
        checks.seed(self.seed, self.count)
        _max_colors(self.max_colors)
        self._check_sampler()
        self._check_finishing()
        self._check_input()


@dataclass(frozen=True, eq=False)
class InterpolateRequest(SamplerOptions, FinishingOptions, InputOptions, CandidateOptions):
    """``count`` (2..64) sprites (frames) from endpoint ``a`` to ``b`` (each a seed or an image), endpoints
    included; ``steps`` are sampler steps (diffusion/flow), as in the wire protocol and :func:`interpolate`.
    ``seed``: the jitter seeds of VAE candidates."""

    model: str | None
    a: Endpoint
    b: Endpoint
    count: int = 8
    method: str = "slerp"
    max_colors: int | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        checks.model(self.model)
        checks.endpoint(self.a, "a")
        checks.endpoint(self.b, "b")
        checks.integer(self.count, "count", MIN_FRAMES, MAX_FRAMES)
        checks.method(self.method)
        _max_colors(self.max_colors)
        self._check_sampler()
        self._check_finishing()
        self._check_input()
        self._check_candidates(self.seed, self.count)


@dataclass(frozen=True, eq=False)
class GridRequest(FinishingOptions, InputOptions):
    """A ``rows x cols`` (2..16 each) grid spanned by four corners (top-left, top-right, bottom-left,
    bottom-right; seeds or images), row-major."""

    model: str | None
    corners: Sequence[Endpoint]
    rows: int = 4
    cols: int = 4
    method: str = "slerp"
    max_colors: int | None = None

    def __post_init__(self) -> None:
        checks.model(self.model)
        if not isinstance(self.corners, (tuple, list)) or len(self.corners) != 4:
            raise InvalidRequest(
                "corners must be a list of exactly 4 seeds or images (tl, tr, bl, br)", field="corners"
            )
        for i, c in enumerate(self.corners):
            checks.endpoint(c, f"corners[{i}]")
        checks.integer(self.rows, "rows", MIN_GRID, MAX_GRID)
        checks.integer(self.cols, "cols", MIN_GRID, MAX_GRID)
        checks.method(self.method)
        _max_colors(self.max_colors)
        self._check_finishing()
        self._check_input()


@dataclass(frozen=True, eq=False)
class PaletteRequest:
    """Propose a ``colors``-colour palette from ``count`` samples of a model, or from given ``sprites``.

    With ``sprites`` (images of any size: paths, PNG bytes or RGBA arrays) the model is not used and ``model``,
    ``seed`` and ``label`` must be left unset. ``method``: ``"kmeans"`` or ``"median_cut"``; ``format``: the palette
    file format returned next to the colours and the swatch PNG (case and a leading dot do not matter).
    """

    model: str | None = None
    count: int = 64
    seed: int | None = None
    colors: int = 16
    method: str = "kmeans"
    sprites: Sequence[ImageInput] | None = None
    label: str | None = None
    format: str = "gpl"
    name: str = "proposed"

    @property
    def file_format(self) -> str:
        """``format`` as a key of :data:`~pixelsprite.palettes.FORMATS` (lower case, no dot)."""
        return self.format.lower().lstrip(".")

    def __post_init__(self) -> None:
        checks.model(self.model)
        checks.integer(self.count, "count", 1, MAX_COUNT)
        checks.seed(self.seed, self.count)
        checks.integer(self.colors, "colors", 1, MAX_PALETTE_COLORS)
        if self.method not in PALETTE_METHODS:
            raise InvalidRequest(
                f"method must be one of {', '.join(PALETTE_METHODS)}, got {self.method!r}", field="method"
            )
        if not isinstance(self.format, str) or self.file_format not in FORMATS:
            raise InvalidRequest(f"format must be one of {', '.join(FORMATS)}, got {self.format!r}", field="format")
        if not isinstance(self.name, str) or not self.name.strip() or len(self.name) > 64:
            raise InvalidRequest(
                f"name must be a non-empty string of at most 64 characters, got {self.name!r}", field="name"
            )
        checks.name(self.label, "label")
        if self.sprites is not None:
            checks.images(self.sprites, "sprites", "the number of sprites")
            for field, value in (("model", self.model), ("seed", self.seed), ("label", self.label)):
                if value is not None:
                    raise InvalidRequest(f"give sprites or a model to sample, not both ({field} is set)", field=field)


@dataclass(frozen=True, eq=False)
class ScoreRequest:
    """Score sprites with a teacher: quality in [0, 1], a unit embedding, a class with its probability.

    ``images``: 1..1024 images (paths, PNG bytes or RGBA arrays), each 16x16 or 40x40 (the teacher's sizes; sizes
    may be mixed). Alpha is hardened at ``alpha_threshold`` first, like every request's inputs.
    """

    images: Sequence[ImageInput]
    teacher: str | None = None
    alpha_threshold: int = 127

    def __post_init__(self) -> None:
        checks.images(self.images, "images")
        checks.name(self.teacher, "teacher")
        checks.integer(self.alpha_threshold, "alpha_threshold", 0, 255)


@dataclass(frozen=True, eq=False)
class SimilarRequest:
    """Rank sprites by the cosine similarity of their teacher embeddings to a ``reference`` sprite's.

    Either given ``images`` (then ``model`` and ``seed`` stay unset), or ``count`` fresh samples of generator
    ``model`` from ``seed`` (sprite ``i`` seed ``seed + i``, as ``generate``). The reference and the sprites must
    have one size. ``top``: return only the ``top`` most similar (default: all, ranked).
    """

    reference: ImageInput
    images: Sequence[ImageInput] | None = None
    model: str | None = None
    count: int = 16
    seed: int | None = None
    top: int | None = None
    teacher: str | None = None
    alpha_threshold: int = 127

    def __post_init__(self) -> None:
        checks.image_input(self.reference, "reference")
        checks.model(self.model)
        checks.integer(self.count, "count", 1, MAX_COUNT)
        checks.seed(self.seed, self.count)
        if self.images is not None:
            checks.images(self.images, "images")
            for field, value in (("model", self.model), ("seed", self.seed)):
                if value is not None:
                    raise InvalidRequest(f"give images or a model to sample, not both ({field} is set)", field=field)
        if self.top is not None:
            checks.integer(self.top, "top", 1, MAX_COUNT)
        checks.name(self.teacher, "teacher")
        checks.integer(self.alpha_threshold, "alpha_threshold", 0, 255)


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
