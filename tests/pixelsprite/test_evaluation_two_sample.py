"""The two-sample CNN: exact gradients, different sets told apart, one distribution not, same seed same answer."""

from __future__ import annotations

import numpy as np
import pytest

from pixelsprite.evaluation.corruptions import blur, rgb_noise
from pixelsprite.evaluation.two_sample import (
    TinyCNN,
    _hflip,
    blas_threads,
    default_widths,
    to_input,
    two_sample_accuracy,
)

FAST = {"steps": 60, "widths": (8, 16)}


def patchwork(n: int, seed: int, size: int = 12, block: int = 3) -> np.ndarray:
    """uint8 (n, size, size, 4): blocks of ``block`` x ``block`` flat random colours, a fifth of them transparent
    (crisp pixel art in miniature: flat areas and hard steps everywhere)."""
    rng = np.random.default_rng(seed)
    k = size // block
    alpha = np.where(rng.random((n, k, k, 1)) < 0.8, 255, 0)
    out = np.concatenate([rng.integers(0, 256, (n, k, k, 3)), alpha], -1).astype(np.uint8)
    out[out[..., 3] == 0] = 0
    return np.repeat(np.repeat(out, block, 1), block, 2)


@pytest.mark.parametrize("widths", [(3,), (3, 4), (3, 4, 5)])
def test_gradients_match_finite_differences(widths: tuple[int, ...]) -> None:
    rng = np.random.default_rng(0)
    net = TinyCNN(widths, rng)
    for k in net.params:
        net.params[k] = net.params[k].astype(np.float64)
    x = rng.uniform(-1, 1, (6, 3, 7, 5))  # channels first, odd sizes: the stride-2 layer's edges
    d = rng.standard_normal(3)
    logits, cache = net.forward(x)
    assert logits.shape == (3,)
    grads = net.backward(cache, d)
    for k, p in net.params.items():
        assert grads[k].shape == p.shape
        for i in rng.choice(p.size, min(p.size, 12), replace=False):
            old = p.flat[i]
            p.flat[i] = old + 1e-6
            up = float(net.forward(x)[0] @ d)
            p.flat[i] = old - 1e-6
            down = float(net.forward(x)[0] @ d)
            p.flat[i] = old
            assert grads[k].flat[i] == pytest.approx((up - down) / 2e-6, rel=1e-5, abs=1e-7), k


def test_input_scaling_equality_flags_and_their_mirror_image() -> None:
    s = np.zeros((1, 2, 3, 4), np.uint8)
    s[0, 0] = [(255, 0, 0, 255), (255, 0, 0, 255), (0, 0, 255, 255)]
    x = to_input(s)
    assert x.shape == (1, 2, 3, 6) and x.dtype == np.float32 and x.min() >= -1 and x.max() <= 1
    assert x[0, 0, 0, :4].tolist() == [1, -1, -1, 1]
    assert x[0, 0, :, 4].tolist() == [1, -1, -1]  # red = red, red != blue, no right neighbour
    assert x[0, :, 0, 5].tolist() == [-1, -1]  # red over transparent; the last row has no lower neighbour
    assert x[0, 1, :2, 4].tolist() == [1, 1]  # transparent pixels equal each other
    board = np.random.default_rng(0).integers(0, 2, (4, 5, 7, 4)).astype(np.uint8)
    assert np.array_equal(_hflip(to_input(board)), to_input(board[:, :, ::-1]))
    with pytest.raises(ValueError, match="uint8"):
        to_input(np.zeros((1, 4, 4, 4), np.float32))


def test_crisp_and_blurred_sprites_are_told_apart() -> None:
    crisp, other = patchwork(60, 1), patchwork(60, 2)
    res = two_sample_accuracy(crisp, blur(other), seed=0, **FAST)
    assert res.accuracy > 0.95 and res.per_class == 60 and res.folds == 5 and len(res.fold_accuracies) == 5
    assert (
        two_sample_accuracy(crisp, rgb_noise(other, np.random.default_rng(0), 8.0), seed=0, **FAST).accuracy > 0.9
    )  # the equality flags see mild noise


def test_one_distribution_is_near_chance() -> None:
    res = two_sample_accuracy(patchwork(100, 3), patchwork(100, 4), seed=0, **FAST)
    assert abs(res.accuracy - 0.5) < 0.12, res


def test_same_seed_same_answer_and_the_larger_set_is_subsampled() -> None:
    a, b = patchwork(30, 5), blur(patchwork(70, 6))
    one = two_sample_accuracy(a, b, seed=7, **FAST)
    again = two_sample_accuracy(a, b, seed=7, **FAST)
    assert one == again and one.per_class == 30 and one.seed == 7 and one.steps == 60
    assert two_sample_accuracy(a, b, seed=7, max_per_class=20, **FAST).per_class == 20
    assert 0.0 <= one.fold_std <= 0.5


def test_default_widths_by_size() -> None:
    assert default_widths(16) == (32, 64) and default_widths(40) == (16, 32)
    net = TinyCNN(default_widths(16), np.random.default_rng(0))
    assert sum(v.size for v in net.params.values()) == 20385  # 32*54+32 + 64*288+64 + 128+1


def test_bad_inputs_are_refused() -> None:
    a = patchwork(10, 0)
    with pytest.raises(ValueError, match="both be"):
        two_sample_accuracy(a, patchwork(10, 0, size=8))
    with pytest.raises(ValueError, match="at least folds"):
        two_sample_accuracy(a[:3], a)
    with pytest.raises(ValueError, match="folds >= 2"):
        two_sample_accuracy(a, a, folds=1)
    with pytest.raises(ValueError, match="positive channel counts"):
        two_sample_accuracy(a, a, widths=())


def test_blas_threads_restores_the_setting() -> None:
    from pixelsprite.evaluation.two_sample import _openblas

    blas = _openblas()
    if blas is None:
        pytest.skip("numpy is not linked against OpenBLAS here")
    get, _ = blas
    before = get()
    with blas_threads(1):
        assert get() == 1
    assert get() == before
    with blas_threads(None):
        assert get() == before
