"""Ex-post density estimation for the VAE latent (Ghosh et al. 2020, "From Variational to Deterministic
Autoencoders", sec. 5): after training, fit a Gaussian mixture to the encoder means of the training sprites and
sample from it instead of N(0, I). The aggregate posterior of a small VAE is far from the unit Gaussian, and
prior samples that land in its holes decode to mush; mixture samples land where real sprites live.

EM with full covariances, each regularised by ``reg * I`` (the component counts are small next to the latent
dimension). The fitted mixture ships as a tiny ONNX graph ``prior``:
    eps (B, D) float32 ~ N(0, I), component (B,) int64  ->  z = mu_k + L_k eps, reshaped to (B, *latent_shape)
and the mixture weights go into the manifest, so the runtime draws ``component`` then ``eps`` from one seeded
generator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True)
class GaussianMixture:
    """weights (K,), means (K, D), chol (K, D, D) lower-triangular Cholesky factors of the covariances."""

    weights: np.ndarray
    means: np.ndarray
    chol: np.ndarray

    def log_likelihood(self, x: np.ndarray) -> float:
        """Mean log-density of rows of x (N, D) under the mixture."""
        return float(_log_resp(torch.from_numpy(x).double(), self)[1].mean())


def _log_resp(x: torch.Tensor, g: GaussianMixture) -> tuple[torch.Tensor, torch.Tensor]:
    """(log responsibilities (N, K), log p(x) (N,))."""
    mu = torch.from_numpy(g.means).double()
    chol = torch.from_numpy(g.chol).double()
    d = x.shape[1]
    diff = (x[:, None, :] - mu[None]).permute(1, 2, 0)  # (K, D, N)
    sol = torch.linalg.solve_triangular(chol, diff, upper=False)  # (K, D, N)
    maha = (sol**2).sum(1).T  # (N, K)
    logdet = 2 * torch.log(torch.diagonal(chol, dim1=1, dim2=2)).sum(1)  # (K,)
    log_w = torch.log(torch.from_numpy(g.weights).double())
    logp = log_w[None] - 0.5 * (maha + logdet[None] + d * math.log(2 * math.pi))
    total = torch.logsumexp(logp, 1)
    return logp - total[:, None], total


def fit_gmm(
    x: np.ndarray, components: int = 32, iters: int = 100, reg: float = 1e-2, seed: int = 0, tol: float = 1e-5
) -> GaussianMixture:
    """Fit a K-component full-covariance mixture to x (N, D) float by EM (init: K random rows, equal weights)."""
    rng = np.random.default_rng(seed)
    xt = torch.from_numpy(np.asarray(x, np.float64))
    n, d = xt.shape
    eye = torch.eye(d, dtype=torch.float64)
    cov = torch.cov(xt.T) + reg * eye
    start = x[rng.choice(n, components, replace=False)].astype(np.float64)
    g = GaussianMixture(
        np.full(components, 1.0 / components), start, np.repeat(torch.linalg.cholesky(cov).numpy()[None], components, 0)
    )
    prev = -np.inf
    for _ in range(iters):
        log_r, total = _log_resp(xt, g)
        r = log_r.exp()  # (N, K)
        nk = r.sum(0) + 1e-10
        mu = (r.T @ xt) / nk[:, None]
        diff = xt[None] - mu[:, None]  # (K, N, D)
        covs = torch.einsum("kn,kni,knj->kij", r.T, diff, diff) / nk[:, None, None] + reg * eye
        g = GaussianMixture((nk / n).numpy(), mu.numpy(), torch.linalg.cholesky(covs).numpy())
        ll = float(total.mean())
        if ll - prev < tol * abs(ll):
            break
        prev = ll
    return g


class MixturePrior(nn.Module):
    """eps (B, D), component (B,) int64 -> z (B, *latent_shape) = means[k] + chol[k] @ eps."""

    means: torch.Tensor  # (K, D) buffer
    chol: torch.Tensor  # (K, D, D) buffer

    def __init__(self, g: GaussianMixture, latent_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.latent_shape = tuple(latent_shape)
        self.register_buffer("means", torch.from_numpy(g.means).float())
        self.register_buffer("chol", torch.from_numpy(g.chol).float())

    def forward(self, eps: torch.Tensor, component: torch.Tensor) -> torch.Tensor:
        mu = self.means[component]  # (B, D)
        lk = self.chol[component]  # (B, D, D)
        z = mu + torch.bmm(lk, eps.unsqueeze(-1)).squeeze(-1)
        return z.reshape(-1, *self.latent_shape)
