"""Scoring throughput of the shipped teacher: sprites/s at batch 1, 16 and 256, at 16x16 and 40x40.

    python benchmarks/bench_teacher.py [--runs 7] [--teacher teacher] [--threads 0]

Prints one JSON object per line: ``{"name", "unit", "median", "runs", ...}``. Each line gives its ratio to the
batch-1 figure of the same size measured in the same run (absolute numbers move with the machine), and a
``best_of_4_overhead`` line: how much slower ``generate --candidates 4`` is than a plain generate of vae16 (both
measured here). The quality issue's target (>= 2,000 sprites/s at 16x16) is reported, never asserted.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from timing import rate

from pixelsprite import api
from pixelsprite.registry import Registry
from pixelsprite.teacher import TeacherModel

TARGETS = {(16, 256): 2000.0}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--teacher", default="teacher")
    p.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0: its default)")
    p.add_argument("--models-dir", action="append", default=[], help="extra bundle folders")
    a = p.parse_args()
    registry = Registry(a.models_dir, env=False, threads=a.threads)
    teacher = TeacherModel.load(registry, a.teacher)
    rng = np.random.default_rng(0)
    for size in teacher.sizes:
        baseline = None
        for batch in (1, 16, 256):
            x = rng.integers(0, 256, (batch, size, size, 4), dtype=np.uint8)
            x[..., 3] = np.where(x[..., 3] > 127, 255, 0)
            median, rates = rate(lambda x=x: teacher.score(x), batch, a.runs if batch > 1 else a.runs * 5)
            baseline = baseline or median
            row = {
                "name": f"{teacher.name}/score{size}/batch{batch}",
                "unit": "sprites/s",
                "median": round(median, 1),
                "runs": [round(r, 1) for r in rates],
                "ratio_vs_batch1": round(median / baseline, 2),
            }
            target = TARGETS.get((size, batch))
            if target:
                row["target"] = target
                row["meets_target"] = median >= target
            print(json.dumps(row), flush=True)
    if "vae16" in registry.names():
        plain, plain_runs = rate(lambda: api.generate("vae16", 64, 0, registry=registry), 64, a.runs)
        best, best_runs = rate(
            lambda: api.generate("vae16", 64, 0, candidates=4, teacher=a.teacher, registry=registry), 64, a.runs
        )
        print(
            json.dumps(
                {
                    "name": "vae16/generate64/best_of_4_overhead",
                    "unit": "x slower",
                    "median": round(plain / best, 2),
                    "runs": [round(p / b, 2) for p, b in zip(plain_runs, best_runs)],
                    "plain_sprites_per_s": round(plain, 1),
                    "best_of_4_sprites_per_s": round(best, 1),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
