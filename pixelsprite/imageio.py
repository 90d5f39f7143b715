"""Sprite arrays <-> model tensors and image files.

Conventions:
    * a sprite is uint8 RGBA ``(H, W, 4)``; a batch is ``(N, H, W, 4)``;
    * the model side is float32 NCHW ``(N, 4, H, W)`` with every channel (alpha too) in the manifest's
      ``image.value_range`` ``(lo, hi)``: ``value = lo + u / 255 * (hi - lo)``;
    * sprites read from files get hard alpha (opaque iff alpha >= 128; transparent pixels become
      ``(0, 0, 0, 0)``), whatever the file's mode (palette, L, LA, RGB, RGBA, ...);
    * PNGs are written atomically: a temporary file in the same folder, then ``os.replace``;
    * an input image's size is read from its header before anything is decoded: at most ``MAX_INPUT_SIDE`` pixels
      on a side (and the expected size, when one is given), so a huge file is refused in milliseconds.

Sprite sheets are a grid, row-major, with a 1-pixel transparent gutter between cells (none around the edge);
an optional integer nearest-neighbour upscale is applied to the composed sheet, so the gutter scales too.
"""

from __future__ import annotations

import io
import math
import os
import re
import struct
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError

from .atomic import write_bytes_atomic
from .errors import ImageError, InvalidRequest
from .postprocess import hard_alpha

__all__ = [
    "to_model",
    "from_model",
    "read_image",
    "decode_image",
    "image_size",
    "MAX_INPUT_SIDE",
    "encode_png",
    "write_png",
    "compose_sheet",
    "sheet_shape",
    "sheet_description",
    "check_output_size",
    "upscale",
    "MAX_OUTPUT_SIDE",
    "MAX_OUTPUT_PIXELS",
]

ImageSource = str | os.PathLike[str] | bytes

MAX_INPUT_SIDE = 4096
"""The largest input image read, in pixels on a side (16 megapixels; sprite sheets fit, photos of posters do not)."""

MAX_OUTPUT_SIDE = 16384
"""The widest or tallest image written (the largest texture Godot and most GPUs load)."""
MAX_OUTPUT_PIXELS = 64 * 2**20
"""The most pixels in one written image (256 MiB as RGBA in memory)."""

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_OBJECT_REPR = re.compile(r"\s*<[^<>]* object at 0x[0-9a-fA-F]+>")


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


def image_size(data: bytes, *, name: str = "image") -> tuple[int, int]:
    """``(width, height)`` of encoded image bytes from the header alone (nothing is decoded).

    A PNG's size is read from its IHDR chunk; other formats from Pillow's lazy open, which parses the header only.

    Raises:
        ImageError: not an image Pillow knows (the message names ``name``).
    """
    if data[:8] == _PNG_SIGNATURE and len(data) >= 24 and data[12:16] == b"IHDR":
        w, h = struct.unpack(">II", data[16:24])
        return int(w), int(h)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                return int(im.size[0]), int(im.size[1])
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError, SyntaxError) as e:
        raise ImageError(_unreadable(name, e)) from None


def _unreadable(name: str, e: BaseException) -> str:
    if isinstance(e, UnidentifiedImageError):
        return f"{name} is not a readable image (not a PNG, nor another image format Pillow reads)"
    detail = _OBJECT_REPR.sub("", str(e)).strip() or "no details"
    return f"{name} is not a readable image ({type(e).__name__}: {detail})"


