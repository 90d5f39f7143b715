"""Exact-answer tests of the flow paths and the ODE solvers (numpy only)."""

from __future__ import annotations

import numpy as np
import pytest

from pixelsprite.errors import Cancelled
from pixelsprite.iterative import make_hook
from pixelsprite.samplers import euler, heun, midpoint
from pixelsprite.samplers.paths import FlowPath, uniform_grid

SOLVERS = {"euler": euler.integrate, "midpoint": midpoint.integrate, "heun": heun.integrate}
X0 = np.random.default_rng(0).standard_normal((3, 4, 2, 2)).astype(np.float32)
C = np.random.default_rng(1).standard_normal((4, 2, 2)).astype(np.float32)


@pytest.mark.parametrize("solver", list(SOLVERS))
@pytest.mark.parametrize("steps", [1, 2, 7, 32])
def test_constant_field_reaches_its_endpoint(solver: str, steps: int) -> None:
    out = SOLVERS[solver](lambda x, t: np.broadcast_to(C, x.shape), X0, uniform_grid(steps))
    assert np.allclose(out, X0 + C, atol=1e-5)
    back = SOLVERS[solver](lambda x, t: np.broadcast_to(C, x.shape), out, uniform_grid(steps, 1.0, 0.0))
    assert np.allclose(back, X0, atol=1e-5)  # the reverse ODE inverts it


@pytest.mark.parametrize("solver", ["midpoint", "heun"])
def test_field_linear_in_time_is_exact_for_second_order_solvers(solver: str) -> None:
    a, b = C, 2 * C + 1  # v(t) = a + b t: x(1) = x(0) + a + b/2
    out = SOLVERS[solver](lambda x, t: np.broadcast_to(a + b * t, x.shape), X0, uniform_grid(3))
    assert np.allclose(out, X0 + a + b / 2, atol=1e-5)
    eul = euler.integrate(lambda x, t: np.broadcast_to(a + b * t, x.shape), X0, uniform_grid(3))
    assert not np.allclose(eul, X0 + a + b / 2, atol=1e-3)  # Euler is first order


def test_heun_is_second_order_on_exponential_growth() -> None:
    errs = [
        abs(float(heun.integrate(lambda x, t: x, np.ones(1, np.float32), uniform_grid(n))[0]) - np.e) for n in (8, 16)
    ]
    assert 3.5 < errs[0] / errs[1] < 4.5


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_paths_end_points_and_velocity(kind: str) -> None:
    p = FlowPath(kind)
    x1, x0 = C, -2 * C
    assert np.allclose(p.x_t(x1, x0, 0.0), x0, atol=1e-6) and np.allclose(p.x_t(x1, x0, 1.0), x1, atol=1e-6)
    h = 1e-4
    for t in (0.1, 0.5, 0.9):
        fd = (p.x_t(x1, x0, t + h).astype(np.float64) - p.x_t(x1, x0, t - h)) / (2 * h)
        assert np.allclose(p.velocity(x1, x0, t), fd, atol=2e-2)


def test_hooks_report_progress_and_cancel() -> None:
    seen: list[tuple[int, int]] = []
    hook = make_hook(lambda d, t: seen.append((d, t)), None, 4)(0)
    euler.integrate(lambda x, t: x, X0, uniform_grid(4), hook=hook)
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    state = {"n": 0}

    def cancel() -> bool:
        state["n"] += 1
        return state["n"] > 2  # the check before sampling, after step 1, then stop after step 2

    with pytest.raises(Cancelled, match="after step 2 of 5"):
        heun.integrate(lambda x, t: x, X0, uniform_grid(5), hook=make_hook(None, cancel, 5)(0))
    with pytest.raises(Cancelled, match="before sampling"):
        make_hook(None, lambda: True, 5)
