"""Watch-folder overhead: 1,000 small generate jobs through the watcher against the request layer in a loop.

    python benchmarks/bench_watcher.py [--jobs 1000] [--count 4] [--runs 3] [--model vae16]

Both sides write the same PNG files (one per sprite, through ``write_bytes_atomic``), so the difference is the
watcher's own work: reading and validating job files, staging folders, manifests with file hashes, the journal and
moving job files to ``done/``. Prints JSON lines ``{"name", "unit", "median", "runs", ...}``; the issue's target
(overhead under 10%) is reported, never asserted. Runs ``Watcher.run_once`` (no observer latency in the figure).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from pixelsprite import api
from pixelsprite.atomic import write_bytes_atomic
from pixelsprite.imageio import encode_png
from pixelsprite.registry import Registry
from pixelsprite_bridge.watcher import Watcher


def direct(registry: Registry, out: Path, jobs: int, count: int, model: str) -> float:
    t = time.perf_counter()
    for j in range(jobs):
        res = api.generate(model, count, seed=j * count, registry=registry)
        folder = out / f"job{j:05d}"
        folder.mkdir()
        for sprite, seed in zip(res.sprites, res.seeds):
            write_bytes_atomic(folder / f"{seed}.png", encode_png(sprite))
    return time.perf_counter() - t


def watched(registry: Registry, root: Path, jobs: int, count: int, model: str) -> float:
    inbox, outbox = root / "inbox", root / "outbox"
    inbox.mkdir()
    for j in range(jobs):
        job = {
            "op": "generate",
            "model": model,
            "count": count,
            "seed": j * count,
            "output": {"layout": "sprites", "name": "{seed}"},
        }
        (inbox / f"job{j:05d}.json").write_text(json.dumps(job))
    watcher = Watcher(inbox, outbox, registry=registry, settle_s=0.0)
    t = time.perf_counter()
    stats = watcher.run_once()
    elapsed = time.perf_counter() - t
    done = len(list((inbox / "done").glob("*.json")))
    if done != jobs:
        raise SystemExit(f"only {done} of {jobs} jobs finished: {stats}")
    return elapsed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jobs", type=int, default=1000)
    p.add_argument("--count", type=int, default=4)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--model", default="vae16")
    a = p.parse_args()
    registry = Registry(env=False)
    api.generate(a.model, a.count, seed=0, registry=registry)  # load the model once, outside the timings
    base, watch = [], []
    for _ in range(a.runs):
        with tempfile.TemporaryDirectory() as d:
            base.append(direct(registry, Path(d), a.jobs, a.count, a.model))
        with tempfile.TemporaryDirectory() as d:
            watch.append(watched(registry, Path(d), a.jobs, a.count, a.model))
    sprites = a.jobs * a.count
    b, w = statistics.median(base), statistics.median(watch)
    print(
        json.dumps(
            {
                "name": "direct/loop",
                "unit": "jobs/s",
                "median": round(a.jobs / b, 1),
                "runs": [round(a.jobs / x, 1) for x in base],
                "sprites_per_s": round(sprites / b, 1),
            }
        )
    )
    print(
        json.dumps(
            {
                "name": "watcher/run_once",
                "unit": "jobs/s",
                "median": round(a.jobs / w, 1),
                "runs": [round(a.jobs / x, 1) for x in watch],
                "sprites_per_s": round(sprites / w, 1),
                "overhead_vs_direct": round(w / b - 1, 3),
                "target_overhead": 0.10,
                "meets_target": w / b - 1 <= 0.10,
            }
        )
    )


if __name__ == "__main__":
    main()
