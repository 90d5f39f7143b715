"""The manifest's family sections as frozen dataclasses: ``sampling`` (diffusion, flow), ``teacher``, ``evaluator``.

A family keeps what only it needs in one top-level section of ``manifest.json`` (:attr:`Manifest.extra` holds
it). Training builds the section here and writes ``extra={Spec.KEY: spec.to_dict()}``; the runtime reads it
with ``Spec.of(manifest, src)``; so both sides agree through the same class. Like :mod:`pixelsprite.manifest`:
``Spec.from_dict(d).to_dict()`` returns ``d`` for a section in canonical form (every key the class writes
present, in its order), known keys are parsed strictly (unknown keys, wrong types or values raise
:class:`BundleError` naming ``section.key``), and sequences are stored as tuples.

What a section cannot know alone is checked where it is known: :meth:`SamplingSpec.of` checks the label
conditioning against the manifest's ``labels``; the family checks its solvers, prediction and graphs
(:mod:`pixelsprite.iterative`, :mod:`pixelsprite.teacher`, :mod:`pixelsprite.evaluation.evaluator`).
The ``pixel`` family's ``tokens`` section is :class:`pixelsprite.pixel.TokenSpec`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .errors import BundleError
from .manifest import Manifest, _float, _int, _keys, _list, _obj, _str
from .samplers.paths import PATHS
from .samplers.schedules import SCHEDULES, DiffusionSchedule

__all__ = [
    "MAX_GUIDANCE",
    "PREDICTIONS",
    "SPACES",
    "TEACHER_INPUTS",
    "TEACHER_OUTPUTS",
    "TIME_INPUTS",
    "Conditioning",
    "EvaluatorSpec",
    "LatentNorm",
    "SamplerDefaults",
    "SamplingSpec",
    "ScheduleSpec",
    "TeacherSpec",
]

SPACES = ("pixel", "latent")
PREDICTIONS = ("eps", "v", "velocity")
TIME_INPUTS = ("index", "t")
MAX_GUIDANCE = 20.0
SCHEDULE_PARAMS = {"linear": ("beta_start", "beta_end"), "cosine": ("s", "max_beta")}
TEACHER_INPUTS = ("image", "size_flag")
TEACHER_OUTPUTS = ("quality", "embedding", "logits", "gate")


def _section(m: Manifest, key: str, src: str, what: str) -> Any:
    d = m.extra.get(key)
    if d is None:
        raise BundleError(f"{src}: a {m.family!r} bundle needs a '{key}' object in its manifest ({what})")
    return d


def _name_map(d: Any, where: str, src: str, names: Sequence[str]) -> dict[str, str]:
    """``{name: graph tensor name}`` with exactly the keys ``names``, in that order."""
    d = _obj(d, where, src)
    _keys(d, where, src, names, ())
    return {k: _str(d[k], f"{where}.{k}", src) for k in names}


# ------------------------------------------------------------------------------------------- sampling
@dataclass(frozen=True)
class Conditioning:
    """Label conditioning with classifier-free guidance (``sampling.conditioning``).

    Attributes:
        null_label: the label index meaning "no label" (= number of labels), None for an unconditional model.
        label_dropout: training's probability of replacing the label by ``null_label``.
        label_counts: sprites per label in the training data (all splits); provenance for the card.
    """

    null_label: int | None = None
    label_dropout: float = 0.0
    label_counts: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "label_counts", dict(self.label_counts))

    @classmethod
    def from_dict(cls, d: Any, where: str = "conditioning", src: str = "<dict>") -> Conditioning:
        d = _obj(d, where, src)
        _keys(d, where, src, (), ("null_label", "label_dropout", "label_counts"))
        null = d.get("null_label")
        dropout = _float(d.get("label_dropout", 0.0), f"{where}.label_dropout", src)
        if not 0.0 <= dropout < 1.0:
            raise BundleError(f"{src}: manifest key '{where}.label_dropout' must be in [0, 1), got {dropout}")
        counts = _obj(d.get("label_counts", {}), f"{where}.label_counts", src)
        return cls(
            null_label=None if null is None else _int(null, f"{where}.null_label", src),
            label_dropout=dropout,
            label_counts={k: _int(v, f"{where}.label_counts.{k}", src) for k, v in counts.items()},
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "null_label": self.null_label,
            "label_dropout": self.label_dropout,
            "label_counts": dict(self.label_counts),
        }


@dataclass(frozen=True)
class SamplerDefaults:
    """``sampling.defaults``: the settings a request gets when it leaves them out (chosen by the export's sweep)."""

    solver: str
    steps: int
    guidance: float

    @classmethod
    def from_dict(cls, d: Any, where: str = "defaults", src: str = "<dict>") -> SamplerDefaults:
        d = _obj(d, where, src)
        _keys(d, where, src, ("solver", "steps", "guidance"), ())
        guidance = _float(d["guidance"], f"{where}.guidance", src)
        if not 0.0 <= guidance <= MAX_GUIDANCE:
            raise BundleError(
                f"{src}: manifest key '{where}.guidance' must be a number in 0..{MAX_GUIDANCE:g}, got {guidance}"
            )
        return cls(
            solver=_str(d["solver"], f"{where}.solver", src),
            steps=_int(d["steps"], f"{where}.steps", src, minimum=1),
            guidance=guidance,
        )

    def to_dict(self) -> dict[str, Any]:
        return {"solver": self.solver, "steps": self.steps, "guidance": self.guidance}


@dataclass(frozen=True)
class ScheduleSpec:
    """``sampling.schedule`` of a diffusion model: the β schedule training used.

    Attributes:
        type: ``"linear"`` (params ``beta_start``, ``beta_end``) or ``"cosine"`` (``s``, ``max_beta``).
        T: the number of training timesteps.
        params: the schedule's parameters, every one of its type (missing ones get the schedule's defaults).
    """

    type: str
    T: int
    params: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", {k: float(v) for k, v in self.params.items()})

    @classmethod
    def from_dict(cls, d: Any, where: str = "schedule", src: str = "<dict>") -> ScheduleSpec:
        d = _obj(d, where, src)
        kind = _str(d.get("type"), f"{where}.type", src) if "type" in d else None
        if kind not in SCHEDULES:
            raise BundleError(f"{src}: manifest key '{where}.type' must be one of {SCHEDULES}, got {kind!r}")
        _keys(d, where, src, ("type", "T"), SCHEDULE_PARAMS[kind])
        T = _int(d["T"], f"{where}.T", src, minimum=1)
        params = {k: _float(d[k], f"{where}.{k}", src) for k in SCHEDULE_PARAMS[kind] if k in d}
        try:
            built = DiffusionSchedule.make(kind, T, **params)
        except ValueError as e:
            raise BundleError(f"{src}: manifest key {where!r} is not a valid schedule ({e})") from None
        return cls(kind, T, built.params)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "T": self.T, **self.params}

    def build(self) -> DiffusionSchedule:
        """The schedule itself (β_t and everything derived from it)."""
        return DiffusionSchedule.make(self.type, self.T, **self.params)


