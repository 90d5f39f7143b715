"""Sample grids for the trainer and the model cards: sprites on a checkerboard, nearest-neighbour upscaled."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def sheet(sprites: np.ndarray, columns: int = 8, scale: int = 4, checker: bool = True) -> Image.Image:
    """(N, S, S, 4) uint8 RGBA -> an RGB image of a ``columns``-wide grid, 1-sprite-pixel gutters, upscaled."""
    n, h, w, _ = sprites.shape
    rows = (n + columns - 1) // columns
    gh, gw = rows * (h + 1) + 1, columns * (w + 1) + 1
    yy, xx = np.mgrid[0:gh, 0:gw]
    bg = np.where(((yy // 2 + xx // 2) % 2 == 0)[..., None], 200, 160) if checker else np.full((gh, gw, 1), 180)
    canvas = np.broadcast_to(bg, (gh, gw, 3)).astype(np.float32).copy()
    canvas[:: h + 1, :] = 90
    canvas[:, :: w + 1] = 90
    for i, s in enumerate(sprites):
        y, x = 1 + (i // columns) * (h + 1), 1 + (i % columns) * (w + 1)
        a = s[..., 3:4].astype(np.float32) / 255
        canvas[y : y + h, x : x + w] = canvas[y : y + h, x : x + w] * (1 - a) + s[..., :3] * a
    img = Image.fromarray(canvas.round().astype(np.uint8), "RGB")
    return img.resize((gw * scale, gh * scale), Image.Resampling.NEAREST)


def save_sheet(sprites: np.ndarray, path: str | Path, columns: int = 8, scale: int = 4) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    sheet(sprites, columns, scale).save(tmp, format="PNG")
    tmp.replace(path)
