"""Fixtures for the training tests: tiny hand-drawn sprite sets (no shared data needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from training.data.builders import SpriteSet  # noqa: E402

from .drawing import draw_sprites  # noqa: E402

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def tiny_set() -> SpriteSet:
    images = draw_sprites(96, 16)
    held = np.zeros(96, bool)
    held[::8] = True
    return SpriteSet(
        "tiny16",
        images,
        np.arange(96) % 2,
        ("diamond", "square"),
        tuple(f"s{i}.png" for i in range(96)),
        held,
        ({"name": "drawn in tests", "license": "MIT", "source": "tests/training/conftest.py"},),
    )


@pytest.fixture
def shared_datasets() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared/datasets is absent")
    return SHARED