@dataclass(frozen=True)
class LatentNorm:
    """``sampling.latent``: per-channel normalisation of a VAE first stage's latents, ``x = (z - mean) / std``.

    Attributes:
        mean, std: one number per latent channel; std > 0.
        first_stage: the name of the VAE bundle the latents come from (provenance), or None.
    """

    mean: tuple[float, ...]
    std: tuple[float, ...]
    first_stage: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
        object.__setattr__(self, "std", tuple(float(v) for v in self.std))

    @classmethod
    def from_dict(cls, d: Any, channels: int, where: str = "latent", src: str = "<dict>") -> LatentNorm:
        d = _obj(d, where, src)
        _keys(d, where, src, ("mean", "std"), ("first_stage",))

        def numbers(key: str) -> tuple[float, ...]:
            v = _list(d[key], f"{where}.{key}", src)
            if len(v) != channels:
                raise BundleError(f"{src}: manifest key '{where}.{key}' must be {channels} numbers, got {len(v)}")
            return tuple(_float(x, f"{where}.{key}[{i}]", src) for i, x in enumerate(v))

        mean, std = numbers("mean"), numbers("std")
        if min(std) <= 0:
            raise BundleError(f"{src}: manifest key '{where}.std' must be positive, got {list(std)}")
        first = d.get("first_stage")
        return cls(mean, std, None if first is None else _str(first, f"{where}.first_stage", src))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mean": list(self.mean), "std": list(self.std)}
        if self.first_stage is not None:
            out["first_stage"] = self.first_stage
        return out


