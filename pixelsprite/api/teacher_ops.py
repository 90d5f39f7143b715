"""The teacher's operations: ``score`` given sprites, and rank sprites by ``similar``-ity to a reference.

Sprites are read at any of the teacher's sizes (16x16 or 40x40) with hard alpha at the request's
``alpha_threshold``; the teacher gives quality in [0, 1], a unit embedding ``(E,)``, a class and its probability.
"""

from __future__ import annotations

import time

import numpy as np

from ..errors import ImageError, InvalidRequest
from ..registry import Registry
from ..teacher import Scores, TeacherModel, cosine
from . import resolve
from .pipeline import generate
from .requests import GenerateRequest, ScoreRequest, SimilarRequest
from .results import ScoreResult, SimilarResult

__all__ = ["score", "similar"]


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


def score(req: ScoreRequest, registry: Registry) -> ScoreResult:
    """The teacher's verdict on every given sprite, in request order."""
    t0 = time.perf_counter()
    teacher = resolve.teacher_model(registry, req.teacher)
    sprites = [resolve.sprite(im, f"images[{i}]", req.alpha_threshold) for i, im in enumerate(req.images)]
    scores = _score_mixed(teacher, sprites, "images")
    return ScoreResult("score", teacher.name, scores, tuple(int(s.shape[0]) for s in sprites), time.perf_counter() - t0)


def similar(req: SimilarRequest, registry: Registry) -> SimilarResult:
    """Given or freshly generated sprites ranked by cosine similarity to the reference, most similar first."""
    t0 = time.perf_counter()
    teacher = resolve.teacher_model(registry, req.teacher)
    ref = resolve.sprite(req.reference, "reference", req.alpha_threshold)
    side = teacher.check_size(ref[None], "reference")
    base: int | None = None
    if req.images is not None:
        listed = [resolve.sprite(im, f"images[{i}]", req.alpha_threshold) for i, im in enumerate(req.images)]
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
        res = generate(GenerateRequest(req.model, req.count, req.seed), registry)
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
