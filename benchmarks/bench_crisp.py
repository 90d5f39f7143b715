"""Issue 16's speed benchmark: sprites/s at each model's default settings, everything included but PNG encoding,
as a ratio against a baseline model timed in the same process (today's default at that size), and the websocket
round trip of one 16-sprite request.

    python benchmarks/bench_crisp.py --models pixel16 --baseline flow16 [--runs 5] [--batch 64] [--ws]

Prints one JSON object per line: ``{"name", "unit", "median", "runs", ...}``. Targets (100 sprites/s at 16x16, 20
at 40x40; 16 sprites of 16x16 over the websocket with p50 <= 150 ms) are reported, never asserted. Run it on a quiet
CPU: a training job on the other core halves the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

from timing import rate

from pixelsprite import api, families
from pixelsprite.registry import Registry

TARGET_SPS = {16: 100.0, 40: 20.0}
TARGET_WS_P50_MS = 150.0


def first_label(name: str, reg: Registry) -> str | None:
    """The model's first label when it takes one (conditional families), else None."""
    caps = families.capabilities(reg.info(name).manifest)
    return caps.labels[0] if caps.labels and "label" in caps.parameters else None


def sprites_per_s(name: str, reg: Registry, batch: int, runs: int) -> tuple[float, list[float]]:
    label = first_label(name, reg)
    return rate(lambda: api.generate(name, batch, 0, label=label, registry=reg), batch, runs)


def ws_latency_ms(name: str, reg: Registry, requests: int) -> list[float]:
    """Milliseconds per ``generate`` of 16 sprites (PNG answers) over a real local server, one client."""
    from pixelsprite_bridge.client import Client
    from pixelsprite_bridge.server import BackgroundServer

    label = first_label(name, reg)

    async def run(url: str) -> list[float]:
        out = []
        async with await Client.connect(url) as client:
            await client.generate(model=name, count=16, seed=0, label=label)  # warm-up: loads the model
            for i in range(requests):
                t = time.perf_counter()
                await client.generate(model=name, count=16, seed=i, label=label)
                out.append(1000 * (time.perf_counter() - t))
        return out

    with BackgroundServer(registry=reg) as server:
        return asyncio.run(run(server.url))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["pixel16"])
    p.add_argument("--baseline", default="flow16", help="today's default at that size, timed in the same run")
    p.add_argument("--models-dir", action="append", default=[])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--ws", action="store_true", help="also time 16-sprite requests over the websocket")
    p.add_argument("--ws-requests", type=int, default=20)
    a = p.parse_args()
    reg = Registry(a.models_dir)
    base, base_runs = sprites_per_s(a.baseline, reg, a.batch, a.runs)
    print(
        json.dumps(
            {
                "name": f"{a.baseline}_default",
                "unit": "sprites/s",
                "median": round(base, 2),
                "runs": [round(r, 2) for r in base_runs],
                "batch": a.batch,
            }
        ),
        flush=True,
    )
    for name in a.models:
        size = reg.info(name).manifest.image.width
        sps, runs = sprites_per_s(name, reg, a.batch, a.runs)
        print(
            json.dumps(
                {
                    "name": f"{name}_default",
                    "unit": "sprites/s",
                    "median": round(sps, 2),
                    "runs": [round(r, 2) for r in runs],
                    "batch": a.batch,
                    "ratio_vs_baseline": round(sps / base, 3),
                    "baseline": a.baseline,
                    "target": TARGET_SPS.get(size),
                    "meets_target": sps >= TARGET_SPS.get(size, 0.0),
                }
            ),
            flush=True,
        )
        if a.ws and size == 16:
            lat = ws_latency_ms(name, reg, a.ws_requests)
            p50 = statistics.median(lat)
            print(
                json.dumps(
                    {
                        "name": f"{name}_ws_16_sprites",
                        "unit": "ms",
                        "median": round(p50, 1),
                        "runs": [round(x, 1) for x in lat],
                        "target_p50": TARGET_WS_P50_MS,
                        "meets_target": p50 <= TARGET_WS_P50_MS,
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
