"""Small sprites drawn in code for the training tests."""

from __future__ import annotations

import numpy as np

PALETTE = np.array([[20, 20, 30], [200, 60, 50], [60, 160, 70], [230, 210, 90], [70, 90, 200]], np.uint8)


def draw_sprites(n: int, size: int, seed: int = 0) -> np.ndarray:
    """n outlined rectangles and diamonds in 2-3 colours on transparency: (n, size, size, 4) uint8."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, size, size, 4), np.uint8)
    yy, xx = np.mgrid[0:size, 0:size]
    for i in range(n):
        c = size / 2 + rng.uniform(-size / 8, size / 8, 2)
        r = rng.uniform(size / 5, size / 2.5)
        d = np.abs(yy - c[0]) + np.abs(xx - c[1]) if i % 2 else np.maximum(np.abs(yy - c[0]), np.abs(xx - c[1]))
        fill, edge = d < r - 1, (d >= r - 1) & (d < r)
        out[i][fill] = [*PALETTE[1 + i % 4], 255]
        out[i][edge] = [*PALETTE[0], 255]
    return out
