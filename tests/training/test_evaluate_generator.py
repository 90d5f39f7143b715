"""The fd that picks a generator's defaults: the frozen evaluator's Fréchet distance, and the choice rule."""

from __future__ import annotations

import numpy as np
import pytest

from training.evaluate_generator import choose_default, frechet_meter

from .drawing import draw_sprites


@pytest.mark.parametrize("size", [16, 40])
def test_evaluator_fd_ranks_damage(size: int) -> None:
    real = draw_sprites(96, size, seed=0)
    meter = frechet_meter(real)
    assert meter.name == "fd_evaluator"
    same_kind = meter(draw_sprites(96, size, seed=1))
    noisy = real.copy()
    rng = np.random.default_rng(0)
    opaque = noisy[..., 3] > 0
    noisy[..., :3][opaque] = rng.integers(0, 256, (int(opaque.sum()), 3), dtype=np.uint8)
    assert meter(real) < 1e-6  # a set against itself
    assert 0 < same_kind < meter(noisy)  # another draw of the same shapes sits far closer than colour noise


def test_oversized_sprites_fall_back_to_pixel_blocks() -> None:
    meter = frechet_meter(draw_sprites(24, 48, seed=0))
    assert meter.name == "fd_pixels8" and meter(draw_sprites(24, 48, seed=0)) < 1e-6


def test_choose_default_takes_the_cheapest_row_within_tolerance() -> None:
    rows = [
        {"solver": "euler", "steps": 1, "nfe": 1, "fd": 1.30, "sprites_per_s": 900.0},
        {"solver": "euler", "steps": 2, "nfe": 2, "fd": 1.05, "sprites_per_s": 500.0},
        {"solver": "heun", "steps": 1, "nfe": 2, "fd": 1.08, "sprites_per_s": 520.0},
        {"solver": "heun", "steps": 4, "nfe": 8, "fd": 0.95, "sprites_per_s": 100.0},
    ]
    assert choose_default(rows, reference_fd=1.0) == rows[2]  # nfe 2 ties; the faster of the two
    assert choose_default(rows, reference_fd=0.5) == rows[3]  # none within 10%: the lowest fd


def test_choose_default_keeps_to_the_interactive_budget() -> None:
    rows = [
        {"solver": "ddim", "steps": s, "nfe": s, "fd": fd, "sprites_per_s": 400.0 / s}
        for s, fd in ((2, 4.7), (3, 4.1), (4, 3.6), (8, 3.2), (100, 2.8))
    ]
    assert choose_default(rows, reference_fd=2.6)["steps"] == 100  # no budget: only 100 steps is within 10%
    assert choose_default(rows, reference_fd=2.6, max_nfe=4)["steps"] == 4  # budget: its best fd instead
    assert choose_default(rows, reference_fd=3.3, max_nfe=4)["steps"] == 4  # within 10% inside the budget
    assert choose_default(rows, reference_fd=4.4, max_nfe=4)["steps"] == 2
    assert choose_default(rows, reference_fd=2.6, max_nfe=1)["steps"] == 100  # nothing fits: all rows count
