"""Palette speed: quantize 10,000 16x16 sprites to a 32-colour palette; extract 16 colours from 1,000 sprites.

    python benchmarks/bench_palettes.py [--runs 5]

Prints one JSON object per line (``{"name", "unit", "median", "runs", ...}``). The baseline measured in the same
run is ``postprocess.reduce_colors`` to 16 colours on the same sprites (the runtime's existing colour pass). The
issue's targets (>= 20,000 sprites/s quantizing; < 1 s extracting) are reported, never asserted. Sprites are
deterministic "decoder-like" sprites: a blob silhouette, a dark outline, smooth shading plus noise (so they hold
many distinct colours, like raw model output).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pixelsprite.palettes import BUILTIN, enforce, extract  # noqa: E402
from pixelsprite.postprocess import reduce_colors  # noqa: E402


def sprites(n: int, size: int = 16, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] / (size - 1) - 0.5
    radius = 0.3 + 0.15 * rng.random((n, 1, 1))
    inside = np.hypot(yy, xx)[None] < radius
    base = rng.integers(40, 220, (n, 1, 1, 3))
    shade = (yy[None, ..., None] * -80).astype(np.int64)
    rgb = np.clip(base + shade + rng.integers(-12, 13, (n, size, size, 3)), 0, 255)
    out = np.zeros((n, size, size, 4), np.uint8)
    out[..., :3] = rgb
    out[..., 3] = 255
    out[~inside] = 0
    return out


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    big, small = sprites(10_000), sprites(1_000, seed=1)
    db32 = BUILTIN["db32"]
    rows = [
        ("baseline/reduce_colors16_10k", lambda: reduce_colors(big, 16), len(big)),
        ("quantize/db32_10k", lambda: enforce(big, db32), len(big)),
        ("quantize/db32_bayer4_10k", lambda: enforce(big, db32, dither="bayer4"), len(big)),
    ]
    base = None
    for name, fn, n in rows:
        t = timed(fn, args.runs)
        med = statistics.median(t)
        base = med if base is None else base
        print(
            json.dumps(
                {
                    "name": name,
                    "unit": "s",
                    "median": round(med, 4),
                    "runs": args.runs,
                    "sprites_per_s": round(n / med),
                    "speedup_vs_baseline": round(base / med, 2),
                    "target_sprites_per_s": 20_000 if "quantize" in name else None,
                }
            )
        )
    for method in ("kmeans", "median_cut"):
        t = timed(lambda m=method: extract(small, 16, method=m), args.runs)  # type: ignore[misc]
        print(
            json.dumps(
                {
                    "name": f"extract/{method}16_1k",
                    "unit": "s",
                    "median": round(statistics.median(t), 4),
                    "runs": args.runs,
                    "target_s": 1.0,
                }
            )
        )


if __name__ == "__main__":
    main()
