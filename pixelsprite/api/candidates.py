"""Stage 4 of the pipeline: the teacher's pick of each group of candidates, as the result the user gets.

With ``C`` candidates, requested sprite ``i`` is one of rows ``i*C .. i*C + C - 1`` (scored by the teacher after
finishing, as the user sees them): the **anchored best**, the candidate ``j`` with the highest

    logit(q_j) - ANCHOR * (1 - cos(e_j, e_0))

where ``q_j`` is the teacher's quality (clipped to ``[1e-6, 1 - 1e-6]``; ``logit(q) = log(q / (1 - q))``, the
discriminator's log density-ratio estimate), ``e_j`` its unit embedding and candidate 0 the group's first seed (a
plain random draw of the model; for ``interpolate`` the unjittered frame). Ties go to the first. So a candidate
replaces the first draw only when its log-odds gain pays for how far it strays from it in the teacher's semantic
space: a clearly better sprite of the same kind wins, a slightly better sprite of another kind does not, and a
group where every candidate is junk (all ``q`` ~ 0) returns its first draw.

Why not the plain argmax of ``q``: best-of-N is mode-seeking. The teacher likes some kinds of sprite (clean,
simple items) much more than others, so argmax moves the *set* of picks towards those kinds and away from the
data. Anchoring each pick to a random draw keeps the set's mix of kinds that of the model's own samples while
raising each sprite's quality nearly as much as argmax (measured in ``benchmarks/bench_candidates.py``; the
teacher's card reports random-of-4, argmax and this rule for every shipped generator).

The pick depends only on the group's own candidates (never on the other sprites of the request), involves no
random numbers, and is therefore reproduced byte for byte by the same seeds. ``keep`` (variations
``keep_class``): the anchored best among candidates of the source sprite's teacher class, when any;
``kept_class`` says which sprites kept it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..registry import Registry
from ..teacher import Scores, TeacherModel
from . import resolve
from .results import SpriteResult

__all__ = ["ANCHOR", "Pick", "anchored_scores", "best", "choose", "pick"]

ANCHOR = 8.0
"""Log-odds a candidate must gain per unit of ``1 - cos`` it strays from the group's first candidate."""
_EPS = 1e-6


def anchored_scores(quality: np.ndarray, embedding: np.ndarray, anchor: float = ANCHOR) -> np.ndarray:
    """float64 ``(N, C)``: ``logit(q) - anchor * (1 - cos(e_j, e_0))`` per group of the module docstring.

    quality: float ``(N, C)`` in [0, 1]; embedding: unit vectors ``(N, C, E)``. ``anchor`` 0 ranks by quality
    alone (argmax); a large ``anchor`` keeps the first candidate unless another is almost the same sprite.
    """
    q = np.clip(np.asarray(quality, np.float64), _EPS, 1 - _EPS)
    e = np.asarray(embedding, np.float64)
    cos = np.einsum("nce,ne->nc", e, e[:, 0])
    return np.log(q) - np.log1p(-q) - anchor * (1.0 - cos)


def choose(score: np.ndarray, eligible: np.ndarray | None = None) -> np.ndarray:
    """int ``(N,)``: each row's highest ``score`` (first on ties), among ``eligible`` columns when a row has any."""
    if eligible is None:
        return score.argmax(1)
    masked = np.where(eligible, score, -np.inf).argmax(1)
    return np.where(eligible.any(1), masked, score.argmax(1))


@dataclass(frozen=True, eq=False)
class Pick:
    """The pick of each group: flat row indices int ``(N,)``, their scores, every quality float32 ``(N, C)``, and
    bool ``(N,)`` whether the pick has the wanted class (None without ``keep_label``)."""

    index: np.ndarray
    scores: Scores
    quality: np.ndarray
    kept_class: np.ndarray | None


def pick(teacher: TeacherModel, sprites: np.ndarray, count: int, c: int, keep_label: int | None = None) -> Pick:
    """Score ``count * c`` uint8 sprites ``(count*c, H, W, 4)`` and pick each group's anchored best."""
    sc = teacher.score(sprites)
    q = sc.quality.reshape(count, c)
    score = anchored_scores(q, sc.embedding.reshape(count, c, -1))
    kept = None
    if keep_label is None:
        j = choose(score)
    else:
        same = (sc.label == keep_label).reshape(count, c)
        j = choose(score, same)
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
    """A SpriteResult of the teacher's pick per sprite (``c > 1``, :func:`pick`), or of all sprites as they are
    (``c == 1``).

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
