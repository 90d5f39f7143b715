"""Data parallel training through torchrun with two CPU processes on the gloo backend."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from training.data.sprites import is_held_out

from .drawing import draw_sprites

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_torchrun_two_processes_gloo(tmp_path):
    data = tmp_path / "sprites" / "shapes"
    data.mkdir(parents=True)
    for i, s in enumerate(draw_sprites(64, 16)):
        Image.fromarray(s, "RGBA").save(data / f"{i}.png")
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--master_port=29517",
        "-m",
        "training.train_vae",
        "--dataset",
        f"folder:{tmp_path / 'sprites'}",
        "--cache",
        "",
        "--out",
        str(out),
        "--widths",
        "8",
        "8",
        "8",
        "--latent-channels",
        "2",
        "--epochs",
        "2",
        "--batch-size",
        "8",
        "--sample-count",
        "4",
        "--threads",
        "1",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    res = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    lines = (out / "metrics.csv").read_text().splitlines()
    assert len(lines) == 3  # header + 2 epochs, written by rank 0 only
    import torch

    state = torch.load(out / "last.pt", weights_only=False)
    # each of the 2 ranks takes half of the training sprites: steps per epoch = (n_train // 2) // batch 8
    n_train = sum(not is_held_out(f"shapes/{i}.png") for i in range(64))
    assert state["epoch"] == 2 and state["step"] == 2 * ((n_train // 2) // 8)
    assert np.isfinite(float(lines[-1].split(",")[4]))
