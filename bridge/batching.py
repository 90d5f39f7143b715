"""Work run on the inference threads: chunked generation with progress and cancel, and micro-batches.

Generation is the request layer's (``pixelsprite.api``); this module only splits and merges it:

* a large ``generate`` runs in chunks of ``chunk`` sprites, each an ``api.generate`` call with the seed range of
  that chunk, so the sprites are byte-identical to one call (sprite ``i`` depends on seed ``base + i`` only), and
  the loop can report progress and stop between chunks;
* compatible small ``generate`` requests (same model and colour cap) from different clients run as one decoder
  call over the concatenated seeds, then are split again. :func:`generate_many` mirrors
  ``api._generate`` for a list of seed ranges, because the request layer has no multi-range request yet; a test
  checks that every batched request equals ``api.generate`` byte for byte.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Sequence

import numpy as np

from pixelsprite import api
from pixelsprite.errors import InvalidRequest
from pixelsprite.registry import Registry
from pixelsprite.teacher import Scores
from pixelsprite.vae import FAMILY as VAE_FAMILY
from pixelsprite.vae import VaeModel

from .errors import Cancelled

__all__ = ["with_seed", "generate_chunked", "generate_many"]

Progress = Callable[[int, int], None]


def with_seed(req: api.GenerateRequest) -> api.GenerateRequest:
    """The request with its base seed drawn now if it had none (so chunks and batches share one seed range)."""
    if req.seed is not None:
        return req
    return dataclasses.replace(req, seed=api.random_seed())  # every other option (palette, clean-up) kept


def generate_chunked(
    req: api.GenerateRequest,
    registry: Registry,
    *,
    chunk: int,
    cancel: threading.Event,
    progress: Progress | None = None,
) -> api.SpriteResult:
    """``req`` in chunks of ``chunk`` sprites; raises :class:`Cancelled` between chunks once ``cancel`` is set."""
    req = with_seed(req)
    assert req.seed is not None
    c = req.candidates  # sprite i is the best of seeds seed + i*c .. seed + i*c + c - 1
    chunk = max(1, chunk // c)
    if req.count <= chunk:
        result = api.handle(req, registry=registry)
        assert isinstance(result, api.SpriteResult)
        return result
    t0 = time.perf_counter()
    parts: list[api.SpriteResult] = []
    for offset in range(0, req.count, chunk):
        if cancel.is_set():
            raise Cancelled("the request was cancelled", field="id")
        n = min(chunk, req.count - offset)
        part = api.handle(dataclasses.replace(req, count=n, seed=req.seed + offset * c), registry=registry)
        assert isinstance(part, api.SpriteResult)
        parts.append(part)
        if progress is not None:
            progress(offset + n, req.count)
    seeds = tuple(s for p in parts for s in p.seeds)
    scored = [p.scores for p in parts if p.scores is not None]
    return api.SpriteResult(
        "generate",
        parts[0].model,
        np.concatenate([p.sprites for p in parts]),
        seeds,
        req.seed,
        time.perf_counter() - t0,
        scores=Scores.concat(scored) if len(scored) == len(parts) else None,
        candidate_quality=np.concatenate([p.candidate_quality for p in parts if p.candidate_quality is not None])
        if len(scored) == len(parts)
        else None,
    )


def generate_many(reqs: Sequence[api.GenerateRequest], registry: Registry) -> list[api.SpriteResult]:
    """Several generate requests for the same model and colour cap in one decoder call.

    Each result equals ``api.handle(with_seed(req))``: the same sprites, seeds and base seed.
    """
    reqs = [with_seed(r) for r in reqs]
    name, max_colors = reqs[0].model, reqs[0].max_colors
    if any(r.model != name or r.max_colors != max_colors for r in reqs):
        raise ValueError("generate_many needs requests with one model and one max_colors")
    t0 = time.perf_counter()
    bundle = registry.load(name or registry.default_model())
    if bundle.manifest.family != VAE_FAMILY:
        raise InvalidRequest(
            f"model {bundle.name!r} is a {bundle.manifest.family!r} model; batched generate supports: {VAE_FAMILY}",
            field="model",
        )
    model = VaeModel(bundle)
    ranges = [tuple(range(r.seed, r.seed + r.count)) for r in reqs if r.seed is not None]
    seeds = [s for rng in ranges for s in rng]
    sprites = model.decode(model.sample_latents(seeds), max_colors)
    elapsed = time.perf_counter() - t0
    out, start = [], 0
    for rng in ranges:
        out.append(api.SpriteResult("generate", model.name, sprites[start : start + len(rng)], rng, rng[0], elapsed))
        start += len(rng)
    return out
