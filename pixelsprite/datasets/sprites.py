"""Reading sprites from disk into hard-alpha RGBA uint8 arrays.

Every function here returns ``uint8`` arrays of shape ``(H, W, 4)`` (or ``(N, H, W, 4)``) whose alpha is
exactly 0 or 255 and whose transparent pixels are ``(0, 0, 0, 0)``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

ALPHA_THRESHOLD = 128  # a soft alpha >= this is opaque


def to_hard_rgba(image: Image.Image) -> np.ndarray:
    """Any PIL mode (P with transparency, L, LA, RGB, RGBA, ...) -> (H, W, 4) uint8 with hard alpha."""
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    elif image.mode in ("LA", "PA", "La", "RGBa"):
        image = image.convert("RGBA")
    elif image.mode != "RGBA":
        image = image.convert("RGB").convert("RGBA")  # no transparency: fully opaque
    rgba = np.array(image, dtype=np.uint8)
    opaque = rgba[..., 3] >= ALPHA_THRESHOLD
    rgba[..., 3] = np.where(opaque, 255, 0)
    rgba[~opaque] = 0
    return rgba


def read_sprite(path: str | Path) -> np.ndarray:
    """Read one image file -> (H, W, 4) uint8 hard-alpha RGBA."""
    with Image.open(path) as image:
        image.load()
        return to_hard_rgba(image)


def cut_grid(sheet: np.ndarray, cell_w: int, cell_h: int) -> list[np.ndarray]:
    """Cut a sprite sheet (H, W, 4) into cells of (cell_h, cell_w, 4), row-major, dropping empty cells."""
    h, w = sheet.shape[:2]
    cells = []
    for y in range(0, h - cell_h + 1, cell_h):
        for x in range(0, w - cell_w + 1, cell_w):
            cell = sheet[y : y + cell_h, x : x + cell_w]
            if cell[..., 3].any():
                cells.append(np.ascontiguousarray(cell))
    return cells


def center_on_canvas(rgba: np.ndarray, size: int) -> np.ndarray:
    """Place an (h, w, 4) sprite centred on a transparent (size, size, 4) canvas (no resampling)."""
    h, w = rgba.shape[:2]
    if h > size or w > size:
        raise ValueError(f"sprite {w}x{h} does not fit a {size}x{size} canvas")
    canvas = np.zeros((size, size, 4), np.uint8)
    y, x = (size - h) // 2, (size - w) // 2
    canvas[y : y + h, x : x + w] = rgba
    return canvas


def is_held_out(relative_path: str, fraction: float = 0.1) -> bool:
    """Stable validation split: sha1 of the POSIX relative path, not random order."""
    digest = hashlib.sha1(relative_path.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < fraction


@dataclass(frozen=True)
class SpriteFile:
    path: Path
    relative: str  # POSIX path relative to the collection root: the split key
    label: str


def iter_folder(root: str | Path, label_from: str = "subfolder") -> Iterator[SpriteFile]:
    """Every PNG under ``root`` (sorted) with a label from its first subfolder or its file-name prefix.

    ``label_from``: ``"subfolder"`` (first path component below root) or ``"prefix"`` (file name up to the
    first underscore).
    """
    root = Path(root)
    for path in sorted(root.rglob("*.png")):
        rel = path.relative_to(root).as_posix()
        if label_from == "subfolder":
            label = rel.split("/")[0] if "/" in rel else ""
        elif label_from == "prefix":
            label = path.stem.split("_")[0] if "_" in path.stem else ""
        else:
            raise ValueError(f"label_from must be 'subfolder' or 'prefix', got {label_from!r}")
        yield SpriteFile(path, rel, label)
