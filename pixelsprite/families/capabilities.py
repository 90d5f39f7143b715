"""What a model can do, declared once per family and read by everything else (catalog, CLI, server, evaluation).

A :class:`Capabilities` is computed from a bundle's manifest alone (nothing loaded), so listing models stays a
manifest read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SAMPLER_PARAMETERS", "Capabilities", "Solver"]

SAMPLER_PARAMETERS = ("label", "steps", "solver", "guidance", "temperature")
"""Optional request parameters a family may honour; a family that does not lists none of them."""


@dataclass(frozen=True)
class Solver:
    """One sampler a model runs: its name, network evaluations per step (before guidance), and whether it is
    deterministic (usable to invert images and to interpolate)."""

    name: str
    evaluations_per_step: int
    deterministic: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "evaluations_per_step": self.evaluations_per_step,
            "deterministic": self.deterministic,
        }


@dataclass(frozen=True)
class Capabilities:
    """A model's operations and options.

    Attributes:
        family: the manifest's ``family``.
        operations: request operations the model answers (``generate``, ``variations``, ``inpaint``, ...).
        parameters: the optional parameters of :data:`SAMPLER_PARAMETERS` it honours.
        labels: class labels a request may name (empty: unconditional).
        label_aliases: other names a request may use for a label (the manifest's ``label_aliases``).
        solvers: the samplers it runs, in the manifest's order.
        steps: the (min, max) sampler steps a request may ask for, or None without a sampler.
        defaults: what a request that leaves an option out gets (solver, steps, guidance, temperature).
        guidance_doubles: a guided step (guidance other than 0 or 1, with a label) costs two evaluations.
        tiling: what it makes tiles seamlessly (a tile model: show it repeated, save it as a tile set).
    """

    family: str
    operations: tuple[str, ...] = ()
    parameters: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    solvers: tuple[Solver, ...] = ()
    steps: tuple[int, int] | None = None
    defaults: Mapping[str, Any] = field(default_factory=dict)
    guidance_doubles: bool = False
    tiling: bool = False
    label_aliases: Mapping[str, str] = field(default_factory=dict)

    def solver(self, name: str) -> Solver:
        for s in self.solvers:
            if s.name == name:
                return s
        raise KeyError(name)

    def evaluations(self, solver: str | None = None, steps: int | None = None, guidance: float | None = None) -> int:
        """Network evaluations per sprite of one sampling run (defaults where left out); 1 without a sampler."""
        if not self.solvers:
            return 1
        solver = solver or self.defaults.get("solver") or self.solvers[0].name
        steps = steps or int(self.defaults.get("steps", 1))
        g = self.defaults.get("guidance", 1.0) if guidance is None else guidance
        factor = 2 if self.guidance_doubles and self.labels and g not in (0.0, 1.0) else 1
        return self.solver(solver).evaluations_per_step * steps * factor

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "operations": list(self.operations),
            "parameters": list(self.parameters),
            "labels": list(self.labels),
            "label_aliases": dict(self.label_aliases),
            "solvers": [s.to_dict() for s in self.solvers],
            "steps": list(self.steps) if self.steps is not None else None,
            "defaults": dict(self.defaults),
            "tiling": self.tiling,
        }
