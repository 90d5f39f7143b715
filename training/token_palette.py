"""The global palette of a pixel-token generator: OKLab k-means over the training sprites' opaque pixels.

Every pixel of a sprite becomes one token: 0 is transparent, 1..K are the palette's colours. The palette is learned
once from the training split (weighted k-means++ then Lloyd iterations over the distinct colours, weighted by their
pixel counts), stored in the exported manifest as hex strings. Sprites map to tokens and back with the runtime's
own functions (:func:`to_tokens` and :func:`from_tokens` are :func:`pixelsprite.pixel.palette_tokens` and
:func:`pixelsprite.pixel.token_colours`), so training sees exactly what sampling produces.
"""

from __future__ import annotations

import numpy as np

from pixelsprite.colorspace import oklab_to_srgb, srgb_to_oklab
from pixelsprite.palettes.model import parse_hex
from pixelsprite.pixel import palette_tokens as to_tokens
from pixelsprite.pixel import token_colours as from_tokens

__all__ = ["TRANSPARENT", "distinct_colours", "from_hex", "from_tokens", "hex_colours", "kmeans_palette", "to_tokens"]

TRANSPARENT = 0


def distinct_colours(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Opaque colours of (N, S, S, 4) uint8 sprites -> (M, 3) uint8 distinct RGB and (M,) int64 pixel counts."""
    rgb = images[..., :3][images[..., 3] > 0].reshape(-1, 3)
    keys = (rgb[:, 0].astype(np.int64) << 16) | (rgb[:, 1].astype(np.int64) << 8) | rgb[:, 2]
    uniq, counts = np.unique(keys, return_counts=True)
    colours = np.stack([(uniq >> 16) & 255, (uniq >> 8) & 255, uniq & 255], 1).astype(np.uint8)
    return colours, counts


def kmeans_palette(images: np.ndarray, k: int, iterations: int = 30, seed: int = 0) -> np.ndarray:
    """A k-colour palette (k, 3) uint8 for the opaque pixels of ``images`` (N, S, S, 4) uint8.

    Clustering is in OKLab, each distinct colour weighted by its pixel count; each centre is then snapped to the
    most common real colour of its cluster, so the palette holds colours artists used (no averaged mud).
    Fewer distinct colours than k: all of them, in order of frequency.
    """
    colours, counts = distinct_colours(images)
    if len(colours) <= k:
        return colours[np.argsort(-counts, kind="stable")]
    lab = srgb_to_oklab(colours)
    w = counts.astype(np.float64)
    rng = np.random.default_rng(seed)
    # k-means++ seeding, weighted
    centres = [lab[rng.choice(len(lab), p=w / w.sum())]]
    d2 = ((lab - centres[0]) ** 2).sum(1)
    for _ in range(1, k):
        p = w * d2
        centres.append(lab[rng.choice(len(lab), p=p / p.sum())])
        d2 = np.minimum(d2, ((lab - centres[-1]) ** 2).sum(1))
    c = np.stack(centres)
    assign = np.zeros(len(lab), dtype=np.int64)
    for _ in range(iterations):
        assign = _nearest(lab, c)
        sums = np.zeros_like(c)
        np.add.at(sums, assign, lab * w[:, None])
        mass = np.bincount(assign, weights=w, minlength=k)
        live = mass > 0
        c[live] = sums[live] / mass[live, None]
    assign = _nearest(lab, c)
    out = np.zeros((k, 3), dtype=np.uint8)
    for j in range(k):
        members = np.flatnonzero(assign == j)
        out[j] = colours[members[np.argmax(counts[members])]] if len(members) else oklab_to_srgb(c[j])
    mass = np.bincount(assign, weights=w, minlength=k)
    return out[np.argsort(-mass, kind="stable")]


def _nearest(lab: np.ndarray, centres: np.ndarray, chunk: int = 65536) -> np.ndarray:
    out = np.empty(len(lab), dtype=np.int64)
    cc = (centres**2).sum(1)
    for s in range(0, len(lab), chunk):
        x = lab[s : s + chunk]
        out[s : s + chunk] = np.argmin(cc[None] - 2 * x @ centres.T, axis=1)
    return out


def hex_colours(palette: np.ndarray) -> list[str]:
    """(K, 3) uint8 -> ["#rrggbb", ...] (how manifests store a palette)."""
    return [f"#{int(c[0]):02x}{int(c[1]):02x}{int(c[2]):02x}" for c in palette]


def from_hex(colours: list[str]) -> np.ndarray:
    """["#rrggbb", ...] -> (K, 3) uint8."""
    return np.array([parse_hex(c) for c in colours], np.uint8)
