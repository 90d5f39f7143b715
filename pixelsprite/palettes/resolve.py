"""What a request may give as a palette, turned into a :class:`~pixelsprite.palettes.model.Palette`.

A palette argument is one of:

* a :class:`Palette`;
* a built-in name (``"db32"``, ``"PICO-8"``, ...; see :mod:`pixelsprite.palettes.builtin`);
* a list of colours: ``"#rrggbb"`` strings and/or ``[r, g, b]`` triples, or one string ``"#rrggbb,#rrggbb,..."``;
* a palette file path (``.gpl .hex .pal .act .png .tres``), when ``allow_paths`` is true (the Python API and the
  CLI; a network transport passes ``allow_paths=False``).

Errors name the request field (``palette`` by default) and list the built-in names.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidRequest, PaletteError
from .builtin import builtin_names, lookup
from .formats import FORMATS, read_palette
from .model import MAX_PALETTE_COLORS, Palette, parse_colors

__all__ = ["PaletteSpec", "is_palette_file", "resolve_palette"]

PaletteSpec = Palette | str | os.PathLike | list | tuple | np.ndarray
"""A palette argument (see the module doc)."""


def _hint(allow_paths: bool) -> str:
    what = "a built-in name, a list of '#rrggbb' colours"
    what += f", or a palette file ({', '.join('.' + f for f in FORMATS)})" if allow_paths else ""
    return f"{what}; built-in palettes: {', '.join(builtin_names())}"


def _from_list(values: Any, field: str) -> Palette:
    try:
        colors = parse_colors(values, field)
    except ValueError as e:
        raise InvalidRequest(str(e), field=field) from None
    if not 1 <= len(colors) <= MAX_PALETTE_COLORS:
        raise InvalidRequest(f"{field} must list 1 to {MAX_PALETTE_COLORS} colours, got {len(colors)}", field=field)
    return Palette("custom", colors, "colours given in the request")


def _from_file(path: str | os.PathLike, field: str) -> Palette:
    try:
        return read_palette(path)
    except PaletteError as e:
        e.field = field
        raise


def is_palette_file(spec: Any) -> bool:
    """Whether ``spec`` names a palette file (a path object, or a string that is not a built-in name or a colour
    list and looks like a path). Reads nothing: a request checks the other forms when it is built and reads a file
    only when it runs."""
    if isinstance(spec, os.PathLike):
        return True
    if not isinstance(spec, str) or not spec.strip():
        return False
    text = spec.strip()
    if lookup(text) is not None or text.startswith("#") or "," in text:
        return False
    return Path(text).suffix.lower().lstrip(".") in FORMATS or os.sep in text or "/" in text


def resolve_palette(spec: Any, *, field: str = "palette", allow_paths: bool = True) -> Palette:
    """A palette argument -> :class:`Palette`.

    Raises:
        InvalidRequest: an unknown name, a bad colour list, or a path where paths are not allowed (naming
            ``field`` and the built-in names).
        PaletteError: a palette file that cannot be read or is malformed (``field`` set).
    """
    if isinstance(spec, Palette):
        return spec
    if isinstance(spec, np.ndarray):
        if spec.ndim != 2 or spec.shape[1] != 3:
            raise InvalidRequest(f"{field} as an array must be (K, 3) RGB, got {spec.shape}", field=field)
        return _from_list(spec.tolist(), field)
    if isinstance(spec, (list, tuple)):
        return _from_list(spec, field)
    if isinstance(spec, os.PathLike):
        if not allow_paths:
            raise InvalidRequest(f"{field} cannot be a file path here; give {_hint(False)}", field=field)
        return _from_file(spec, field)
    if not isinstance(spec, str) or not spec.strip():
        raise InvalidRequest(f"{field} must be {_hint(allow_paths)}; got {spec!r}", field=field)
    text = spec.strip()
    found = lookup(text)
    if found is not None:
        return found
    if text.startswith("#") or "," in text:
        return _from_list([t.strip() for t in text.split(",") if t.strip()], field)
    if is_palette_file(text):
        if not allow_paths:
            raise InvalidRequest(f"{field} cannot be a file path here; give {_hint(False)}", field=field)
        if Path(text).exists():
            return _from_file(text, field)
        raise InvalidRequest(f"{field}: no palette file {text!r}; give {_hint(True)}", field=field)
    raise InvalidRequest(f"unknown palette {text!r}; give {_hint(allow_paths)}", field=field)
