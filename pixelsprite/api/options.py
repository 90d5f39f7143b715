"""Option groups shared by the sprite requests, each declared and checked once.

A request type composes the groups it takes (as keyword-only dataclass bases, so a request still reads flat:
``GenerateRequest("vae16", 8, 3, palette="db16", candidates=4)`` and ``req.palette``). The pipeline reads a group
as one value: :mod:`.finishing` takes any :class:`FinishingOptions`, :mod:`.generators` a :class:`SamplerOptions`.

* :class:`SamplerOptions`: ``label``, ``steps``, ``solver``, ``guidance``, ``temperature`` (None: the bundle's
  measured default); a model whose family does not honour one refuses it, naming the field.
* :class:`FinishingOptions`: ``palette``, ``dither``, ``despeckle``, ``outline``: applied after the model's own
  decoding policy (see :mod:`.finishing`).
* :class:`InputOptions`: ``alpha_threshold`` for requests that read images.
* :class:`CandidateOptions`: ``candidates``, ``teacher`` (see :mod:`.candidates`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

from ..cleanup import parse_outline
from ..errors import InvalidRequest
from ..palettes import DITHERS, PaletteSpec
from . import checks
from .limits import MAX_CANDIDATES, MAX_GUIDANCE, MAX_SAMPLE_STEPS, MAX_TEMPERATURE

__all__ = [
    "SamplerOptions", "FinishingOptions", "InputOptions", "CandidateOptions", "SAMPLER_FIELDS",
    "SamplerKwargs", "FinishingKwargs", "InputKwargs", "CandidateKwargs",
]  # fmt: skip

SAMPLER_FIELDS = ("label", "steps", "solver", "guidance", "temperature")
"""The fields of :class:`SamplerOptions`, in the order they are checked against a model."""


@dataclass(frozen=True, kw_only=True)
class SamplerOptions:
    """How a model with a sampler draws: class ``label`` (None: unconditional), sampler ``steps`` (1..1000 and
    the model's max), ``solver`` (one of the model's), classifier-free ``guidance`` (0..20) and, for pixel models,
    the draw ``temperature`` in (0, 2]. None: the bundle's default (``sampling.defaults`` of its manifest)."""

    label: str | None = None
    steps: int | None = None
    solver: str | None = None
    guidance: float | None = None
    temperature: float | None = None

    def _check_sampler(self) -> None:
        """Model-independent checks; the model checks the rest (its labels, solvers, max steps) when it runs."""
        checks.name(self.label, "label")
        if self.steps is not None:
            checks.integer(self.steps, "steps", 1, MAX_SAMPLE_STEPS)
        checks.name(self.solver, "solver")
        if self.guidance is not None:
            checks.number(self.guidance, "guidance", 0.0, MAX_GUIDANCE)
        if self.temperature is not None:
            checks.number(self.temperature, "temperature", 0.0, MAX_TEMPERATURE)
            if float(self.temperature) <= 0:
                raise InvalidRequest(
                    f"temperature must be above 0 and at most {MAX_TEMPERATURE:g}, got {self.temperature}",
                    field="temperature",
                )

    def given(self) -> dict[str, Any]:
        """The sampler options set (not None), by name."""
        return {k: getattr(self, k) for k in SAMPLER_FIELDS if getattr(self, k) is not None}


@dataclass(frozen=True, kw_only=True)
class FinishingOptions:
    """What happens to the model's sprites before the user gets them, in this order: ``despeckle`` (lone pixels
    take their most common neighbour colour) -> ``palette`` (a built-in name, colour list, palette file or
    :class:`~pixelsprite.palettes.Palette`) with ``dither`` (``"none"``, ``"bayer2"``, ``"bayer4"``; needs a
    palette) -> ``outline`` (``"#rrggbb"``, ``"darkest"`` or None). Alpha never changes."""

    palette: PaletteSpec | None = None
    dither: str = "none"
    despeckle: bool = False
    outline: str | None = None

    def _check_finishing(self) -> None:
        """Check the options without reading a palette file (that happens when the request is resolved)."""
        checks.palette_spec(self.palette)
        if self.dither not in DITHERS:
            raise InvalidRequest(f"dither must be one of {', '.join(DITHERS)}, got {self.dither!r}", field="dither")
        if self.dither != "none" and self.palette is None:
            raise InvalidRequest(f"dither {self.dither!r} needs a palette to dither between", field="dither")
        checks.flag(self.despeckle, "despeckle")
        try:
            parse_outline(self.outline)
        except ValueError as e:
            raise InvalidRequest(str(e), field="outline") from None


@dataclass(frozen=True, kw_only=True)
class InputOptions:
    """How input images are read: opaque where alpha > ``alpha_threshold`` (0..255)."""

    alpha_threshold: int = 127

    def _check_input(self) -> None:
        checks.integer(self.alpha_threshold, "alpha_threshold", 0, 255)


@dataclass(frozen=True, kw_only=True)
class CandidateOptions:
    """Best-of-C: each sprite is the ``teacher``'s best (default ``teacher``) of ``candidates`` (1..16) made
    with consecutive seeds; 1 is the plain request."""

    candidates: int = 1
    teacher: str | None = None

    def _check_candidates(self, seed: int | None, count: int) -> None:
        """Check ``candidates`` and ``teacher``, and that the seeds of every candidate (``count * C``) fit."""
        checks.integer(self.candidates, "candidates", 1, MAX_CANDIDATES)
        checks.name(self.teacher, "teacher")
        checks.seed(seed, count * self.candidates)


# The groups as keyword arguments of the keyword functions (:mod:`.functions`), for type checkers and editors; the
# dataclasses above check the values.
class SamplerKwargs(TypedDict, total=False):
    """:class:`SamplerOptions` as keyword arguments."""

    label: str | None
    steps: int | None
    solver: str | None
    guidance: float | None
    temperature: float | None


class FinishingKwargs(TypedDict, total=False):
    """:class:`FinishingOptions` as keyword arguments."""

    palette: PaletteSpec | None
    dither: str
    despeckle: bool
    outline: str | None


class InputKwargs(TypedDict, total=False):
    """:class:`InputOptions` as keyword arguments."""

    alpha_threshold: int


class CandidateKwargs(TypedDict, total=False):
    """:class:`CandidateOptions` as keyword arguments."""

    candidates: int
    teacher: str | None
