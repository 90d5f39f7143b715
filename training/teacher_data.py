"""The teacher's data: real sprites (positives) with the teacher's labels, and generated sprites (negatives).

Positives are everything the shipped generators learn from, at both sizes: ``sprites16`` (the DCSS tiles reduced
2x plus Nikoichu's 1-bit icons) and ``dcss40`` (the DCSS tiles centred on 40x40), with the builders' stable
split (``sha1(relative path)``, 10% held out). Labels (:data:`TEACHER_LABELS`, 14): the 12 fine DCSS labels of
:func:`training.data.builders.fine_label` (monsters and the item classes), ``icon`` for the 1-bit icons, and
``other`` for every DCSS tile without a fine label (floors, walls, effects, GUI icons, paper-doll parts, ...), so
every real sprite has exactly one label.

Generated negatives come from every shipped generator of size 16 or 40 (vae, diffusion, flow bundles in
``pixelsprite/models``), training seeds ``0 .. n - 1`` and held-out seeds ``EVAL_SEED ..`` (never trained on).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .data.builders import DCSS_CREDIT, ICONS_CREDIT, SpriteSet, fine_label, load_dataset

FINE_LABELS = (
    "amulet",
    "armour",
    "book",
    "food",
    "misc",
    "monster",
    "potion",
    "ring",
    "scroll",
    "staff",
    "wand",
    "weapon",
)
TEACHER_LABELS = (*FINE_LABELS, "icon", "other")
DATASETS = {16: "sprites16", 40: "dcss40"}
EVAL_SEED = 1_000_000
CREDITS = (DCSS_CREDIT, ICONS_CREDIT)


def teacher_label(path: str) -> str:
    """The teacher label of a builder path (``icons/...`` for icons, else a DCSS-relative path)."""
    if path.startswith("icons/"):
        return "icon"
    fine = fine_label(path)
    return fine if fine in FINE_LABELS else "other"


@dataclass(frozen=True)
class Positives:
    """Real sprites of one size: images uint8 (N, S, S, 4), labels int64 (N,) into TEACHER_LABELS, held_out (N,)."""

    size: int
    dataset: str
    images: np.ndarray
    labels: np.ndarray
    held_out: np.ndarray

    def split(self, held_out: bool) -> tuple[np.ndarray, np.ndarray]:
        m = self.held_out if held_out else ~self.held_out
        return self.images[m], self.labels[m]


def relabel(ds: SpriteSet, size: int) -> Positives:
    index = {n: i for i, n in enumerate(TEACHER_LABELS)}
    labels = np.array([index[teacher_label(p)] for p in ds.paths], np.int64)
    return Positives(size, ds.name, ds.images, labels, ds.held_out)


def load_positives(data_root: str, cache: str | None, sizes: tuple[int, ...] = (16, 40)) -> dict[int, Positives]:
    """Both sizes' real sprites with teacher labels (datasets built or read from the builders' npz cache)."""
    return {s: relabel(load_dataset(DATASETS[s], data_root, s, cache), s) for s in sizes}


def label_counts(pos: dict[int, Positives]) -> dict[str, dict[str, int]]:
    return {
        str(s): {n: int(c) for n, c in zip(TEACHER_LABELS, np.bincount(p.labels, minlength=len(TEACHER_LABELS)))}
        for s, p in pos.items()
    }
