"""Stage 2 of the pipeline: one adapter per kind of generator, so a handler calls ``model.<op>`` the same way for
every family.

:func:`generator` wraps a loaded model (chosen by the manifest's family through :mod:`pixelsprite.families`):

* :class:`VaeGenerator`: one decoder pass; no sampler options (each one is refused, naming the field);
* :class:`IterativeGenerator`: diffusion and flow models (sampler steps, solver, label, guidance);
* :class:`PixelGenerator`: masked discrete diffusion over a palette; its sampler draws in the request's palette
  (palette lock), so finishing maps nothing afterwards.

Every adapter turns the request's :class:`~.options.SamplerOptions` into the model's settings, then takes a
:class:`Draw` (seeds, settings, the colour cap ``max_colors``, locked palette colours, :class:`Hooks`) and returns
uint8 sprites ``(N, H, W, 4)`` with hard alpha after the model's own decoding policy; sprite ``i`` depends on
``seeds[i]`` and the settings only, so any batch of seeds gives the same bytes per seed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .. import families
from .. import latent as latent_ops
from ..errors import InvalidRequest
from ..iterative import CancelCheck, IterativeModel, PreviewCallback, Previews, Progress
from ..pixel import PixelModel
from ..postprocess import reduce_colors
from ..vae import FAMILY as VAE_FAMILY
from ..vae import VaeModel
from .limits import CANDIDATE_JITTER
from .options import SAMPLER_FIELDS, SamplerOptions

__all__ = [
    "Hooks", "Draw", "Generator", "VaeGenerator", "IterativeGenerator", "PixelGenerator", "generator",
    "candidate_previews",
]  # fmt: skip


def candidate_previews(preview: Previews | PreviewCallback | None, count: int, c: int) -> Previews | None:
    """The request's previews, showing candidate 0 of each requested sprite (rows ``0, c, 2c, ...``) when there
    are ``c`` > 1 candidates."""
    previews = Previews.of(preview)
    if previews is None or c == 1 or previews.rows is not None:
        return previews
    return dataclasses.replace(previews, rows=tuple(range(0, count * c, c)))


@dataclass(frozen=True)
class Hooks:
    """A request's hooks: ``progress(done, total)`` after every sampler step, ``cancel()`` checked between steps
    (True raises :class:`~pixelsprite.errors.Cancelled`), ``preview`` of the clean estimate (see
    :mod:`pixelsprite.iterative`). Models that sample in one pass call none of them."""

    progress: Progress | None = None
    cancel: CancelCheck | None = None
    preview: Previews | PreviewCallback | None = None

    def for_candidates(self, count: int, c: int) -> Hooks:
        """The hooks of one model call for ``count`` sprites of ``c`` candidates each (previews of candidate 0)."""
        return Hooks(self.progress, self.cancel, candidate_previews(self.preview, count, c))

    def kwargs(self) -> dict[str, Any]:
        return {"progress": self.progress, "cancel": self.cancel, "preview": self.preview}


NO_HOOKS = Hooks()
Ends = tuple[int | np.ndarray, int | np.ndarray]
"""Interpolation endpoints: each a seed or a uint8 ``(H, W, 4)`` image."""
Frames = tuple[np.ndarray, tuple[int | None, ...]]
"""Interpolated sprites uint8 ``(F*C, H, W, 4)`` and their seeds (None: unseeded)."""


@dataclass(frozen=True, eq=False)
class Draw:
    """What every model call takes.

    Attributes:
        seeds: one seed per sprite made (empty for interpolate, whose frames are unseeded).
        settings: the model's settings (from :meth:`Generator.settings`; None for a VAE).
        max_colors: the model's colour cap (None: the manifest's; 0: none).
        locked: uint8 ``(K, 3)`` colours a palette-locking sampler may draw, or None (any).
        hooks: progress, cancel and previews of this call.
    """

    seeds: Sequence[int]
    settings: Any
    max_colors: int | None = None
    locked: np.ndarray | None = None
    hooks: Hooks = NO_HOOKS


def _unsupported(model: Any, opts: SamplerOptions) -> None:
    """Refuse sampler options the model's family does not honour (its declared capabilities), naming the field."""
    caps = families.capabilities(model.manifest)
    for key in SAMPLER_FIELDS:
        if getattr(opts, key) is not None and key not in caps.parameters:
            why = " (it is unconditional)" if key in ("label", "guidance") and not caps.labels else ""
            raise InvalidRequest(
                f"model {model.name!r} ({caps.family}) does not take {key!r}{why}; the parameters "
                f"it takes: {', '.join(caps.parameters) or 'none'}",
                field=key,
            )


