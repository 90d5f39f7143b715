"""The result types: frozen dataclasses holding what a request made.

Sprites are uint8 RGBA ``(N, H, W, 4)`` with hard alpha (alpha in {0, 255}, transparent pixels ``(0, 0, 0, 0)``);
each result carries the model name and the seconds spent in the request layer, and ``summary()`` gives a
JSON-ready view without pixels.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..palettes import Palette
from ..teacher import DEFAULT_TEACHER, Scores

__all__ = [
    "Sprite", "SpriteResult", "SimilarResult", "ScoreResult", "LatentResult", "ModelInfo", "ModelsResult",
    "PaletteResult", "Result",
]  # fmt: skip


@dataclass(frozen=True)
class Sprite:
    """One sprite: uint8 ``(H, W, 4)`` with hard alpha, and its seed (None when it was not seeded)."""

    rgba: np.ndarray
    seed: int | None


@dataclass(frozen=True, eq=False)
class SpriteResult:
    """Sprites made by one request.

    Attributes:
        op: the operation ("generate", "variations", "decode", "interpolate", "grid").
        model: the model name used.
        sprites: uint8 ``(N, H, W, 4)``, alpha in {0, 255}, transparent pixels ``(0, 0, 0, 0)``.
        seeds: per-sprite seeds, None for sprites that are not seeded (decode, interpolate, grid).
        base_seed: the request's seed, or the random one drawn for it; None for unseeded ops.
        elapsed_s: wall-clock seconds spent in the request layer.
        layout: ``(rows, cols)`` for a sheet: ``(1, N)`` strips for interpolate, the grid for grid,
            ``(0, 0)`` when the layout is free.
        scores: the teacher's verdict on every returned sprite when the request had ``candidates`` > 1
            (or for ``similar``), else None.
        candidate_quality: float32 ``(N, C)``: the quality of every candidate of every sprite (candidates only).
        kept_class: bool ``(N,)``: whether the returned variation has the source's class (``keep_class``).
    """

    op: str
    model: str
    sprites: np.ndarray
    seeds: tuple[int | None, ...]
    base_seed: int | None
    elapsed_s: float
    layout: tuple[int, int] = (0, 0)
    scores: Scores | None = None
    candidate_quality: np.ndarray | None = None
    kept_class: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.sprites.shape[0])

    def __iter__(self) -> Iterator[Sprite]:
        for rgba, seed in zip(self.sprites, self.seeds, strict=True):
            yield Sprite(rgba, seed)

    def score_rows(self) -> list[dict[str, Any]] | None:
        """Per sprite: ``quality``, ``label``, ``probability`` (and ``candidates``: every candidate's quality,
        ``kept_class``) when the result was scored, else None."""
        if self.scores is None:
            return None
        rows = self.scores.rows()
        for i, row in enumerate(rows):
            if self.candidate_quality is not None:
                row["candidates"] = [round(float(q), 6) for q in self.candidate_quality[i]]
            if self.kept_class is not None:
                row["kept_class"] = bool(self.kept_class[i])
        return rows

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary without pixels."""
        out = {
            "op": self.op,
            "model": self.model,
            "count": len(self),
            "size": [int(self.sprites.shape[2]), int(self.sprites.shape[1])],
            "base_seed": self.base_seed,
            "seeds": list(self.seeds),
            "seconds": round(self.elapsed_s, 4),
        }
        rows = self.score_rows()
        if rows is not None:
            out["scores"] = rows
        return out


@dataclass(frozen=True, eq=False)
class SimilarResult(SpriteResult):
    """Sprites ranked by similarity to a reference (most similar first).

    Attributes (besides :class:`SpriteResult`'s; ``sprites``, ``seeds`` and ``scores`` are in ranked order):
        teacher: the teacher that embedded them.
        similarity: float32 ``(N,)`` cosine similarity to the reference, descending.
        index: int64 ``(N,)`` each sprite's position among the given images / samples.
        reference: the teacher's verdict on the reference sprite.
    """

    teacher: str = DEFAULT_TEACHER
    similarity: np.ndarray | None = None
    index: np.ndarray | None = None
    reference: Scores | None = None

    def summary(self) -> dict[str, Any]:
        out = super().summary()
        assert self.similarity is not None and self.index is not None
        out.update(
            {
                "teacher": self.teacher,
                "similarity": [round(float(v), 6) for v in self.similarity],
                "index": [int(i) for i in self.index],
                "reference": self.reference.row(0) if self.reference is not None else None,
            }
        )
        return out


