"""Sprite arrays <-> model tensors and image files.

Conventions:
    * a sprite is uint8 RGBA ``(H, W, 4)``; a batch is ``(N, H, W, 4)``;
    * the model side is float32 NCHW ``(N, 4, H, W)`` with every channel (alpha too) in the manifest's
      ``image.value_range`` ``(lo, hi)``: ``value = lo + u / 255 * (hi - lo)``;
    * sprites read from files get hard alpha (opaque iff alpha >= 128; transparent pixels become
      ``(0, 0, 0, 0)``), whatever the file's mode (palette, L, LA, RGB, RGBA, ...);
    * PNGs are written atomically: a temporary file in the same folder, then ``os.replace``.

Sprite sheets are a grid, row-major, with a 1-pixel transparent gutter between cells (none around the edge);
an optional integer nearest-neighbour upscale is applied to the composed sheet, so the gutter scales too.
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError

from .atomic import write_bytes_atomic
from .errors import ImageError
from .postprocess import hard_alpha

__all__ = [
    "to_model",
    "from_model",
    "read_image",
    "decode_image",
    "encode_png",
    "write_png",
    "compose_sheet",
    "upscale",
]

ImageSource = str | os.PathLike[str] | bytes


def to_model(rgba: npt.ArrayLike, value_range: tuple[float, float]) -> np.ndarray:
    """uint8 ``(N, H, W, 4)`` -> float32 ``(N, 4, H, W)`` in ``value_range``."""
    arr = np.asarray(rgba)
    if arr.ndim != 4 or arr.shape[-1] != 4 or arr.dtype != np.uint8:
        raise ValueError(f"rgba must be uint8 (N, H, W, 4), got {arr.dtype} {arr.shape}")
    lo, hi = value_range
    x = arr.astype(np.float32) * np.float32((hi - lo) / 255.0) + np.float32(lo)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def from_model(x: npt.ArrayLike, value_range: tuple[float, float]) -> np.ndarray:
    """float ``(N, 4, H, W)`` in ``value_range`` -> uint8 ``(N, H, W, 4)``, rounded, clipped, soft alpha."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 4 or x.shape[1] != 4:
        raise ValueError(f"x must be (N, 4, H, W), got {x.shape}")
    lo, hi = value_range
    u = np.clip(np.rint((x - lo) * (255.0 / (hi - lo))), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(u.transpose(0, 2, 3, 1))


def decode_image(
    data: bytes, *, name: str = "image", size: tuple[int, int] | None = None, alpha_threshold: int = 127
) -> np.ndarray:
    """Decode image bytes (PNG, GIF, BMP, ...) to uint8 ``(H, W, 4)`` with hard alpha.

    Args:
        data: the encoded file.
        name: what to call it in error messages (a path or a request field).
        size: ``(width, height)`` the image must have, or None.
        alpha_threshold: opaque iff alpha > this (uint8).

    Raises:
        ImageError: not an image, or not ``size``; the message names ``name`` and the expected size.
    """
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            rgba = np.asarray(im.convert("RGBA"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise ImageError(f"{name} is not a readable image ({type(e).__name__}: {e})") from None
    if size is not None and (rgba.shape[1], rgba.shape[0]) != tuple(size):
        raise ImageError(f"{name} is {rgba.shape[1]}x{rgba.shape[0]} pixels, expected {size[0]}x{size[1]}")
    return hard_alpha(rgba, alpha_threshold)


def read_image(
    source: ImageSource,
    *,
    size: tuple[int, int] | None = None,
    name: str | None = None,
    alpha_threshold: int = 127,
) -> np.ndarray:
    """Read an image file (path) or encoded bytes to uint8 ``(H, W, 4)`` with hard alpha.

    Raises:
        ImageError: missing/unreadable file, not an image, or not ``size`` ``(width, height)``.
    """
    if isinstance(source, bytes):
        return decode_image(source, name=name or "image", size=size, alpha_threshold=alpha_threshold)
    path = Path(source)
    label = name or str(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ImageError(f"{label}: cannot read file ({e.strerror or e})") from None
    return decode_image(data, name=label, size=size, alpha_threshold=alpha_threshold)


def encode_png(rgba: npt.ArrayLike) -> bytes:
    """uint8 ``(H, W, 4)`` -> PNG bytes (RGBA, 8 bits per channel)."""
    arr = np.asarray(rgba)
    if arr.ndim != 3 or arr.shape[-1] != 4 or arr.dtype != np.uint8:
        raise ValueError(f"rgba must be uint8 (H, W, 4), got {arr.dtype} {arr.shape}")
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(arr), mode="RGBA").save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def write_png(path: str | os.PathLike[str], rgba: npt.ArrayLike) -> Path:
    """Write uint8 ``(H, W, 4)`` as a PNG atomically (temp file in the same folder, then ``os.replace``).

    The parent folder must exist. Returns the path written.
    """
    p = Path(path)
    data = encode_png(rgba)
    return write_bytes_atomic(p, data)


def upscale(rgba: npt.ArrayLike, factor: int) -> np.ndarray:
    """Nearest-neighbour integer upscale of ``(..., H, W, 4)`` -> ``(..., H*factor, W*factor, 4)``."""
    arr = np.asarray(rgba)
    if factor < 1:
        raise ValueError(f"factor must be >= 1, got {factor}")
    if factor == 1:
        return arr.copy()
    return np.repeat(np.repeat(arr, factor, axis=-3), factor, axis=-2)


def compose_sheet(
    sprites: npt.ArrayLike, *, columns: int | None = None, gutter: int = 1, scale: int = 1
) -> np.ndarray:
    """Lay sprites out in a grid sheet.

    Args:
        sprites: uint8 ``(N, H, W, 4)``, N >= 1, placed row-major.
        columns: cells per row; default ``ceil(sqrt(N))``.
        gutter: transparent pixels between cells (none around the edge).
        scale: nearest-neighbour upscale applied to the composed sheet.

    Returns:
        uint8 ``(rows*(H+g)-g)*scale, (cols*(W+g)-g)*scale, 4)``; unused cells are transparent.
    """
    arr = np.asarray(sprites)
    if arr.ndim != 4 or arr.shape[-1] != 4 or arr.dtype != np.uint8 or arr.shape[0] < 1:
        raise ValueError(f"sprites must be uint8 (N, H, W, 4) with N >= 1, got {arr.dtype} {arr.shape}")
    n, h, w, _ = arr.shape
    cols = min(columns or math.ceil(math.sqrt(n)), n)
    if cols < 1:
        raise ValueError(f"columns must be >= 1, got {columns}")
    rows = math.ceil(n / cols)
    sheet = np.zeros((rows * (h + gutter) - gutter, cols * (w + gutter) - gutter, 4), dtype=np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        y, x = r * (h + gutter), c * (w + gutter)
        sheet[y : y + h, x : x + w] = arr[i]
    return upscale(sheet, scale)
