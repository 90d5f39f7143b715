"""The model families: one registry from a manifest's ``family`` to what the family can do and how to load it.

Every family is declared here once: the operations it can ever answer, how its :class:`Capabilities` follow
from a manifest (nothing loaded), and the runtime class that loads a bundle of it. The request layer, the
protocol catalog, the server, the CLI and the evaluation read these instead of naming families.

    caps = capabilities(bundle_info.manifest)    # operations, parameters, labels, solvers, steps, defaults
    model = load(registry.load(name))            # VaeModel, DiffusionModel, FlowModel, PixelModel, TeacherModel
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import pixel
from ..diffusion import DiffusionModel
from ..errors import BundleError
from ..flow import FlowModel
from ..manifest import Manifest
from ..manifest_sections import SamplingSpec
from ..pixel import PixelModel
from ..registry import Bundle
from ..samplers import ddim, ddpm, euler, heun, midpoint
from ..teacher import TeacherModel
from ..vae import VaeModel
from .capabilities import SAMPLER_PARAMETERS, Capabilities, Solver

__all__ = [
    "EVALUATIONS_PER_STEP",
    "FAMILIES",
    "GENERATOR_OPERATION",
    "SAMPLER_PARAMETERS",
    "Capabilities",
    "Family",
    "Solver",
    "capabilities",
    "families_with",
    "load",
]

GENERATOR_OPERATION = "generate"
"""A family is a generator when it can answer this operation (the evaluation suite evaluates those)."""

EVALUATIONS_PER_STEP = {
    "ddpm": ddpm.NFE_PER_STEP,
    "ddim": ddim.NFE_PER_STEP,
    "euler": euler.NFE_PER_STEP,
    "midpoint": midpoint.NFE_PER_STEP,
    "heun": heun.NFE_PER_STEP,
    "random": pixel.NFE_PER_STEP,
    "confidence": pixel.NFE_PER_STEP,
}
"""Network evaluations per step of every solver the runtime runs (before guidance doubles them)."""


@dataclass(frozen=True)
class Family:
    """One model family.

    Attributes:
        name: the manifest's ``family``.
        operations: every operation a bundle of this family may answer (a bundle may answer fewer, e.g. a VAE
            without an encoder: see :func:`capabilities`).
        describe: manifest -> its :class:`Capabilities` (reads the manifest only).
        model: the runtime class built from a loaded :class:`~pixelsprite.registry.Bundle`, or None for families
            that only the evaluation reads (``evaluator``).
    """

    name: str
    operations: tuple[str, ...]
    describe: Callable[[Manifest], Capabilities]
    model: Callable[[Bundle], Any] | None


@dataclass(frozen=True)
class _Steps:
    """What the catalog reads from a sampler family's manifest section."""

    solvers: tuple[str, ...] = ()
    max_steps: int = 1
    defaults: Mapping[str, Any] = field(default_factory=dict)
    latent: bool = False  # sprites live in a VAE's latent space: images need the bundle's encoder
    tiling: bool = False  # the model makes seamless tiles (the pixel family's tokens.tiling)


def _sampling(m: Manifest) -> _Steps:
    """The ``sampling`` section (diffusion, flow); nothing when it does not parse (loading the bundle says why)."""
    try:
        spec = SamplingSpec.of(m, m.name)
    except BundleError:
        return _Steps()
    return _Steps(spec.solvers, spec.max_steps, spec.defaults.to_dict(), spec.space == "latent")


def _tokens(m: Manifest) -> _Steps:
    """The pixel family's ``tokens`` section, read leniently (its palette is parsed only when the model loads)."""
    d = m.extra.get("tokens")
    if not isinstance(d, Mapping):
        return _Steps()
    return _Steps(
        tuple(d.get("solvers", ())),
        int(d.get("max_steps", 1)),
        dict(d.get("defaults", {})),
        tiling=d.get("tiling") is True,
    )


def _vae(m: Manifest) -> Capabilities:
    ops: tuple[str, ...] = ("generate", "variations", "interpolate", "grid", "encode", "decode")
    if "encoder" not in m.graphs:
        ops = tuple(o for o in ops if o not in ("variations", "encode"))
    return Capabilities("vae", ops)


def _sampler_caps(
    family: str,
    ops: tuple[str, ...],
    read: Callable[[Manifest], _Steps],
    deterministic: tuple[str, ...],
    parameters: tuple[str, ...],
) -> Callable[[Manifest], Capabilities]:
    """Capabilities of a family whose manifest section (``read``) lists solvers, max_steps and defaults; in a
    VAE's latent space images need the bundle's encoder."""

    def describe(m: Manifest) -> Capabilities:
        d = read(m)
        solvers = tuple(
            Solver(s, EVALUATIONS_PER_STEP[s], s in deterministic) for s in d.solvers if s in EVALUATIONS_PER_STEP
        )
        ops_here = ops
        if d.latent and "encoder" not in m.graphs:
            ops_here = tuple(o for o in ops if o != "variations")
        return Capabilities(
            family,
            ops_here,
            parameters if m.labels else tuple(p for p in parameters if p not in ("label", "guidance")),
            tuple(m.labels),
            solvers,
            (1, d.max_steps),
            dict(d.defaults),
            guidance_doubles=True,
            tiling=d.tiling,
            label_aliases=dict(m.label_aliases),
        )

    return describe


_ITERATIVE_PARAMETERS = ("label", "steps", "solver", "guidance")
FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("vae", ("generate", "variations", "interpolate", "grid", "encode", "decode"), _vae, VaeModel),
    Family("diffusion", ("generate", "variations", "interpolate"),
           _sampler_caps("diffusion", ("generate", "variations", "interpolate"), _sampling,
                         DiffusionModel.DETERMINISTIC, _ITERATIVE_PARAMETERS), DiffusionModel),
    Family("flow", ("generate", "variations", "interpolate"),
           _sampler_caps("flow", ("generate", "variations", "interpolate"), _sampling, FlowModel.DETERMINISTIC,
                         _ITERATIVE_PARAMETERS), FlowModel),
    Family("pixel", ("generate", "variations", "inpaint"),
           _sampler_caps("pixel", ("generate", "variations", "inpaint"), _tokens, (),
                         (*_ITERATIVE_PARAMETERS, "temperature")), PixelModel),
    Family("teacher", ("score", "similar"), lambda m: Capabilities("teacher", ("score", "similar")), TeacherModel),
    Family("evaluator", (), lambda m: Capabilities("evaluator"), None),
)}  # fmt: skip


def capabilities(manifest: Manifest) -> Capabilities:
    """What a bundle can do, from its manifest (an unknown family can do nothing)."""
    family = FAMILIES.get(manifest.family)
    return family.describe(manifest) if family is not None else Capabilities(manifest.family)


def families_with(operation: str) -> tuple[str, ...]:
    """The families that can answer ``operation``, sorted."""
    return tuple(sorted(f.name for f in FAMILIES.values() if operation in f.operations))


def load(bundle: Bundle) -> Any:
    """The runtime model of a loaded bundle (its family's class); BundleError-free families only."""
    family = FAMILIES.get(bundle.manifest.family)
    if family is None or family.model is None:
        raise KeyError(bundle.manifest.family)
    return family.model(bundle)
