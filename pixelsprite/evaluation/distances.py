"""Distances between two sets of feature vectors: Fréchet distance, KID, precision and recall.

Plain numpy (float64), so the evaluation runs without torch. Every function takes two feature sets
``real`` float ``(N, D)`` and ``fake`` float ``(M, D)`` (rows are samples) and an explicit
``numpy.random.Generator`` where it subsamples, so a seed reproduces a number exactly.

- Fréchet distance (Heusel et al. 2017, eq. 6) between Gaussians fitted to the two sets. Biased upwards for
  small sets: compare a generator's number with the real-versus-real baseline measured at the same sizes.
- KID (Bińkowski et al. 2018, §3): the unbiased estimate of the squared MMD with the polynomial kernel
  ``k(x, y) = (x·y / D + 1)^3``, averaged over random subsets; ~0 for two samples of one distribution (it
  can be slightly negative).
- Precision and recall (Kynkäänniemi et al. 2019, §2): each set's manifold is the union of balls around its
  points whose radius is the distance to the point's k-th nearest neighbour in the same set; precision is the
  share of fake points inside the real manifold, recall the share of real points inside the fake manifold.
  The two sets are subsampled to equal size (radii shrink as a set grows) and the shares averaged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["KidResult", "PrecisionRecall", "frechet_distance", "kid", "polynomial_mmd2_unbiased", "precision_recall"]


def _features(x: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or len(arr) < 2:
        raise ValueError(f"{name} must be (N, D) with N >= 2, got shape {arr.shape}")
    return arr


def _pair(real: np.ndarray, fake: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r, f = _features(real, "real"), _features(fake, "fake")
    if r.shape[1] != f.shape[1]:
        raise ValueError(f"feature dims differ: real {r.shape[1]}, fake {f.shape[1]}")
    return r, f


def _sqrtm_psd(a: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix (negative eigenvalues from round-off -> 0)."""
    w, v = np.linalg.eigh((a + a.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(real: np.ndarray, fake: np.ndarray) -> float:
    """``||μ_r - μ_f||² + tr(Σ_r + Σ_f - 2 (Σ_r^½ Σ_f Σ_r^½)^½)``, >= 0 (float).

    ``(Σ_r Σ_f)^½`` has the same trace as ``(Σ_r^½ Σ_f Σ_r^½)^½``, which is symmetric PSD and so has a
    stable eigen-decomposition.
    """
    r, f = _pair(real, fake)
    mu_r, mu_f = r.mean(0), f.mean(0)
    s_r, s_f = np.cov(r, rowvar=False), np.cov(f, rowvar=False)
    root = _sqrtm_psd(s_r)
    cross = np.trace(_sqrtm_psd(root @ s_f @ root))
    return float(max(((mu_r - mu_f) ** 2).sum() + np.trace(s_r) + np.trace(s_f) - 2 * cross, 0.0))


def polynomial_mmd2_unbiased(x: np.ndarray, y: np.ndarray, degree: int = 3, coef0: float = 1.0) -> float:
    """Unbiased MMD² between ``x`` (m, D) and ``y`` (n, D) with ``k(a, b) = (a·b / D + coef0)^degree``.

    ``MMD² = Σ_{i≠j} k(x_i, x_j) / (m(m-1)) + Σ_{i≠j} k(y_i, y_j) / (n(n-1)) - 2 Σ_{i,j} k(x_i, y_j) / (mn)``
    (Gretton et al. 2012, eq. 3; Bińkowski et al. 2018, eq. 4). m and n may differ.
    """
    x, y = _pair(x, y)
    d = x.shape[1]
    k_xx = (x @ x.T / d + coef0) ** degree
    k_yy = (y @ y.T / d + coef0) ** degree
    k_xy = (x @ y.T / d + coef0) ** degree
    m, n = len(x), len(y)
    xx = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    yy = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(xx + yy - 2 * k_xy.mean())


@dataclass(frozen=True)
class KidResult:
    """KID over ``subsets`` random subsets of ``subset_size`` rows of each set: mean and std of the MMD²s."""

    mean: float
    std: float
    subsets: int
    subset_size: int


def kid(
    real: np.ndarray, fake: np.ndarray, rng: np.random.Generator, subsets: int = 100, subset_size: int = 1000
) -> KidResult:
    """Kernel Inception Distance in any feature space (Bińkowski et al. 2018): unbiased polynomial MMD²,
    averaged over ``subsets`` subsets of ``min(subset_size, N, M)`` rows drawn without replacement from each."""
    r, f = _pair(real, fake)
    size = min(subset_size, len(r), len(f))
    values = np.array(
        [
            polynomial_mmd2_unbiased(
                r[rng.choice(len(r), size, replace=False)], f[rng.choice(len(f), size, replace=False)]
            )
            for _ in range(subsets)
        ]
    )
    return KidResult(float(values.mean()), float(values.std()), subsets, size)


def _pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances (len(a), len(b)), float64, via the Gram matrix (clipped at 0 before the root)."""
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None] - 2 * a @ b.T
    return np.sqrt(np.clip(sq, 0, None))


def _knn_radii(x: np.ndarray, k: int) -> np.ndarray:
    """Distance from each row of ``x`` to its k-th nearest other row; (N,)."""
    d = _pairwise_distances(x, x)
    return np.partition(d, k, axis=1)[:, k]  # column 0 is the point itself (distance 0)


def _coverage(points: np.ndarray, centres: np.ndarray, radii: np.ndarray) -> float:
    """Share of ``points`` inside at least one ball (centre, radius)."""
    return float((_pairwise_distances(points, centres) <= radii[None]).any(1).mean())


@dataclass(frozen=True)
class PrecisionRecall:
    """Improved precision and recall (Kynkäänniemi et al. 2019), each in [0, 1], averaged over ``repeats``
    equal-size subsamples of ``size`` rows; ``k`` is the neighbourhood size of the manifold estimate."""

    precision: float
    recall: float
    k: int
    size: int
    repeats: int


def precision_recall(
    real: np.ndarray, fake: np.ndarray, rng: np.random.Generator, k: int = 3, repeats: int = 10, max_size: int = 2000
) -> PrecisionRecall:
    """Precision (fake inside the real manifold) and recall (real inside the fake manifold).

    Each repeat draws ``size = min(N, M, max_size)`` rows from each set without replacement (an equal-size
    comparison; a set used whole is the same every repeat).
    """
    r, f = _pair(real, fake)
    size = min(len(r), len(f), max_size)
    if size <= k:
        raise ValueError(f"precision/recall with k={k} needs more than {k} samples per set, got {size}")
    p, q = [], []
    for _ in range(repeats):
        rs = r[rng.choice(len(r), size, replace=False)]
        fs = f[rng.choice(len(f), size, replace=False)]
        p.append(_coverage(fs, rs, _knn_radii(rs, k)))
        q.append(_coverage(rs, fs, _knn_radii(fs, k)))
    return PrecisionRecall(float(np.mean(p)), float(np.mean(q)), k, size, repeats)