@dataclass(frozen=True)
class SamplingSpec:
    """The manifest's ``sampling`` section of the iterative families (see ``docs/diffusion-and-flow.md``).

    Written by ``training.export_generator``, read by :class:`pixelsprite.iterative.IterativeModel` (and the
    family registry's capabilities).

    Attributes:
        space: ``"pixel"`` or ``"latent"`` (a VAE first stage's latents; then ``latent`` is required).
        shape: per-sprite tensor the network denoises ``(C, H, W)``.
        prediction: what the network outputs: ``eps`` or ``v`` (diffusion), ``velocity`` (flow).
        time_input: the network's ``t``: ``"index"`` (integer timestep 0..T-1 as float) or ``"t"`` (flow time).
        solvers: solver names this bundle supports (the family checks it runs them).
        defaults: used when a request leaves solver, steps or guidance out.
        max_steps: the largest step count a request may ask for (at most ``schedule.T``).
        conditioning: label conditioning (``null_label`` must be ``len(labels)``, None without labels).
        clip_denoised: diffusion: x̂_0 is clipped to [-c, c] while sampling, or None.
        schedule: diffusion's β schedule, None for flow.
        path: flow's probability path (``linear`` or ``cosine``), None for diffusion.
        latent: the first stage's latent normalisation (``space == "latent"`` only).
    """

    space: str
    shape: tuple[int, ...]
    prediction: str
    time_input: str
    solvers: tuple[str, ...]
    defaults: SamplerDefaults
    max_steps: int
    conditioning: Conditioning = field(default_factory=Conditioning)
    clip_denoised: float | None = None
    schedule: ScheduleSpec | None = None
    path: str | None = None
    latent: LatentNorm | None = None

    KEY: ClassVar[str] = "sampling"

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(self.shape))
        object.__setattr__(self, "solvers", tuple(self.solvers))

    # the names the samplers read
    @property
    def null_label(self) -> int | None:
        return self.conditioning.null_label

    @property
    def default_solver(self) -> str:
        return self.defaults.solver

    @property
    def default_steps(self) -> int:
        return self.defaults.steps

    @property
    def default_guidance(self) -> float:
        return self.defaults.guidance

    @property
    def latent_mean(self) -> tuple[float, ...] | None:
        return None if self.latent is None else self.latent.mean

    @property
    def latent_std(self) -> tuple[float, ...] | None:
        return None if self.latent is None else self.latent.std

    @classmethod
    def from_dict(cls, d: Any, where: str = "sampling", src: str = "<dict>") -> SamplingSpec:
        d = _obj(d, where, src)
        _keys(
            d,
            where,
            src,
            ("space", "shape", "prediction", "time_input", "solvers", "defaults", "max_steps"),
            ("conditioning", "clip_denoised", "schedule", "path", "latent"),
        )

        def one_of(key: str, allowed: Sequence[str]) -> str:
            v = d[key]
            if v not in allowed:
                raise BundleError(f"{src}: manifest key '{where}.{key}' must be one of {tuple(allowed)}, got {v!r}")
            return str(v)

        space = one_of("space", SPACES)
        shape = _list(d["shape"], f"{where}.shape", src)
        if len(shape) != 3:
            raise BundleError(f"{src}: manifest key '{where}.shape' must be [C, H, W], got {shape!r}")
        dims = tuple(_int(s, f"{where}.shape[{i}]", src, minimum=1) for i, s in enumerate(shape))
        solvers = tuple(
            _str(s, f"{where}.solvers[{i}]", src) for i, s in enumerate(_list(d["solvers"], f"{where}.solvers", src))
        )
        if not solvers:
            raise BundleError(f"{src}: manifest key '{where}.solvers' must not be empty")
        max_steps = _int(d["max_steps"], f"{where}.max_steps", src, minimum=1)
        defaults = SamplerDefaults.from_dict(d["defaults"], f"{where}.defaults", src)
        if defaults.solver not in solvers:
            raise BundleError(
                f"{src}: manifest key '{where}.defaults.solver' must be one of {list(solvers)}, got {defaults.solver!r}"
            )
        if defaults.steps > max_steps:
            raise BundleError(
                f"{src}: manifest key '{where}.defaults.steps' must be an integer in 1..{max_steps}, "
                f"got {defaults.steps}"
            )
        clip = d.get("clip_denoised")
        if clip is not None and _float(clip, f"{where}.clip_denoised", src) <= 0:
            raise BundleError(f"{src}: manifest key '{where}.clip_denoised' must be a positive number or null")
        schedule = None
        if d.get("schedule") is not None:
            schedule = ScheduleSpec.from_dict(d["schedule"], f"{where}.schedule", src)
            if max_steps > schedule.T:
                raise BundleError(f"{src}: manifest key '{where}.max_steps' ({max_steps}) exceeds T ({schedule.T})")
        path = None if d.get("path") is None else one_of("path", PATHS)
        latent = None
        if space == "latent":
            if d.get("latent") is None:
                raise BundleError(f"{src}: manifest key '{where}.latent' is missing (needed by space 'latent')")
            latent = LatentNorm.from_dict(d["latent"], dims[0], f"{where}.latent", src)
        elif d.get("latent") is not None:
            raise BundleError(f"{src}: manifest key '{where}.latent' is only allowed with space 'latent'")
        return cls(
            space=space,
            shape=dims,
            prediction=one_of("prediction", PREDICTIONS),
            time_input=one_of("time_input", TIME_INPUTS),
            solvers=solvers,
            defaults=defaults,
            max_steps=max_steps,
            conditioning=Conditioning.from_dict(d.get("conditioning", {}), f"{where}.conditioning", src),
            clip_denoised=None if clip is None else float(clip),
            schedule=schedule,
            path=path,
            latent=latent,
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "space": self.space,
            "shape": list(self.shape),
            "prediction": self.prediction,
            "time_input": self.time_input,
            "conditioning": self.conditioning.to_dict(),
            "solvers": list(self.solvers),
            "defaults": self.defaults.to_dict(),
        }
        if self.schedule is not None:
            out["schedule"] = self.schedule.to_dict()
        if self.path is not None:
            out["path"] = self.path
        out["max_steps"] = self.max_steps
        out["clip_denoised"] = self.clip_denoised
        if self.latent is not None:
            out["latent"] = self.latent.to_dict()
        return out

    @classmethod
    def of(cls, m: Manifest, src: str) -> SamplingSpec:
        """The manifest's ``sampling`` section, checked against its ``labels``; BundleError naming the key."""
        spec = cls.from_dict(_section(m, cls.KEY, src, "space, shape, prediction, solvers, defaults"), cls.KEY, src)
        null = spec.conditioning.null_label
        key = f"'{cls.KEY}.conditioning.null_label'"
        if m.labels and null != len(m.labels):
            raise BundleError(
                f"{src}: manifest key {key} must equal the number of labels ({len(m.labels)}), got {null!r}"
            )
        if not m.labels and null is not None:
            raise BundleError(f"{src}: manifest key {key} must be null for a model without labels")
        return spec


