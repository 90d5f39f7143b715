"""The memorization rate's fast path gives exactly the brute-force answer."""

from __future__ import annotations

import numpy as np

from pixelsprite.evaluation.sprites import MEMORIZATION_L1, memorization_rate, nearest_distance


def _sprites(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = rng.integers(0, 256, (n, 8, 8, 4)).astype(np.uint8)
    opaque = rng.random((n, 8, 8)) < 0.5
    out[..., 3] = np.where(opaque, 255, 0)
    out[~opaque] = 0
    return out


def test_memorization_rate_equals_the_brute_force_definition() -> None:
    train = _sprites(60, 0)
    near = train[:10].astype(np.int16) + np.where(train[:10, ..., 3:4] > 0, 1, 0)  # off by 1 on opaque pixels
    far = train[10:15].astype(np.int16) + np.where(train[10:15, ..., 3:4] > 0, 3, 0)
    samples = np.concatenate(
        [_sprites(20, 1), train[20:25], near.clip(0, 255).astype(np.uint8), far.clip(0, 255).astype(np.uint8)]
    )
    brute = float((nearest_distance(samples, train) < MEMORIZATION_L1).mean())
    assert memorization_rate(samples, train) == brute == 15 / 40  # 5 copies + 10 near copies, not the 5 far
    assert memorization_rate(samples[:0], train) == 0.0
