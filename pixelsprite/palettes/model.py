"""The palette model: a named, ordered list of opaque sRGB colours.

A :class:`Palette` is frozen: ``colors`` is a read-only uint8 array ``(K, 3)`` with ``1 <= K <= 256``
(:data:`MAX_PALETTE_COLORS`, the most an indexed PNG, a ``.act`` file or Aseprite's palette holds). Order is kept
as given: index ``i`` of a quantized sprite is ``colors[i]``. Duplicates are allowed (published palettes rarely
have them; a file may).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..colorspace import srgb_to_oklab
from ..errors import PaletteError

__all__ = ["MAX_PALETTE_COLORS", "Palette", "parse_hex", "parse_colors"]

MAX_PALETTE_COLORS = 256
_HEX = re.compile(r"#?([0-9a-fA-F]{6})")


def parse_hex(text: str) -> tuple[int, int, int]:
    """``"#rrggbb"`` or ``"rrggbb"`` -> ``(r, g, b)``; ValueError otherwise."""
    m = _HEX.fullmatch(text.strip())
    if m is None:
        raise ValueError(f"expected a colour as '#rrggbb', got {text!r}")
    v = int(m.group(1), 16)
    return (v >> 16) & 255, (v >> 8) & 255, v & 255


def parse_colors(values: Iterable[Any], what: str = "colours") -> np.ndarray:
    """A list of ``"#rrggbb"`` strings and/or ``(r, g, b)`` triples of ints 0..255 -> uint8 ``(K, 3)``.

    Raises:
        ValueError: naming the first bad entry by index.
    """
    out: list[tuple[int, int, int]] = []
    for i, v in enumerate(values):
        if isinstance(v, str):
            try:
                out.append(parse_hex(v))
            except ValueError as e:
                raise ValueError(f"{what}[{i}]: {e}") from None
            continue
        if (
            isinstance(v, (list, tuple, np.ndarray))
            and len(v) == 3
            and all(isinstance(c, (int, np.integer)) and not isinstance(c, bool) and 0 <= int(c) <= 255 for c in v)
        ):
            out.append((int(v[0]), int(v[1]), int(v[2])))
            continue
        raise ValueError(f"{what}[{i}] must be '#rrggbb' or an [r, g, b] triple of integers 0..255, got {v!r}")
    return np.array(out, dtype=np.uint8).reshape(-1, 3)


@dataclass(frozen=True, eq=False)
class Palette:
    """A named palette.

    Attributes:
        name: a short name (``"db32"``, ``"proposed"``, a file's stem).
        colors: uint8 ``(K, 3)`` sRGB, read-only, ``1 <= K <= 256``.
        source: where the colours come from (the author and the published list, a file path, ...).
    """

    name: str
    colors: np.ndarray
    source: str = ""

    def __post_init__(self) -> None:
        arr = np.asarray(self.colors)
        if (
            arr.ndim != 2
            or arr.shape[1] != 3
            or not (
                arr.dtype == np.uint8
                or (np.issubdtype(arr.dtype, np.integer) and arr.min(initial=0) >= 0 and arr.max(initial=0) <= 255)
            )
        ):
            raise PaletteError(f"palette {self.name!r}: colors must be uint8 (K, 3), got {arr.dtype} {arr.shape}")
        if not 1 <= len(arr) <= MAX_PALETTE_COLORS:
            raise PaletteError(f"palette {self.name!r} has {len(arr)} colours; a palette has 1 to {MAX_PALETTE_COLORS}")
        arr = np.array(arr, dtype=np.uint8)  # a private copy
        arr.setflags(write=False)
        object.__setattr__(self, "colors", arr)

    @classmethod
    def from_colors(cls, name: str, values: Sequence[Any], source: str = "") -> Palette:
        """From ``"#rrggbb"`` strings and/or ``(r, g, b)`` triples; PaletteError naming a bad entry."""
        try:
            return cls(name, parse_colors(values), source)
        except ValueError as e:
            raise PaletteError(f"palette {name!r}: {e}") from None

    def __len__(self) -> int:
        return int(self.colors.shape[0])

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Palette)
            and self.name == other.name
            and self.source == other.source
            and np.array_equal(self.colors, other.colors)
        )

    def __hash__(self) -> int:
        return hash((self.name, self.source, self.colors.tobytes()))

    @property
    def hex(self) -> tuple[str, ...]:
        """The colours as ``"#rrggbb"`` strings."""
        return tuple(f"#{r:02x}{g:02x}{b:02x}" for r, g, b in self.colors.tolist())

    @property
    def oklab(self) -> np.ndarray:
        """The colours in OKLab, float64 ``(K, 3)``."""
        return srgb_to_oklab(self.colors)

    def renamed(self, name: str, source: str | None = None) -> Palette:
        return Palette(name, self.colors, self.source if source is None else source)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"name", "size", "source", "colors": ["#rrggbb", ...]}``."""
        return {"name": self.name, "size": len(self), "source": self.source, "colors": list(self.hex)}

    def __repr__(self) -> str:
        return f"Palette({self.name!r}, {len(self)} colours)"
