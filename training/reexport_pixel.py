"""Export a ``pixel`` bundle's graph again with the current graph code, keeping its weights and everything else.

    python -m training.reexport_pixel pixelsprite/models/pixel16 [--compare 512]

For a change to the graph's code that computes the same function faster (the copy head's mixture, say), without
retraining: the network is rebuilt in torch from the bundle's own graph (:mod:`training.bundle_network`, which
checks it gives that graph's output back), exported again (parity-checked against torch), and the new graph
replaces the old one only when the two agree on sprites: ``--compare`` sprites generated through the runtime at the
bundle's defaults, same seeds and labels, old graph against new. The manifest keeps its sweep, evaluation and card;
``metrics.reexport`` records the graphs' largest difference, the share of byte-identical sprites and both graphs'
network evaluations per second (alternated, medians, same process). Refuses (exit 1) when fewer than
``--min-identical`` of the sprites are identical, because then the card's numbers would no longer describe the
bundle: export it from a checkpoint and evaluate it instead.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from pixelsprite.manifest import load_manifest, save_manifest
from pixelsprite.pixel import PICK_INPUT
from pixelsprite.registry import Registry

from .bundle_network import token_unet_from_bundle
from .export import install_bundle
from .export_pixel import generate_plan, logits_graph
from .graph_feeds import canvas_logits, every_pixel
from .models.token_unet import example_inputs


def evaluations_per_s(graphs: list[Path], feeds: dict[str, np.ndarray], runs: int, picked: int = 0) -> list[float]:
    """Median network evaluations per second of each graph on ``feeds``: both sessions warmed up, then timed in
    turn, ``runs`` times each, so both see the same machine. A graph that takes ``pick`` is asked for the first
    ``picked`` pixels of each canvas (0: every pixel), as a sampler asks for the pixels of one step."""
    sessions = [ort.InferenceSession(str(g), providers=["CPUExecutionProvider"]) for g in graphs]
    per_graph = []
    for session in sessions:
        graph_feeds = every_pixel(feeds, [i.name for i in session.get_inputs()])
        if picked and PICK_INPUT in graph_feeds:
            graph_feeds = {**graph_feeds, PICK_INPUT: np.ascontiguousarray(graph_feeds[PICK_INPUT][:, :picked])}
        per_graph.append(graph_feeds)
        for _ in range(3):
            session.run(None, graph_feeds)
    rates: list[list[float]] = [[] for _ in sessions]
    for _ in range(runs):
        for session, graph_feeds, rate in zip(sessions, per_graph, rates):
            t = time.perf_counter()
            session.run(None, graph_feeds)
            rate.append(len(feeds["t"]) / (time.perf_counter() - t))
    return [statistics.median(r) for r in rates]


def _logits(graph: Path, feeds: dict[str, np.ndarray]) -> np.ndarray:
    """Every pixel's logits (B, 1 + K, H, W) from ``graph``, whether or not it takes ``pick``."""
    session = ort.InferenceSession(str(graph), providers=["CPUExecutionProvider"])
    (out,) = session.run(["logits"], every_pixel(feeds, [i.name for i in session.get_inputs()]))
    return canvas_logits(out, feeds["tokens"])


def sprites(name: str, folder: Path, labels: tuple[str, ...], count: int) -> np.ndarray:
    """``count`` sprites at the bundle's defaults through the request layer, labels in turn (none without labels)."""
    per = -(-count // max(1, len(labels)))
    plan = [(lab, per) for lab in labels] if labels else [(None, count)]
    return generate_plan(name, Registry([folder], builtin=False, env=False), plan, 0)[:count]  # type: ignore[arg-type]


def reexport(bundle: Path, compare: int, min_identical: float, runs: int) -> dict:
    m = load_manifest(bundle)
    net = token_unet_from_bundle(bundle)
    with tempfile.TemporaryDirectory() as tmp:
        old_dir, new_dir = Path(tmp) / "old" / m.name, Path(tmp) / "new" / m.name
        shutil.copytree(bundle, old_dir)
        shutil.copytree(bundle, new_dir)
        graph_file = m.graphs["logits"].file
        result = logits_graph(net, len(m.labels), new_dir / graph_file, seed=1)
        spec = result.graph  # with pick where the network can pick
        save_manifest(replace(m, graphs={**m.graphs, "logits": spec}), new_dir / "manifest.json")

        feeds = {name: x.numpy() for name, x in example_inputs(net.cfg, len(m.labels), 64, seed=2).items()}
        old_graph, new_graph = old_dir / graph_file, new_dir / graph_file
        graph_diff = float(np.abs(_logits(old_graph, feeds) - _logits(new_graph, feeds)).max())

        before = sprites(m.name, old_dir.parent, m.labels, compare)
        after = sprites(m.name, new_dir.parent, m.labels, compare)
        identical = float(np.mean([np.array_equal(x, y) for x, y in zip(before, after)]))

        steps = int(m.extra["tokens"]["defaults"]["steps"])
        picked = -(-feeds["tokens"][0].size // steps)  # the pixels of an average reveal step
        old_rate, new_rate = evaluations_per_s([old_graph, new_graph], feeds, runs, picked)
        report = {
            "date": time.strftime("%Y-%m-%d"),
            "graph_max_abs_diff": graph_diff,
            "compared_sprites": compare,
            "identical_sprites": round(identical, 4),
            "evaluations_per_s_before": round(old_rate, 1),
            "evaluations_per_s_after": round(new_rate, 1),
            "batch": 64,
            "picked_pixels": picked,
            "parity_max_abs_diff": result.parity_max_abs_diff,
        }
        print(report, flush=True)
        if identical < min_identical:
            raise SystemExit(
                f"only {identical:.1%} of {compare} sprites are identical (--min-identical {min_identical:.0%}): "
                "the card would not describe the new graph; export from a checkpoint and evaluate instead"
            )
        fresh = load_manifest(new_dir)
        metrics = {**fresh.metrics, "reexport": report}
        metrics["parity_max_abs_diff"] = {
            **metrics.get("parity_max_abs_diff", {}),
            "logits": result.parity_max_abs_diff,
        }
        save_manifest(replace(fresh, metrics=metrics), new_dir / "manifest.json")
        install_bundle(new_dir, bundle)
    return report


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bundle", type=Path)
    p.add_argument("--compare", type=int, default=512, help="sprites generated with each graph, same seeds")
    p.add_argument("--min-identical", type=float, default=0.99, help="share of byte-identical sprites required")
    p.add_argument("--runs", type=int, default=7, help="timed evaluations of each graph (batch 64)")
    p.add_argument("--threads", type=int, default=2, help="torch threads for the rebuild and export")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    reexport(a.bundle, a.compare, a.min_identical, a.runs)


if __name__ == "__main__":
    main()
