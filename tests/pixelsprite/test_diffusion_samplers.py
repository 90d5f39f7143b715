"""Exact-answer tests of the DDPM schedules, DDPM/DDIM samplers and classifier-free guidance (numpy only)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pixelsprite.samplers import ddim, ddpm
from pixelsprite.samplers.guidance import guided
from pixelsprite.samplers.schedules import DiffusionSchedule, cosine_betas, linear_betas, trailing_timesteps


def test_linear_schedule_round_trips() -> None:
    s = DiffusionSchedule.make("linear", 500, beta_start=1e-4, beta_end=0.02)
    assert s.betas[0] == 1e-4 and s.betas[-1] == pytest.approx(0.02, abs=1e-15)
    assert np.allclose(s.alpha_bar, np.cumprod(1 - linear_betas(500)), rtol=0, atol=0)
    assert np.allclose(1 - s.alpha_bar[1:] / s.alpha_bar[:-1], s.betas[1:], atol=1e-12)  # β back from ᾱ
    assert DiffusionSchedule.from_dict(s.to_dict()).betas.tobytes() == s.betas.tobytes()
    assert s.to_dict() == {"type": "linear", "T": 500, "beta_start": 1e-4, "beta_end": 0.02}


def test_cosine_schedule_matches_closed_form() -> None:
    T, eps = 1000, 0.008
    s = DiffusionSchedule.make("cosine", T)
    f = (
        np.cos((np.arange(1, T + 1) / T + eps) / (1 + eps) * math.pi / 2) ** 2
        / math.cos(eps / (1 + eps) * math.pi / 2) ** 2
    )
    unclipped = cosine_betas(T) < 0.999
    assert np.allclose(s.alpha_bar[unclipped], f[unclipped], rtol=1e-10)
    assert s.betas.max() <= 0.999 and DiffusionSchedule.from_dict(s.to_dict()).to_dict() == s.to_dict()


@pytest.mark.parametrize("prediction", ["eps", "v"])
def test_prediction_targets_invert(prediction: str) -> None:
    s = DiffusionSchedule.make("cosine", 100)
    rng = np.random.default_rng(0)
    x0, eps = rng.standard_normal((2, 3, 4, 4))
    for t in (0, 37, 99):
        x_t = s.q_sample(x0, t, eps)
        got_x0, got_eps = s.x0_eps(x_t.astype(np.float64), t, s.targets(x0, eps, t, prediction), prediction)
        assert np.allclose(got_x0, x0, atol=2e-4) and np.allclose(got_eps, eps, atol=2e-4)


def test_trailing_timesteps() -> None:
    assert trailing_timesteps(10, 10).tolist() == list(range(9, -1, -1))
    assert trailing_timesteps(500, 1).tolist() == [499]
    assert trailing_timesteps(1000, 4).tolist() == [999, 749, 499, 249]
    with pytest.raises(ValueError):
        trailing_timesteps(10, 11)


def _oracle(s: DiffusionSchedule, x0: np.ndarray, prediction: str = "eps"):
    """The exact ε (or v) for a point mass at x0: ε = (x_t - sqrt(ᾱ) x0) / sqrt(1-ᾱ)."""

    def predict(x: np.ndarray, t: float) -> np.ndarray:
        a = s.ab(int(t))
        eps = (x - math.sqrt(a) * x0) / math.sqrt(1 - a)
        return s.targets(x0, eps, int(t), prediction) if prediction == "v" else eps

    return predict


@pytest.mark.parametrize("steps", [1, 3, 10, 50])
@pytest.mark.parametrize("prediction", ["eps", "v"])
def test_ddim_with_oracle_recovers_x0(steps: int, prediction: str) -> None:
    s = DiffusionSchedule.make("linear", 50)
    rng = np.random.default_rng(1)
    x0 = rng.uniform(-1, 1, (3, 4, 2, 2)).astype(np.float32)
    x_T = rng.standard_normal(x0.shape).astype(np.float32)
    out = ddim.sample(_oracle(s, x0, prediction), x_T, s, trailing_timesteps(50, steps), prediction)
    assert np.allclose(out, x0, atol=1e-5)


def test_ddpm_with_oracle_recovers_x0_and_equals_ddim_eta_1() -> None:
    s = DiffusionSchedule.make("cosine", 30)
    rng = np.random.default_rng(2)
    x0 = rng.uniform(-1, 1, (2, 4, 2, 2)).astype(np.float32)
    x_T = rng.standard_normal(x0.shape).astype(np.float32)
    ts = trailing_timesteps(30, 30)
    out = ddpm.sample(_oracle(s, x0), x_T, s, ts, "eps", [np.random.default_rng(i) for i in range(2)])
    assert np.allclose(out, x0, atol=1e-5)

    def noisy(x: np.ndarray, t: float) -> np.ndarray:  # a field that is not an oracle, so noise matters
        return np.tanh(x) * 0.5 + 0.01 * t

    a = ddpm.sample(noisy, x_T, s, ts[::3], "eps", [np.random.default_rng(i) for i in range(2)])
    b = ddim.sample(noisy, x_T, s, ts[::3], "eps", eta=1.0, rngs=[np.random.default_rng(i) for i in range(2)])
    assert np.allclose(a, b, atol=1e-4)  # η = 1 is the ancestral sampler (Song et al. 2021, §4.1)


def test_ddim_inversion_of_a_gaussian_round_trips() -> None:
    """Data ~ N(0, I): the exact ε̂(x_t) = sqrt(1-ᾱ) x_t. Each DDIM step (either way) then scales x by
    cos(Δθ) with ᾱ = cos²θ, a first-order error: with all 1000 steps the round trip is within 0.5%."""
    s = DiffusionSchedule.make("linear", 1000)

    def predict(x: np.ndarray, t: float) -> np.ndarray:
        return math.sqrt(1 - s.ab(int(t))) * x

    x0 = np.random.default_rng(3).standard_normal((2, 4, 2, 2)).astype(np.float32)
    ts = trailing_timesteps(1000, 1000)
    noise = ddim.invert(predict, x0, s, ts, "eps")
    back = ddim.sample(predict, noise, s, ts, "eps")
    assert np.allclose(back, x0, rtol=5e-3, atol=1e-4)


def test_guidance_scales_and_one_batched_call() -> None:
    calls: list[int] = []

    def network(x: np.ndarray, t: np.ndarray, label: np.ndarray) -> np.ndarray:
        calls.append(len(x))
        return (x + label[:, None].astype(np.float32)).astype(np.float32)  # cond: x + c, uncond: x + 2

    x = np.zeros((3, 2), np.float32)
    labels = np.array([0, 1, 1])
    cond, uncond = x + labels[:, None], x + 2
    assert np.array_equal(guided(network, labels, 2, 0.0)(x, 5.0), uncond)
    assert np.array_equal(guided(network, labels, 2, 1.0)(x, 5.0), cond)
    calls.clear()
    assert np.allclose(guided(network, labels, 2, 3.0)(x, 5.0), uncond + 3 * (cond - uncond))
    assert calls == [6]  # conditional and unconditional rows in one network call
    assert np.array_equal(guided(network, np.array([2, 2, 2]), 2, 3.0)(x, 5.0), uncond)  # all null: one pass
