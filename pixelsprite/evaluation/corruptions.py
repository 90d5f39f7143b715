"""Known damage to real sprites, to show how the suite's distances respond (a sanity check of the feature space).

Each function maps uint8 hard-alpha ``(N, S, S, 4)`` to the same shape; transparent pixels stay ``(0, 0, 0, 0)``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["CORRUPTIONS", "blocks2", "posterize", "rgb_noise"]


def _clean(out: np.ndarray) -> np.ndarray:
    out[out[..., 3] == 0] = 0
    return out


def rgb_noise(rgba: np.ndarray, rng: np.random.Generator, sigma: float = 16.0) -> np.ndarray:
    """Gaussian noise of ``sigma`` (0..255 units) on the RGB of every opaque pixel."""
    out = rgba.copy()
    noisy = rgba[..., :3].astype(np.float32) + rng.normal(0, sigma, rgba[..., :3].shape).astype(np.float32)
    out[..., :3] = np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
    return _clean(out)


def blocks2(rgba: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Half the resolution: each 2x2 block takes its top-left pixel (alpha too)."""
    out = np.repeat(np.repeat(rgba[:, ::2, ::2], 2, axis=1), 2, axis=2)[:, :rgba.shape[1], :rgba.shape[2]]
    return _clean(np.ascontiguousarray(out))


def posterize(rgba: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Two levels per channel (eight colours): each RGB value becomes 0 or 255."""
    out = rgba.copy()
    out[..., :3] = np.where(rgba[..., :3] >= 128, 255, 0).astype(np.uint8)
    return _clean(out)


CORRUPTIONS: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    "RGB noise σ=8": lambda x, rng: rgb_noise(x, rng, 8.0),
    "RGB noise σ=32": lambda x, rng: rgb_noise(x, rng, 32.0),
    "half resolution (2×2 blocks)": blocks2,
    "posterized (8 colours)": posterize,
}
"""Name -> corruption, mild to strong; applied to the training subset of the real-vs-real baseline."""
