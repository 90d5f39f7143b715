"""Stage 4 of the pipeline: the teacher's best of each group of candidates, as the result the user gets.

With ``C`` candidates, requested sprite ``i`` is the best (highest teacher quality, after finishing, as the user
sees it) of rows ``i*C .. i*C + C - 1``; ties go to the first. ``keep`` (variations ``keep_class``): the best
among candidates of the source sprite's teacher class, when any; ``kept_class`` says which sprites kept it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..registry import Registry
from ..teacher import Scores, TeacherModel
from . import resolve
from .results import SpriteResult

__all__ = ["Pick", "pick", "best"]


@dataclass(frozen=True, eq=False)
class Pick:
    """The best of each group: flat row indices int ``(N,)``, their scores, every quality float32 ``(N, C)``, and
    bool ``(N,)`` whether the pick has the wanted class (None without ``keep_label``)."""

    index: np.ndarray
    scores: Scores
    quality: np.ndarray
    kept_class: np.ndarray | None


def pick(teacher: TeacherModel, sprites: np.ndarray, count: int, c: int, keep_label: int | None = None) -> Pick:
    """Score ``count * c`` uint8 sprites ``(count*c, H, W, 4)`` and pick each group's best."""
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
    return Pick(flat, sc.take(flat), q, kept)


def best(
    op: str,
    model: str,
    teacher_name: str | None,
    registry: Registry,
    sprites: np.ndarray,
    seeds: tuple[int | None, ...],
    c: int,
    base: int | None,
    t0: float,
    layout: tuple[int, int] = (0, 0),
    keep: np.ndarray | None = None,
) -> SpriteResult:
    """A SpriteResult of the best candidate per sprite (``c > 1``), or of all sprites as they are (``c == 1``).

    ``sprites``: uint8 ``(count * c, H, W, 4)``; ``seeds``: one per row; ``t0``: the request's start
    (``time.perf_counter``); ``keep``: the source sprite uint8 ``(H, W, 4)`` whose class to keep, or None.
    """
    if c == 1:
        return SpriteResult(op, model, sprites, seeds, base, time.perf_counter() - t0, layout)
    count = len(sprites) // c
    teacher = resolve.teacher_model(registry, teacher_name)
    keep_label = None if keep is None else int(teacher.score(keep[None]).label[0])
    p = pick(teacher, sprites, count, c, keep_label)
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
