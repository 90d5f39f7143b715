"""Palettes: a model, built-ins, extraction, enforcement, and the files editors exchange.

=================  ===========================================================================================
module             responsibility
=================  ===========================================================================================
``model``          :class:`Palette`: a name, uint8 ``(K, 3)`` colours, a source/credit
``builtin``        the built-in palettes (PICO-8, DB16, DB32, ENDESGA-16/32, AAP-64, Resurrect-64, ...)
``order``          ordering colours as ramps: greys, then hue bins, dark to light
``extract``        N colours from one sprite or a batch: weighted k-means or median cut in OKLab
``enforce``        mapping sprites onto a palette: nearest OKLab colour, Bayer dithering, outlines kept
``formats``        ``.gpl .hex .pal .act .png .tres`` read and written, swatch images
``resolve``        a request's palette argument (name, colour list, file) -> :class:`Palette`
=================  ===========================================================================================

See ``docs/palettes.md``.
"""

from __future__ import annotations

from .builtin import BUILTIN, builtin, builtin_names
from .enforce import DITHERS, apply_palette, enforce, outline_mask, palette_indices
from .extract import METHODS, color_counts, extract
from .formats import (
    FORMATS,
    decode_palette,
    encode_palette,
    format_for_path,
    read_palette,
    swatch,
    swatch_png,
    write_palette,
)
from .model import MAX_PALETTE_COLORS, Palette, parse_colors
from .order import ramp_order, sort_ramps
from .resolve import PaletteSpec, is_palette_file, resolve_palette

__all__ = [
    "Palette", "MAX_PALETTE_COLORS", "parse_colors",
    "BUILTIN", "builtin", "builtin_names",
    "ramp_order", "sort_ramps",
    "METHODS", "color_counts", "extract",
    "DITHERS", "outline_mask", "palette_indices", "apply_palette", "enforce",
    "FORMATS", "format_for_path", "encode_palette", "decode_palette", "read_palette", "write_palette",
    "swatch", "swatch_png",
    "PaletteSpec", "is_palette_file", "resolve_palette",
]  # fmt: skip
