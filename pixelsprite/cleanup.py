"""Request-level pixel-art clean-up passes: pure, deterministic functions on uint8 RGBA sprites.

Every sprite request (generate, variations, interpolate, grid, decode) takes these options; the request layer applies
them in one place, after the model's own decoding policy (hard alpha, ``max_colors``, the manifest's despeckle):

1. ``alpha_threshold`` (0..255, default 127): input images (variations ``image``, interpolate/grid endpoints) are made
   hard-alpha with it: a pixel is opaque iff its alpha > threshold. Decoded output already has binary alpha.
2. ``despeckle`` (on/off, :func:`remove_isolated`): every lone opaque pixel takes its most common neighbour colour.
3. ``palette`` / ``dither`` (:func:`pixelsprite.palettes.enforce`). Despeckle runs first so dithering survives.
4. ``outline`` (:func:`outline`): ``"#rrggbb"`` or ``"darkest"`` (the darkest colour of the palette when one is given,
   else of each sprite), drawn last so it is never dithered or remapped.
"""

from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt

from .colorspace import srgb_to_oklab
from .postprocess import as_batch

__all__ = ["DARKEST", "remove_isolated", "darkest_color", "outline", "parse_outline"]

DARKEST = "darkest"
_DIRS = ((-1, 0), (1, 0), (0, -1), (0, 1))  # up, down, left, right


def _neighbours(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Packed colours, opacity and RGBA of the 4 neighbours (outside the canvas: transparent), ``(4, N, H, W..)``."""
    n, h, w, _ = arr.shape
    packed = np.ascontiguousarray(arr).view(np.uint32)[..., 0]
    p_packed = np.pad(packed, ((0, 0), (1, 1), (1, 1)))
    p_rgba = np.pad(arr, ((0, 0), (1, 1), (1, 1), (0, 0)))
    nb_packed = np.stack([p_packed[:, 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] for dy, dx in _DIRS])
    nb_rgba = np.stack([p_rgba[:, 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] for dy, dx in _DIRS])
    return nb_packed, nb_rgba[..., 3] > 0, nb_rgba


def remove_isolated(rgba: npt.ArrayLike) -> np.ndarray:
    """Merge every lone pixel into its most common neighbour colour; one simultaneous pass, alpha untouched.

    A lone pixel is an opaque pixel none of whose 4-neighbours (up, down, left, right) has its exact RGBA. It takes
    the colour that most of its opaque 4-neighbours share (ties: the first in the order up, down, left, right). A
    lone pixel with no opaque neighbour is left as it is (removing it would change the silhouette).

    Args:
        rgba: uint8 ``(N, H, W, 4)`` or ``(H, W, 4)`` with hard alpha.

    Returns:
        a new uint8 array of the input's shape.
    """
    arr, single = as_batch(rgba)
    out = arr.copy()
    if arr.size == 0:
        return out[0] if single else out
    packed = np.ascontiguousarray(arr).view(np.uint32)[..., 0]
    nb_packed, nb_op, nb_rgba = _neighbours(arr)
    opaque = arr[..., 3] > 0
    lone = opaque & ~(nb_op & (nb_packed == packed)).any(0)
    # votes[d]: how many opaque neighbours share neighbour d's colour (0 when d is transparent)
    votes = np.zeros(nb_packed.shape, np.int8)
    for d in range(4):
        for e in range(4):
            votes[d] += nb_op[e] & (nb_packed[e] == nb_packed[d])
    votes = np.where(nb_op, votes, 0)
    best = np.argmax(votes, axis=0)  # first maximum: up, down, left, right
    fix = lone & nb_op.any(0)
    chosen = np.take_along_axis(nb_rgba, best[None, ..., None], axis=0)[0]
    out[fix] = chosen[fix]
    return out[0] if single else out


def darkest_color(colors: npt.ArrayLike) -> tuple[int, int, int]:
    """The darkest of uint8 RGB ``colors`` ``(K, 3)``: lowest OKLab lightness (ties: lowest ``0xRRGGBB``)."""
    c = np.asarray(colors, dtype=np.uint8).reshape(-1, 3)
    if c.shape[0] == 0:
        raise ValueError("no colours to take the darkest of")
    light = srgb_to_oklab(c)[:, 0]
    key = (c[:, 0].astype(np.int64) << 16) | (c[:, 1].astype(np.int64) << 8) | c[:, 2]
    i = np.lexsort((key, light))[0]
    return int(c[i, 0]), int(c[i, 1]), int(c[i, 2])


def outline(
    rgba: npt.ArrayLike, color: tuple[int, int, int] | str = DARKEST, palette: npt.ArrayLike | None = None
) -> np.ndarray:
    """Draw a 1-pixel outline: every transparent pixel 4-adjacent to an opaque one becomes opaque ``color``.

    Only pixels inside the canvas are drawn (a sprite touching the border gets no outline on that side); opaque
    pixels never change. ``color`` is an RGB triple or ``"darkest"``: the darkest colour of ``palette`` (uint8
    ``(K, 3)``) when given, else of each sprite's own opaque pixels (a sprite without any stays empty).

    Returns:
        a new uint8 array of the input's shape.
    """
    arr, single = as_batch(rgba)
    out = arr.copy()
    if arr.size == 0:
        return out[0] if single else out
    _, nb_op, _ = _neighbours(arr)
    opaque = arr[..., 3] > 0
    ring = ~opaque & nb_op.any(0)
    for i in range(arr.shape[0]):
        if not ring[i].any():
            continue
        if isinstance(color, str):
            if palette is not None:
                rgb = darkest_color(palette)
            else:
                rgb = darkest_color(np.unique(arr[i][opaque[i]][:, :3], axis=0))
        else:
            rgb = color
        out[i][ring[i]] = (*rgb, 255)
    return out[0] if single else out


def parse_outline(value: object) -> tuple[int, int, int] | str | None:
    """``None``, ``"darkest"`` or ``"#rrggbb"`` -> None, ``"darkest"`` or an RGB triple; ValueError otherwise."""
    if value is None:
        return None
    if value == DARKEST:
        return DARKEST
    if isinstance(value, str) and re.fullmatch(r"#[0-9a-fA-F]{6}", value):
        v = int(value[1:], 16)
        return (v >> 16) & 255, (v >> 8) & 255, v & 255
    raise ValueError(f'outline must be "#rrggbb", "darkest" or null, got {value!r}')
