"""Teacher quality scores for the suite, when a teacher bundle and ``pixelsprite.teacher`` are installed.

The teacher is built separately (``pixelsprite.teacher.TeacherModel``: ``load(registry, name)``, ``sizes``,
``score(uint8 (N, S, S, 4)) -> Scores`` with ``quality`` float32 ``(N,)`` in [0, 1]). The suite only needs that
quality, so this adaptor looks the teacher up at run time and degrades to "no teacher" with a reason rather than
failing the evaluation; sets of a size the teacher does not score get no teacher column.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import numpy as np

from ..errors import PixelspriteError
from ..registry import Registry

__all__ = ["TEACHER", "teacher_scorer"]

TEACHER = "teacher"
Scorer = Callable[[np.ndarray], "np.ndarray | None"]


def teacher_scorer(registry: Registry, name: str = TEACHER) -> tuple[Scorer | None, str]:
    """(scorer, note): ``scorer(uint8 (N, S, S, 4))`` -> float ``(N,)`` quality (None for a size the teacher does
    not score), or (None, why there is no teacher)."""
    if name not in registry.names():
        return None, f"no {name!r} bundle installed"
    try:
        teacher = importlib.import_module("pixelsprite.teacher")
        model = teacher.TeacherModel.load(registry, name)
    except (ImportError, AttributeError) as e:
        return None, f"pixelsprite.teacher cannot score ({type(e).__name__}: {e})"
    except PixelspriteError as e:
        return None, f"teacher bundle {name!r} cannot be loaded ({e.message})"
    sizes = tuple(int(s) for s in getattr(model, "sizes", ()))

    def scorer(sprites: np.ndarray) -> np.ndarray | None:
        if sizes and sprites.shape[1] not in sizes:
            return None
        return np.asarray(model.score(sprites).quality, dtype=np.float64)

    return scorer, f"teacher {name!r} (sizes {', '.join(map(str, sizes)) or 'any'})"
