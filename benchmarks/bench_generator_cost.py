"""What a diffusion/flow recipe costs on this CPU before anyone trains it: seconds per training step and
network evaluations per second at inference, for candidate U-Net sizes (random weights; speed only).

    python benchmarks/bench_generator_cost.py [--steps 12] [--threads 2] [--configs l16 l16w l40 p16 p40]

Prints one JSON object per line: ``{"name", "unit", "median", "runs", ...}``. ``train_step`` is one AdamW step
(forward + backward) at batch 64 in torch; ``nfe`` is one onnxruntime call of the exported network on 128 rows
(64 sprites with classifier-free guidance), from which ``sprites_per_s_at_8_nfe`` follows. Each line also gives
its ratio to the smallest config of the same run, since absolute numbers move with the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from training.export import export_graph
from training.models.unet import UNet, UNetConfig

CONFIGS = {  # candidate recipes (docs/diffusion-and-flow.md); latents: vae16 (8, 4, 4), vae40 (8, 5, 5)
    "l16": UNetConfig(
        in_channels=8, image_size=4, widths=(64, 128), blocks_per_level=2, attention=(0, 1), num_labels=12, emb_dim=128
    ),
    "l16w": UNetConfig(
        in_channels=8, image_size=4, widths=(128, 256), blocks_per_level=2, attention=(1, 1), num_labels=12, emb_dim=256
    ),
    "l40": UNetConfig(
        in_channels=8, image_size=5, widths=(128,), blocks_per_level=2, attention=(1,), num_labels=12, emb_dim=128
    ),
    "p16": UNetConfig(
        in_channels=4,
        image_size=16,
        widths=(32, 64, 128),
        blocks_per_level=2,
        attention=(0, 0, 1),
        num_labels=12,
        emb_dim=128,
    ),
    "p40": UNetConfig(
        in_channels=4,
        image_size=40,
        widths=(32, 64, 64, 128),
        blocks_per_level=1,
        attention=(0, 0, 0, 1),
        num_labels=12,
        emb_dim=128,
    ),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--configs", nargs="+", default=list(CONFIGS))
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    base: dict[str, float] = {}
    for name in a.configs:
        cfg = CONFIGS[name]
        torch.manual_seed(0)
        model = UNet(cfg)
        params = sum(q.numel() for q in model.parameters())
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        x = torch.randn(64, cfg.in_channels, cfg.image_size, cfg.image_size)
        times = []
        for i in range(a.steps + 2):
            t0 = time.perf_counter()
            loss = (model(x, torch.rand(64) * 500, torch.randint(0, 13, (64,))) - x).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            if i >= 2:  # warm-up
                times.append(time.perf_counter() - t0)
        step = statistics.median(times)
        base.setdefault("train_step", step)
        print(
            json.dumps(
                {
                    "name": f"{name}.train_step",
                    "unit": "s",
                    "median": round(step, 4),
                    "runs": len(times),
                    "params": params,
                    "batch": 64,
                    "ratio_to_first": round(step / base["train_step"], 2),
                }
            ),
            flush=True,
        )
        with tempfile.TemporaryDirectory() as d:
            model.eval()
            ex = {"x": x[:4], "t": torch.tensor([0.0, 10.0, 100.0, 400.0]), "label": torch.tensor([0, 1, 12, 3])}
            export_graph(model, ex, ["out"], Path(d) / "net.onnx", atol=1e-3)
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = a.threads
            sess = ort.InferenceSession(str(Path(d) / "net.onnx"), opts, providers=["CPUExecutionProvider"])
            feeds = {
                "x": np.random.default_rng(0).standard_normal((128, *x.shape[1:]), dtype=np.float32),
                "t": np.full(128, 50.0, np.float32),
                "label": np.zeros(128, np.int64),
            }
            sess.run(None, feeds)
            nfe = []
            for _ in range(max(3, a.steps // 2)):
                t0 = time.perf_counter()
                sess.run(None, feeds)
                nfe.append(time.perf_counter() - t0)
        med = statistics.median(nfe)
        base.setdefault("nfe", med)
        print(
            json.dumps(
                {
                    "name": f"{name}.nfe",
                    "unit": "s",
                    "median": round(med, 4),
                    "runs": len(nfe),
                    "rows": 128,
                    "sprites_per_s_at_8_nfe": round(64 / (8 * med), 1),
                    "ratio_to_first": round(med / base["nfe"], 2),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
