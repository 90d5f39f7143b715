"""The bundle manifest (``manifest.json``, format_version 1) as frozen dataclasses.

The manifest is the single source of truth that training and the runtime agree on: image size, channels,
value range, latent shape, labels, post-processing defaults, ONNX graph files with their hashes and I/O
signatures, and the training provenance. See ``docs/bundle-format.md`` for the format.

Training builds a :class:`Manifest` in Python and writes ``manifest.to_dict()`` (or calls
:func:`save_manifest`); the runtime reads it with :func:`load_manifest`. ``Manifest.from_dict(d).to_dict()``
returns ``d`` for any manifest in canonical form (every documented key present); unknown top-level keys are
kept in ``Manifest.extra`` and written back, so later families can add keys (e.g. ``"schedule"``) without
breaking older readers. Known keys are parsed strictly: a wrong type or value raises :class:`BundleError`
naming the key. The family sections kept in ``extra`` (``sampling``, ``teacher``, ``evaluator``) have their own
dataclasses in :mod:`pixelsprite.manifest_sections`; the pixel family's ``tokens`` is
:class:`pixelsprite.pixel.TokenSpec`.

Sequences passed to the constructors may be lists or tuples; they are stored as tuples.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .atomic import write_bytes_atomic
from .errors import BundleError

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "TensorSpec",
    "GraphSpec",
    "ImageSpec",
    "LatentSpec",
    "LabelPolicy",
    "PostprocessSpec",
    "Manifest",
    "load_manifest",
    "save_manifest",
    "sha256_file",
]

FORMAT = "pixelsprite-bundle"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
DTYPES = ("float32", "float16", "int64", "int32", "uint8", "bool")

Dim = int | str
"""A tensor dimension: a positive int (static) or a name such as ``"batch"`` (dynamic)."""


# --------------------------------------------------------------------------------------------- checks
def _ctx(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _obj(d: Any, where: str, src: str) -> Mapping[str, Any]:
    if not isinstance(d, Mapping):
        raise BundleError(f"{src}: manifest key {where!r} must be an object, got {type(d).__name__}")
    return d


def _keys(d: Mapping[str, Any], where: str, src: str, required: Sequence[str], optional: Sequence[str]) -> None:
    for k in required:
        if k not in d:
            raise BundleError(f"{src}: manifest key {_ctx(where, k)!r} is missing")
    unknown = sorted(set(d) - set(required) - set(optional))
    if unknown:
        raise BundleError(f"{src}: unknown manifest key(s) {', '.join(_ctx(where, k) for k in unknown)}")


def _str(v: Any, key: str, src: str, *, nonempty: bool = True) -> str:
    if not isinstance(v, str) or (nonempty and not v):
        raise BundleError(f"{src}: manifest key {key!r} must be a non-empty string, got {v!r}")
    return v


def _int(v: Any, key: str, src: str, *, minimum: int = 0) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
        raise BundleError(f"{src}: manifest key {key!r} must be an integer >= {minimum}, got {v!r}")
    return v


def _float(v: Any, key: str, src: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise BundleError(f"{src}: manifest key {key!r} must be a number, got {v!r}")
    return float(v)


def _list(v: Any, key: str, src: str) -> list[Any]:
    if not isinstance(v, (list, tuple)):
        raise BundleError(f"{src}: manifest key {key!r} must be a list, got {type(v).__name__}")
    return list(v)


def _dims(v: Any, key: str, src: str) -> tuple[Dim, ...]:
    dims = _list(v, key, src)
    for i, d in enumerate(dims):
        if isinstance(d, str):
            _str(d, f"{key}[{i}]", src)
        else:
            _int(d, f"{key}[{i}]", src, minimum=1)
    return tuple(dims)


# ------------------------------------------------------------------------------------------ dataclasses
@dataclass(frozen=True)
class TensorSpec:
    """One ONNX graph input or output.

    Attributes:
        name: the ONNX tensor name.
        dtype: numpy-style dtype name, one of ``float32, float16, int64, int32, uint8, bool``.
        shape: dims; an int is a static size, a str (e.g. ``"batch"``) a dynamic one.
    """

    name: str
    dtype: str
    shape: tuple[Dim, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(self.shape))

    @classmethod
    def from_dict(cls, d: Any, where: str = "tensor", src: str = "<dict>") -> TensorSpec:
        d = _obj(d, where, src)
        _keys(d, where, src, ("name", "dtype", "shape"), ())
        dtype = _str(d["dtype"], _ctx(where, "dtype"), src)
        if dtype not in DTYPES:
            raise BundleError(f"{src}: manifest key {_ctx(where, 'dtype')!r} must be one of {DTYPES}, got {dtype!r}")
        return cls(
            name=_str(d["name"], _ctx(where, "name"), src),
            dtype=dtype,
            shape=_dims(d["shape"], _ctx(where, "shape"), src),
        )

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape)}


@dataclass(frozen=True)
class GraphSpec:
    """One ONNX file of a bundle and its I/O signature.

    Attributes:
        file: file name relative to the bundle folder.
        sha256: lowercase hex SHA-256 of the file; checked when the bundle is loaded.
        opset: the default-domain ONNX opset the file was exported with.
        inputs, outputs: the graph's tensors, in graph order.
    """

    file: str
    sha256: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    opset: int = 17

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "outputs", tuple(self.outputs))

    @classmethod
    def from_dict(cls, d: Any, where: str = "graph", src: str = "<dict>") -> GraphSpec:
        d = _obj(d, where, src)
        _keys(d, where, src, ("file", "sha256", "opset", "inputs", "outputs"), ())
        file = _str(d["file"], _ctx(where, "file"), src)
        if Path(file).name != file:
            raise BundleError(f"{src}: manifest key {_ctx(where, 'file')!r} must be a plain file name, got {file!r}")
        sha = _str(d["sha256"], _ctx(where, "sha256"), src)
        if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            raise BundleError(f"{src}: manifest key {_ctx(where, 'sha256')!r} must be 64 lowercase hex digits")

        def tensors(key: str) -> tuple[TensorSpec, ...]:
            items = _list(d[key], _ctx(where, key), src)
            if not items:
                raise BundleError(f"{src}: manifest key {_ctx(where, key)!r} must not be empty")
            return tuple(TensorSpec.from_dict(t, f"{_ctx(where, key)}[{i}]", src) for i, t in enumerate(items))

        return cls(
            file=file,
            sha256=sha,
            opset=_int(d["opset"], _ctx(where, "opset"), src, minimum=1),
            inputs=tensors("inputs"),
            outputs=tensors("outputs"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "sha256": self.sha256,
            "opset": self.opset,
            "inputs": [t.to_dict() for t in self.inputs],
            "outputs": [t.to_dict() for t in self.outputs],
        }


@dataclass(frozen=True)
class ImageSpec:
    """How sprites cross the ONNX boundary.

    Attributes:
        width, height: sprite size in pixels.
        channels: channel names in order; ``("R", "G", "B", "A")`` for RGBA.
        layout: ``"NCHW"`` (the only layout of format_version 1).
        dtype: ``"float32"``.
        value_range: ``(lo, hi)``; uint8 ``u`` maps to ``lo + u / 255 * (hi - lo)`` on every channel,
            alpha too.
    """

    width: int
    height: int
    channels: tuple[str, ...] = ("R", "G", "B", "A")
    layout: str = "NCHW"
    dtype: str = "float32"
    value_range: tuple[float, float] = (-1.0, 1.0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(self.channels))
        object.__setattr__(self, "value_range", (float(self.value_range[0]), float(self.value_range[1])))

    @classmethod
    def from_dict(cls, d: Any, where: str = "image", src: str = "<dict>") -> ImageSpec:
        d = _obj(d, where, src)
        _keys(d, where, src, ("width", "height", "channels", "layout", "dtype", "value_range"), ())
        channels = tuple(
            _str(c, f"{where}.channels[{i}]", src) for i, c in enumerate(_list(d["channels"], f"{where}.channels", src))
        )
        if channels != ("R", "G", "B", "A"):
            raise BundleError(
                f"{src}: manifest key '{where}.channels' must be ['R', 'G', 'B', 'A'], got {list(channels)}"
            )
        if d["layout"] != "NCHW":
            raise BundleError(f"{src}: manifest key '{where}.layout' must be 'NCHW', got {d['layout']!r}")
        if d["dtype"] != "float32":
            raise BundleError(f"{src}: manifest key '{where}.dtype' must be 'float32', got {d['dtype']!r}")
        vr = _list(d["value_range"], f"{where}.value_range", src)
        if len(vr) != 2:
            raise BundleError(f"{src}: manifest key '{where}.value_range' must be [lo, hi], got {vr!r}")
        lo, hi = (_float(v, f"{where}.value_range", src) for v in vr)
        if not lo < hi:
            raise BundleError(f"{src}: manifest key '{where}.value_range' must have lo < hi, got {vr!r}")
        return cls(
            width=_int(d["width"], f"{where}.width", src, minimum=1),
            height=_int(d["height"], f"{where}.height", src, minimum=1),
            channels=channels,
            layout="NCHW",
            dtype="float32",
            value_range=(lo, hi),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "width": self.width,
            "height": self.height,
            "channels": list(self.channels),
            "layout": self.layout,
            "dtype": self.dtype,
            "value_range": list(self.value_range),
        }

    @property
    def nchw(self) -> tuple[int, int, int]:
        """``(channels, height, width)`` of one sprite as the model sees it."""
        return (len(self.channels), self.height, self.width)


@dataclass(frozen=True)
class LatentSpec:
    """The latent space of a latent-variable model.

    Attributes:
        shape: per-sprite latent shape, without the batch dim (e.g. ``(8, 4, 4)``).
        prior: the distribution new sprites are drawn from: ``"standard_normal"`` (N(0, I)) or
            ``"gaussian_mixture"`` (a fitted mixture, sampled through the bundle's ``prior`` graph).
        mixture_weights: the mixture's component weights (K,), summing to 1; only with
            ``prior="gaussian_mixture"``, and only then written by :meth:`to_dict`.
    """

    shape: tuple[int, ...]
    prior: str = "standard_normal"
    mixture_weights: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(self.shape))
        if self.mixture_weights is not None:
            object.__setattr__(self, "mixture_weights", tuple(float(w) for w in self.mixture_weights))

    @classmethod
    def from_dict(cls, d: Any, where: str = "latent", src: str = "<dict>") -> LatentSpec:
        d = _obj(d, where, src)
        _keys(d, where, src, ("shape", "prior"), ("mixture_weights",))
        shape = _list(d["shape"], f"{where}.shape", src)
        if not shape:
            raise BundleError(f"{src}: manifest key '{where}.shape' must not be empty")
        prior = _str(d["prior"], f"{where}.prior", src)
        weights: tuple[float, ...] | None = None
        key = f"{where}.mixture_weights"
        if prior == "gaussian_mixture":
            if "mixture_weights" not in d:
                raise BundleError(f"{src}: manifest key {key!r} is missing (needed by prior 'gaussian_mixture')")
            weights = tuple(_float(w, f"{key}[{i}]", src) for i, w in enumerate(_list(d["mixture_weights"], key, src)))
            if not weights or min(weights) < 0 or abs(sum(weights) - 1.0) > 1e-4:
                raise BundleError(f"{src}: manifest key {key!r} must be non-negative weights summing to 1")
        elif "mixture_weights" in d:
            raise BundleError(f"{src}: manifest key {key!r} is only allowed with prior 'gaussian_mixture'")
        return cls(
            shape=tuple(_int(s, f"{where}.shape[{i}]", src, minimum=1) for i, s in enumerate(shape)),
            prior=prior,
            mixture_weights=weights,
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"shape": list(self.shape), "prior": self.prior}
        if self.mixture_weights is not None:
            out["mixture_weights"] = list(self.mixture_weights)
        return out


@dataclass(frozen=True)
class LabelPolicy:
    """One label's colour policy (label-conditional generators): replaces the spec's tolerance and despeckle."""

    label: str
    color_tolerance: float
    despeckle: float


@dataclass(frozen=True)
class PostprocessSpec:
    """Decoding defaults.

    Attributes:
        alpha_threshold: a pixel is opaque iff its alpha (in ``value_range`` units) is greater than this.
        max_colors: per-sprite colour cap applied when decoding; 0 turns colour reduction off.
        color_tolerance: with a cap, each sprite gets the fewest colours whose mean OKLab error stays within
            this (0: every sprite gets exactly the cap); see :func:`pixelsprite.postprocess.reduce_colors_adaptive`.
        despeckle: OKLab distance under which a lone pixel merges into its closest neighbour's colour after
            colour reduction (0: off); see :func:`pixelsprite.postprocess.despeckle`.
        per_label: label-conditional models: labels whose sprites use their own tolerance and despeckle
            (JSON: ``"per_label": {"ring": {"color_tolerance": 0.03, "despeckle": 0.05}}``); see :meth:`for_label`.
    """

    alpha_threshold: float = 0.0
    max_colors: int = 0
    color_tolerance: float = 0.0
    despeckle: float = 0.0
    per_label: tuple[LabelPolicy, ...] = ()

    def for_label(self, label: str | None) -> PostprocessSpec:
        """The policy sprites of ``label`` are decoded with (this spec when the label has none of its own)."""
        for p in self.per_label:
            if p.label == label:
                return replace(self, color_tolerance=p.color_tolerance, despeckle=p.despeckle, per_label=())
        return self

    @classmethod
    def from_dict(cls, d: Any, where: str = "postprocess", src: str = "<dict>") -> PostprocessSpec:
        d = _obj(d, where, src)
        _keys(d, where, src, ("alpha_threshold", "max_colors"), ("color_tolerance", "despeckle", "per_label"))
        tolerance, distance = _policy(d, where, src)
        per_label = tuple(
            LabelPolicy(_str(k, f"{where}.per_label", src), *_policy(v, f"{where}.per_label.{k}", src, required=True))
            for k, v in _obj(d.get("per_label", {}), f"{where}.per_label", src).items()
        )
        return cls(
            alpha_threshold=_float(d["alpha_threshold"], f"{where}.alpha_threshold", src),
            max_colors=_int(d["max_colors"], f"{where}.max_colors", src, minimum=0),
            color_tolerance=tolerance,
            despeckle=distance,
            per_label=per_label,
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "alpha_threshold": self.alpha_threshold,
            "max_colors": self.max_colors,
            "color_tolerance": self.color_tolerance,
            "despeckle": self.despeckle,
        }
        if self.per_label:
            out["per_label"] = {
                p.label: {"color_tolerance": p.color_tolerance, "despeckle": p.despeckle} for p in self.per_label
            }
        return out


def _policy(d: Any, where: str, src: str, required: bool = False) -> tuple[float, float]:
    """(color_tolerance, despeckle) of a postprocess object, each >= 0 (0 when optional and absent)."""
    d = _obj(d, where, src)
    keys = ("color_tolerance", "despeckle")
    if required:
        _keys(d, where, src, keys, ())
    values = tuple(_float(d.get(k, 0.0), f"{where}.{k}", src) for k in keys)
    for key, value in zip(keys, values):
        if value < 0:
            raise BundleError(f"{src}: manifest key '{where}.{key}' must be >= 0, got {value}")
    return values[0], values[1]


_TOP_KEYS = (
    "format", "format_version", "name", "family", "description", "image", "latent", "labels", "label_aliases",
    "postprocess", "graphs", "training", "metrics", "card", "samples",
)  # fmt: skip


@dataclass(frozen=True)
class Manifest:
    """A parsed ``manifest.json``.

    Attributes:
        name: the model name users request (e.g. ``"vae16"``); ``[A-Za-z0-9._-]+``.
        family: the model family (``"vae"``; later ``"diffusion"``, ``"flow"``, ...), selects the sampler.
        image: the sprite format at the ONNX boundary.
        graphs: graph role (e.g. ``"encoder"``, ``"decoder"``) -> :class:`GraphSpec`.
        description: one line for model listings.
        latent: the latent space, or None for families without one.
        labels: class labels the model knows (may be empty).
        label_aliases: other names a request may use for a label (e.g. ``ring`` -> ``jewellery`` where the
            training data folded rings into jewellery); each value is one of ``labels``, no key is.
        postprocess: decoding defaults.
        training: provenance (data sets with licences, recipe, seconds, epochs, framework); free-form dict.
        metrics: evaluation numbers; free-form dict.
        card: file name of the model card (Markdown) inside the bundle.
        samples: file name of the sample sheet (PNG) inside the bundle.
        format_version: the bundle format version this manifest follows.
        extra: unknown top-level keys, kept verbatim (later families add e.g. ``"schedule"``).
    """

    name: str
    family: str
    image: ImageSpec
    graphs: Mapping[str, GraphSpec]
    description: str = ""
    latent: LatentSpec | None = None
    labels: tuple[str, ...] = ()
    label_aliases: Mapping[str, str] = field(default_factory=dict)
    postprocess: PostprocessSpec = field(default_factory=PostprocessSpec)
    training: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, Any] = field(default_factory=dict)
    card: str = "card.md"
    samples: str = "samples.png"
    format_version: int = FORMAT_VERSION
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", tuple(self.labels))
        object.__setattr__(self, "label_aliases", dict(self.label_aliases))
        object.__setattr__(self, "graphs", dict(self.graphs))
        object.__setattr__(self, "training", dict(self.training))
        object.__setattr__(self, "metrics", dict(self.metrics))
        object.__setattr__(self, "extra", dict(self.extra))
        clash = sorted(set(self.extra) & set(_TOP_KEYS))
        if clash:
            raise ValueError(f"Manifest.extra must not contain known keys: {clash}")

    @classmethod
    def from_dict(cls, d: Any, src: str = "<dict>") -> Manifest:
        """Parse and validate a manifest dict; ``src`` (a path) is named in error messages.

        Raises:
            BundleError: naming the offending key.
        """
        d = _obj(d, "<root>", src)
        required = ("format", "format_version", "name", "family", "image", "graphs")
        for k in required:
            if k not in d:
                raise BundleError(f"{src}: manifest key {k!r} is missing")
        if d["format"] != FORMAT:
            raise BundleError(f"{src}: manifest key 'format' must be {FORMAT!r}, got {d['format']!r}")
        version = _int(d["format_version"], "format_version", src, minimum=1)
        if version > FORMAT_VERSION:
            raise BundleError(
                f"{src}: format_version {version} is newer than this runtime supports ({FORMAT_VERSION}); "
                "upgrade pixelsprite"
            )
        name = _str(d["name"], "name", src)
        if not all(c.isalnum() or c in "._-" for c in name):
            raise BundleError(
                f"{src}: manifest key 'name' may only hold letters, digits, '.', '_' and '-', got {name!r}"
            )
        graphs_d = _obj(d["graphs"], "graphs", src)
        if not graphs_d:
            raise BundleError(f"{src}: manifest key 'graphs' must name at least one graph")
        graphs = {_str(k, "graphs", src): GraphSpec.from_dict(v, f"graphs.{k}", src) for k, v in graphs_d.items()}
        labels = tuple(_str(x, f"labels[{i}]", src) for i, x in enumerate(_list(d.get("labels", []), "labels", src)))
        aliases_d = _obj(d.get("label_aliases", {}), "label_aliases", src)
        aliases = {_str(k, "label_aliases", src): _str(v, f"label_aliases.{k}", src) for k, v in aliases_d.items()}
        for alias, target in aliases.items():
            if alias in labels or target not in labels:
                raise BundleError(
                    f"{src}: manifest key 'label_aliases.{alias}' must map a name that is not a label to one of "
                    f"'labels' {list(labels)}, got {alias!r} -> {target!r}"
                )
        training = _obj(d.get("training", {}), "training", src)
        metrics = _obj(d.get("metrics", {}), "metrics", src)
        postprocess = (
            PostprocessSpec.from_dict(d["postprocess"], "postprocess", src) if "postprocess" in d else PostprocessSpec()
        )
        stray = [p.label for p in postprocess.per_label if p.label not in labels]
        if stray:
            raise BundleError(
                f"{src}: manifest key 'postprocess.per_label' names {stray}, which are not in 'labels' {list(labels)}"
            )
        return cls(
            name=name,
            family=_str(d["family"], "family", src),
            description=_str(d.get("description", ""), "description", src, nonempty=False),
            image=ImageSpec.from_dict(d["image"], "image", src),
            latent=LatentSpec.from_dict(d["latent"], "latent", src) if d.get("latent") is not None else None,
            labels=labels,
            label_aliases=aliases,
            postprocess=postprocess,
            graphs=graphs,
            training=json.loads(json.dumps(training)),
            metrics=json.loads(json.dumps(metrics)),
            card=_str(d.get("card", "card.md"), "card", src),
            samples=_str(d.get("samples", "samples.png"), "samples", src),
            format_version=version,
            extra={k: v for k, v in d.items() if k not in _TOP_KEYS},
        )

    def to_dict(self) -> dict[str, Any]:
        """The manifest as a JSON-ready dict in canonical key order (extra keys last)."""
        out: dict[str, Any] = {
            "format": FORMAT,
            "format_version": self.format_version,
            "name": self.name,
            "family": self.family,
            "description": self.description,
            "image": self.image.to_dict(),
        }
        if self.latent is not None:
            out["latent"] = self.latent.to_dict()
        out["labels"] = list(self.labels)
        if self.label_aliases:
            out["label_aliases"] = dict(self.label_aliases)
        out["postprocess"] = self.postprocess.to_dict()
        out["graphs"] = {k: g.to_dict() for k, g in self.graphs.items()}
        out["training"] = json.loads(json.dumps(self.training))
        out["metrics"] = json.loads(json.dumps(self.metrics))
        out["card"] = self.card
        out["samples"] = self.samples
        out.update(json.loads(json.dumps(self.extra)))
        return out

    def graph(self, role: str) -> GraphSpec:
        """The graph with this role; BundleError naming the roles present if it is missing."""
        try:
            return self.graphs[role]
        except KeyError:
            raise BundleError(
                f"model {self.name!r} has no {role!r} graph (it has: {', '.join(sorted(self.graphs))})"
            ) from None


# ------------------------------------------------------------------------------------------------ I/O
def load_manifest(path: str | os.PathLike[str]) -> Manifest:
    """Read and validate a manifest from a bundle folder or a ``manifest.json`` path.

    Raises:
        BundleError: the file is missing, is not JSON, or fails validation; the message names the path.
    """
    p = Path(path)
    if p.is_dir():
        p = p / MANIFEST_NAME
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BundleError(f"{p}: manifest file is missing") from None
    except OSError as e:
        raise BundleError(f"{p}: cannot read manifest ({e.strerror or e})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise BundleError(f"{p}: manifest is not valid JSON ({e})") from None
    return Manifest.from_dict(data, src=str(p))


def save_manifest(manifest: Manifest, path: str | os.PathLike[str]) -> Path:
    """Write ``manifest.to_dict()`` as indented JSON, atomically; ``path`` is a bundle folder or a file path.

    Returns the path written.
    """
    p = Path(path)
    if p.is_dir():
        p = p / MANIFEST_NAME
    text = json.dumps(manifest.to_dict(), indent=2) + "\n"
    return write_bytes_atomic(p, text.encode("utf-8"))


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Lowercase hex SHA-256 of a file's bytes (what ``GraphSpec.sha256`` holds)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
