"""Known damage to real sprites, to show how the suite's measures respond (a sanity check of each measure).

Each function maps uint8 hard-alpha ``(N, S, S, 4)`` to the same shape; transparent pixels stay ``(0, 0, 0, 0)``
and alpha stays hard (0 or 255 where it was).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["CORRUPTIONS", "blocks2", "blur", "half_resolution", "posterize", "rgb_noise"]


def _clean(out: np.ndarray) -> np.ndarray:
    out[out[..., 3] == 0] = 0
    return out


def rgb_noise(rgba: np.ndarray, rng: np.random.Generator, sigma: float = 16.0) -> np.ndarray:
    """Gaussian noise of ``sigma`` (0..255 units) on the RGB of every opaque pixel."""
    out = rgba.copy()
    noisy = rgba[..., :3].astype(np.float32) + rng.normal(0, sigma, rgba[..., :3].shape).astype(np.float32)
    out[..., :3] = np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
    return _clean(out)


def half_resolution(rgba: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
    """Half the resolution: 2× down (each 2×2 block takes its top-left pixel, alpha too), then 2× up (nearest)."""
    out = np.repeat(np.repeat(rgba[:, ::2, ::2], 2, axis=1), 2, axis=2)[:, : rgba.shape[1], : rgba.shape[2]]
    return _clean(np.ascontiguousarray(out))


blocks2 = half_resolution  # the earlier name


def blur(rgba: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
    """A 3×3 Gaussian (binomial 1-2-1) blur of the RGB of opaque pixels; alpha is kept as it is (hard).

    Only opaque neighbours take part (the weights are renormalised over them), so the transparent background does
    not darken the edges: what changes is that every hard step inside a sprite becomes a soft ramp.
    """
    k = np.array([1.0, 2.0, 1.0], np.float32)
    weights = (k[:, None] * k[None, :]).ravel()
    opaque = (rgba[..., 3] > 0).astype(np.float32)[..., None]
    rgb = rgba[..., :3].astype(np.float32) * opaque
    pr = np.pad(rgb, ((0, 0), (1, 1), (1, 1), (0, 0)))
    po = np.pad(opaque, ((0, 0), (1, 1), (1, 1), (0, 0)))
    h, w = rgba.shape[1:3]
    acc, norm = np.zeros_like(rgb), np.zeros_like(opaque)
    for wt, (dy, dx) in zip(weights, [(dy, dx) for dy in range(3) for dx in range(3)]):
        acc += wt * pr[:, dy : dy + h, dx : dx + w]
        norm += wt * po[:, dy : dy + h, dx : dx + w]
    out = rgba.copy()
    out[..., :3] = np.where(opaque > 0, np.clip(np.rint(acc / np.maximum(norm, 1e-6)), 0, 255), 0).astype(np.uint8)
    return _clean(out)


def posterize(rgba: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
    """Two levels per channel (eight colours): each RGB value becomes 0 or 255."""
    out = rgba.copy()
    out[..., :3] = np.where(rgba[..., :3] >= 128, 255, 0).astype(np.uint8)
    return _clean(out)


CORRUPTIONS: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    "RGB noise σ=8": lambda x, rng: rgb_noise(x, rng, 8.0),
    "RGB noise σ=32": lambda x, rng: rgb_noise(x, rng, 32.0),
    "blur (3×3 Gaussian)": blur,
    "half resolution (2×2 blocks)": half_resolution,
    "posterized (8 colours)": posterize,
}
"""Name -> corruption, mild to strong; applied to the training subset of the real-vs-real baseline."""
