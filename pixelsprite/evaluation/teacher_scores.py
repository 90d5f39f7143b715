"""Teacher quality scores for the suite, when a teacher bundle and ``pixelsprite.teacher`` are installed.

The teacher is built separately (its own issue); the suite only needs a quality in [0, 1] per sprite, so this
adaptor looks it up and degrades to "no teacher" (None) rather than failing the evaluation.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import numpy as np

from ..registry import Registry

__all__ = ["teacher_scorer"]

TEACHER = "teacher"


def teacher_scorer(registry: Registry, name: str = TEACHER) -> tuple[Callable[[np.ndarray], np.ndarray] | None, str]:
    """(scorer, note): ``scorer(uint8 (N, S, S, 4)) -> float (N,)`` quality, or None and why not."""
    if name not in registry.names():
        return None, f"no {name!r} bundle installed"
    try:
        mod = importlib.import_module("pixelsprite.teacher")
    except ImportError as e:
        return None, f"pixelsprite.teacher is not importable ({e})"
    score = getattr(mod, "score", None)
    if not callable(score):
        return None, "pixelsprite.teacher has no score()"

    def scorer(sprites: np.ndarray) -> np.ndarray:
        out = []
        for s in range(0, len(sprites), 256):
            res = score(sprites[s:s + 256], model=name, registry=registry)
            quality = getattr(res, "quality", res)
            out.append(np.asarray(quality, dtype=np.float64).reshape(-1))
        return np.concatenate(out)

    try:  # one probe call, so a mismatched API is reported instead of failing halfway through the suite
        probe = scorer(np.zeros((1, registry.info(name).manifest.image.width,
                                 registry.info(name).manifest.image.width, 4), np.uint8))
        if probe.shape != (1,):
            return None, f"pixelsprite.teacher.score returned shape {probe.shape} for one sprite"
    except Exception as e:  # the teacher's API is not ours to pin down; report and go on without it
        return None, f"pixelsprite.teacher.score failed ({type(e).__name__}: {e})"
    return scorer, f"teacher {name!r}"
