"""Evaluation helpers for the iterative generators: an interim Fréchet distance and the choice of fast defaults.

Interim Fréchet distance (until the teacher/evaluation issue ships a frozen evaluator network): the Fréchet
distance (Heusel et al. 2017, eq. 6) between Gaussians fitted to *pixel features* of two sprite sets. A
sprite's feature is its premultiplied RGBA in [0, 1], block-averaged to 8x8 (16x16: 2x2 blocks; 40x40: 5x5
blocks): 256 numbers that see silhouette, colour layout and coverage but not single-pixel texture. It is
called ``fd_pixels8`` everywhere so it is never mistaken for an FID.
"""

from __future__ import annotations

import numpy as np

FEATURE_SIZE = 8


def pixel_features(rgba: np.ndarray) -> np.ndarray:
    """(N, S, S, 4) uint8 -> (N, 8 * 8 * 4) float64 block means of premultiplied RGBA in [0, 1]."""
    x = rgba.astype(np.float64) / 255.0
    x[..., :3] *= x[..., 3:4]
    n, s = x.shape[0], x.shape[1]
    if s % FEATURE_SIZE:
        raise ValueError(f"sprite size {s} is not a multiple of {FEATURE_SIZE}")
    b = s // FEATURE_SIZE
    return x.reshape(n, FEATURE_SIZE, b, FEATURE_SIZE, b, 4).mean(axis=(2, 4)).reshape(n, -1)


def _sqrtm_psd(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((a + a.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(f1: np.ndarray, f2: np.ndarray) -> float:
    """||μ1 - μ2||² + tr(Σ1 + Σ2 - 2 (Σ1^½ Σ2 Σ1^½)^½) between Gaussians fitted to two feature sets."""
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    r1 = _sqrtm_psd(s1)
    cross = _sqrtm_psd(r1 @ s2 @ r1)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(cross))


def fd_pixels8(generated: np.ndarray, real: np.ndarray) -> float:
    return frechet_distance(pixel_features(generated), pixel_features(real))


def choose_default(rows: list[dict], reference_fd: float, tolerance: float = 0.10) -> dict:
    """The cheapest sweep row (fewest network evaluations, then fastest) whose ``fd`` is within ``tolerance``
    (relative) of ``reference_fd``; the row with the lowest fd when none is."""
    ok = [r for r in rows if r["fd"] <= reference_fd * (1 + tolerance)]
    if not ok:
        return min(rows, key=lambda r: r["fd"])
    return min(ok, key=lambda r: (r["nfe"], -r["sprites_per_s"]))
