"""The request layer: the one entry point every transport (CLI, websocket server, watch folder, Python) calls.

A transport builds a frozen request dataclass (construction checks it without I/O and raises
:class:`~pixelsprite.errors.InvalidRequest` naming the field and the limit, see :mod:`.limits`), then calls
:func:`handle`, or calls the keyword-friendly functions :func:`generate`, :func:`variations`, ... which do both.
Results are frozen dataclasses holding uint8 RGBA sprites ``(N, H, W, 4)`` with hard alpha, per-sprite seeds, the
model name and the elapsed seconds.

Every sprite operation runs one pipeline (:mod:`.pipeline`)::

    resolve the request (model, settings, palette, images, seeds)   .resolve, .finishing.resolve_finishing
      -> model.<op> through one adapter per kind of generator       .generators
      -> finishing: despeckle -> palette / dither -> outline        .finishing
      -> candidates: the teacher's pick of C per sprite             .candidates

Modules, one job each: :mod:`.limits` (constants), :mod:`.checks` (field checks), :mod:`.options` (the option
groups requests compose: sampler, finishing, input, candidates), :mod:`.requests`, :mod:`.results`,
:mod:`.resolve`, :mod:`.generators`, :mod:`.finishing`, :mod:`.candidates`, :mod:`.pipeline` (generate,
:func:`generate_many`, variations, inpaint, interpolate), :mod:`.latent_space` (encode, decode, grid),
:mod:`.teacher_ops` (score, similar), :mod:`.catalog` (models, palette), :mod:`.dispatch` (:func:`handle`) and
:mod:`.functions` (the keyword functions).

Sampler options: None for steps, solver, guidance or temperature means the bundle's measured default
(``sampling.defaults`` in its manifest). A model whose family does not take one (VAE models take none of them;
only pixel models take ``temperature``) refuses it, naming the field. Models that sample in steps accept
``progress(done, total)`` and ``cancel() -> bool`` hooks through :func:`handle` (and the keyword functions);
``cancel`` returning True raises :class:`~pixelsprite.errors.Cancelled`.

Previews: ``generate``, ``variations`` and ``inpaint`` take ``preview=``, a :class:`~pixelsprite.iterative.Previews`
(callback, ``every`` k steps, ``min_interval_s``) or a bare callback ``preview(sprites, done, total)``: models that
sample in steps hand it the current clean estimate of each requested sprite (with ``candidates`` C > 1: candidate
0 of each, seed ``seed + i*C``), decoded with hard alpha only, after sampler steps (never the last one). VAE
models make sprites in one pass and call it never. Previews never change the result.

Palettes: ``palette`` is applied after the model's own clean-up (hard alpha, ``max_colors``) with
:func:`pixelsprite.palettes.enforce`: nearest colour in OKLab, optional Bayer dithering, outlines kept dark; alpha
never changes. Clean-up (:mod:`pixelsprite.cleanup`) runs in the same place, in the order ``despeckle`` ->
``palette``/``dither`` -> ``outline``. Pixel models draw in the palette themselves (palette lock) and take no
``dither``. The ``palette`` operation (:class:`PaletteRequest`, :func:`palette`) proposes a palette from a
model's samples or from given sprites.

Seeds: sprite ``i`` of a seeded request gets seed ``seed + i``; ``seed=None`` draws a base seed from
``os.urandom`` and reports it. Generating with ``seed=s, count=1`` reproduces that sprite byte for byte.

Candidates (:mod:`pixelsprite.teacher`): with ``candidates=C`` sprite ``i`` is the teacher's anchored pick
(:mod:`.candidates`: the best quality that stays of the first draw's kind, scored after every clean-up and palette
step, as the user gets it) of the C sprites with seeds ``seed + i*C + j``, ``j = 0 .. C-1`` (generate: prior seeds;
variations: noise seeds), and ``seeds`` reports the winner's seed, so ``count=1, candidates=1, seed=<reported
seed>`` reproduces it byte for byte (and the same request reproduces the whole result). ``C = 1`` is the plain
request. Interpolate (VAE models): each inner frame ``i`` (endpoints are the user's) has candidate 0 = the plain
interpolated latent and candidates ``j >= 1`` = that latent plus ``CANDIDATE_JITTER * N(0, I)`` drawn from
``default_rng(seed + i*C + j)``; ``seeds`` reports the jitter seed of frames whose winner was jittered, else None.
Results carry ``scores`` (the teacher's verdict on every returned sprite) and ``candidate_quality`` ``(N, C)``.
``keep_class`` (variations) picks among the candidates whose teacher class equals the source's; when no candidate
keeps it, the best overall, flagged in ``kept_class``.
"""

from __future__ import annotations

from ..iterative import PreviewCallback, Previews
from ..palettes import DITHERS, FORMATS
from ..palettes import METHODS as PALETTE_METHODS
from .dispatch import handle
from .functions import (
    apply,
    decode,
    encode,
    generate,
    generate_many,
    grid,
    inpaint,
    interpolate,
    models,
    palette,
    score,
    similar,
    variations,
)
from .limits import (
    CANDIDATE_JITTER,
    MAX_CANDIDATES,
    MAX_COLORS,
    MAX_COUNT,
    MAX_FRAMES,
    MAX_GRID,
    MAX_SAMPLE_STEPS,
    MAX_SEED,
    MAX_STRENGTH,
    METHODS,
    MIN_FRAMES,
    MIN_GRID,
)
from .options import CandidateOptions, FinishingOptions, InputOptions, SamplerOptions
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
    Request,
    ScoreRequest,
    SimilarRequest,
    VariationsRequest,
)
from .resolve import default_registry, random_seed
from .results import (
    LatentResult,
    ModelInfo,
    ModelsResult,
    PaletteResult,
    Result,
    ScoreResult,
    SimilarResult,
    Sprite,
    SpriteResult,
)

__all__ = [
    "MAX_COUNT", "MIN_FRAMES", "MAX_FRAMES", "MIN_GRID", "MAX_GRID", "MAX_STRENGTH", "MAX_SEED", "MAX_COLORS",
    "METHODS", "MAX_SAMPLE_STEPS", "ImageInput", "Endpoint",
    "SamplerOptions", "FinishingOptions", "InputOptions", "CandidateOptions",
    "ModelsRequest", "GenerateRequest", "EncodeRequest", "DecodeRequest", "VariationsRequest",
    "InterpolateRequest", "InpaintRequest", "GridRequest", "PaletteRequest", "ScoreRequest", "SimilarRequest",
    "Request", "DITHERS",
    "PALETTE_METHODS", "FORMATS", "MAX_CANDIDATES", "CANDIDATE_JITTER",
    "Sprite", "SpriteResult", "SimilarResult", "LatentResult", "ModelInfo", "ModelsResult", "PaletteResult",
    "ScoreResult", "Result",
    "handle", "models", "generate", "generate_many", "encode", "decode", "variations", "interpolate", "inpaint",
    "grid", "palette", "apply", "score", "similar",
    "default_registry", "random_seed", "Previews", "PreviewCallback",
]  # fmt: skip