def decode_image(
    data: bytes,
    *,
    name: str = "image",
    size: tuple[int, int] | None = None,
    alpha_threshold: int = 127,
    max_side: int = MAX_INPUT_SIDE,
) -> np.ndarray:
    """Decode image bytes (PNG, GIF, BMP, ...) to uint8 ``(H, W, 4)`` with hard alpha.

    The size is checked from the header before decoding (:func:`image_size`): a file of another ``size``, or over
    ``max_side`` pixels on a side, is refused without being decoded.

    Args:
        data: the encoded file.
        name: what to call it in error messages (a path or a request field).
        size: ``(width, height)`` the image must have, or None.
        alpha_threshold: opaque iff alpha > this (uint8).
        max_side: the largest width or height accepted.

    Raises:
        ImageError: not an image, too large, or not ``size``; the message names ``name`` and the expected size.
    """
    w, h = image_size(data, name=name)
    if size is not None and (w, h) != tuple(size):
        raise ImageError(f"{name} is {w}x{h} pixels, expected {size[0]}x{size[1]}")
    if not (1 <= w <= max_side and 1 <= h <= max_side):
        raise ImageError(f"{name} is {w}x{h} pixels; input images may be at most {max_side} pixels on a side")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                if im.size != (w, h):  # a header that disagrees with itself
                    raise ValueError(f"inconsistent header ({im.size[0]}x{im.size[1]} vs {w}x{h})")
                im.load()
                rgba = np.asarray(im.convert("RGBA"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError, SyntaxError) as e:
        raise ImageError(_unreadable(name, e)) from None
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
        with open(path, "rb") as f:
            head = f.read(24)
            if head[:8] == _PNG_SIGNATURE:  # refuse a huge PNG before reading the rest of the file
                w, h = image_size(head, name=label)
                if size is not None and (w, h) != tuple(size):
                    raise ImageError(f"{label} is {w}x{h} pixels, expected {size[0]}x{size[1]}")
                if not (1 <= w <= MAX_INPUT_SIDE and 1 <= h <= MAX_INPUT_SIDE):
                    raise ImageError(
                        f"{label} is {w}x{h} pixels; input images may be at most {MAX_INPUT_SIDE} pixels on a side"
                    )
            data = head + f.read()
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


def compose_sheet(sprites: npt.ArrayLike, *, columns: int | None = None, gutter: int = 1, scale: int = 1) -> np.ndarray:
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


def sheet_shape(
    n: int, h: int, w: int, *, columns: int | None = None, gutter: int = 1, scale: int = 1
) -> tuple[int, int, int]:
    """``(columns, sheet height, sheet width)`` of :func:`compose_sheet` for ``n`` sprites of ``h x w`` (no pixels
    are made)."""
    cols = max(1, min(columns or math.ceil(math.sqrt(n)), n))
    rows = math.ceil(n / cols)
    return cols, (rows * (h + gutter) - gutter) * scale, (cols * (w + gutter) - gutter) * scale


def tile_pairs(tiles: npt.ArrayLike) -> np.ndarray:
    """uint8 ``(N, H, W, 4)`` tiles -> ``(2N, 3H, 3W, 4)``: each tile centred on a transparent ``3H x 3W`` canvas,
    then the same tile repeated 3x3 (a seam shows only where a tile meets its own copies)."""
    arr = np.asarray(tiles)
    if arr.ndim != 4 or arr.shape[-1] != 4 or arr.dtype != np.uint8 or arr.shape[0] < 1:
        raise ValueError(f"tiles must be uint8 (N, H, W, 4) with N >= 1, got {arr.dtype} {arr.shape}")
    n, h, w, _ = arr.shape
    out = np.zeros((2 * n, 3 * h, 3 * w, 4), np.uint8)
    out[0::2, h : 2 * h, w : 2 * w] = arr
    out[1::2] = np.tile(arr, (1, 3, 3, 1))
    return out


def compose_tiled_preview(
    tiles: npt.ArrayLike, *, columns: int | None = None, gutter: int = 1, scale: int = 1
) -> np.ndarray:
    """The tiled-preview sheet of tiles: each tile beside its 3x3 repeat (:func:`tile_pairs`), ``columns`` tiles
    (pairs) per row (default square-ish), ``gutter`` transparent pixels between cells, upscaled by ``scale``.
    :func:`tiled_preview_shape` gives its size without making it."""
    pairs = tile_pairs(tiles)
    cols, _, _ = tiled_preview_shape(len(pairs) // 2, 1, 1, columns=columns)
    return compose_sheet(pairs, columns=2 * cols, gutter=gutter, scale=scale)


def tiled_preview_shape(
    n: int, h: int, w: int, *, columns: int | None = None, gutter: int = 1, scale: int = 1
) -> tuple[int, int, int]:
    """``(tiles per row, sheet height, sheet width)`` of :func:`compose_tiled_preview` for ``n`` tiles of
    ``h x w`` (no pixels are made)."""
    cols = max(1, min(columns or math.ceil(math.sqrt(n)), n))
    _, sheet_h, sheet_w = sheet_shape(2 * n, 3 * h, 3 * w, columns=2 * cols, gutter=gutter, scale=scale)
    return cols, sheet_h, sheet_w


def check_output_size(
    width: int,
    height: int,
    *,
    what: str = "the sheet",
    field: str = "scale",
    advice: str = "lower --scale or --count, or use --separate",
) -> None:
    """Refuse an output image over :data:`MAX_OUTPUT_SIDE` on a side or :data:`MAX_OUTPUT_PIXELS` in all, before
    it is made.

    Raises:
        InvalidRequest: naming ``field``, the size and the limit.
    """
    if width > MAX_OUTPUT_SIDE or height > MAX_OUTPUT_SIDE or width * height > MAX_OUTPUT_PIXELS:
        raise InvalidRequest(
            f"{what} would be {width}x{height} pixels; the limit is {MAX_OUTPUT_SIDE} on a side and "
            f"{MAX_OUTPUT_PIXELS // 2**20} megapixels in all: {advice}",
            field=field,
        )


def sheet_description(
    names: Sequence[str],
    image: str,
    sprite_size: tuple[int, int],
    *,
    columns: int,
    gutter: int = 1,
    scale: int = 1,
    duration_ms: int = 100,
    app_version: str | None = None,
) -> dict[str, Any]:
    """The JSON description of a :func:`compose_sheet` sheet in the TexturePacker / Aseprite ``--data`` "array"
    shape (Phaser, Godot importers and most engines read it).

    Args:
        names: one frame name per sprite (``filename`` of each frame), in sheet order.
        image: the sheet's file name, as the description refers to it (``meta.image``).
        sprite_size: ``(width, height)`` of one sprite before scaling.
        columns, gutter, scale: as given to :func:`compose_sheet`.
        duration_ms: each frame's ``duration`` (Aseprite's field; animations play frames in order).

    Returns:
        ``{"frames": [{"filename", "frame": {x, y, w, h}, "rotated", "trimmed", "spriteSourceSize", "sourceSize",
        "duration"}, ...], "meta": {"app", "version", "image", "format", "size": {w, h}, "scale"}}`` with frame
        rectangles in the scaled sheet's pixels.
    """
    w, h = sprite_size
    _, sheet_h, sheet_w = sheet_shape(len(names), h, w, columns=columns, gutter=gutter, scale=scale)
    frames = []
    for i, name in enumerate(names):
        r, c = divmod(i, columns)
        x, y = c * (w + gutter) * scale, r * (h + gutter) * scale
        frames.append(
            {
                "filename": name,
                "frame": {"x": x, "y": y, "w": w * scale, "h": h * scale},
                "rotated": False,
                "trimmed": False,
                "spriteSourceSize": {"x": 0, "y": 0, "w": w * scale, "h": h * scale},
                "sourceSize": {"w": w * scale, "h": h * scale},
                "duration": int(duration_ms),
            }
        )
    if app_version is None:
        from . import __version__ as app_version
    return {
        "frames": frames,
        "meta": {
            "app": "pixelsprite",
            "version": app_version,
            "image": image,
            "format": "RGBA8888",
            "size": {"w": int(sheet_w), "h": int(sheet_h)},
            "scale": str(scale),
        },
    }
