"""The teacher's training pieces: the mixture-of-experts network, the load-balancing term, the negatives, the
metrics, a tiny training run that resumes, and the ONNX export's parity at both sizes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from training.models.teacher import TeacherConfig, TeacherNet, coordinates, expert_use, load_balance, size_flag
from training.teacher_data import TEACHER_LABELS, Positives, teacher_label
from training.teacher_metrics import auc, reliability
from training.teacher_negatives import CORRUPTIONS, changed, corrupt, corrupt_mixed, pool_key
from training.train_teacher import TeacherTrainConfig, as_input, epoch_batches, fit

from .drawing import draw_sprites

TINY = TeacherConfig(widths=(4, 8), feature_dim=16, experts=4, expert_hidden=8, hidden=8, num_labels=3)


@pytest.mark.parametrize("size", [16, 40])
def test_heads_have_their_ranges_and_the_gate_is_a_distribution(size: int) -> None:
    torch.manual_seed(0)
    net = TeacherNet(TINY).eval()
    x, flag = as_input(draw_sprites(6, size), size)
    with torch.no_grad():
        q, e, logits, gate = net(x, flag)
    assert q.shape == (6,) and ((q >= 0) & (q <= 1)).all()
    assert e.shape == (6, 64) and torch.allclose(e.norm(dim=1), torch.ones(6), atol=1e-5)
    assert logits.shape == (6, 3) and gate.shape == (6, 4)
    assert torch.allclose(gate.sum(1), torch.ones(6), atol=1e-6) and (gate >= 0).all()
    assert flag[0, 0] == size_flag(size) == (0.0 if size == 16 else 1.0)


def test_coordinates_are_pixel_centres() -> None:
    yy, xx = coordinates(torch.zeros(1, 4, 4, 4))
    assert torch.allclose(xx[0, 0, 0], torch.tensor([-0.75, -0.25, 0.25, 0.75]))
    assert torch.allclose(yy[0, 0, :, 0], torch.tensor([-0.75, -0.25, 0.25, 0.75]))


def test_load_balance_is_zero_when_balanced_and_k_minus_one_when_collapsed() -> None:
    k = 4
    assert float(load_balance(torch.full((8, k), 1 / k))) == pytest.approx(0.0, abs=1e-7)
    assert float(load_balance(torch.eye(k)[[0] * 8])) == pytest.approx(k - 1)
    assert float(load_balance(torch.eye(k)[[0, 1, 2, 3] * 2])) == pytest.approx(0.0, abs=1e-7)  # balanced, hard
    use = expert_use(torch.eye(k)[[0, 0, 1, 3]])
    assert use["top1_share"] == [0.5, 0.25, 0.0, 0.25] and use["mean_gate"] == [0.5, 0.25, 0.0, 0.25]


@pytest.mark.parametrize("kind", list(CORRUPTIONS))
@pytest.mark.parametrize("size", [16, 40])
def test_corruptions_are_deterministic_and_visible(kind: str, size: int) -> None:
    x = draw_sprites(12, size)
    a, b = corrupt(x, kind, seed=3), corrupt(x, kind, seed=3)
    assert a.dtype == np.uint8 and a.shape == x.shape and np.array_equal(a, b)
    assert not np.array_equal(a, corrupt(x, kind, seed=4))
    assert changed(x, a).mean() > 0.5
    if kind != "soft_alpha":  # transparent pixels stay (0, 0, 0, 0)
        assert (a[a[..., 3] == 0] == 0).all()
    else:
        assert ((a[..., 3] > 0) & (a[..., 3] < 255)).any()


def test_mixed_corruptions_always_change_the_sprite() -> None:
    x = draw_sprites(40, 16)
    out, kinds = corrupt_mixed(x, seed=1)
    assert changed(x, out).all() and kinds.shape == (40,) and set(kinds) <= set(range(len(CORRUPTIONS)))
    assert np.array_equal(out, corrupt_mixed(x, seed=1)[0])


def test_auc_and_reliability_on_known_cases() -> None:
    assert auc(np.array([0.9, 0.8]), np.array([0.1, 0.2])) == 1.0
    assert auc(np.array([0.1]), np.array([0.9])) == 0.0
    assert auc(np.array([0.5, 0.5]), np.array([0.5])) == 0.5
    assert auc(np.array([0.2, 0.6]), np.array([0.4])) == 0.5
    perfect = reliability(np.array([0.05, 0.05, 0.95, 0.95]), np.array([0, 0, 1, 1]))
    assert perfect["ece"] == pytest.approx(0.05)
    assert [b["count"] for b in perfect["bins"]] == [2, 2]
    off = reliability(np.array([0.9] * 10), np.array([1] * 5 + [0] * 5))
    assert off["ece"] == pytest.approx(0.4)


def test_teacher_labels_cover_every_sprite() -> None:
    assert teacher_label("icons/Food_1.png") == "icon"
    assert teacher_label("mon/animals/rat.png") == "monster"
    assert teacher_label("item/potion/ruby.png") == "potion"
    assert teacher_label("item/rod/x.png") == "wand"
    assert teacher_label("dngn/floor/grass0.png") == "other"
    assert len(TEACHER_LABELS) == 14 and TEACHER_LABELS[-2:] == ("icon", "other")


def _positives(size: int, n: int = 48) -> Positives:
    images = draw_sprites(n, size, seed=size)
    held = np.zeros(n, bool)
    held[::6] = True
    return Positives(size, f"drawn{size}", images, np.arange(n) % 3, held)


def test_epoch_batches_pair_real_and_negative_sprites_of_one_size() -> None:
    pos = {16: _positives(16), 40: _positives(40)}
    pools = {"gen16": (16, draw_sprites(10, 16, seed=9)[:, ::-1].copy())}
    cfg = TeacherTrainConfig(batch_size=8)
    batches = epoch_batches(pos, pools, cfg, epoch=0)
    assert {b[0] for b in batches} == {16, 40}
    for size, x, t, y in batches:
        assert x.shape == (16, size, size, 4) and t.tolist() == [1.0] * 8 + [0.0] * 8
        assert (y[:8] >= 0).all() and (y[8:] == -1).all()
    again = epoch_batches(pos, pools, cfg, epoch=0)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(batches, again, strict=True))


def test_tiny_training_checkpoints_and_resumes(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    pos = {16: _positives(16), 40: _positives(40)}
    cfg = TeacherTrainConfig(epochs=1, batch_size=8, warmup_steps=2, eval_every=0, threads=1, time_budget_s=0)
    ckpt = fit(cfg, TINY, pos, {}, {}, tmp_path, {"command": "test"})
    state = torch.load(ckpt, weights_only=False)
    assert state["epoch"] == 1 and state["step"] > 0 and state["family"] == "teacher"
    assert len(state["history"]) == 1 and len(state["history"][0]["experts"]["mean_gate"]) == 4
    cfg2 = TeacherTrainConfig(epochs=2, batch_size=8, warmup_steps=2, eval_every=0, threads=1, time_budget_s=0)
    state2 = torch.load(fit(cfg2, TINY, pos, {}, {}, tmp_path, {}), weights_only=False)
    assert state2["epoch"] == 2 and state2["step"] == 2 * state["step"] and len(state2["history"]) == 2


def test_export_parity_at_both_sizes(tmp_path: Path) -> None:
    from training.export_teacher import export_onnx

    torch.manual_seed(0)
    net = TeacherNet(TINY).eval()
    graph, diff = export_onnx(net, {16: draw_sprites(3, 16), 40: draw_sprites(3, 40)}, tmp_path)
    assert diff <= 1e-4 and graph.inputs[0].shape == ("batch", 4, "height", "width")
    assert [t.name for t in graph.outputs] == ["quality", "embedding", "logits", "gate"]


def test_generator_pools_are_keyed_by_what_decides_the_sprites(tmp_path: Path) -> None:
    """Same graph, new sampler defaults: a new key (a stale pool would train and judge against old sprites);
    new metrics or prose alone: the same key."""
    import json

    def bundle(name: str, **changes: object) -> Path:
        m = {
            "name": "p",
            "graphs": {"logits": {"sha256": "ab"}},
            "tokens": {"defaults": {"steps": 12}},
            "metrics": {"fd": 1.0},
            "description": "d",
        }
        m.update(changes)
        (tmp_path / name).mkdir()
        (tmp_path / name / "manifest.json").write_text(json.dumps(m))
        return tmp_path / name

    base = pool_key(bundle("a"))
    assert pool_key(bundle("b", metrics={"fd": 2.0}, description="other")) == base
    assert pool_key(bundle("c", tokens={"defaults": {"steps": 8}})) != base
    assert pool_key(bundle("d", graphs={"logits": {"sha256": "cd"}})) != base
