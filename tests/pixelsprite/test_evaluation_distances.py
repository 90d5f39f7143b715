"""Fréchet distance, KID and precision/recall on point clouds whose answers are known."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from pixelsprite.evaluation.distances import frechet_distance, kid, polynomial_mmd2_unbiased, precision_recall


def _cloud(n: int = 400, d: int = 8, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)) @ rng.standard_normal((d, d)) * 0.5


def test_fd_of_identical_sets_is_zero() -> None:
    x = _cloud()
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)


def test_fd_of_a_shifted_copy_is_the_squared_shift() -> None:
    """Same covariance, means apart by δ: FD = |δ|² exactly (the trace term vanishes)."""
    x = _cloud()
    delta = np.linspace(-1, 1, x.shape[1])
    assert frechet_distance(x, x + delta) == pytest.approx(float(delta @ delta), rel=1e-6)


def test_fd_grows_with_the_shift_and_with_a_scale_change() -> None:
    x, y = _cloud(seed=0), _cloud(seed=0)[::-1].copy()
    fds = [frechet_distance(x, y + s) for s in (0.0, 0.5, 1.0, 2.0)]
    assert fds == sorted(fds) and fds[0] < 1e-8 < fds[1]
    # centred, covariances Σ and 4Σ: FD = tr(Σ) + tr(4Σ) - 2 tr(2Σ) = tr(Σ)
    x = x - x.mean(0)
    assert frechet_distance(x, 2 * x) == pytest.approx(float(np.trace(np.cov(x, rowvar=False))), rel=1e-6)


def test_polynomial_mmd_matches_the_definition() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((5, 3)), rng.standard_normal((4, 3))

    def k(a: np.ndarray, b: np.ndarray) -> float:
        return float((a @ b / 3 + 1) ** 3)

    xx = sum(k(x[i], x[j]) for i, j in itertools.permutations(range(5), 2)) / 20
    yy = sum(k(y[i], y[j]) for i, j in itertools.permutations(range(4), 2)) / 12
    xy = sum(k(a, b) for a in x for b in y) / 20
    assert polynomial_mmd2_unbiased(x, y) == pytest.approx(xx + yy - 2 * xy, rel=1e-10)


def test_kid_is_unbiased_for_one_distribution_and_positive_for_a_shift() -> None:
    rng = np.random.default_rng(2)
    same = [polynomial_mmd2_unbiased(rng.standard_normal((100, 8)), rng.standard_normal((100, 8))) for _ in range(200)]
    shifted = polynomial_mmd2_unbiased(rng.standard_normal((100, 8)), rng.standard_normal((100, 8)) + 0.5)
    # the estimator's mean over independent draws is ~0 (within 4 standard errors), far below a 0.5 shift
    assert abs(np.mean(same)) < 4 * np.std(same) / np.sqrt(len(same))
    assert min(same) < 0 < max(same)
    assert shifted > 20 * np.std(same)
    res = kid(
        rng.standard_normal((300, 8)),
        rng.standard_normal((200, 8)) + 0.5,
        np.random.default_rng(0),
        subsets=10,
        subset_size=1000,
    )
    assert res.subset_size == 200 and res.subsets == 10 and res.mean > 0 and res.std >= 0


def _grid(offset: float = 0.0) -> np.ndarray:
    g = np.array([(i, j) for i in range(5) for j in range(5)], dtype=np.float64)
    return g + offset


def test_precision_recall_of_identical_and_of_disjoint_clouds() -> None:
    rng = np.random.default_rng(0)
    x = _grid()
    pr = precision_recall(x, x.copy(), rng, k=3, repeats=2)
    assert (pr.precision, pr.recall) == (1.0, 1.0)
    far = precision_recall(x, _grid(100.0), rng, k=3, repeats=2)
    assert (far.precision, far.recall) == (0.0, 0.0)


def test_mode_collapse_keeps_precision_and_halves_recall() -> None:
    """Real: two far-apart clusters A and B; generated: A twice (a copy jittered by 1e-3). Every generated point
    sits on a real point (precision 1); the generated manifold covers A only (recall 1/2)."""
    a, b = _grid(), _grid(100.0)
    real = np.concatenate([a, b])
    fake = np.concatenate([a, a + 1e-3])
    pr = precision_recall(real, fake, np.random.default_rng(0), k=3, repeats=1)
    assert pr.size == 50 and (pr.precision, pr.recall) == (1.0, 0.5)


def test_precision_recall_subsample_to_equal_sizes() -> None:
    pr = precision_recall(_cloud(300), _cloud(100, seed=1), np.random.default_rng(0), k=3, repeats=3)
    assert pr.size == 100 and 0 <= pr.precision <= 1 and 0 <= pr.recall <= 1


def test_bad_shapes_are_rejected() -> None:
    with pytest.raises(ValueError, match="feature dims differ"):
        frechet_distance(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="needs more than 3"):
        precision_recall(np.zeros((3, 2)), np.zeros((3, 2)), np.random.default_rng(0))
