"""Work run on the inference threads: chunked generation with progress and cancel, and micro-batches.

Generation is the request layer's (``pixelsprite.api``); this module only splits and merges it:

* a large ``generate`` runs in chunks of ``chunk`` sprites, each an ``api.generate`` call with the seed range of
  that chunk, so the sprites are byte-identical to one call (sprite ``i`` depends on seed ``base + i`` only), and
  the loop can report progress and stop between chunks;
* compatible small ``generate`` requests (equal :attr:`~bridge.protocol.Call.batch_key`) from different clients
  run as one model call: :func:`pixelsprite.api.generate_many`, the request layer's multi-request generate, which
  keeps each request's finishing, candidates and seeds, so every batched request equals ``api.generate`` byte for
  byte (a test checks it).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Sequence

import numpy as np

from pixelsprite import api
from pixelsprite.registry import Registry
from pixelsprite.teacher import Scores

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
    """Several generate requests for one model in one model call (:func:`pixelsprite.api.generate_many`).

    Each result equals ``api.handle(with_seed(req))``: the same sprites, seeds and base seed (a request without a
    seed gets one drawn).
    """
    return api.generate_many(reqs, registry=registry)
