"""Stage 3 of the pipeline: finishing the model's sprites the way the request asked, in one place.

Order: ``despeckle`` (first, so dithering survives) -> ``palette`` / ``dither`` (nearest colour in OKLab, see
:func:`pixelsprite.palettes.enforce`; skipped when the sampler already drew in the palette) -> ``outline`` (never
remapped; ``"darkest"`` takes the palette's darkest colour when there is one). Alpha never changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..cleanup import outline as draw_outline
from ..cleanup import parse_outline, remove_isolated
from ..errors import InvalidRequest
from ..palettes import Palette, enforce, resolve_palette
from .options import FinishingOptions

__all__ = ["Finishing", "resolve_finishing", "finish"]


@dataclass(frozen=True)
class Finishing:
    """Resolved finishing options.

    Attributes:
        palette: the palette to map onto (a file already read), or None.
        dither: ``"none"``, ``"bayer2"`` or ``"bayer4"``.
        despeckle: merge lone pixels first.
        outline: None, ``"darkest"`` or an RGB triple.
        locked: the sampler drew in ``palette`` itself (palette lock): nothing is mapped afterwards.
    """

    palette: Palette | None = None
    dither: str = "none"
    despeckle: bool = False
    outline: tuple[int, int, int] | str | None = None
    locked: bool = False

    @property
    def locked_colours(self) -> np.ndarray | None:
        """uint8 ``(K, 3)``: the colours a palette-locking sampler may draw, or None (any colour)."""
        return None if self.palette is None else np.asarray(self.palette.colors, np.uint8)


def resolve_finishing(opts: FinishingOptions, *, draws_in_palette: bool = False) -> Finishing:
    """The request's finishing options, with its palette resolved (a palette file is read here).

    ``draws_in_palette``: the model's sampler draws in the palette (pixel models), so dithering has nothing to do
    and is refused, naming ``dither``.

    Raises:
        InvalidRequest / PaletteError: an unknown palette, or a palette file that is missing or malformed.
    """
    palette = None if opts.palette is None else resolve_palette(opts.palette, field="palette")
    if draws_in_palette and opts.dither != "none":
        raise InvalidRequest(
            f"dither {opts.dither!r} has nothing to do with a pixel model: its sampler draws in the "
            "palette itself (palette lock); leave dither out",
            field="dither",
        )
    return Finishing(palette, opts.dither, opts.despeckle, parse_outline(opts.outline), draws_in_palette)


def finish(sprites: np.ndarray, f: Finishing) -> np.ndarray:
    """uint8 ``(N, H, W, 4)`` -> the user's sprites (same shape); each sprite is finished on its own."""
    if f.despeckle:
        sprites = remove_isolated(sprites)
    if f.palette is not None and not f.locked:
        sprites = enforce(sprites, f.palette, dither=f.dither)
    if f.outline is not None:
        sprites = draw_outline(sprites, f.outline, None if f.palette is None else f.palette.colors)
    return sprites
