"""Models for the inpainting tests of the bridge surfaces (Python client, playground): the tiny ``pixel`` bundles of
``tests/pixelsprite/pixel_bundles.py`` (``tpixel``: 8x8, labels a/b; ``tpixel-u``: unconditional) next to the tiny
VAE ``tiny`` (8x8, no inpainting), in one folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pixelsprite.registry import Registry

SIZE = 8


def write_pixel_models(root: Path, bundle_writer: Any) -> Path:
    """Write ``tpixel``, ``tpixel-u`` and ``tiny`` into ``root``; returns ``root``."""
    from tests.pixelsprite.pixel_bundles import write_pixel_model  # imports torch (skips without it)

    write_pixel_model(root)
    write_pixel_model(root, "tpixel-u", labels=())
    bundle_writer(root, "tiny")
    return root


def pixel_registry(root: Path) -> Registry:
    return Registry([root], builtin=False, env=False)


def sprite(seed: int = 0) -> np.ndarray:
    """An 8x8 RGBA sprite with hard alpha and colours outside every palette (to see that they are kept)."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (SIZE, SIZE, 4), dtype=np.uint8)
    image[..., 3] = np.where(rng.random((SIZE, SIZE)) < 0.7, 255, 0)
    image[image[..., 3] == 0] = 0
    return image
