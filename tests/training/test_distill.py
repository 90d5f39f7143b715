"""Guidance distillation of a pixel model into a student (training.objectives_distill, train_pixel --distill-from)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from training.models.token_unet import TokenUNet, TokenUNetConfig
from training.models.unet import UNetConfig
from training.objectives_distill import DistillConfig, GuidanceDistillObjective
from training.objectives_masked import MaskedLossConfig, MaskedTokenObjective

from .test_diffusion_training import write_folder

K = 6
PALETTE = np.array([[i * 40, 255 - i * 40, 7 * i] for i in range(K)], np.uint8)


def tiny(seed: int, copy_head: bool = False) -> TokenUNet:
    torch.manual_seed(seed)
    unet = UNetConfig(in_channels=8, image_size=8, widths=(16,), attention=(0,), num_labels=2, groups=4)
    model = TokenUNet(TokenUNetConfig(palette_size=K, embed_dim=8, copy=copy_head, unet=unet))
    with torch.no_grad():  # zero-initialised layers would make the label irrelevant: give every weight a value
        for param in model.parameters():
            param.normal_(0.0, 0.3)
    return model


def batch(b: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(1)
    tok = torch.randint(0, K + 1, (b, 8, 8))
    rgb = torch.from_numpy(PALETTE.astype(np.float32))[(tok - 1).clamp(min=0)].permute(0, 3, 1, 2) / 127.5 - 1
    return torch.cat([rgb, (tok > 0).float()[:, None] * 2 - 1], 1), torch.arange(b) % 2


def objective(teacher: TokenUNet, guidance: float, dropout: float = 0.0) -> GuidanceDistillObjective:
    base = MaskedTokenObjective(MaskedLossConfig(label_dropout=dropout, max_shift=0), PALETTE, 2, K + 1)
    return GuidanceDistillObjective(DistillConfig(guidance), base, teacher)


def test_a_student_equal_to_its_teacher_has_nothing_to_learn_without_guidance() -> None:
    teacher = tiny(0).eval()
    student = copy.deepcopy(teacher)
    x, y = batch()
    _, same = objective(teacher, 1.0).loss(student, x, y, 0)
    _, guided = objective(teacher, 3.0).loss(student, x, y, 0)
    assert same["kl"] < 1e-5 and same["top_agree"] == pytest.approx(1.0)
    assert guided["kl"] > 1e-3  # guidance moves the target away from the plain conditional


def test_the_null_label_learns_the_unguided_teacher() -> None:
    teacher = tiny(0).eval()
    x, y = batch()
    r = torch.full((8,), 0.5)
    inputs = torch.full((8, 8, 8), K + 1)
    null = torch.tensor([True, False] * 4)
    target = objective(teacher, 3.0).targets(inputs, r, y, null)
    with torch.no_grad():
        u = teacher(inputs, r, torch.full_like(y, 2))
        c = teacher(inputs, r, y)
    assert torch.allclose(target[null], u[null], atol=1e-5)
    assert torch.allclose(target[~null], (u + 3.0 * (c - u))[~null], atol=1e-5)
    plain = objective(teacher, 1.0).targets(inputs, r, y, null)  # guidance 1: one call, the same targets
    assert torch.allclose(plain[null], u[null], atol=1e-5) and torch.allclose(plain[~null], c[~null], atol=1e-5)


@pytest.mark.parametrize("copy_head", [False, True])
def test_only_the_student_learns(copy_head: bool) -> None:
    teacher, student = tiny(0, copy_head=True).eval(), tiny(1, copy_head=copy_head).train()
    before = [p.clone() for p in teacher.parameters()]
    x, y = batch()
    loss, stats = objective(teacher, 2.0, dropout=0.5).loss(student, x, y, 0)
    loss.backward()
    assert torch.isfinite(loss) and stats["kl"] > 0
    assert all(p.grad is None for p in teacher.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, teacher.parameters(), strict=True))
    assert float(student.backbone.out.weight.grad.abs().sum()) > 0


def test_train_pixel_distills_a_checkpoint_into_a_smaller_student(tmp_path: Path, tiny_set) -> None:
    from training import train_pixel
    from training.trainer import load_checkpoint

    data_dir = write_folder(tmp_path / "sprites", tiny_set.images, tiny_set.labels, tiny_set.label_names)
    common = ["--dataset", f"folder:{data_dir}", "--palette-size", "16", "--embed-dim", "8", "--emb-dim", "16"]
    common += ["--groups", "4", "--epochs", "1", "--batch-size", "16", "--sample-count", "4", "--warmup-steps", "2"]
    common += ["--threads", "1", "--blocks-per-level", "1"]
    train_pixel.main(common + ["--out", str(tmp_path / "teacher"), "--widths", "8", "8", "--attention", "0", "1"])
    student_dir = tmp_path / "student"
    train_pixel.main(
        common
        + ["--out", str(student_dir), "--widths", "4", "8", "--attention", "0", "0"]
        + ["--distill-from", str(tmp_path / "teacher" / "last.pt"), "--distill-guidance", "2.5"]
    )
    teacher_palette = json.loads((tmp_path / "teacher" / "palette.json").read_text())
    assert json.loads((student_dir / "palette.json").read_text()) == teacher_palette
    mc = load_checkpoint(student_dir / "last.pt")["model_config"]
    assert mc["distilled"] == {"teacher": str(tmp_path / "teacher" / "last.pt"), "guidance": 2.5}
    assert list(mc["token_unet"]["unet"]["widths"]) == [4, 8]
    from training.data.builders import load_dataset
    from training.export_pixel import export_pixel_bundle

    bundle = tmp_path / "models" / "fast"
    data = load_dataset(f"folder:{data_dir}", "", 16)
    export_pixel_bundle(
        student_dir / "last.pt", data, bundle, "fast", eval_count=8, sweep_count=8, sweep=[("random", 2, 1.0, 1.0, 0)]
    )
    card = (bundle / "card.md").read_text()
    assert "distilled from" in card and "guidance distillation" in card


def test_the_sweep_can_leave_guidance_out_for_a_distilled_student() -> None:
    from training.export_pixel import sweep_settings

    rows = sweep_settings((8,), (1.0,))
    assert {g for _, _, _, g, _ in rows} == {1.0} and len(rows) == 3 * 3 + 1
    assert {g for _, _, _, g, _ in sweep_settings()} == {1.0, 2.0}


def test_train_pixel_distills_a_shipped_bundle_through_onnxruntime(tmp_path: Path, tiny_set) -> None:
    """A bundle (no checkpoint) can be the teacher: its ONNX graph gives what the torch model gives, and the student
    speaks the bundle's palette."""
    from training import train_pixel
    from training.data.builders import load_dataset
    from training.export_pixel import export_pixel_bundle, load_pixel_model
    from training.onnx_teacher import OnnxTeacher, bundle_palette_hex

    data_dir = write_folder(tmp_path / "sprites", tiny_set.images, tiny_set.labels, tiny_set.label_names)
    common = ["--dataset", f"folder:{data_dir}", "--palette-size", "16", "--embed-dim", "8", "--emb-dim", "16"]
    common += ["--groups", "4", "--epochs", "1", "--batch-size", "16", "--sample-count", "4", "--warmup-steps", "2"]
    common += ["--threads", "1", "--blocks-per-level", "1"]
    train_pixel.main(common + ["--out", str(tmp_path / "teacher"), "--widths", "8", "8", "--attention", "0", "1"])
    bundle = tmp_path / "models" / "big"
    data = load_dataset(f"folder:{data_dir}", "", 16)
    export_pixel_bundle(
        tmp_path / "teacher" / "last.pt", data, bundle, "big", eval_count=8, sweep_count=8,
        sweep=[("random", 2, 1.0, 1.0, 0)],
    )  # fmt: skip
    torch_teacher, _ = load_pixel_model(tmp_path / "teacher" / "last.pt")
    onnx_teacher = OnnxTeacher(bundle)
    gen = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, onnx_teacher.palette_size + 2, (5, 16, 16), generator=gen)  # with transparent, MASK
    t, label = torch.rand(5, generator=gen), torch.tensor([0, 1, 2, 0, len(tiny_set.label_names)])
    with torch.no_grad():
        want = torch_teacher(tokens, t, label)
    assert torch.allclose(onnx_teacher(tokens, t, label), want, atol=1e-4)
    student_dir = tmp_path / "student"
    train_pixel.main(
        common
        + ["--out", str(student_dir), "--widths", "4", "8", "--attention", "0", "0", "--distill-from", str(bundle)]
    )
    assert json.loads((student_dir / "palette.json").read_text())["palette"] == bundle_palette_hex(bundle)
    student = tmp_path / "models" / "fast"
    export_pixel_bundle(
        student_dir / "last.pt", data, student, "fast", eval_count=8, sweep_count=8, sweep=[("random", 2, 1.0, 1.0, 0)]
    )
    distilled = json.loads((student / "manifest.json").read_text())["training"]["recipe"]["distilled"]
    assert distilled["teacher"] == str(bundle) and distilled["teacher_parameters"] > 0
    assert f"distilled from `{bundle}`" in (student / "card.md").read_text()
    assert json.loads((student / "manifest.json").read_text())["description"].startswith("big distilled (guidance 2")
