"""What the iterative families (``diffusion``, ``flow``) share: the manifest's ``sampling`` section, the network
call with classifier-free guidance, labels, seeded noise, the image <-> model-space maps and decoding.

A family module (:mod:`pixelsprite.diffusion`, :mod:`pixelsprite.flow`) subclasses :class:`IterativeModel` with
its sampler dispatch (``_sample``, ``_invert``, ``_partial``). Everything here is numpy around onnxruntime.

Seeds: the starting noise of the sprite with seed ``s`` is
``rng = numpy.random.default_rng(s); x_start = rng.standard_normal(sampling.shape, dtype=float32)``; a
stochastic solver (``ddpm``) then keeps drawing that sprite's step noise from the same ``rng``. So a sprite
depends on its seed (and label, solver, steps, guidance) only, never on the batch it was generated in.

Previews (opt-in): ``generate`` and ``variations`` take ``preview=`` (a :class:`Previews`, or a bare
:data:`PreviewCallback` meaning "after every step"). After a sampler step the network's last evaluation
``(x, t, f̂)`` gives the clean estimate (diffusion: x̂_0 of Ho et al. eq. 15 / the v identity, clipped like the
sampler clips it; flow: x̂_1 of :meth:`~pixelsprite.samplers.paths.FlowPath.x1_estimate`), which is decoded (the
first stage, in latent space) and given hard alpha only (no colour reduction, palette or clean-up: that is what
the finished sprite adds) -> uint8 ``(N, H, W, 4)`` handed to the callback with ``(done, total)``. Throttled: only
after steps whose number is a multiple of ``every``, at least ``min_interval_s`` after the previous preview began,
and never after the last step (the result follows). Without ``preview`` the samplers run exactly as before (no
wrapper, no decoding): previews cost nothing unless asked for, and never change the result.

Model space: with ``sampling.space == "pixel"`` the network works on RGBA images in ``image.value_range``; with
``"latent"`` it works on normalised latents of a VAE first stage: ``x = (z - latent.mean) / latent.std`` per
channel, ``z`` the VAE encoder mean; sprites are decoded by the bundle's ``decoder`` graph from
``z = x * std + mean``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from . import latent as latent_ops
from .errors import BundleError, Cancelled, InvalidRequest
from .imageio import to_model
from .manifest import Manifest, TensorSpec
from .manifest_sections import MAX_GUIDANCE, SPACES, SamplingSpec
from .postprocess import finish, hard_alpha_from_model
from .registry import Bundle
from .samplers import StepHook
from .samplers.guidance import guided

__all__ = [
    "CHUNK", "MAX_GUIDANCE", "SPACES", "Progress", "CancelCheck", "PreviewCallback", "Previews", "Observer",
    "SamplingSpec", "IterativeModel", "make_hook", "dims_match", "label_index", "check_sampling", "check_graph",
]  # fmt: skip

CHUNK = 256
"""Rows per onnxruntime call (a guided step of B sprites is 2B rows)."""

Progress = Callable[[int, int], None]
"""``progress(done, total)``: called after every network step of a request (total = all steps of the request)."""
CancelCheck = Callable[[], bool]
"""``cancel()``: checked before sampling and after every step; returning True raises :class:`Cancelled`."""


PreviewCallback = Callable[[np.ndarray, int, int], None]
"""``preview(sprites, done, total)``: the current clean estimate as uint8 ``(N, H, W, 4)`` with hard alpha."""
Observer = Callable[[np.ndarray, float, np.ndarray], None]
"""``observe(x, t, f̂)``: sees every (guided) network evaluation of a sampling run."""


@dataclass(frozen=True)
class Previews:
    """A request for previews during sampling (see the module docstring).

    Attributes:
        callback: receives ``(sprites uint8 (N, H, W, 4), done, total)`` on the sampling thread.
        every: preview only after steps ``done`` with ``done % every == 0``.
        min_interval_s: and only when at least this long has passed since the previous preview began.
        rows: which sprites of the batch to preview (default: all), e.g. one candidate per requested sprite.
    """

    callback: PreviewCallback
    every: int = 1
    min_interval_s: float = 0.0
    rows: Sequence[int] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.every, bool) or not isinstance(self.every, int) or self.every < 1:
            raise InvalidRequest(f"preview every must be a positive integer, got {self.every!r}", field="preview")
        if not (isinstance(self.min_interval_s, (int, float)) and self.min_interval_s >= 0):
            raise InvalidRequest(f"preview min_interval_s must be >= 0, got {self.min_interval_s!r}", field="preview")

    @classmethod
    def of(cls, value: Previews | PreviewCallback | None) -> Previews | None:
        """A :class:`Previews`, from itself or a bare callback (every step); None stays None."""
        if value is None or isinstance(value, Previews):
            return value
        if not callable(value):
            raise InvalidRequest(f"preview must be a callable or Previews, got {type(value).__name__}", field="preview")
        return cls(value)


class _Watch:
    """One sampling run's preview state: remembers the last network evaluation and, when a step ends and the
    throttle allows, turns it into preview sprites. Per request, so a shared model stays stateless."""

    def __init__(self, model: IterativeModel, previews: Previews, rows: Sequence[int] | None = None) -> None:
        self.model, self.previews = model, previews
        self.rows = None if rows is None else np.asarray(rows, np.int64)
        self.last: tuple[np.ndarray, float, np.ndarray] | None = None
        self.began = -math.inf

    def observe(self, x: np.ndarray, t: float, pred: np.ndarray) -> None:
        self.last = (x, t, pred)  # references only: no copy, no work

    def after_step(self, done: int, total: int) -> None:
        p = self.previews
        if self.last is None or done >= total or done % p.every:
            return
        now = time.perf_counter()
        if now - self.began < p.min_interval_s:
            return
        self.began = now
        x, t, pred = self.last
        if self.rows is not None:
            x, pred = x[self.rows], pred[self.rows]
        p.callback(self.model.preview_sprites(self.model._clean_estimate(x, t, pred)), done, total)


def dims_match(spec: TensorSpec, want: tuple[int, ...]) -> bool:
    rest = spec.shape[1:]
    return len(rest) == len(want) and all(isinstance(d, int) and d == w for d, w in zip(rest, want, strict=True))


def make_hook(
    progress: Progress | None, cancel: CancelCheck | None, total: int, watch: _Watch | None = None
) -> Callable[[int], StepHook]:
    """A factory of per-phase step hooks reporting one running count ``(done, total)`` over a request's phases.

    ``factory(offset)`` returns the hook for a phase starting after ``offset`` steps. Cancellation is checked
    once here (before any work) and after every step. With ``watch`` (previews; single-phase runs only) a due
    preview is handed out after a step and before that step's ``progress``, so a transport can send both in one
    message.
    """
    if cancel is not None and cancel():
        raise Cancelled("the request was cancelled before sampling started")

    def factory(offset: int) -> StepHook:
        def hook(done: int, _phase_total: int) -> None:
            if watch is not None:
                watch.after_step(offset + done, total)
            if progress is not None:
                progress(offset + done, total)
            if cancel is not None and cancel():
                raise Cancelled(f"the request was cancelled after step {offset + done} of {total}")

        return hook

    return factory


def label_index(
    label: str | None,
    labels: Sequence[str],
    null_label: int | None,
    model: str,
    aliases: Mapping[str, str] | None = None,
) -> int:
    """A request's label -> the network's label index: ``null_label`` for "no label" (-1 for unconditional models);
    an alias (the manifest's ``label_aliases``) stands for its label; InvalidRequest naming ``label`` for an unknown
    label or any label on an unconditional model."""
    if label is None:
        return null_label if null_label is not None else -1
    if null_label is None:
        raise InvalidRequest(f"model {model!r} is unconditional: it takes no label", field="label")
    aliases = aliases or {}
    label = aliases.get(label, label)
    if label not in labels:
        also = f" (or {', '.join(f'{a} = {t}' for a, t in aliases.items())})" if aliases else ""
        raise InvalidRequest(
            f"unknown label {label!r} for model {model!r}; valid labels: {', '.join(labels)}{also}", field="label"
        )
    return list(labels).index(label)


# ---------------------------------------------------------------------------------------------- manifest
def check_sampling(
    spec: SamplingSpec, family: str, solvers: Sequence[str], predictions: Sequence[str], where: str
) -> None:
    """The ``sampling`` section asks only for solvers and a prediction the family runs."""
    if not all(s in solvers for s in spec.solvers):
        raise BundleError(
            f"{where}: manifest key 'sampling.solvers' must be a non-empty list of {tuple(solvers)} for {family}, "
            f"got {list(spec.solvers)}"
        )
    if spec.prediction not in predictions:
        raise BundleError(
            f"{where}: manifest key 'sampling.prediction' must be one of {tuple(predictions)} for {family}, "
            f"got {spec.prediction!r}"
        )


def check_graph(spec: SamplingSpec, m: Manifest, role: str, where: str) -> None:
    """The network graph takes (x, t, label) and returns one tensor of the sampling shape."""
    if role not in m.graphs:
        raise BundleError(
            f"{where}: a {m.family!r} bundle needs a {role!r} graph (it has: {', '.join(sorted(m.graphs))})"
        )
    g = m.graphs[role]
    shape = ", ".join(map(str, spec.shape))
    ok = (
        len(g.inputs) == 3
        and dims_match(g.inputs[0], spec.shape)
        and g.inputs[0].dtype == "float32"
        and len(g.inputs[1].shape) == 1
        and g.inputs[1].dtype == "float32"
        and len(g.inputs[2].shape) == 1
        and g.inputs[2].dtype == "int64"
    )
    if not ok:
        raise BundleError(
            f"{where}: the {role!r} graph must take x float32 [batch, {shape}], t float32 [batch] "
            "and label int64 [batch]"
        )
    if not dims_match(g.outputs[0], spec.shape):
        raise BundleError(f"{where}: the {role!r} graph's first output must have shape [batch, {shape}]")
    if spec.space == "pixel":
        if spec.shape != m.image.nchw:
            raise BundleError(
                f"{where}: sampling.shape {list(spec.shape)} must equal the image's {list(m.image.nchw)} in pixel space"
            )
        return
    if "decoder" not in m.graphs:
        raise BundleError(f"{where}: sampling.space 'latent' needs a 'decoder' graph (the first stage)")
    dec = m.graphs["decoder"]
    if not dims_match(dec.inputs[0], spec.shape) or not dims_match(dec.outputs[0], m.image.nchw):
        raise BundleError(
            f"{where}: the decoder must map [batch, {shape}] to [batch, {', '.join(map(str, m.image.nchw))}]"
        )
    enc = m.graphs.get("encoder")
    if enc is not None and (not dims_match(enc.inputs[0], m.image.nchw) or not dims_match(enc.outputs[0], spec.shape)):
        raise BundleError(f"{where}: the encoder must map images to [batch, {shape}] (its first output)")


# ------------------------------------------------------------------------------------------------- model
@dataclass(frozen=True)
class Settings:
    """A request's resolved sampler settings."""

    solver: str
    steps: int
    guidance: float
    label: int  # the label index; null_label (or -1 for unconditional models) for "no label"


@dataclass(frozen=True)
class IterativeModel:
    """A loaded diffusion or flow bundle. Stateless; safe to share between threads.

    Subclasses set ``FAMILY``, ``ROLE`` (the network graph), ``SOLVERS``, ``PREDICTIONS``, ``DETERMINISTIC``
    (solvers usable for inversion/interpolation) and implement the three sampler hooks.
    """

    bundle: Bundle
    spec: SamplingSpec = field(init=False, repr=False)

    FAMILY: ClassVar[str] = ""
    ROLE: ClassVar[str] = ""
    SOLVERS: ClassVar[tuple[str, ...]] = ()
    PREDICTIONS: ClassVar[tuple[str, ...]] = ()
    DETERMINISTIC: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        where = str(self.bundle.info.path)
        spec = SamplingSpec.of(self.manifest, where)
        check_sampling(spec, self.FAMILY, self.SOLVERS, self.PREDICTIONS, where)
        check_graph(spec, self.manifest, self.ROLE, where)
        object.__setattr__(self, "spec", spec)
        self._check_family(spec, where)

    def _check_family(self, spec: SamplingSpec, where: str) -> None:
        """Family-specific manifest checks (schedule, path)."""

    @property
    def manifest(self) -> Manifest:
        return self.bundle.manifest

    @property
    def name(self) -> str:
        return self.bundle.name

    @property
    def size(self) -> tuple[int, int]:
        return (self.manifest.image.width, self.manifest.image.height)

    @property
    def has_encoder(self) -> bool:
        return self.spec.space == "pixel" or "encoder" in self.manifest.graphs

    # ----------------------------------------------------------------------------------- request settings
    def settings(
        self,
        label: str | None,
        solver: str | None,
        steps: int | None,
        guidance: float | None,
        *,
        deterministic: bool = False,
    ) -> Settings:
        """Resolve a request's options against this model; InvalidRequest naming the field when one does not fit."""
        spec = self.spec
        index = label_index(label, self.manifest.labels, spec.null_label, self.name, self.manifest.label_aliases)
        usable = [s for s in spec.solvers if s in self.DETERMINISTIC] if deterministic else list(spec.solvers)
        if solver is None:  # the default, or (for inversion/interpolation) the first deterministic one
            solver = spec.default_solver if spec.default_solver in usable or not usable else usable[0]
        if solver not in spec.solvers:
            raise InvalidRequest(
                f"model {self.name!r} ({self.FAMILY}) does not support solver {solver!r}; "
                f"supported: {', '.join(spec.solvers)}",
                field="solver",
            )
        if solver not in usable:
            raise InvalidRequest(
                f"solver {solver!r} is stochastic; this operation needs a deterministic solver "
                f"({', '.join(usable) or 'this model has none'})",
                field="solver",
            )
        steps = spec.default_steps if steps is None else steps
        if not 1 <= steps <= spec.max_steps:
            raise InvalidRequest(
                f"steps must be between 1 and {spec.max_steps} for model {self.name!r}, got {steps}", field="steps"
            )
        g = spec.default_guidance if guidance is None else float(guidance)
        return Settings(solver, steps, g, index)

    # ---------------------------------------------------------------------------------------- the network
    def network(self, x: np.ndarray, t: np.ndarray, label: np.ndarray) -> np.ndarray:
        """The raw network on (x (B, *shape), t (B,), label (B,)) in chunks of :data:`CHUNK` rows."""
        g = self.manifest.graphs[self.ROLE]
        names = [s.name for s in g.inputs]
        out = []
        for i in range(0, x.shape[0], CHUNK):
            feeds: dict[str, np.ndarray] = {
                names[0]: np.ascontiguousarray(x[i : i + CHUNK], dtype=np.float32),
                names[1]: np.ascontiguousarray(t[i : i + CHUNK], dtype=np.float32),
                names[2]: np.ascontiguousarray(label[i : i + CHUNK], dtype=np.int64),
            }
            out.append(self.bundle.run(self.ROLE, feeds)[g.outputs[0].name].astype(np.float32, copy=False))
        return np.concatenate(out)

    def predictor(
        self, s: Settings, n: int, observe: Observer | None = None
    ) -> Callable[[np.ndarray, float], np.ndarray]:
        """The guided prediction ``(x, t) -> f̂`` for n sprites of label ``s.label``; t in model-time units.

        ``observe(x, t, f̂)`` (previews) sees every evaluation; without it the guided network is returned as is.
        """
        labels = np.full(n, max(s.label, 0), np.int64)
        null = self.spec.null_label if self.spec.null_label is not None else 0
        scale = s.guidance if self.spec.null_label is not None else 1.0
        predict = guided(self.network, labels, null, scale)
        if observe is None:
            return predict

        def observed(x: np.ndarray, t: float) -> np.ndarray:
            pred = predict(x, t)
            observe(x, t, pred)
            return pred

        return observed

    # ------------------------------------------------------------------------------------ spaces and noise
    def start_noise(self, seeds: Sequence[int]) -> tuple[np.ndarray, list[np.random.Generator]]:
        """Per-sprite generators and starting noise float32 ``(N, *shape)`` (the first draw of each)."""
        rngs = [np.random.default_rng(int(s)) for s in seeds]
        x = np.stack([r.standard_normal(self.spec.shape, dtype=np.float32) for r in rngs])
        return x, rngs

    def to_space(self, rgba: npt.ArrayLike) -> np.ndarray:
        """uint8 ``(N, H, W, 4)`` -> model-space float32 ``(N, *shape)`` (the clean x the sampler ends at)."""
        x = to_model(np.asarray(rgba), self.manifest.image.value_range)
        if self.spec.space == "pixel":
            return x
        if "encoder" not in self.manifest.graphs:
            raise InvalidRequest(f"model {self.name!r} has no encoder, so it cannot take images", field="image")
        spec = self.manifest.graphs["encoder"]
        zs = [
            self.bundle.run("encoder", {spec.inputs[0].name: x[i : i + CHUNK]})[spec.outputs[0].name]
            for i in range(0, len(x), CHUNK)
        ]
        z = np.concatenate(zs).astype(np.float32)
        mean, std = self._latent_stats()
        return ((z - mean) / std).astype(np.float32)

    def _latent_stats(self) -> tuple[np.ndarray, np.ndarray]:
        assert self.spec.latent_mean is not None and self.spec.latent_std is not None
        shape = (1, -1) + (1,) * (len(self.spec.shape) - 1)
        return (
            np.asarray(self.spec.latent_mean, np.float32).reshape(shape),
            np.asarray(self.spec.latent_std, np.float32).reshape(shape),
        )

    def decode_raw(self, x: np.ndarray) -> np.ndarray:
        """Model-space ``(N, *shape)`` -> raw image float32 ``(N, 4, H, W)`` in ``image.value_range``."""
        if self.spec.space == "pixel":
            return np.asarray(x, np.float32)
        mean, std = self._latent_stats()
        z = (np.asarray(x, np.float32) * std + mean).astype(np.float32)
        spec = self.manifest.graphs["decoder"]
        out = [
            self.bundle.run("decoder", {spec.inputs[0].name: z[i : i + CHUNK]})[spec.outputs[0].name]
            for i in range(0, len(z), CHUNK)
        ]
        return np.concatenate(out).astype(np.float32)

    def preview_sprites(self, x: np.ndarray) -> np.ndarray:
        """Model-space ``(N, *shape)`` -> uint8 sprites with hard alpha only (the cheap, honest preview)."""
        return hard_alpha_from_model(
            self.decode_raw(x), self.manifest.image.value_range, self.manifest.postprocess.alpha_threshold
        )

    def finish(self, x: np.ndarray, max_colors: int | None, label: int = -1) -> np.ndarray:
        """Model-space ``(N, *shape)`` -> finished uint8 sprites (the manifest's decoding policy; sprites of
        label index ``label`` use that label's own colour policy when the manifest has one)."""
        names = self.manifest.labels
        pp = self.manifest.postprocess.for_label(names[label] if 0 <= label < len(names) else None)
        k = pp.max_colors if max_colors is None else max_colors
        return finish(
            self.decode_raw(x),
            self.manifest.image.value_range,
            alpha_threshold=pp.alpha_threshold,
            max_colors=k,
            color_tolerance=pp.color_tolerance,
            despeckle_distance=pp.despeckle,
        )

    # -------------------------------------------------------------------------------------- family hooks
    def phase_steps(self, s: Settings, strength: float = 1.0) -> int:
        """Steps a (partial, for strength < 1) sampling run takes: ceil(steps * strength), at least 1."""
        return max(1, math.ceil(s.steps * strength - 1e-9)) if strength > 0 else 0

    def _sample(
        self,
        x: np.ndarray,
        s: Settings,
        rngs: list[np.random.Generator],
        strength: float,
        hook: StepHook,
        observe: Observer | None = None,
    ) -> np.ndarray:
        """Sample from x at noise level ``strength`` (1: pure noise) to clean model-space x; ``observe`` goes to
        :meth:`predictor`."""
        raise NotImplementedError

    def _clean_estimate(self, x: np.ndarray, t: float, pred: np.ndarray) -> np.ndarray:
        """The network's clean model-space estimate at (x, t) from its (guided) prediction (previews)."""
        raise NotImplementedError

    def _noised(self, x0: np.ndarray, noise: np.ndarray, s: Settings, strength: float) -> np.ndarray:
        """x_0 taken to noise level ``strength`` with the given noise (the forward process / path)."""
        raise NotImplementedError

    def _invert(self, x0: np.ndarray, s: Settings, hook: StepHook) -> np.ndarray:
        """Clean x -> starting noise with the deterministic solver run backwards."""
        raise NotImplementedError

    # ------------------------------------------------------------------------------------------ operations
    def _watch(self, preview: Previews | PreviewCallback | None) -> _Watch | None:
        previews = Previews.of(preview)
        return None if previews is None else _Watch(self, previews, previews.rows)

    def generate(
        self,
        seeds: Sequence[int],
        s: Settings,
        max_colors: int | None = None,
        *,
        progress: Progress | None = None,
        cancel: CancelCheck | None = None,
        preview: Previews | PreviewCallback | None = None,
    ) -> np.ndarray:
        """uint8 sprites ``(N, H, W, 4)``; sprite i depends on ``seeds[i]`` and the settings only.

        ``preview``: previews of the clean estimate during sampling (module docstring); never changes the result.
        """
        watch = self._watch(preview)
        hooks = make_hook(progress, cancel, s.steps, watch)
        x, rngs = self.start_noise(seeds)
        observe = watch.observe if watch is not None else None
        return self.finish(self._sample(x, s, rngs, 1.0, hooks(0), observe), max_colors, s.label)

    def variations(
        self,
        rgba: np.ndarray,
        seeds: Sequence[int],
        strength: float,
        s: Settings,
        max_colors: int | None = None,
        *,
        progress: Progress | None = None,
        cancel: CancelCheck | None = None,
        preview: Previews | PreviewCallback | None = None,
    ) -> np.ndarray:
        """SDEdit (Meng et al. 2022): noise the sprite to level ``strength`` in (0, 1] with each seed's noise,
        then sample back. strength 1 ignores the sprite; 0 returns it (through the decoding policy)."""
        watch = self._watch(preview)
        hooks = make_hook(progress, cancel, self.phase_steps(s, strength), watch)
        x0 = self.to_space(np.asarray(rgba)[None])
        noise, rngs = self.start_noise(seeds)
        if strength <= 0:
            return self.finish(np.repeat(x0, len(seeds), axis=0), max_colors, s.label)
        x = self._noised(np.repeat(x0, len(seeds), axis=0), noise, s, strength)
        observe = watch.observe if watch is not None else None
        return self.finish(self._sample(x, s, rngs, strength, hooks(0), observe), max_colors, s.label)

    def endpoint_noise(self, value: int | np.ndarray, s: Settings, hook: StepHook) -> np.ndarray:
        """A seed's starting noise, or an image's noise by inverting the deterministic sampler: ``shape``."""
        if isinstance(value, (int, np.integer)):
            return self.start_noise([int(value)])[0][0]
        return self._invert(self.to_space(np.asarray(value)[None]), s, hook)[0]

    def interpolate(
        self,
        a: int | np.ndarray,
        b: int | np.ndarray,
        frames: int,
        method: str,
        s: Settings,
        max_colors: int | None = None,
        *,
        progress: Progress | None = None,
        cancel: CancelCheck | None = None,
    ) -> np.ndarray:
        """``frames`` sprites between endpoints (seeds or uint8 images) by interpolating the starting noise
        (slerp keeps its norm, Song et al. 2021 §5.3) and sampling deterministically."""
        inversions = sum(not isinstance(v, (int, np.integer)) for v in (a, b))
        hooks = make_hook(progress, cancel, s.steps * (1 + inversions))
        done = 0
        ends = []
        for v in (a, b):
            ends.append(self.endpoint_noise(v, s, hooks(done)))
            done += 0 if isinstance(v, (int, np.integer)) else s.steps
        x = latent_ops.interpolate(ends[0], ends[1], frames, method)
        return self.finish(self._sample(x, s, [], 1.0, hooks(done)), max_colors, s.label)
