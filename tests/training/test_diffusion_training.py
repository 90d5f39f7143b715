"""Training side of the diffusion family: the U-Net, the objective against the runtime's schedule, ONNX parity,
and a tiny train -> export -> generate run through ``pixelsprite.api``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from pixelsprite import api
from pixelsprite.imageio import write_png
from pixelsprite.manifest import load_manifest
from pixelsprite.registry import Registry
from pixelsprite.samplers.schedules import DiffusionSchedule
from training.data.builders import fine_label, load_dataset
from training.export import PARITY_ATOL, export_graph
from training.export_generator import export_generator_bundle
from training.generator_common import drop_labels
from training.models.unet import UNet, UNetConfig
from training.objectives_diffusion import DiffusionLossConfig, DiffusionObjective

TINY = UNetConfig(
    in_channels=4,
    image_size=16,
    widths=(8, 8),
    blocks_per_level=1,
    attention=(0, 1),
    num_labels=2,
    emb_dim=16,
    groups=4,
)
TINY_FLAGS = [
    "--widths",
    "8",
    "8",
    "--blocks-per-level",
    "1",
    "--attention",
    "0",
    "1",
    "--emb-dim",
    "16",
    "--groups",
    "4",
    "--epochs",
    "1",
    "--batch-size",
    "16",
    "--sample-count",
    "4",
    "--warmup-steps",
    "2",
    "--threads",
    "1",
]


class Recorder(torch.nn.Module):
    """Outputs zeros and remembers its inputs, so a test can recompute the loss from the runtime's formulas."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))
        self.seen: tuple[torch.Tensor, ...] = ()

    def forward(self, x: torch.Tensor, t: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        self.seen = (x.detach(), t.detach(), label.detach())
        return torch.zeros_like(x) + self.w


def test_unet_shapes_null_label_and_batch_independence() -> None:
    torch.manual_seed(0)
    model = UNet(TINY).eval()
    assert sum(p.numel() for p in model.parameters()) < 20_000
    x = torch.randn(5, 4, 16, 16)
    t = torch.tensor([0.0, 3.0, 10.0, 100.0, 499.0])
    label = torch.tensor([0, 1, 2, 0, 2])  # 2 = the null label
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
        out = model(x, t, label)
        assert out.shape == x.shape
        assert torch.allclose(model(x[2:3], t[2:3], label[2:3]), out[2:3], atol=1e-5)  # GroupNorm: per sprite
    with pytest.raises(ValueError, match="divisible"):
        UNetConfig(image_size=10, widths=(8, 8, 8), attention=(0, 0, 0), groups=4)


@pytest.mark.parametrize(("schedule", "prediction"), [("linear", "eps"), ("cosine", "v")])
def test_objective_uses_the_runtime_schedule(schedule: str, prediction: str) -> None:
    cfg = DiffusionLossConfig(schedule=schedule, T=50, prediction=prediction, label_dropout=0.0)
    obj = DiffusionObjective(cfg, num_labels=2)
    rt = DiffusionSchedule.make(
        schedule, 50, **({"beta_start": 1e-4, "beta_end": 0.02} if schedule == "linear" else {})
    )
    model = Recorder()
    torch.manual_seed(0)
    x0 = torch.rand(6, 4, 16, 16) * 2 - 1
    loss, logs = obj.loss(model, x0, torch.tensor([0, 1, 0, 1, 0, 1]), step=0)
    x_t, t, label = (v.numpy() for v in model.seen)
    want = []
    for i in range(6):
        ti = int(t[i])
        a = rt.ab(ti)
        eps = (x_t[i] - math.sqrt(a) * x0[i].numpy()) / math.sqrt(1 - a)
        want.append(rt.targets(x0[i].numpy(), eps, ti, prediction))
    assert float(loss.detach()) == pytest.approx(float(np.mean(np.square(want))), rel=1e-4)
    assert label.tolist() == [0, 1, 0, 1, 0, 1] and logs["loss"] == pytest.approx(float(loss.detach()))


def test_label_dropout() -> None:
    labels = torch.arange(1000) % 3
    assert torch.equal(drop_labels(labels, 3, 0.0), labels)
    assert (drop_labels(labels, 3, 1.0) == 3).all()
    assert 0.05 < float((drop_labels(labels, 3, 0.1) == 3).float().mean()) < 0.15


def test_unet_export_parity_and_dynamic_batch(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = UNet(TINY).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    ex = {"x": torch.randn(3, 4, 16, 16), "t": torch.tensor([0.0, 20.0, 499.0]), "label": torch.tensor([0, 1, 2])}
    res = export_graph(model, ex, ["eps"], tmp_path / "denoiser.onnx")
    assert res.parity_max_abs_diff <= PARITY_ATOL
    assert [(t.name, t.dtype, t.shape) for t in res.graph.inputs] == [
        ("x", "float32", ("batch", 4, 16, 16)),
        ("t", "float32", ("batch",)),
        ("label", "int64", ("batch",)),
    ]
    sess = ort.InferenceSession(str(tmp_path / "denoiser.onnx"))
    out = sess.run(
        None, {"x": np.zeros((7, 4, 16, 16), np.float32), "t": np.ones(7, np.float32), "label": np.zeros(7, np.int64)}
    )[0]
    assert out.shape == (7, 4, 16, 16)


def test_fine_labels() -> None:
    assert fine_label("mon/animals/rat.png") == "monster" and fine_label("mon/cyclops.png") == "monster"
    assert fine_label("item/potion/ruby.png") == "potion" and fine_label("item/rod/x/y.png") == "wand"
    assert fine_label("item/gold/pile.png") == "misc" and fine_label("dngn/floor/a.png") is None
    assert fine_label("item/loose.png") is None


def write_folder(root: Path, images: np.ndarray, labels: np.ndarray, names: tuple[str, ...]) -> Path:
    for name in names:
        (root / name).mkdir(parents=True, exist_ok=True)
    for i, (img, lab) in enumerate(zip(images, labels)):
        write_png(root / names[lab] / f"s{i:03d}.png", img)
    return root


def test_train_export_generate_end_to_end(tmp_path: Path, tiny_set) -> None:
    from training import train_diffusion

    data_dir = write_folder(tmp_path / "sprites", tiny_set.images, tiny_set.labels, tiny_set.label_names)
    out = tmp_path / "run"
    train_diffusion.main(
        [
            "--dataset",
            f"folder:{data_dir}",
            "--out",
            str(out),
            "--name",
            "tdiff",
            "--T",
            "20",
            "--first-stage",
            "",
            *TINY_FLAGS,
        ]
    )
    assert (out / "last.pt").is_file() and (out / "samples" / "epoch_0001.png").is_file()
    data = load_dataset(f"folder:{data_dir}", "", 16)
    bundle = tmp_path / "models" / "tdiff"
    export_generator_bundle(
        out / "last.pt",
        data,
        bundle,
        "tdiff",
        eval_count=16,
        reference_count=8,
        sweep=[("ddim", 2), ("ddim", 4)],
        speed_batch=8,
    )
    m = load_manifest(bundle)
    s = m.extra["sampling"]
    assert m.family == "diffusion" and m.labels == ("diamond", "square")
    assert s["schedule"] == {"type": "cosine", "T": 20, "s": 0.008, "max_beta": 0.999}
    assert s["prediction"] == "v" and s["conditioning"]["null_label"] == 2
    assert s["conditioning"]["label_counts"] == {"diamond": 48, "square": 48}
    assert s["defaults"]["solver"] == "ddim" and s["defaults"]["steps"] in (2, 4)
    assert m.metrics["parity_max_abs_diff"]["denoiser"] <= PARITY_ATOL
    assert m.metrics["reference"]["solver"] == "ddpm" and m.metrics["reference"]["steps"] == 20
    assert sorted(p.name for p in bundle.glob("label_*.png")) == ["label_diamond.png", "label_square.png"]
    assert "Quality versus steps" in (bundle / "card.md").read_text()
    json.loads((bundle / "manifest.json").read_text())
    reg = Registry([tmp_path / "models"], builtin=False, env=False)
    a = api.generate("tdiff", 4, seed=1, label="square", registry=reg).sprites
    b = api.generate("tdiff", 1, seed=2, label="square", registry=reg).sprites
    assert a.shape == (4, 16, 16, 4) and a[1].tobytes() == b[0].tobytes()
    assert set(np.unique(a[..., 3])) <= {0, 255}
