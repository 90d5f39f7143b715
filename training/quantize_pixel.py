"""Quantise a ``pixel`` bundle's convolutions to int8 and evaluate the result as a new bundle.

    python -m training.quantize_pixel pixelsprite/models/pixel16fast --dataset dcss16clean \
        --bundle runs/q/pixel16fast --name pixel16fast

Story: the bundle's ``logits`` graph -> onnxruntime static quantisation in QDQ form (int8 weights per output
channel, uint8 activations with MinMax ranges calibrated on masked training canvases: the training sprites in the
bundle's palette, a random share of pixels masked, labels with the null label mixed in) of every ``Conv`` but the
first (token embeddings in) and the last (the logits out, which the samplers read directly: quantising it moved
``pixel16fast``'s Fréchet distance from 3.40 to 4.20 on 128 sprites, keeping it float left it at 3.32) -> the
export's own evaluation from the bundle's stored sweep (``training.export_pixel``'s ``finish_pixel_bundle``: 512
held-out-mix sprites, two-sample test, FD, speed, sheets and card; for a tile model ``training.export_tiles``'s
``finish_tiles_bundle``: seams, 3x3 sheets, and the evaluation budget from the quantised graph's own speed). The
card's numbers then describe the quantised graph; compare them with the float bundle's card before shipping it.
``metrics.quantized`` records what was quantised and how far the graph's outputs moved on held-out canvases.
For a cascade the upsampler's ``logits`` graph is quantised (calibrated with the sprites' 2x reductions as its
half-size input) and the first stage's ``base`` graph is carried as it is; for a renderer the ``logits`` graph is
quantised (calibrated with each sprite as the first stage's VAE redraws it as its guide) and the generator's graphs
are carried as they are.

The runtime needs nothing new: onnxruntime runs QDQ graphs on every CPU (fastest where the CPU has int8 dot
products, e.g. AVX-512 VNNI or ARM dotprod). Weights use a 7-bit range (``reduce_range``) so that x86 CPUs without
VNNI, whose u8s8 kernels add pairs of products in int16, cannot saturate: the graph computes the same everywhere.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

from pixelsprite import families
from pixelsprite.datasets.reduce import reduce_2x
from pixelsprite.iterative import IterativeModel
from pixelsprite.manifest import load_manifest, save_manifest, sha256_file
from pixelsprite.pixel import palette_tokens
from pixelsprite.registry import Registry

from .data.builders import SpriteSet, load_dataset
from .export_pixel import finish_pixel_bundle
from .export_tiles import finish_tiles_bundle
from .graph_feeds import every_pixel
from .token_palette import from_hex

KEEP_METRICS = ("parity_max_abs_diff", "floors", "sweep", "sweep_count")
"""What the float bundle measured that still holds: the sweep decides the defaults again, the rest is re-measured."""


def masked_canvases(
    images: np.ndarray,
    labels: np.ndarray,
    palette: np.ndarray,
    null_label: int,
    batches: int,
    batch: int,
    seed: int,
    lowres: bool = False,
    guides: np.ndarray | None = None,
) -> list[dict[str, np.ndarray]]:
    """``batches`` feeds of the ``logits`` graph: training sprites (uint8 ``(N, S, S, 4)``) as tokens of ``palette``
    (K, 3) uint8, each with a share t ~ U(0, 1) of its pixels set to MASK (K + 1), a tenth with the null label.
    ``lowres`` (a cascade's upsampler): each feed also holds the sprites' pixel-art 2x reductions as tokens
    (``(B, S/2, S/2)``), as the upsampler sees them in training. ``guides`` (a renderer): float32 ``(N, 4, S, S)``,
    each sprite as its first stage's VAE redraws it, fed as ``guide``."""
    rng = np.random.default_rng(seed)
    tokens = palette_tokens(images, palette)
    small = palette_tokens(np.stack([reduce_2x(x) for x in images]), palette) if lowres else None
    k = len(palette)
    feeds = []
    for _ in range(batches):
        idx = rng.choice(len(tokens), batch)
        t = rng.random(batch).astype(np.float32)
        x = tokens[idx].copy()
        x[rng.random(x.shape) < t[:, None, None]] = k + 1
        lab = labels[idx].astype(np.int64)
        lab[rng.random(batch) < 0.1] = null_label
        feed = {"tokens": x, "t": t, "label": lab}
        if small is not None:
            feed["lowres"] = small[idx]
        if guides is not None:
            feed["guide"] = guides[idx]
        feeds.append(feed)
    return feeds


class _Reader(CalibrationDataReader):
    def __init__(self, feeds: list[dict[str, np.ndarray]]) -> None:
        self._it = iter(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)


def quantize_graph(src: Path, dst: Path, calibration: list[dict[str, np.ndarray]]) -> list[str]:
    """Write the QDQ-quantised ``src`` to ``dst``; returns the names of the Conv nodes left in float. A graph that
    takes ``pick`` is calibrated on every pixel (the convolutions' activations do not depend on it)."""
    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        graph = onnx.load(str(pre)).graph
        convs = [n.name for n in graph.node if n.op_type == "Conv"]
        calibration = [every_pixel(feed, [i.name for i in graph.input]) for feed in calibration]
        keep_float = [convs[0], convs[-1]] if len(convs) > 1 else convs
        quantize_static(
            str(pre),
            str(dst),
            _Reader(calibration),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=["Conv"],
            nodes_to_exclude=keep_float,
            per_channel=True,
            reduce_range=True,  # 7-bit weights: no int16 saturation in the u8s8 kernels of CPUs without VNNI
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
        )
    return keep_float


def _colour_probs(logits: np.ndarray) -> np.ndarray:
    """Channels 1..K of a ``logits`` output as probabilities: a softmax (a plain head gives logits; a copy head
    gives log-probabilities, which the softmax leaves as they are)."""
    x = logits[:, 1:] - logits[:, 1:].max(1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(1, keepdims=True)


def output_drift(before: Path, after: Path, feeds: list[dict[str, np.ndarray]]) -> dict[str, float]:
    """How far the quantised graph's outputs are from the float one's on ``feeds``: the opacity logit's largest
    difference and the colour distributions' mean total-variation distance."""
    a_s, b_s = (ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]) for p in (before, after))
    opacity, tv = 0.0, []
    a_names, b_names = ([i.name for i in x.get_inputs()] for x in (a_s, b_s))
    for feed in feeds:
        (a,) = a_s.run(["logits"], every_pixel(feed, a_names))
        (b,) = b_s.run(["logits"], every_pixel(feed, b_names))
        opacity = max(opacity, float(np.abs(a[:, 0] - b[:, 0]).max()))
        tv.append(float(0.5 * np.abs(_colour_probs(a) - _colour_probs(b)).sum(1).mean()))
    return {"opacity_logit_max_abs_diff": round(opacity, 4), "colour_mean_tv": round(float(np.mean(tv)), 4)}