# -------------------------------------------------------------------------------------------- teacher
@dataclass(frozen=True)
class TeacherSpec:
    """The manifest's ``teacher`` section (``docs/bundle-format.md``): how sprites are fed to the teacher graph.

    Written by ``training.export_teacher``, read by :class:`pixelsprite.teacher.TeacherModel`.

    Attributes:
        sizes: the sprite sides served, each natively (S x S).
        size_flags: side -> the number fed as the graph's ``size_flag`` input (JSON keys are strings).
        inputs: ``{"image", "size_flag"}`` -> the graph's input names.
        outputs: ``{"quality", "embedding", "logits", "gate"}`` -> the graph's output names.
        embedding_dim: the embedding's size E.
        experts: the number of mixture experts (the ``gate`` output's width).
        feeding, quality: prose for the card: how sprites are fed, what quality means (written when set).
    """

    sizes: tuple[int, ...]
    size_flags: Mapping[int, float]
    inputs: Mapping[str, str]
    outputs: Mapping[str, str]
    embedding_dim: int
    experts: int
    feeding: str = ""
    quality: str = ""

    KEY: ClassVar[str] = "teacher"

    def __post_init__(self) -> None:
        object.__setattr__(self, "sizes", tuple(self.sizes))
        object.__setattr__(self, "size_flags", {int(s): float(f) for s, f in self.size_flags.items()})
        object.__setattr__(self, "inputs", dict(self.inputs))
        object.__setattr__(self, "outputs", dict(self.outputs))

    @classmethod
    def from_dict(cls, d: Any, where: str = "teacher", src: str = "<dict>") -> TeacherSpec:
        d = _obj(d, where, src)
        _keys(
            d,
            where,
            src,
            ("sizes", "size_flags", "inputs", "outputs", "embedding_dim", "experts"),
            ("feeding", "quality"),
        )
        listed = _list(d["sizes"], f"{where}.sizes", src)
        sizes = tuple(_int(s, f"{where}.sizes[{i}]", src, minimum=1) for i, s in enumerate(listed))
        if not sizes or len(set(sizes)) != len(sizes):
            raise BundleError(f"{src}: manifest key '{where}.sizes' must be distinct sizes, at least one, got {sizes}")
        flags = _obj(d["size_flags"], f"{where}.size_flags", src)
        _keys(flags, f"{where}.size_flags", src, [str(s) for s in sizes], ())
        return cls(
            sizes=sizes,
            size_flags={s: _float(flags[str(s)], f"{where}.size_flags.{s}", src) for s in sizes},
            inputs=_name_map(d["inputs"], f"{where}.inputs", src, TEACHER_INPUTS),
            outputs=_name_map(d["outputs"], f"{where}.outputs", src, TEACHER_OUTPUTS),
            embedding_dim=_int(d["embedding_dim"], f"{where}.embedding_dim", src, minimum=1),
            experts=_int(d["experts"], f"{where}.experts", src, minimum=1),
            feeding=_str(d.get("feeding", ""), f"{where}.feeding", src, nonempty=False),
            quality=_str(d.get("quality", ""), f"{where}.quality", src, nonempty=False),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "sizes": list(self.sizes),
            "size_flags": {str(s): self.size_flags[s] for s in self.sizes},
            "inputs": dict(self.inputs),
            "outputs": dict(self.outputs),
            "embedding_dim": self.embedding_dim,
            "experts": self.experts,
        }
        if self.feeding:
            out["feeding"] = self.feeding
        if self.quality:
            out["quality"] = self.quality
        return out

    @classmethod
    def of(cls, m: Manifest, src: str) -> TeacherSpec:
        """The manifest's ``teacher`` section; BundleError naming the key."""
        return cls.from_dict(_section(m, cls.KEY, src, "sizes, size_flags, inputs, outputs"), cls.KEY, src)


