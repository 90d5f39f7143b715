"""The "teacher" model family: a quality score, a semantic embedding and a class for RGBA sprites.

A teacher bundle (``docs/bundle-format.md``, family ``"teacher"``) has one graph, role ``teacher``, and a
top-level ``teacher`` section that the runtime reads instead of hard-coding anything:

```json
"teacher": {"sizes": [16, 40], "size_flags": {"16": 0.0, "40": 1.0},
            "inputs": {"image": "image", "size_flag": "size_flag"},
            "outputs": {"quality": "quality", "embedding": "embedding", "logits": "logits", "gate": "gate"},
            "embedding_dim": 64, "experts": 4, "feeding": "..."}
```

How sprites are fed: every supported size **natively** (no resampling; the graph's height and width are dynamic),
as float32 NCHW in ``image.value_range``, together with a per-sprite size flag ``(batch, 1)`` float32 from
``size_flags``. Outputs: ``quality`` ``(batch,)`` in [0, 1] (the teacher's probability that a person would keep
the sprite), ``embedding`` ``(batch, embedding_dim)`` with unit L2 norm, ``logits`` ``(batch, len(labels))``,
``gate`` ``(batch, experts)`` (mixture weights, rows sum to 1).

Pixels are scored as given (the request layer hardens alpha first, like every request).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import BundleError, ImageError
from .imageio import to_model
from .manifest import Manifest
from .manifest_sections import TEACHER_OUTPUTS, TeacherSpec
from .registry import Bundle, Registry

__all__ = ["FAMILY", "GRAPH_ROLE", "DEFAULT_TEACHER", "Scores", "TeacherModel", "check_manifest", "cosine"]

FAMILY = "teacher"
GRAPH_ROLE = "teacher"
DEFAULT_TEACHER = "teacher"
CHUNK = 256
_OUTPUTS = TEACHER_OUTPUTS


@dataclass(frozen=True, eq=False)
class Scores:
    """The teacher's verdict on N sprites.

    Attributes:
        quality: float32 ``(N,)`` in [0, 1]; higher is better (the chance a person keeps the sprite).
        embedding: float32 ``(N, E)``, unit L2 norm; cosine similarity = dot product.
        label: int64 ``(N,)`` index into ``labels`` of the most likely class.
        label_name: the class names, ``(N,)``.
        probability: float32 ``(N,)`` softmax probability of that class.
        gate: float32 ``(N, k)`` expert weights (rows sum to 1).
        labels: the teacher's class names.
    """

    quality: np.ndarray
    embedding: np.ndarray
    label: np.ndarray
    label_name: tuple[str, ...]
    probability: np.ndarray
    gate: np.ndarray
    labels: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.quality.shape[0])

    def take(self, index: np.ndarray | list[int]) -> Scores:
        """The scores of the sprites at ``index`` (in that order)."""
        idx = np.asarray(index, np.int64)
        return Scores(
            self.quality[idx],
            self.embedding[idx],
            self.label[idx],
            tuple(self.label_name[i] for i in idx),
            self.probability[idx],
            self.gate[idx],
            self.labels,
        )

    @staticmethod
    def concat(parts: list[Scores]) -> Scores:
        """The scores of several batches, in order (one teacher)."""
        return Scores(
            np.concatenate([p.quality for p in parts]),
            np.concatenate([p.embedding for p in parts]),
            np.concatenate([p.label for p in parts]),
            tuple(n for p in parts for n in p.label_name),
            np.concatenate([p.probability for p in parts]),
            np.concatenate([p.gate for p in parts]),
            parts[0].labels,
        )

    def row(self, i: int, *, embedding: bool = False) -> dict[str, Any]:
        """Sprite ``i`` as JSON-ready numbers: quality, label, probability (and the embedding if asked)."""
        out: dict[str, Any] = {
            "quality": round(float(self.quality[i]), 6),
            "label": self.label_name[i],
            "probability": round(float(self.probability[i]), 6),
        }
        if embedding:
            out["embedding"] = [round(float(v), 6) for v in self.embedding[i]]
        return out

    def rows(self, *, embedding: bool = False) -> list[dict[str, Any]]:
        return [self.row(i, embedding=embedding) for i in range(len(self))]


def cosine(reference: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
    """float32 ``(N,)`` cosine similarity of unit embeddings ``(N, E)`` to one unit embedding ``(E,)``."""
    return np.clip(embeddings @ reference, -1.0, 1.0).astype(np.float32)


def check_manifest(m: Manifest, src: str) -> TeacherSpec:
    """Check a teacher manifest against its graph's declared I/O; returns its ``teacher`` section."""
    if m.family != FAMILY:
        raise BundleError(f"{src}: model {m.name!r} is a {m.family!r} model, not a {FAMILY!r}")
    sec = TeacherSpec.of(m, src)
    graph = m.graph(GRAPH_ROLE)
    ins = {t.name: t for t in graph.inputs}
    outs = {t.name: t for t in graph.outputs}
    for key, name in sec.inputs.items():
        if name not in ins:
            raise BundleError(f"{src}: teacher.inputs.{key} names input {name!r}, but the graph has {list(ins)}")
    for key, name in sec.outputs.items():
        if name not in outs:
            raise BundleError(f"{src}: teacher.outputs.{key} names output {name!r}, but the graph has {list(outs)}")
    logits = outs[sec.outputs["logits"]]
    if len(logits.shape) != 2 or (isinstance(logits.shape[1], int) and logits.shape[1] != len(m.labels)):
        raise BundleError(
            f"{src}: the teacher's logits must be (batch, {len(m.labels)}) for its "
            f"{len(m.labels)} labels, got {list(logits.shape)}"
        )
    image = ins[sec.inputs["image"]]
    for i, d in ((2, image.shape[2]), (3, image.shape[3])) if len(image.shape) == 4 else ():
        if isinstance(d, int) and len(sec.sizes) > 1:
            raise BundleError(
                f"{src}: the teacher serves sizes {list(sec.sizes)}, so image dim {i} must be dynamic, got {d}"
            )
    return sec