def vae_guides(stage: IterativeModel, images: np.ndarray, chunk: int = 256) -> np.ndarray:
    """A renderer's guides for ``images`` uint8 (N, S, S, 4), given its first stage (``PixelModel.guide``): each
    sprite as that stage's VAE redraws it (encoder mean, decoder), float32 (N, 4, S, S), what the renderer sees in
    variations and close to what it sees after the generator."""
    return np.concatenate(
        [stage.decode_raw(stage.to_space(images[i : i + chunk])) for i in range(0, len(images), chunk)]
    ).astype(np.float32)


def quantize_bundle(source: Path, data: SpriteSet, bundle: Path, name: str, eval_count: int = 512) -> dict[str, Any]:
    m = load_manifest(source)
    tokens = m.extra["tokens"]
    if m.family != "pixel":
        raise SystemExit(f"{source}: not a pixel bundle")
    palette = from_hex(tokens["palette"])
    train, val = data.train(), data.val()
    null, cascade = len(m.labels), "base" in tokens  # a cascade: its upsampler is quantised, its first stage kept
    renderer = "guide" in tokens  # a renderer: its logits graph is quantised, the generator's graphs kept
    stage = families.load(Registry([source.parent], builtin=False, env=False).load(m.name)).guide if renderer else None
    train_guides = None if stage is None else vae_guides(stage, train.images)
    val_guides = None if stage is None else vae_guides(stage, val.images)
    calibration = masked_canvases(
        train.images, train.labels, palette, null, 16, 32, seed=0, lowres=cascade, guides=train_guides
    )
    held_out = masked_canvases(val.images, val.labels, palette, null, 4, 32, seed=1, lowres=cascade, guides=val_guides)
    work = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    out = work / name
    shutil.copytree(source, out)
    float_graph, graph = source / m.graphs["logits"].file, out / m.graphs["logits"].file
    keep_float = quantize_graph(float_graph, graph, calibration)
    quantized = {
        "graphs": ["logits"],  # a cascade's or a renderer's first-stage graphs are carried in float
        "ops": ["Conv"],
        "format": "QDQ; int8 weights per output channel, 7-bit range; uint8 activations, MinMax on masked canvases",
        "kept_float": keep_float,
        "from": f"{m.name}, float graph sha256 {m.graphs['logits'].sha256}",
        **output_drift(float_graph, graph, held_out),
    }
    print(quantized, flush=True)
    spec = replace(m.graphs["logits"], sha256=sha256_file(graph))
    metrics = {**{k: m.metrics[k] for k in KEEP_METRICS if k in m.metrics}, "quantized": quantized}
    description = m.description if "int8" in m.description else f"{m.description}; int8 convolutions"
    manifest = replace(m, name=name, description=description, graphs={**m.graphs, "logits": spec}, metrics=metrics)
    save_manifest(manifest, out / "manifest.json")
    if tokens.get("tiling"):  # a tile model: evaluated as training.export_tiles evaluates tiles (seams, 3x3 sheets)
        finish_tiles_bundle(out, manifest, data, bundle, eval_count=eval_count)
    else:
        finish_pixel_bundle(out, manifest, data, bundle, eval_count=eval_count)
    return quantized


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", type=Path, help="a pixel bundle folder")
    p.add_argument("--dataset", default="dcss16clean")
    p.add_argument("--data", default="../shared/datasets")
    p.add_argument("--cache", default=".cache/datasets")
    p.add_argument("--sprite-size", type=int, default=16)
    p.add_argument("--bundle", type=Path, required=True, help="where the quantised bundle goes")
    p.add_argument("--name", required=True)
    p.add_argument("--eval-count", type=int, default=512)
    a = p.parse_args(argv)
    data = load_dataset(a.dataset, a.data, a.sprite_size, a.cache)
    quantize_bundle(a.source, data, a.bundle, a.name, a.eval_count)


if __name__ == "__main__":
    main()