# ------------------------------------------------------------------------------------------ evaluator
@dataclass(frozen=True)
class EvaluatorSpec:
    """The manifest's ``evaluator`` section: the evaluator graph's output names and how sprites are fed.

    Written by ``training.train_evaluator``, read by :class:`pixelsprite.evaluation.evaluator.Evaluator`.

    Attributes:
        features: the output holding the pooled features ``(batch, feature_dim)``.
        logits: the output holding the class logits ``(batch, len(labels))``.
        feature_dim: D, the features' size.
        input: prose for the card: how sprites of each size are placed on the canvas (written when set).
    """

    features: str
    logits: str
    feature_dim: int
    input: str = ""

    KEY: ClassVar[str] = "evaluator"

    @classmethod
    def from_dict(cls, d: Any, where: str = "evaluator", src: str = "<dict>") -> EvaluatorSpec:
        d = _obj(d, where, src)
        _keys(d, where, src, ("features", "logits", "feature_dim"), ("input",))
        return cls(
            features=_str(d["features"], f"{where}.features", src),
            logits=_str(d["logits"], f"{where}.logits", src),
            feature_dim=_int(d["feature_dim"], f"{where}.feature_dim", src, minimum=1),
            input=_str(d.get("input", ""), f"{where}.input", src, nonempty=False),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"features": self.features, "logits": self.logits, "feature_dim": self.feature_dim}
        if self.input:
            out["input"] = self.input
        return out

    @classmethod
    def of(cls, m: Manifest, src: str) -> EvaluatorSpec:
        """The manifest's ``evaluator`` section; BundleError naming the key."""
        return cls.from_dict(_section(m, cls.KEY, src, "the 'features' and 'logits' outputs"), cls.KEY, src)
