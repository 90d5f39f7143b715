"""Issue 3's benchmark, in one run and on the same bundle: sprites/s at the bundle's default settings against the
500-step ``ddpm`` reference (diffusion; flow: ``heun`` 100), and the Fréchet distance of both in the frozen evaluator's
features (``fd_evaluator``, as in the cards and ``pixelsprite evaluate``) on the held-out split with its label mix.

    python benchmarks/bench_generators.py --models diffusion16 flow16 [--count 256] [--full-reference]
    python benchmarks/bench_generators.py --models flow16 --against diffusion16   # vs another bundle's reference

Prints one JSON object per line: ``{"name", "unit", "median", "runs", ...}``. The reference's speed is measured
over 10 of its steps and scaled to all of them (its per-step cost is constant) unless ``--full-reference``.
``--against M`` takes the reference from bundle ``M`` (same size and labels) instead, e.g. the issue's 500-step
DDPM for a distilled flow model; both are measured in this process.
Targets (100 sprites/s at 16x16, 15 at 40x40, 200x the reference, fd within 10%) are reported, never asserted.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from timing import rate

from pixelsprite import api
from pixelsprite.registry import Registry
from training.data.builders import build
from training.evaluate_generator import frechet_meter

DATASETS = {16: "dcss16fine", 40: "dcss40fine"}
TARGET_SPS = {16: 100.0, 40: 15.0}


def bench(name: str, reg: Registry, a: argparse.Namespace) -> None:
    m = reg.load(name).manifest
    s = m.extra["sampling"]
    size = m.image.width
    val = build(DATASETS[size], a.data).val()
    ref_name = a.against or name
    rm = reg.load(ref_name).manifest
    if (rm.image.width, rm.labels) != (size, m.labels):
        raise SystemExit(f"--against {ref_name}: size or labels differ from {name}'s")
    ref_solver, ref_steps = ("ddpm", 500) if rm.family == "diffusion" else ("heun", 100)
    ref_steps = min(ref_steps, rm.extra["sampling"]["max_steps"])
    label = m.labels[0] if m.labels else None

    def default(n: int = 64, seed: int = 0) -> np.ndarray:
        return api.generate(name, n, seed, label=label, registry=reg).sprites

    def reference(n: int = 64, seed: int = 0, steps: int = ref_steps) -> np.ndarray:
        return api.generate(ref_name, n, seed, label=label, solver=ref_solver, steps=steps, registry=reg).sprites

    fast, fast_runs = rate(default, 64, a.runs)
    if a.full_reference:
        slow, slow_runs = rate(reference, 64, 1)
    else:
        probe, probe_runs = rate(lambda: reference(steps=10), 64, 3)
        slow, slow_runs = probe * 10 / ref_steps, [r * 10 / ref_steps for r in probe_runs]
    counts = np.bincount(val.labels, minlength=len(val.label_names)) / len(val.labels) * a.count
    gens = {"default": [], "reference": []}
    seed = 0
    for i, c in enumerate(np.round(counts).astype(int)):
        if c:
            lab = val.label_names[i]
            gens["default"].append(api.generate(name, int(c), seed, label=lab, registry=reg).sprites)
            gens["reference"].append(
                api.generate(
                    ref_name, int(c), seed, label=lab, solver=ref_solver, steps=ref_steps, registry=reg
                ).sprites
            )
            seed += int(c)
    meter = frechet_meter(val.images)
    fd = {k: meter(np.concatenate(v)) for k, v in gens.items()}
    d = s["defaults"]
    print(
        json.dumps(
            {
                "name": f"{name}/default/batch64",
                "unit": "sprites/s",
                "median": round(fast, 2),
                "runs": [round(r, 2) for r in fast_runs],
                "settings": d,
                "fd": round(fd["default"], 4),
                "fd_metric": meter.name,
                "target": TARGET_SPS[size],
                "meets_target": fast >= TARGET_SPS[size],
            }
        ),
        flush=True,
    )
    print(
        json.dumps(
            {
                "name": f"{ref_name}/reference/batch64",
                "unit": "sprites/s",
                "median": round(slow, 4),
                "runs": [round(r, 4) for r in slow_runs],
                "settings": {
                    "solver": ref_solver,
                    "steps": ref_steps,
                    "guidance": rm.extra["sampling"]["defaults"]["guidance"],
                },
                "extrapolated_from_10_steps": not a.full_reference,
                "fd": round(fd["reference"], 4),
            }
        ),
        flush=True,
    )
    print(
        json.dumps(
            {
                "name": f"{name}/speedup_vs_{ref_name}_reference",
                "unit": "x",
                "median": round(fast / slow, 1),
                "runs": 1,
                "fd_ratio": round(fd["default"] / fd["reference"], 3),
                "target_speedup": 200.0,
                "target_fd_ratio": 1.10,
            }
        ),
        flush=True,
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["diffusion16", "flow16", "diffusion40", "flow40"])
    p.add_argument("--data", default="../shared/datasets")
    p.add_argument("--count", type=int, default=256, help="sprites per fd estimate")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--full-reference", action="store_true")
    p.add_argument("--against", default="", help="take the reference from this bundle (same size and labels)")
    p.add_argument("--models-dir", action="append", default=[], help="extra folder of bundles (repeatable)")
    a = p.parse_args()
    reg = Registry(a.models_dir, env=False)
    for name in a.models:
        bench(name, reg, a)


if __name__ == "__main__":
    main()
