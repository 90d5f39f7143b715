"""The sprite operations as one pipeline: resolve the request -> ``model.<op>`` -> finishing -> candidates.

=============  ==============================================================================================
stage          where
=============  ==============================================================================================
resolve        :mod:`.resolve`: the model (by name and operation), its settings from the sampler options, the
               palette (files read here), input images, masks and endpoints, the seeds
model.<op>     :mod:`.generators`: one adapter per kind of generator, so every family is called the same way
finishing      :mod:`.finishing`: despeckle -> palette / dither -> outline, once for every operation
candidates     :mod:`.candidates`: the teacher's anchored pick of C per requested sprite (C = 1: the sprites as made)
=============  ==============================================================================================

Seeds: sprite ``i`` of a seeded request gets seed ``seed + i`` (with C candidates: ``seed + i*C + j``);
``seed=None`` draws a base seed from ``os.urandom`` and reports it. :func:`generate_many` serves several
generate requests for one model in one model call; each result equals its request's own.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from ..registry import Registry
from . import resolve
from .candidates import best
from .finishing import finish, resolve_finishing
from .generators import NO_HOOKS, Draw, Hooks, generator
from .options import SAMPLER_FIELDS
from .requests import GenerateRequest, InpaintRequest, InterpolateRequest, VariationsRequest
from .results import SpriteResult

__all__ = ["generate", "generate_many", "variations", "inpaint", "interpolate"]


def generate(req: GenerateRequest, registry: Registry, hooks: Hooks = NO_HOOKS) -> SpriteResult:
    """``req.count`` sprites from the prior (see :class:`~.requests.GenerateRequest`)."""
    return generate_many([req], registry, hooks)[0]


def _call_options(req: GenerateRequest, palette: np.ndarray | None) -> dict[str, object]:
    """What one model call depends on besides the seeds."""
    key: dict[str, object] = {"max_colors": req.max_colors, **{k: getattr(req, k) for k in SAMPLER_FIELDS}}
    key["palette"] = None if palette is None else palette.tobytes()
    return key


def generate_many(reqs: Sequence[GenerateRequest], registry: Registry, hooks: Hooks = NO_HOOKS) -> list[SpriteResult]:
    """Several generate requests for one model in one model call over their concatenated seeds (micro-batching).

    The requests must name one model and agree on what the model call depends on: ``max_colors``, the sampler
    options and, for a model whose sampler draws in the palette, the palette. Finishing, candidates and seeds
    stay per request, so result ``i`` equals ``generate(reqs[i])`` byte for byte (a request without a seed draws
    one here). ``hooks`` (progress, cancel) cover the one call; previews show every row.

    Raises:
        ValueError: the requests do not share a model or a model-call option (a caller's mistake, not the user's).
        PixelspriteError: as :func:`generate`, for the first request that fails.
    """
    if not reqs:
        return []
    t0 = time.perf_counter()
    names = {resolve.model_name(registry, r.model, "generate") for r in reqs}
    if len(names) > 1:
        raise ValueError(f"generate_many needs requests for one model, got {', '.join(sorted(names))}")
    gen = generator(resolve.model(registry, reqs[0].model, "generate"))
    settings = gen.settings(reqs[0])
    finishing = [resolve_finishing(r, draws_in_palette=gen.draws_in_palette) for r in reqs]
    locked = finishing[0].locked_colours if gen.draws_in_palette else None
    want = _call_options(reqs[0], locked)
    for r, f in zip(reqs[1:], finishing[1:], strict=True):
        got = _call_options(r, f.locked_colours if gen.draws_in_palette else None)
        for k, v in want.items():
            if got[k] != v:
                raise ValueError(f"generate_many needs requests with one {k}, got {v!r} and {got[k]!r}")
    ranges = [resolve.seeds(r.seed, r.count * r.candidates) for r in reqs]
    seeds = [s for _, rng in ranges for s in rng]
    rows = hooks if len(reqs) > 1 else hooks.for_candidates(reqs[0].count, reqs[0].candidates)
    raw = gen.generate(Draw(seeds, settings, reqs[0].max_colors, locked, rows))
    out, start = [], 0
    for r, f, (base, rng) in zip(reqs, finishing, ranges, strict=True):
        part = finish(raw[start : start + len(rng)], f)
        start += len(rng)
        out.append(best("generate", gen.name, r.teacher, registry, part, rng, r.candidates, base, t0))
    return out


def variations(req: VariationsRequest, registry: Registry, hooks: Hooks = NO_HOOKS) -> SpriteResult:
    """``req.count`` variations of ``req.image`` (see :class:`~.requests.VariationsRequest`)."""
    t0 = time.perf_counter()
    gen = generator(resolve.model(registry, req.model, "variations"))
    settings = gen.settings(req)
    gen.check_strength(req.strength)
    finishing = resolve_finishing(req, draws_in_palette=gen.draws_in_palette)
    image = resolve.source(gen.model, req.image, "image", req.alpha_threshold)
    c = req.candidates
    base, seeds = resolve.seeds(req.seed, req.count * c)
    draw = Draw(seeds, settings, req.max_colors, finishing.locked_colours, hooks.for_candidates(req.count, c))
    raw = gen.variations(draw, image, req.strength)
    sprites = raw if gen.keeps_source(req.strength) else finish(raw, finishing)
    keep = image if req.keep_class else None
    return best("variations", gen.name, req.teacher, registry, sprites, seeds, c, base, t0, keep=keep)


def inpaint(req: InpaintRequest, registry: Registry, hooks: Hooks = NO_HOOKS) -> SpriteResult:
    """``req.count`` repaintings of the ``req.mask`` pixels of ``req.image``; every other pixel is kept exactly
    (finishing never touches them either)."""
    t0 = time.perf_counter()
    gen = generator(resolve.model(registry, req.model, "inpaint"))
    settings = gen.settings(req)
    finishing = resolve_finishing(req, draws_in_palette=gen.draws_in_palette)
    image = resolve.image(gen.model, req.image, "image", req.alpha_threshold)
    mask = resolve.mask(gen.model, req.mask, image)
    base, seeds = resolve.seeds(req.seed, req.count)
    draw = Draw(seeds, settings, req.max_colors, finishing.locked_colours, hooks.for_candidates(req.count, 1))
    raw = gen.inpaint(draw, image, mask)
    sprites = finish(raw, finishing) if mask.any() else raw
    sprites[:, ~mask] = image[~mask]
    return SpriteResult("inpaint", gen.name, sprites, seeds, base, time.perf_counter() - t0)


def interpolate(req: InterpolateRequest, registry: Registry, hooks: Hooks = NO_HOOKS) -> SpriteResult:
    """``req.count`` frames from ``req.a`` to ``req.b``, endpoints included, laid out ``(1, count)``."""
    t0 = time.perf_counter()
    gen = generator(resolve.model(registry, req.model, "interpolate"))
    c = req.candidates
    gen.check_candidates("interpolate", c)
    settings = gen.settings(req, deterministic=True, hint="; the number of frames is 'count'")
    finishing = resolve_finishing(req, draws_in_palette=gen.draws_in_palette)
    ends = (
        resolve.endpoint(gen.model, req.a, "a", req.alpha_threshold),
        resolve.endpoint(gen.model, req.b, "b", req.alpha_threshold),
    )
    base = resolve.seeds(req.seed, 0)[0] if c > 1 else None
    raw, seeds = gen.interpolate(Draw((), settings, req.max_colors, hooks=hooks), ends, req.count, req.method, c, base)
    sprites = finish(raw, finishing)
    return best("interpolate", gen.name, req.teacher, registry, sprites, seeds, c, base, t0, (1, req.count))
