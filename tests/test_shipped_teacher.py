"""The shipped quality teacher (``pixelsprite/models/teacher``): complete, credited, and it scores held-out real
sprites above corrupted and generated ones. Marked ``shipped``; needs ``../shared/datasets`` (skips without it).

Only numpy, onnxruntime and the dataset builders (torch-free) are used.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pixelsprite import api
from pixelsprite.registry import BUILTIN_DIR, Registry
from pixelsprite.teacher import TeacherModel

pytestmark = pytest.mark.shipped
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
FOLDER = BUILTIN_DIR / "teacher"


@pytest.fixture(scope="module")
def teacher() -> TeacherModel:
    if not (FOLDER / "manifest.json").is_file():
        pytest.fail("the teacher bundle is missing from pixelsprite/models")
    return TeacherModel.load(Registry(builtin=True, env=False), "teacher")


def test_bundle_is_complete_small_and_credits_its_data() -> None:
    manifest = json.loads((FOLDER / "manifest.json").read_text())
    assert manifest["family"] == "teacher" and manifest["teacher"]["sizes"] == [16, 40]
    for f in ("card.md", "samples.png", *(g["file"] for g in manifest["graphs"].values())):
        assert (FOLDER / f).is_file(), f
    assert sum(p.stat().st_size for p in FOLDER.iterdir()) < 5 * 2**20
    credits = " ".join(d["name"] + d["license"] for d in manifest["training"]["data"])
    assert "Dungeon Crawl" in credits and "CC0" in credits
    card = (FOLDER / "card.md").read_text()
    assert "AUC" in card and "calibration" in card.lower() and "CC0" in card
    assert manifest["training"]["seconds"] <= 60 * 60


@pytest.mark.parametrize("size", [16, 40])
def test_held_out_real_sprites_outscore_corrupted_and_generated_ones(teacher: TeacherModel, size: int) -> None:
    if not SHARED.is_dir():
        pytest.skip("../shared/datasets is absent")
    from training.teacher_data import load_positives
    from training.teacher_metrics import auc
    from training.teacher_negatives import CORRUPTIONS, changed, corrupt

    real, _ = load_positives(str(SHARED), ".cache/datasets", (size,))[size].split(held_out=True)
    q_real = teacher.score(real).quality
    for kind in CORRUPTIONS:
        bad = corrupt(real, kind, seed=123)
        bad = bad[changed(real, bad)]
        assert auc(q_real, teacher.score(bad).quality) > 0.8, kind
    fake = api.generate(f"vae{size}", 256, seed=2_000_000, registry=Registry(builtin=True, env=False)).sprites
    assert auc(q_real, teacher.score(fake).quality) > 0.9
    assert float(np.median(q_real)) > 0.5
