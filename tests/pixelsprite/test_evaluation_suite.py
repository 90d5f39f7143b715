"""The evaluation suite end to end on tiny bundles: a VAE and a label-conditional diffusion model, measured in the
features of a tiny evaluator against a toy held-out split, with the report written to disk."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pixelsprite.evaluation.evaluator import Evaluator, embed_on_canvas
from pixelsprite.evaluation.report import headline_table, write_report
from pixelsprite.evaluation.suite import SpriteData, SuiteConfig, generators, labels_like, run_suite
from pixelsprite.registry import Registry

pytest.importorskip("torch")

from .evaluator_bundle import write_tiny_evaluator  # noqa: E402

CFG = SuiteConfig(count=16, baseline_count=16, kid_subsets=5, pr_repeats=2, sheet_count=8, two_sample_steps=40)


def toy_sprites(n: int, seed: int, size: int = 8) -> np.ndarray:
    """uint8 (n, size, size, 4) hard-alpha blobs of a few colours."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, size, size, 4), np.uint8)
    for i in range(n):
        y0, x0 = rng.integers(0, size // 2, 2)
        h, w = rng.integers(2, size // 2 + 1, 2)
        out[i, y0 : y0 + h, x0 : x0 + w, :3] = rng.integers(0, 256, 3)
        out[i, y0 : y0 + h, x0 : x0 + w, 3] = 255
    return out


@pytest.fixture(scope="module")
def toy_data() -> SpriteData:
    return SpriteData("toy8", toy_sprites(64, 0), toy_sprites(24, 1), np.arange(24) % 2, ("a", "b"))


@pytest.fixture(scope="module")
def suite_registry(
    tmp_path_factory: pytest.TempPathFactory, models_dir: Path, iterative_registry: Registry
) -> Registry:
    root = tmp_path_factory.mktemp("evaluator")
    write_tiny_evaluator(root)
    return Registry([models_dir, *iterative_registry.search_path, root], builtin=False, env=False)


def test_embedding_upscales_by_the_largest_integer_factor_and_centres() -> None:
    sprite = np.zeros((1, 16, 16, 4), np.uint8)
    sprite[0, 0, 0] = (255, 0, 0, 255)
    out = embed_on_canvas(sprite, 40)
    assert out.shape == (1, 40, 40, 4)
    assert (out[0, 4:6, 4:6] == (255, 0, 0, 255)).all() and out[..., 3].sum() == 4 * 255
    assert np.array_equal(embed_on_canvas(toy_sprites(2, 0, 40), 40), toy_sprites(2, 0, 40))
    with pytest.raises(ValueError, match="do not fit"):
        embed_on_canvas(np.zeros((1, 48, 48, 4), np.uint8), 40)


def test_evaluator_bundle_runs_through_the_registry(suite_registry: Registry) -> None:
    ev = Evaluator.load(suite_registry)
    out = ev.run(toy_sprites(5, 3))
    assert out.features.shape == (5, 8) and out.logits.shape == (5, 2) and out.features.dtype == np.float32
    assert (out.features >= 0).all() and out.predicted.shape == (5,)
    assert "evaluator" not in generators(suite_registry)


def test_label_agreement_maps_the_clean_sets_folded_labels(tmp_path: Path) -> None:
    write_tiny_evaluator(tmp_path, labels=("ring", "amulet", "scroll", "book", "monster"))
    ev = Evaluator.load(Registry([tmp_path], builtin=False, env=False))
    assert ev.labels_as(["monster", "ring"]) == ["ring", "amulet", "scroll", "book", "monster"]
    # dcss*clean's folds: ring and amulet are jewellery, scroll is book
    assert ev.labels_as(["jewellery", "book", "monster"]) == ["jewellery", "jewellery", "book", "book", "monster"]
    assert ev.labels_as(["jewellery", "dragon"]) is None


def test_labels_like_follows_the_mix_and_sums_to_n() -> None:
    plan = labels_like(np.array([0, 0, 0, 1]), ("a", "b", "c"), 10)
    assert plan == [("a", 8), ("b", 2)]  # 7.5 / 2.5: the tie goes to the first label


def test_suite_measures_generators_beside_real_sprites(
    suite_registry: Registry, toy_data: SpriteData, tmp_path: Path
) -> None:
    def scorer(sprites: np.ndarray) -> np.ndarray:
        return sprites[..., 3].mean(axis=(1, 2)) / 255

    res = run_suite(
        suite_registry, lambda builder, size: toy_data, names=["tiny", "tdiff"], cfg=CFG, scorer=scorer, teacher="alpha"
    )
    (report,) = res.datasets
    kinds = [(r.name, r.kind) for r in report.rows if r.kind != "corruption"]
    assert kinds == [
        ("training subset (real vs real)", "baseline"),
        ("held-out real", "held_out"),
        ("tiny", "generator"),
        ("tdiff", "generator"),
    ]
    base, real, tiny, tdiff = (r for r in report.rows if r.kind != "corruption")
    damaged = {r.name: r for r in report.rows if r.kind == "corruption"}
    assert len(damaged) == 5 and all(r.fd is not None and r.fd >= 0 for r in damaged.values())
    for r in (base, tiny, tdiff):
        assert r.fd is not None and r.fd >= 0 and r.kid is not None
        assert r.precision is not None and 0 <= r.precision <= 1 and r.recall is not None and 0 <= r.recall <= 1
        assert r.teacher is not None and 0 <= r.teacher["mean"] <= 1
    for r in (base, tiny, tdiff, *damaged.values()):  # the measures on pixels, against the held-out split
        assert r.step_profile is not None and len(r.step_profile) == 6 and sum(r.step_profile) == pytest.approx(1)
        assert r.step_distance is not None and 0 <= r.step_distance <= 1
        assert r.two_sample is not None and 0 <= r.two_sample <= 1 and r.two_sample_folds is not None
        assert len(r.two_sample_folds) == CFG.two_sample_folds
    # one-colour blobs: the profile is all "identical" and noise empties that bin, whatever the features say
    assert base.step_distance == 0.0 and damaged["RGB noise σ=8"].step_distance > 0.9
    assert real.step_profile == (1.0, 0.0, 0.0, 0.0, 0.0, 0.0) and real.step_distance is None
    assert real.two_sample is None and tiny.two_sample_std is None
    assert base.two_sample_std is not None and base.two_sample_std >= 0  # the floor: mean ± std over the subsets
    assert real.fd is None and real.label_agreement is not None and real.memorization_rate == 0.0
    assert tiny.label_agreement is None and tiny.settings == {}  # an unconditional VAE
    assert tdiff.label_agreement is not None and tdiff.settings["solver"] in ("ddpm", "ddim")
    assert tiny.count == tdiff.count == 16 and set(report.sheets) == {"held-out real", "tiny", "tdiff"}
    again = run_suite(suite_registry, lambda builder, size: toy_data, names=["tdiff"], cfg=CFG)
    alone = again.datasets[0].rows[-1]  # seeds per row: the same numbers without the other models
    assert (alone.fd, alone.kid, alone.precision, alone.recall) == (tdiff.fd, tdiff.kid, tdiff.precision, tdiff.recall)
    assert (alone.step_profile, alone.two_sample, alone.two_sample_folds) == (
        tdiff.step_profile,
        tdiff.two_sample,
        tdiff.two_sample_folds,
    )
    assert again.teacher is None

    md = tmp_path / "docs" / "evaluation.md"
    written = write_report(res, md, command="test")
    text = md.read_text()
    assert "| [**tiny**](evaluation/toy8-tiny.png) | 16 |" in text and "## `toy8` (8×8)" in text
    assert "![tdiff](evaluation/toy8-tdiff.png)" in text and "(`alpha`)" in text
    assert "| posterized (8 colours) |" in text and "| blur (3×3 Gaussian) |" in text and "known damage" in text
    assert "| step distance ↓ | two-sample accuracy ↓ |" in text and "step profile % (= · <.02 ·" in text
    assert "| 100·0·0·0·0·0 |" in text  # the held-out row's profile, in whole percents
    assert f"| {base.two_sample:.3f} ± {base.two_sample_std:.3f} |" in text
    for name in ("toy8-held-out-real.png", "toy8-tiny.png", "toy8-tdiff.png"):
        assert (tmp_path / "docs" / "evaluation" / name).is_file()
    doc = json.loads((tmp_path / "docs" / "evaluation" / "evaluation.json").read_text())
    assert [r["name"] for r in doc["datasets"][0]["rows"]][-2:] == ["tiny", "tdiff"] and len(written) == 5
    json_tdiff = doc["datasets"][0]["rows"][-1]
    assert json_tdiff["two_sample"] == tdiff.two_sample and len(json_tdiff["step_profile"]) == 6
    headline = headline_table(res)
    assert "| `tdiff` | `toy8` |" in headline and "two-sample accuracy ↓ (real vs real)" in headline
    assert f"| {tdiff.step_distance:.3f} ({base.step_distance:.3f}) | {tdiff.two_sample:.2f} " in headline


def test_the_two_sample_test_can_be_turned_off(suite_registry: Registry, toy_data: SpriteData) -> None:
    cfg = SuiteConfig(
        count=8, baseline_count=8, kid_subsets=2, pr_repeats=1, baseline_draws=1, corruptions=False, two_sample=False
    )
    rows = run_suite(suite_registry, lambda builder, size: toy_data, names=["tiny"], cfg=cfg).datasets[0].rows
    assert [r.two_sample for r in rows] == [None, None, None] and all(r.step_profile is not None for r in rows)
    with pytest.raises(ValueError, match="two_sample_folds"):
        SuiteConfig(two_sample_folds=1)


def test_real_sprites_as_a_generator_score_like_the_baseline(suite_registry: Registry, toy_data: SpriteData) -> None:
    """FD of the held-out set against itself is 0; against the training subset it is the baseline's."""
    from pixelsprite.evaluation.distances import frechet_distance

    ev = Evaluator.load(suite_registry)
    f = ev.features(toy_data.held_out)
    assert frechet_distance(f, f) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(f, ev.features(toy_data.train)) > 0


def test_teacher_scores_are_used_when_a_teacher_is_installed(
    tmp_path: Path, bundle_writer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import types

    from pixelsprite.evaluation.teacher_scores import teacher_scorer

    assert teacher_scorer(Registry([tmp_path], builtin=False, env=False))[0] is None  # no bundle: no teacher
    bundle_writer(tmp_path, "teacher")

    class FakeTeacher:
        sizes = (8,)

        @classmethod
        def load(cls, registry: Registry, name: str) -> FakeTeacher:
            return cls()

        def score(self, images: np.ndarray) -> Any:
            return types.SimpleNamespace(quality=images[..., 3].mean(axis=(1, 2)) / 255)

    monkeypatch.setitem(sys.modules, "pixelsprite.teacher", types.SimpleNamespace(TeacherModel=FakeTeacher))
    scorer, note = teacher_scorer(Registry([tmp_path], builtin=False, env=False))
    assert scorer is not None and "sizes 8" in note
    sprites = toy_sprites(3, 0)
    q = scorer(sprites)
    assert q is not None and np.allclose(q, sprites[..., 3].mean(axis=(1, 2)) / 255)
    assert scorer(toy_sprites(2, 0, 16)) is None  # a size the teacher does not score


def test_the_settings_column_names_solver_guidance_and_corrector() -> None:
    from pixelsprite.evaluation.report import _settings

    assert _settings({}) == "one pass"
    assert _settings({"solver": "random", "steps": 8, "guidance": 2.0, "corrector": 1}) == "random 8, w=2, +1 corrector"
    assert _settings({"solver": "heun", "steps": 12, "guidance": 1.5, "corrector": 0}) == "heun 12, w=1.5"


def test_a_renderer_is_measured_on_its_first_stages_dataset(tmp_path: Path) -> None:
    from pixelsprite.evaluation.suite import dataset_of

    from .pixel_bundles import write_pixel_model

    folder = write_pixel_model(tmp_path, "plain")
    m = json.loads((folder / "manifest.json").read_text())
    m["training"]["dataset"] = {"name": "fine8", "builder": "clean8"}
    (folder / "manifest.json").write_text(json.dumps(m))
    reg = Registry([tmp_path], builtin=False, env=False)
    assert dataset_of(reg, "plain") == "clean8"  # a generator: the builder it was trained on
    m["tokens"]["guide"] = {"family": "flow", "bundle": "tflow-lat"}
    (folder / "manifest.json").write_text(json.dumps(m))
    assert dataset_of(Registry([tmp_path], builtin=False, env=False), "plain") == "fine8"
