"""A tiny teacher bundle built inside the tests: the real :class:`training.models.teacher.TeacherNet` at a few
thousand parameters, exported like ``training.export_teacher`` (one graph, dynamic height/width), serving the
tiny VAE's 8x8 sprites and 16x16 ones (size flags 0 and 1)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from pixelsprite.manifest import ImageSpec, Manifest, save_manifest
from pixelsprite.manifest_sections import TeacherSpec

SIZES = (8, 16)
LABELS = ("blob", "ring", "other")
OUTPUTS = ["quality", "embedding", "logits", "gate"]


def teacher_net():  # type: ignore[no-untyped-def]
    """The tiny TeacherNet (eval mode), weights seeded; BatchNorm statistics made per size non-trivial."""
    torch = pytest.importorskip("torch")
    from training.models.teacher import TeacherConfig, TeacherNet

    torch.manual_seed(0)
    net = TeacherNet(
        TeacherConfig(
            widths=(4, 8), feature_dim=16, experts=4, expert_hidden=8, hidden=8, embed_dim=64, num_labels=len(LABELS)
        )
    )
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith("c2.weight") or name == "gate.weight":
                p.copy_(torch.randn(p.shape, generator=gen) * 0.2)
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.1)
                m.running_var.copy_(1 + torch.rand(m.running_var.shape, generator=gen))
    return net.eval()


def flag(size: int) -> float:
    return float(SIZES.index(size))


def write_teacher_bundle(root: Path, name: str = "tinyteacher") -> Path:
    """Export the tiny teacher into ``root/name`` (manifest with a ``teacher`` section) and return the folder."""
    torch = pytest.importorskip("torch")
    from training.export import export_graph

    net = teacher_net()
    folder = root / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    x = torch.rand(3, 4, SIZES[1], SIZES[1]) * 2 - 1
    res = export_graph(
        net,
        {"image": x, "size_flag": torch.full((3, 1), flag(SIZES[1]))},
        OUTPUTS,
        folder / "teacher.onnx",
        dynamic_dims={"image": {2: "height", 3: "width"}},
    )
    manifest = Manifest(
        name=name,
        family="teacher",
        description="tiny test teacher",
        image=ImageSpec(SIZES[1], SIZES[1]),
        labels=LABELS,
        graphs={"teacher": res.graph},
        extra={
            TeacherSpec.KEY: TeacherSpec(
                sizes=SIZES,
                size_flags={s: flag(s) for s in SIZES},
                inputs={"image": "image", "size_flag": "size_flag"},
                outputs={k: k for k in OUTPUTS},
                embedding_dim=64,
                experts=4,
            ).to_dict()
        },
    )
    save_manifest(manifest, folder / "manifest.json")
    return folder


def torch_outputs(images: np.ndarray) -> list[np.ndarray]:
    """The tiny teacher's torch outputs for uint8 (N, S, S, 4) sprites."""
    torch = pytest.importorskip("torch")
    net = teacher_net()
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1
    with torch.no_grad():
        out = net(x, torch.full((len(x), 1), flag(images.shape[1])))
    return [o.numpy() for o in out]
