"""Field checks for request construction: pure functions that raise :class:`~pixelsprite.errors.InvalidRequest`
(or :class:`~pixelsprite.errors.ImageError`) naming the field and its limit. They read no file and change nothing."""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from ..errors import ImageError, InvalidRequest
from ..palettes import Palette, is_palette_file, resolve_palette
from .limits import MAX_COUNT, MAX_SEED, METHODS

__all__ = [
    "integer", "number", "flag", "name", "model", "seed", "method", "image_input", "images", "endpoint",
    "palette_spec",
]  # fmt: skip


def integer(value: Any, field: str, lo: int, hi: int, label: str | None = None) -> int:
    """``value`` as an int in ``lo .. hi`` (bools are not integers); ``label`` names it in the message."""
    label = label or field
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidRequest(f"{label} must be an integer between {lo} and {hi}, got {value!r}", field=field)
    if not lo <= int(value) <= hi:
        raise InvalidRequest(f"{label} must be between {lo} and {hi}, got {value}", field=field)
    return int(value)


def number(value: Any, field: str, lo: float, hi: float) -> float:
    """``value`` as a finite float in ``lo .. hi``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise InvalidRequest(f"{field} must be a number between {lo} and {hi}, got {value!r}", field=field)
    if not (math.isfinite(float(value)) and lo <= float(value) <= hi):
        raise InvalidRequest(f"{field} must be between {lo} and {hi}, got {value}", field=field)
    return float(value)


def flag(value: Any, field: str) -> None:
    if not isinstance(value, bool):
        raise InvalidRequest(f"{field} must be true or false, got {value!r}", field=field)


def name(value: Any, field: str) -> None:
    """None or a non-empty string (a model, teacher, label or solver name)."""
    if value is not None and (not isinstance(value, str) or not value):
        raise InvalidRequest(f"{field} must be a non-empty string or null, got {value!r}", field=field)


def model(value: Any) -> None:
    name(value, "model")


def seed(value: Any, count: int, field: str = "seed") -> None:
    """None, or a seed whose ``count`` consecutive seeds all fit in ``0 .. MAX_SEED``."""
    if value is not None:
        integer(value, field, 0, MAX_SEED - count + 1)


def method(value: Any) -> None:
    if value not in METHODS:
        raise InvalidRequest(f"method must be one of {', '.join(METHODS)}, got {value!r}", field="method")


def image_input(value: Any, field: str) -> None:
    """An image: a uint8 ``(H, W, 4)`` array, a path or encoded bytes (files are read when the request runs)."""
    if isinstance(value, np.ndarray):
        if value.dtype != np.uint8 or value.ndim != 3 or value.shape[-1] != 4:
            raise ImageError(
                f"{field} must be a uint8 (H, W, 4) RGBA array, got {value.dtype} {value.shape}", field=field
            )
    elif not isinstance(value, (str, os.PathLike, bytes)):
        raise InvalidRequest(
            f"{field} must be an image (path, PNG bytes or RGBA array), got {type(value).__name__}",
            field=field,
        )


def images(value: Any, field: str, what: str | None = None) -> None:
    """A list or tuple of 1 .. MAX_COUNT images."""
    if not isinstance(value, (tuple, list)):
        raise InvalidRequest(f"{field} must be a list of images", field=field)
    integer(len(value), field, 1, MAX_COUNT, what or f"the number of {field}")
    for i, im in enumerate(value):
        image_input(im, f"{field}[{i}]")


def endpoint(value: Any, field: str) -> None:
    """An interpolation endpoint or grid corner: a seed or an image."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        integer(value, field, 0, MAX_SEED)
    else:
        image_input(value, field)


def palette_spec(value: Any, field: str = "palette") -> None:
    """None, a Palette, a built-in name or a colour list (checked here, no I/O), or a palette file path (read when
    the request is resolved, so a missing or malformed file is reported then)."""
    if value is None or isinstance(value, Palette) or is_palette_file(value):
        return
    resolve_palette(value, field=field, allow_paths=False)
