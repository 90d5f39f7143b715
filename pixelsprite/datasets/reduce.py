"""Pixel-art-aware 2x reduction: never a blurred average.

Per 2x2 block: the block is opaque when at least two of its four pixels are (ties keep the silhouette);
its colour is the most frequent opaque colour in the block, ties broken towards the darkest (outlines are dark
and must survive).
"""

from __future__ import annotations

import numpy as np


def reduce_2x(rgba: np.ndarray) -> np.ndarray:
    """(H, W, 4) uint8 hard-alpha RGBA with even H, W -> (H/2, W/2, 4) using only colours of each block."""
    h, w = rgba.shape[:2]
    if h % 2 or w % 2:
        raise ValueError(f"reduce_2x needs even sizes, got {w}x{h}")
    blocks = rgba.reshape(h // 2, 2, w // 2, 2, 4).transpose(0, 2, 1, 3, 4).reshape(h // 2, w // 2, 4, 4)
    opaque = blocks[..., 3] == 255  # (h/2, w/2, 4)
    rgb = blocks[..., :3].astype(np.int32)
    key = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]  # (h/2, w/2, 4)
    # count[i] = number of opaque pixels in the block with the same colour as pixel i
    same = (key[..., :, None] == key[..., None, :]) & opaque[..., None, :] & opaque[..., :, None]
    count = same.sum(-1)
    luma = 299 * rgb[..., 0] + 587 * rgb[..., 1] + 114 * rgb[..., 2]
    # score: most frequent first, then darkest; transparent pixels never win
    score = np.where(opaque, count * 1_000_000 - luma, -1)
    pick = score.argmax(-1)
    out = np.take_along_axis(blocks, pick[..., None, None], axis=2)[:, :, 0]
    keep = opaque.sum(-1) >= 2
    out = np.where(keep[..., None], out, 0).astype(np.uint8)
    out[..., 3] = np.where(keep, 255, 0)
    return out
