"""A tiny evaluator bundle for the evaluation tests: :class:`training.models.evaluator.EvaluatorNet` with random
weights (a few hundred parameters), exported to ONNX with the parity check, on an ``canvas`` x ``canvas`` canvas."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from pixelsprite.imageio import write_png  # noqa: E402
from pixelsprite.manifest import ImageSpec, Manifest, save_manifest  # noqa: E402
from pixelsprite.manifest_sections import EvaluatorSpec  # noqa: E402
from training.export import export_graph  # noqa: E402
from training.models.evaluator import EvaluatorNet, EvaluatorNetConfig  # noqa: E402


def write_tiny_evaluator(
    root: Path, name: str = "evaluator", canvas: int = 8, labels: tuple[str, ...] = ("a", "b")
) -> tuple[Path, EvaluatorNet]:
    """Write the bundle ``root/name``; returns its folder and the torch model (eval mode) it was exported from."""
    torch.manual_seed(0)
    model = EvaluatorNet(EvaluatorNetConfig(canvas=canvas, widths=(4, 8), num_labels=len(labels))).eval()
    with torch.no_grad():  # fresh BatchNorm statistics would make every feature the same; give them some spread
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    x = torch.rand(3, 4, canvas, canvas) * 2 - 1
    res = export_graph(model, {"image": x}, ["features", "logits"], folder / "evaluator.onnx")
    manifest = Manifest(
        name=name,
        family="evaluator",
        image=ImageSpec(canvas, canvas),
        labels=labels,
        graphs={"evaluator": res.graph},
        training={"data": [], "recipe": {}, "seconds": 0.0, "epochs": 0, "framework": "test"},
        metrics={"held_out": {"tiny": {"accuracy": 0.5}}},
        extra={EvaluatorSpec.KEY: EvaluatorSpec("features", "logits", feature_dim=8, input="test").to_dict()},
    )
    save_manifest(manifest, folder / "manifest.json")
    (folder / "card.md").write_text(f"# {name}\n\nA tiny test evaluator.\n")
    write_png(folder / "samples.png", np.zeros((canvas, canvas, 4), np.uint8))
    return folder, model