class TeacherModel:
    """A loaded teacher bundle. Thread-safe (onnxruntime sessions may run concurrently)."""

    def __init__(self, bundle: Bundle) -> None:
        m = bundle.manifest
        sec = check_manifest(m, str(bundle.info.path))
        self.bundle = bundle
        self.spec = sec
        self.sizes: tuple[int, ...] = sec.sizes
        self._flags = sec.size_flags
        self._inputs = sec.inputs
        self._outputs = sec.outputs
        self.labels: tuple[str, ...] = m.labels
        self.value_range = m.image.value_range

    @classmethod
    def load(cls, registry: Registry, name: str = DEFAULT_TEACHER) -> TeacherModel:
        return cls(registry.load(name))

    @property
    def name(self) -> str:
        return self.bundle.name

    def check_size(self, images: np.ndarray, field: str = "images") -> int:
        """The side S of uint8 ``(N, S, S, 4)`` sprites, or ImageError naming ``field`` and the sizes served."""
        arr = np.asarray(images)
        if arr.ndim != 4 or arr.shape[-1] != 4 or arr.dtype != np.uint8 or arr.shape[0] < 1:
            raise ImageError(
                f"{field} must be uint8 (N, H, W, 4) RGBA with N >= 1, got {arr.dtype} {arr.shape}", field=field
            )
        h, w = arr.shape[1:3]
        if h != w or h not in self.sizes:
            sizes = " or ".join(f"{s}x{s}" for s in self.sizes)
            raise ImageError(f"{field} is {w}x{h} pixels; teacher {self.name!r} scores {sizes} sprites", field=field)
        return int(h)

    def score(self, images: np.ndarray) -> Scores:
        """uint8 ``(N, S, S, 4)`` sprites (S one of ``sizes``; pixels as given) -> :class:`Scores`."""
        size = self.check_size(images)
        flag = np.float32(self._flags[size])
        parts: dict[str, list[np.ndarray]] = {k: [] for k in _OUTPUTS}
        for s in range(0, len(images), CHUNK):
            x = to_model(images[s : s + CHUNK], self.value_range)
            out = self.bundle.run(
                GRAPH_ROLE,
                {self._inputs["image"]: x, self._inputs["size_flag"]: np.full((len(x), 1), flag, np.float32)},
            )
            for k in _OUTPUTS:
                parts[k].append(np.asarray(out[self._outputs[k]], np.float32))
        quality = np.clip(np.concatenate(parts["quality"]).reshape(-1), 0.0, 1.0)
        emb = np.concatenate(parts["embedding"])
        emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
        logits = np.concatenate(parts["logits"])
        z = np.exp(logits - logits.max(1, keepdims=True))
        prob = z / z.sum(1, keepdims=True)
        label = prob.argmax(1).astype(np.int64)
        return Scores(
            quality.astype(np.float32),
            emb.astype(np.float32),
            label,
            tuple(self.labels[i] for i in label),
            prob[np.arange(len(label)), label].astype(np.float32),
            np.concatenate(parts["gate"]),
            self.labels,
        )