@dataclass(frozen=True, eq=False)
class ScoreResult:
    """The teacher's verdict on given sprites, in request order.

    Attributes:
        op: ``"score"``.
        teacher: the teacher's name.
        scores: :class:`pixelsprite.teacher.Scores` (quality ``(N,)``, embedding ``(N, E)``, label, ...).
        sizes: each sprite's side in pixels.
        elapsed_s: wall-clock seconds spent in the request layer.
    """

    op: str
    teacher: str
    scores: Scores
    sizes: tuple[int, ...]
    elapsed_s: float

    def __len__(self) -> int:
        return len(self.scores)

    def summary(self, *, embedding: bool = False) -> dict[str, Any]:
        """JSON-ready: per sprite ``index``, ``size``, ``quality``, ``label``, ``probability`` (+ ``embedding``)."""
        rows = [
            {"index": i, "size": [s, s], **r}
            for i, (s, r) in enumerate(zip(self.sizes, self.scores.rows(embedding=embedding), strict=True))
        ]
        return {
            "op": self.op,
            "teacher": self.teacher,
            "count": len(self),
            "scores": rows,
            "seconds": round(self.elapsed_s, 4),
        }


@dataclass(frozen=True, eq=False)
class LatentResult:
    """Latent means float32 ``(N, *latent_shape)`` of encoded images."""

    op: str
    model: str
    latents: np.ndarray
    elapsed_s: float


@dataclass(frozen=True)
class ModelInfo:
    """One registered bundle, as listed by :func:`models`."""

    name: str
    family: str
    width: int
    height: int
    labels: tuple[str, ...]
    description: str
    latent_shape: tuple[int, ...] | None
    builtin: bool
    path: str
    tiling: bool = False  # a tile model: what it makes repeats seamlessly (its family's capabilities)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "family": self.family,
            "size": [self.width, self.height],
            "labels": list(self.labels),
            "description": self.description,
            "latent_shape": list(self.latent_shape) if self.latent_shape is not None else None,
            "tiling": self.tiling,
            "builtin": self.builtin,
            "path": self.path,
        }


@dataclass(frozen=True)
class ModelsResult:
    """The registered bundles, sorted by name, and problems met while scanning (skipped bundles)."""

    models: tuple[ModelInfo, ...]
    default: str | None
    problems: tuple[str, ...]
    elapsed_s: float


@dataclass(frozen=True, eq=False)
class PaletteResult:
    """A proposed palette.

    Attributes:
        op: ``"palette"``.
        model: the model sampled, or None when the colours came from given sprites.
        palette: the proposal, ordered as ramps (greys, then hues, dark to light).
        swatch_png: PNG bytes of a swatch (8x8-pixel cells, 16 per row).
        format: the palette file format of ``file``.
        file: the palette as that file's bytes (text formats are UTF-8).
        base_seed: the seed of the first sample (None for given sprites).
        sample_count: sprites the colours were taken from.
        elapsed_s: wall-clock seconds spent in the request layer.
    """

    op: str
    model: str | None
    palette: Palette
    swatch_png: bytes
    format: str
    file: bytes
    base_seed: int | None
    sample_count: int
    elapsed_s: float

    @property
    def colors(self) -> np.ndarray:
        """uint8 ``(K, 3)``."""
        return self.palette.colors

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary (colours as ``#rrggbb``; no swatch or file bytes)."""
        return {
            "op": self.op,
            "model": self.model,
            "name": self.palette.name,
            "size": len(self.palette),
            "colors": list(self.palette.hex),
            "format": self.format,
            "base_seed": self.base_seed,
            "samples": self.sample_count,
            "seconds": round(self.elapsed_s, 4),
        }


Result = SpriteResult | LatentResult | ModelsResult | PaletteResult | ScoreResult
