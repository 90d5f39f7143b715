"""The teacher export's candidates evaluation (random / argmax / anchored pick of 4, judged as sets) and its card
section, on a tiny teacher and a tiny evaluator built in the test."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pytest

from pixelsprite.api.candidates import anchored_scores, choose
from pixelsprite.manifest import Manifest, load_manifest
from pixelsprite.registry import Registry
from pixelsprite.teacher import TeacherModel
from training.card_teacher import write_card
from training.export_teacher import PICK_RULES, best_of_picks, best_of_sets, best_of_sheet

from ..pixelsprite.evaluator_bundle import write_tiny_evaluator
from ..pixelsprite.teacher_bundle import write_teacher_bundle

SHIPPED = Path(__file__).resolve().parents[2] / "pixelsprite" / "models" / "teacher" / "manifest.json"


@pytest.fixture(scope="module")
def reg(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    root = tmp_path_factory.mktemp("bundles")
    write_teacher_bundle(root, "teacher")
    write_tiny_evaluator(root, canvas=16)
    return Registry([root], builtin=False, env=False, threads=1)


def sprites(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n, 16, 16, 4), dtype=np.uint8)
    x[..., 3] = np.where(rng.random((n, 16, 16)) < 0.6, 255, 0)
    x[x[..., 3] == 0] = 0
    return x


def test_picks_follow_their_rules(reg: Registry) -> None:
    t = TeacherModel.load(reg, "teacher")
    x = sprites(42, 0)  # 10 groups of 4 and 2 left over
    idx, q = best_of_picks(t, x)
    assert tuple(idx) == PICK_RULES and q.shape == (10, 4)
    s = t.score(x[:40])
    assert idx["random"].tolist() == list(range(0, 40, 4))
    assert idx["argmax"].tolist() == (np.arange(10) * 4 + s.quality.reshape(10, 4).argmax(1)).tolist()
    anchored = choose(anchored_scores(s.quality.reshape(10, 4), s.embedding.reshape(10, 4, -1)))
    assert idx["anchored"].tolist() == (np.arange(10) * 4 + anchored).tolist()


def test_sets_and_sheet_report_every_rule(reg: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pixelsprite.evaluation import two_sample

    # the real test, at a few steps (its own tests check what it measures)
    monkeypatch.setattr(two_sample, "two_sample_accuracy", partial(two_sample.two_sample_accuracy, steps=4, folds=2))
    t = TeacherModel.load(reg, "teacher")
    pool, real = sprites(160, 1), sprites(30, 2)
    row = best_of_sets(t, reg, real, pool, "tiny16")
    assert row is not None and row["groups"] == 40 and row["real"] == 30 and row["reference"] == "tiny16"
    assert set(row["rules"]) == set(PICK_RULES)
    for r in row["rules"].values():
        assert r["fd"] >= 0 and 0 <= r["mean_quality"] <= 1 and 0 <= r["two_sample"] <= 1
    assert row["rules"]["argmax"]["share_argmax"] == 1.0
    assert row["rules"]["argmax"]["mean_quality"] >= row["rules"]["anchored"]["mean_quality"]
    sheet = best_of_sheet(t, pool, tmp_path / "sheet.png", count=8)
    assert sheet["groups"] == 8 and list(sheet["mean_quality"]) == list(PICK_RULES)
    assert (tmp_path / "sheet.png").stat().st_size > 0
    no_evaluator = Registry([tmp_path], builtin=False, env=False)
    assert best_of_sets(t, no_evaluator, real, pool, "tiny16", two_sample=False) is None


def test_card_reports_the_three_rules(tmp_path: Path) -> None:
    if not SHIPPED.exists():
        pytest.skip("no shipped teacher manifest")
    d = load_manifest(SHIPPED).to_dict()
    rules = {
        "random": {"fd": 4.93, "mean_quality": 0.248, "share_argmax": 0.22, "two_sample": 0.815},
        "argmax": {"fd": 5.25, "mean_quality": 0.692, "share_argmax": 1.0, "two_sample": 0.775},
        "anchored": {"fd": 4.83, "mean_quality": 0.615, "share_argmax": 0.8, "two_sample": 0.78},
    }
    held = {k: v for k, v in d["metrics"]["held_out"].items() if k != "best_of_4_fd"}
    held["best_of_4"] = {
        "flow16": {"groups": 512, "real": 135, "reference": "dcss16fine", "evaluator": "evaluator", "anchor": 8.0,
                   "rules": rules},
    }  # fmt: skip
    sheets = {k: v for k, v in d["metrics"]["sheets"].items() if not k.startswith("best_of_4_")}
    sheets["best_of_4_flow16"] = {"groups": 32, "mean_quality": {"random": 0.1, "argmax": 0.5, "anchored": 0.4}}
    d["metrics"] = {**d["metrics"], "held_out": held, "sheets": sheets}
    write_card(Manifest.from_dict(d), [], tmp_path / "card.md")
    card = (tmp_path / "card.md").read_text()
    assert "| `flow16` | `dcss16fine` (135) | 512 | 4.93 / 5.25 / **4.83** | 0.815 / 0.775 / 0.780 |" in card
    assert "0.248 / 0.692 / 0.615 |" in card and "logit(quality) - 8 * (1 - cos(" in card
    assert "further from the real sprites than a random pick for `flow16`" in card  # argmax's
    assert "no further from the real sprites than a random pick for any generator" in card  # anchored's
    assert "(best_of_4_flow16.png)" in card and "Mean teacher quality 0.100 / 0.500 / 0.400" in card