class Generator:
    """The request layer's view of one generator model (see the module docstring).

    Attributes:
        model: the runtime model.
        draws_in_palette: the sampler draws in the request's palette (finishing maps nothing afterwards).
        max_strength / strength_means: the largest variations ``strength`` and what it measures, or None when
            the request's own limit (0..2, latent standard deviations) holds.
    """

    draws_in_palette: ClassVar[bool] = False
    max_strength: ClassVar[float | None] = 1.0
    strength_means: ClassVar[str] = "the noise level the sprite is taken to"

    def __init__(self, model: Any) -> None:
        self.model = model

    @property
    def name(self) -> str:
        return str(self.model.name)

    def settings(self, opts: SamplerOptions, *, deterministic: bool = False, hint: str = "") -> Any:
        """The model's settings from the request's sampler options (None: defaults); InvalidRequest naming the
        field that does not fit. ``deterministic``: interpolation/inversion needs a deterministic solver."""
        _unsupported(self.model, opts)

    def check_strength(self, strength: float) -> None:
        if self.max_strength is not None and strength > self.max_strength:
            raise InvalidRequest(
                f"strength must be between 0 and {self.max_strength:g} for {self.model.FAMILY} model {self.name!r} "
                f"({self.strength_means}), got {strength}",
                field="strength",
            )

    def check_candidates(self, op: str, c: int) -> None:
        """Refuse ``c`` candidates for ``op`` where the model cannot make different ones, naming ``candidates``."""

    def keeps_source(self, strength: float) -> bool:
        """Whether variations at ``strength`` return the source sprite exactly (then nothing is finished)."""
        return False

    def generate(self, d: Draw) -> np.ndarray:
        """Sprites from the prior, one per seed."""
        raise NotImplementedError

    def variations(self, d: Draw, image: np.ndarray, strength: float) -> np.ndarray:
        """Variations of ``image`` uint8 ``(H, W, 4)``, one per seed."""
        raise NotImplementedError

    def inpaint(self, d: Draw, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Repaintings of the ``mask`` (bool ``(H, W)``) pixels of ``image``, one per seed."""
        raise NotImplementedError

    def interpolate(self, d: Draw, ends: Ends, frames: int, method: str, c: int, base: int | None) -> Frames:
        """``frames * c`` sprites between two seeds or images (the ``c`` candidates of a frame adjacent) and their
        seeds (None: unseeded); ``base``: the candidates' base seed (``c`` > 1)."""
        raise NotImplementedError


class VaeGenerator(Generator):
    """A VAE: sprites are decoded prior samples; variations add ``strength`` * N(0, I) to the image's latent mean."""

    model: VaeModel
    max_strength = None

    def settings(self, opts: SamplerOptions, *, deterministic: bool = False, hint: str = "") -> None:
        """A VAE takes no label and has no sampler: refuse those options, naming the field (``hint`` is appended
        to the message about ``steps``)."""
        for field in ("label", "steps", "solver", "guidance"):
            if getattr(opts, field) is not None:
                what = "takes no label (it is unconditional)" if field == "label" else f"has no sampler ({field})"
                extra = hint if field == "steps" else ""
                raise InvalidRequest(f"model {self.name!r} is a {VAE_FAMILY!r} model: it {what}{extra}", field=field)
        _unsupported(self.model, opts)

    def generate(self, d: Draw) -> np.ndarray:
        return self.model.decode(self.model.sample_latents(d.seeds), d.max_colors)

    def variations(self, d: Draw, image: np.ndarray, strength: float) -> np.ndarray:
        mean = self.model.encode(image[None])[0]
        scale = np.float32(strength)
        z = np.stack([mean + scale * self.model.noise(x) for x in d.seeds])
        return self.model.decode(z, d.max_colors)

    def latent(self, end: int | np.ndarray) -> np.ndarray:
        """A seed's prior sample or an image's latent mean."""
        if isinstance(end, int):
            return self.model.prior(end)
        return self.model.encode(end[None])[0]

    def interpolate(self, d: Draw, ends: Ends, frames: int, method: str, c: int, base: int | None) -> Frames:
        """Candidates: frame ``i``'s candidate 0 is the plain frame; inner frames' candidates ``j >= 1`` add
        ``CANDIDATE_JITTER * default_rng(base + i*c + j).standard_normal`` to its latent."""
        z = latent_ops.interpolate(self.latent(ends[0]), self.latent(ends[1]), frames, method)
        seeds: tuple[int | None, ...] = (None,) * frames
        if c > 1:
            assert base is not None
            z, seeds = self._jittered(z, c, base)
        return self.model.decode(z, d.max_colors), seeds

    def _jittered(self, z: np.ndarray, c: int, base: int) -> tuple[np.ndarray, tuple[int | None, ...]]:
        frames = len(z)
        out = np.repeat(z, c, axis=0)
        seeds: list[int | None] = [None] * (frames * c)
        jitter = np.float32(CANDIDATE_JITTER)
        for i in range(1, frames - 1):
            for j in range(1, c):
                x = base + i * c + j
                out[i * c + j] = z[i] + jitter * self.model.noise(x)
                seeds[i * c + j] = x
        return out, tuple(seeds)


class IterativeGenerator(Generator):
    """A diffusion or flow model: sampler steps from noise (or from the noised sprite, for variations)."""

    model: IterativeModel

    def settings(self, opts: SamplerOptions, *, deterministic: bool = False, hint: str = "") -> Any:
        _unsupported(self.model, opts)
        return self.model.settings(opts.label, opts.solver, opts.steps, opts.guidance, deterministic=deterministic)

    def check_candidates(self, op: str, c: int) -> None:
        if op == "interpolate" and c > 1:
            raise InvalidRequest(
                f"candidates on interpolate needs a 'vae' model; {self.model.FAMILY} model {self.name!r} "
                "interpolates deterministically (use candidates=1)",
                field="candidates",
            )

    def generate(self, d: Draw) -> np.ndarray:
        return self.model.generate(d.seeds, d.settings, d.max_colors, **d.hooks.kwargs())

    def variations(self, d: Draw, image: np.ndarray, strength: float) -> np.ndarray:
        return self.model.variations(image, d.seeds, strength, d.settings, d.max_colors, **d.hooks.kwargs())

    def interpolate(self, d: Draw, ends: Ends, frames: int, method: str, c: int, base: int | None) -> Frames:
        self.check_candidates("interpolate", c)
        h = d.hooks
        a, b = ends
        sprites = self.model.interpolate(
            a, b, frames, method, d.settings, d.max_colors, progress=h.progress, cancel=h.cancel
        )
        return sprites, (None,) * frames


class PixelGenerator(Generator):
    """A pixel model: its sampler draws palette tokens (in the request's palette when one is given); ``max_colors``
    caps the colours of what it drew."""

    model: PixelModel
    draws_in_palette = True
    strength_means = "the share of pixels re-drawn"

    def settings(self, opts: SamplerOptions, *, deterministic: bool = False, hint: str = "") -> Any:
        _unsupported(self.model, opts)
        return self.model.settings(opts.label, opts.solver, opts.steps, opts.guidance, opts.temperature)

    def keeps_source(self, strength: float) -> bool:
        return strength <= 0

    @staticmethod
    def _capped(sprites: np.ndarray, max_colors: int | None) -> np.ndarray:
        return reduce_colors(sprites, max_colors) if max_colors else sprites

    def generate(self, d: Draw) -> np.ndarray:
        out = self.model.generate(d.seeds, d.settings, locked=d.locked, **d.hooks.kwargs())
        return self._capped(out, d.max_colors)

    def variations(self, d: Draw, image: np.ndarray, strength: float) -> np.ndarray:
        out = self.model.variations(image, d.seeds, strength, d.settings, locked=d.locked, **d.hooks.kwargs())
        return out if self.keeps_source(strength) else self._capped(out, d.max_colors)

    def inpaint(self, d: Draw, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """An empty mask returns the sprite unchanged (nothing capped)."""
        out = self.model.inpaint(image, mask, d.seeds, d.settings, locked=d.locked, **d.hooks.kwargs())
        return self._capped(out, d.max_colors) if mask.any() else out


def generator(model: Any) -> Generator:
    """The adapter of a loaded generator model."""
    if isinstance(model, VaeModel):
        return VaeGenerator(model)
    if isinstance(model, PixelModel):
        return PixelGenerator(model)
    if isinstance(model, IterativeModel):
        return IterativeGenerator(model)
    raise TypeError(f"{type(model).__name__} is not a generator")
