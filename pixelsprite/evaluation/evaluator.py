"""The frozen evaluator network: a small CNN classifier whose penultimate features are the evaluation's space.

It exists only for evaluation (no generator or teacher is trained against it). A bundle of family
``"evaluator"`` has one graph, role ``evaluator``: input ``(batch, 4, C, C)`` float32 in the manifest's
``value_range`` (the canvas ``C`` = ``image.width``), outputs ``features`` ``(batch, D)`` (the pooled
penultimate activations) and ``logits`` ``(batch, len(labels))``; the top-level ``evaluator`` section names them.

Every sprite size is fed on the same canvas: a sprite of side S is upscaled nearest-neighbour by the largest
integer factor ``f = C // S`` and centred on a transparent C x C canvas. For the shipped evaluator (C = 40),
16x16 sprites become 32x32 (each pixel a 2x2 block) centred on 40x40, which undoes the 2x pixel-art reduction
that made ``dcss16`` from the 32x32 DCSS tiles and places them as ``dcss40`` places those tiles; 40x40 sprites
go in as they are. Features of sets of different sizes are therefore comparable, although the suite only ever
compares sets of one size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..datasets.builders import CLEAN_MERGE
from ..errors import BundleError
from ..imageio import to_model, upscale
from ..manifest_sections import EvaluatorSpec
from ..registry import Bundle, Registry

__all__ = ["EVALUATOR_FAMILY", "GRAPH_ROLE", "Evaluator", "EvaluatorOutput", "embed_on_canvas"]

EVALUATOR_FAMILY = "evaluator"
GRAPH_ROLE = "evaluator"
DEFAULT_NAME = "evaluator"
BATCH = 256


def embed_on_canvas(rgba: np.ndarray, canvas: int) -> np.ndarray:
    """uint8 ``(N, S, S, 4)`` -> uint8 ``(N, canvas, canvas, 4)``: nearest upscale by ``canvas // S``, centred.

    Raises ValueError for non-square sprites or sprites larger than the canvas.
    """
    arr = np.asarray(rgba)
    if arr.ndim != 4 or arr.shape[-1] != 4 or arr.dtype != np.uint8 or arr.shape[1] != arr.shape[2]:
        raise ValueError(f"sprites must be square uint8 (N, S, S, 4), got {arr.dtype} {arr.shape}")
    side = arr.shape[1]
    if side > canvas:
        raise ValueError(f"{side}x{side} sprites do not fit the evaluator's {canvas}x{canvas} canvas")
    big = upscale(arr, canvas // side)
    out = np.zeros((len(arr), canvas, canvas, 4), np.uint8)
    o = (canvas - big.shape[1]) // 2
    out[:, o : o + big.shape[1], o : o + big.shape[2]] = big
    return out


@dataclass(frozen=True, eq=False)
class EvaluatorOutput:
    """features: float32 ``(N, D)``; logits: float32 ``(N, L)`` over the evaluator's labels."""

    features: np.ndarray
    logits: np.ndarray

    @property
    def predicted(self) -> np.ndarray:
        """int64 ``(N,)`` index of the most likely label."""
        return self.logits.argmax(1)


class Evaluator:
    """A loaded evaluator bundle. Thread-safe (onnxruntime sessions may run concurrently)."""

    def __init__(self, bundle: Bundle) -> None:
        m = bundle.manifest
        src = str(bundle.info.path)
        if m.family != EVALUATOR_FAMILY:
            raise BundleError(f"{src}: model {m.name!r} is a {m.family!r} model, not an {EVALUATOR_FAMILY!r}")
        if m.image.width != m.image.height:
            raise BundleError(f"{src}: an evaluator's canvas must be square, got {m.image.width}x{m.image.height}")
        graph = m.graph(GRAPH_ROLE)
        self.spec = EvaluatorSpec.of(m, src)
        self._names = {"features": self.spec.features, "logits": self.spec.logits}
        outputs = [t.name for t in graph.outputs]
        for key, name in self._names.items():
            if name not in outputs:
                raise BundleError(f"{src}: evaluator.{key} names output {name!r}, but the graph has {outputs}")
        self.bundle = bundle
        self.canvas = m.image.width
        self.labels = m.labels
        self.value_range = m.image.value_range
        self.input_name = graph.inputs[0].name

    @classmethod
    def load(cls, registry: Registry, name: str = DEFAULT_NAME) -> Evaluator:
        return cls(registry.load(name))

    @property
    def name(self) -> str:
        return self.bundle.name

    def run(self, rgba: np.ndarray, batch: int = BATCH) -> EvaluatorOutput:
        """uint8 ``(N, S, S, 4)`` sprites (any S <= canvas) -> features and logits (see :class:`EvaluatorOutput`)."""
        x = embed_on_canvas(rgba, self.canvas)
        feats, logits = [], []
        for s in range(0, len(x), batch):
            out = self.bundle.run(GRAPH_ROLE, {self.input_name: to_model(x[s : s + batch], self.value_range)})
            feats.append(out[self._names["features"]])
            logits.append(out[self._names["logits"]])
        return EvaluatorOutput(np.concatenate(feats).astype(np.float32), np.concatenate(logits).astype(np.float32))

    def labels_as(self, vocabulary: Sequence[str]) -> list[str] | None:
        """The evaluator's labels named in a generator's ``vocabulary``, index for index, or None when that
        vocabulary is not one the evaluator was trained on (a shared name alone means little).

        A vocabulary within the evaluator's labels maps to itself; one within them once the clean sets' folds
        (:data:`~pixelsprite.datasets.builders.CLEAN_MERGE`: ring and amulet are jewellery, ...) are applied maps
        through the folds, so a ``dcss*clean`` generator's ``jewellery`` agrees with an evaluator's ``ring``."""
        for names in (list(self.labels), [CLEAN_MERGE.get(n, n) for n in self.labels]):
            if set(vocabulary) <= set(names):
                return names
        return None

    def agreement(self, predicted: np.ndarray, labels: Sequence[str] | None, vocabulary: Sequence[str]) -> float | None:
        """Share of ``predicted`` (int ``(N,)`` indices into this evaluator's labels) that name ``labels`` (N names
        from ``vocabulary``), through :meth:`labels_as`; None without labels or for a vocabulary it does not know."""
        names = self.labels_as(vocabulary)
        if not labels or names is None:
            return None
        return float(np.mean([names[p] == lab for p, lab in zip(predicted, labels)]))

    def features(self, rgba: np.ndarray) -> np.ndarray:
        """float32 ``(N, D)``: the feature vectors Fréchet distance, KID and precision/recall are computed on."""
        return self.run(rgba).features
