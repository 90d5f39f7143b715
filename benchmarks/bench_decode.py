"""Decode throughput of the shipped VAE bundles: sprites/s at batch 1, 16 and 256, for each size.

    python benchmarks/bench_decode.py [--runs 7] [--models vae16 vae40]

Prints one JSON object per line: ``{"name", "unit", "median", "runs", ...}``. Two figures per batch size:
``decode`` is the ONNX decoder alone (latents -> float RGBA), ``decode+postprocess`` is what a user gets
(hard alpha and the per-sprite colour cap). Each line also gives its ratio to the batch-1 decoder figure of the same
model measured in the same run, since absolute numbers move with the machine. The target of the foundation issue
(>= 5,000 sprites/s for vae16 decode at batch 256 on a 2-core CPU) is reported, never asserted.
"""

from __future__ import annotations

import argparse
import json

from timing import rate

from pixelsprite.registry import Registry
from pixelsprite.vae import VaeModel

TARGETS = {("vae16", 256): 5000.0}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--models", nargs="+", default=["vae16", "vae40"])
    a = p.parse_args()
    registry = Registry(env=False)
    for name in a.models:
        model = VaeModel(registry.load(name))
        baseline = None
        for batch in (1, 16, 256):
            z = model.sample_latents(range(batch))
            for label, fn in (
                ("decode", lambda z=z, m=model: m.decode_raw(z)),
                ("decode+postprocess", lambda z=z, m=model: m.decode(z)),
            ):
                median, rates = rate(fn, batch, a.runs if batch > 1 else a.runs * 5)
                if baseline is None:
                    baseline = median
                row = {
                    "name": f"{name}/{label}/batch{batch}",
                    "unit": "sprites/s",
                    "median": round(median, 1),
                    "runs": [round(r, 1) for r in rates],
                    "ratio_vs_batch1_decode": round(median / baseline, 2),
                }
                target = TARGETS.get((name, batch))
                if target and label == "decode":
                    row["target"] = target
                    row["meets_target"] = median >= target
                print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
