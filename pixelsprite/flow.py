"""The "flow" model family: a flow-matching velocity network sampled by integrating its ODE from noise (t = 0)
to data (t = 1) with ``euler``, ``midpoint`` or ``heun``.

Graphs (see ``docs/diffusion-and-flow.md``):
    * ``velocity``: ``x`` float32 ``(batch, *sampling.shape)``, ``t`` float32 ``(batch,)`` in [0, 1]
      (``sampling.time_input == "t"``), ``label`` int64 ``(batch,)`` (``num_labels`` = no label) -> v_θ(x, t)
      of x's shape;
    * ``decoder`` / ``encoder``: the VAE first stage when ``sampling.space == "latent"``.

``sampling.path`` (``"linear"`` or ``"cosine"``, :mod:`pixelsprite.samplers.paths`) is how training noised the
data; sampling needs it only for variations (x_t = α_t x_1 + σ_t x_0 at t = 1 - strength). Steps are evenly
spaced in t; ``steps`` counts solver steps (network evaluations: ×1 euler, ×2 midpoint and heun). Inverting
an image integrates the same ODE from t = 1 back to t = 0 with the same solver and steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import BundleError
from .iterative import IterativeModel, Observer, SamplingSpec, Settings
from .samplers import StepHook, euler, heun, midpoint
from .samplers.paths import PATHS, FlowPath, uniform_grid

__all__ = ["FAMILY", "SOLVERS", "FlowModel"]

FAMILY = "flow"
SOLVERS = ("euler", "midpoint", "heun")
_INTEGRATORS = {"euler": euler.integrate, "midpoint": midpoint.integrate, "heun": heun.integrate}


@dataclass(frozen=True)
class FlowModel(IterativeModel):
    path: FlowPath = field(init=False, repr=False)

    FAMILY = FAMILY
    ROLE = "velocity"
    SOLVERS = SOLVERS
    PREDICTIONS = ("velocity",)
    DETERMINISTIC = SOLVERS

    def _check_family(self, spec: SamplingSpec, where: str) -> None:
        if spec.path is None:
            raise BundleError(f"{where}: manifest key 'sampling.path' must be one of {PATHS}, got None")
        if spec.time_input != "t":
            raise BundleError(f"{where}: manifest key 'sampling.time_input' must be 't' for flow")
        object.__setattr__(self, "path", FlowPath(spec.path))

    def _integrate(
        self, x: np.ndarray, s: Settings, ts: np.ndarray, hook: StepHook, observe: Observer | None = None
    ) -> np.ndarray:
        return _INTEGRATORS[s.solver](self.predictor(s, x.shape[0], observe), x, ts, hook=hook)

    def _sample(
        self,
        x: np.ndarray,
        s: Settings,
        rngs: list[np.random.Generator],
        strength: float,
        hook: StepHook,
        observe: Observer | None = None,
    ) -> np.ndarray:
        return self._integrate(x, s, uniform_grid(self.phase_steps(s, strength), 1.0 - strength, 1.0), hook, observe)

    def _clean_estimate(self, x: np.ndarray, t: float, pred: np.ndarray) -> np.ndarray:
        """x̂_1 at time t from the velocity (the path's endpoint estimate)."""
        return self.path.x1_estimate(x, pred, t)

    def _noised(self, x0: np.ndarray, noise: np.ndarray, s: Settings, strength: float) -> np.ndarray:
        return self.path.x_t(x0, noise, 1.0 - strength)

    def _invert(self, x0: np.ndarray, s: Settings, hook: StepHook) -> np.ndarray:
        return self._integrate(x0, s, uniform_grid(s.steps, 1.0, 0.0), hook)
