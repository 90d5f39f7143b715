"""The teacher runtime and its requests (score, similar, candidates) against a tiny teacher built in the test."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pixelsprite import api
from pixelsprite.api.candidates import anchored_scores, choose
from pixelsprite.cli import main
from pixelsprite.errors import BundleError, ImageError, InvalidRequest, UnknownModel
from pixelsprite.imageio import write_png
from pixelsprite.registry import Registry
from pixelsprite.teacher import TeacherModel, cosine

from .teacher_bundle import LABELS, torch_outputs, write_teacher_bundle

T = "tinyteacher"


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("teacher")
    write_teacher_bundle(root, T)
    return root


@pytest.fixture(scope="module")
def reg(models_dir: Path, teacher_dir: Path) -> Registry:
    """The tiny VAEs (8x8) and the tiny teacher (8x8 and 16x16)."""
    return Registry([models_dir, teacher_dir], builtin=False, env=False)


def sprites(n: int, size: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n, size, size, 4), dtype=np.uint8)
    x[..., 3] = np.where(x[..., 3] > 127, 255, 0)
    x[x[..., 3] == 0] = 0
    return x


@pytest.mark.parametrize("size", [8, 16])
def test_scores_have_the_documented_shapes_and_ranges(reg: Registry, size: int) -> None:
    s = TeacherModel.load(reg, T).score(sprites(20, size))
    assert s.quality.shape == (20,) and s.quality.dtype == np.float32
    assert ((s.quality >= 0) & (s.quality <= 1)).all()
    assert s.embedding.shape == (20, 64) and np.allclose(np.linalg.norm(s.embedding, axis=1), 1, atol=1e-5)
    assert s.gate.shape == (20, 4) and np.allclose(s.gate.sum(1), 1, atol=1e-5)
    assert s.label.dtype == np.int64 and all(LABELS[i] == n for i, n in zip(s.label, s.label_name, strict=True))
    assert ((s.probability > 1 / len(LABELS) - 1e-6) & (s.probability <= 1)).all()


@pytest.mark.parametrize("size", [8, 16])
def test_onnx_matches_torch_at_both_sizes(reg: Registry, size: int) -> None:
    x = sprites(6, size, seed=3)
    s = TeacherModel.load(reg, T).score(x)
    quality, embedding, logits, gate = torch_outputs(x)
    np.testing.assert_allclose(s.quality, quality, atol=1e-4)
    np.testing.assert_allclose(s.embedding, embedding, atol=1e-4)
    np.testing.assert_allclose(s.gate, gate, atol=1e-4)
    assert (s.label == logits.argmax(1)).all()


def test_scoring_is_batch_independent_and_deterministic(reg: Registry) -> None:
    t = TeacherModel.load(reg, T)
    x = sprites(300, 8, seed=5)  # more than one 256-sprite chunk
    a, b = t.score(x), t.score(x[7:8])
    assert np.allclose(a.quality[7], b.quality[0], atol=1e-6) and np.array_equal(t.score(x).quality, a.quality)


def test_wrong_sizes_and_bad_manifests_are_refused(reg: Registry, teacher_dir: Path, tmp_path: Path) -> None:
    t = TeacherModel.load(reg, T)
    with pytest.raises(ImageError, match="scores 8x8 or 16x16") as e:
        t.score(sprites(2, 12))
    assert e.value.field == "images"
    bad = tmp_path / "bad"
    bad.mkdir()
    manifest = json.loads((teacher_dir / T / "manifest.json").read_text())
    del manifest["teacher"]["outputs"]["gate"]
    (bad / "manifest.json").write_text(json.dumps(manifest))
    (bad / "teacher.onnx").write_bytes((teacher_dir / T / "teacher.onnx").read_bytes())
    with pytest.raises(BundleError, match="teacher.outputs"):
        TeacherModel.load(Registry([tmp_path], builtin=False, env=False), T)


def test_score_request_keeps_order_over_mixed_sizes(reg: Registry, tmp_path: Path) -> None:
    small, big = sprites(3, 8, seed=1), sprites(2, 16, seed=2)
    path = tmp_path / "s.png"
    write_png(path, big[1])
    res = api.score([small[0], big[0], small[1], path, small[2]], teacher=T, registry=reg)
    t = TeacherModel.load(reg, T)
    q_small, q_big = t.score(small).quality, t.score(big).quality
    assert np.allclose(res.scores.quality, [q_small[0], q_big[0], q_small[1], q_big[1], q_small[2]], atol=1e-6)
    assert res.sizes == (8, 16, 8, 16, 8) and res.teacher == T
    rows = res.summary(embedding=True)["scores"]
    assert rows[1]["size"] == [16, 16] and len(rows[1]["embedding"]) == 64
    with pytest.raises(ImageError) as e:
        api.score([small[0], sprites(1, 12)[0]], teacher=T, registry=reg)
    assert e.value.field == "images[1]"


def test_similar_ranks_given_sprites_and_fresh_samples(reg: Registry) -> None:
    x = sprites(10, 8, seed=4)
    res = api.similar(x[6], list(x), teacher=T, registry=reg)
    assert res.index is not None and res.similarity is not None
    assert res.similarity[0] == pytest.approx(1.0, abs=1e-5)  # the reference itself (ties possible: tiny net)
    assert res.similarity[res.index.tolist().index(6)] == pytest.approx(1.0, abs=1e-5)
    assert (np.diff(res.similarity) <= 1e-7).all() and sorted(res.index.tolist()) == list(range(10))
    assert np.array_equal(res.sprites, x[res.index]) and res.seeds == (None,) * 10
    emb = TeacherModel.load(reg, T).score(x).embedding
    assert np.allclose(res.similarity, cosine(emb[6], emb)[res.index], atol=1e-6)
    top = api.similar(x[6], list(x), top=3, teacher=T, registry=reg)
    assert len(top) == 3 and np.array_equal(top.index, res.index[:3])
    fresh = api.similar(x[0], model="tiny", count=12, seed=5, top=4, teacher=T, registry=reg)
    gen = api.generate("tiny", 12, seed=5, registry=reg)
    assert fresh.index is not None and fresh.seeds == tuple(5 + int(i) for i in fresh.index)
    assert np.array_equal(fresh.sprites, gen.sprites[fresh.index]) and fresh.summary()["model"] == "tiny"
    with pytest.raises(InvalidRequest) as e:
        api.similar(x[0], list(x), model="tiny", teacher=T, registry=reg)
    assert e.value.field == "model"
    with pytest.raises(ImageError) as e:
        api.similar(x[0], [sprites(1, 16)[0]], teacher=T, registry=reg)
    assert e.value.field == "images[0]"


def test_candidates_return_the_anchored_pick_and_stay_reproducible(reg: Registry) -> None:
    c, n = 4, 5
    res = api.generate("tiny", n, seed=100, candidates=c, teacher=T, registry=reg)
    every = api.generate("tiny", n * c, seed=100, registry=reg)
    s = TeacherModel.load(reg, T).score(every.sprites)
    q = s.quality.reshape(n, c)
    best = choose(anchored_scores(q, s.embedding.reshape(n, c, -1)))
    assert res.seeds == tuple(100 + i * c + int(j) for i, j in enumerate(best))
    assert res.candidate_quality is not None and np.allclose(res.candidate_quality, q, atol=1e-6)
    assert res.scores is not None and np.allclose(res.scores.quality, q[np.arange(n), best], atol=1e-6)
    for i, seed in enumerate(res.seeds):
        assert seed is not None
        alone = api.generate("tiny", 1, seed=seed, registry=reg)
        assert alone.sprites[0].tobytes() == res.sprites[i].tobytes()
    again = api.generate("tiny", n, seed=100, candidates=c, teacher=T, registry=reg)
    assert again.sprites.tobytes() == res.sprites.tobytes()
    plain = api.generate("tiny", n, seed=100, candidates=1, registry=reg)
    assert plain.scores is None and plain.seeds == tuple(range(100, 105))
    rows = res.summary()["scores"]
    assert len(rows) == n and len(rows[0]["candidates"]) == c


def test_variations_candidates_and_keep_class(reg: Registry) -> None:
    src = api.generate("tiny", 1, seed=3, registry=reg).sprites[0]
    res = api.variations("tiny", src, 3, 0.8, seed=10, candidates=4, keep_class=True, teacher=T, registry=reg)
    t = TeacherModel.load(reg, T)
    src_label = t.score(src[None]).label[0]
    assert res.kept_class is not None and res.scores is not None
    assert all((lab == src_label) == kept for lab, kept in zip(res.scores.label, res.kept_class, strict=True))
    for i, seed in enumerate(res.seeds):
        alone = api.variations("tiny", src, 1, 0.8, seed=seed, registry=reg)
        assert alone.sprites[0].tobytes() == res.sprites[i].tobytes()
    assert "kept_class" in res.summary()["scores"][0]


def test_interpolate_candidates_keep_the_endpoints(reg: Registry) -> None:
    plain = api.interpolate("tiny", 1, 2, 5, registry=reg)
    res = api.interpolate("tiny", 1, 2, 5, candidates=3, seed=9, teacher=T, registry=reg)
    assert res.layout == (1, 5) and res.base_seed == 9
    assert res.sprites[0].tobytes() == plain.sprites[0].tobytes()
    assert res.sprites[-1].tobytes() == plain.sprites[-1].tobytes()
    assert res.seeds[0] is None and res.seeds[-1] is None
    for i, seed in enumerate(res.seeds[1:-1], start=1):
        assert seed is None or 9 + i * 3 < seed < 9 + (i + 1) * 3


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"candidates": 0}, "candidates"),
        ({"candidates": 17}, "candidates"),
        ({"candidates": 2, "teacher": "tiny"}, "teacher"),
        ({"candidates": 2, "teacher": "nope"}, "teacher"),
        ({"candidates": 2, "teacher": T, "seed": 2**53 - 2}, "seed"),
    ],
)
def test_candidate_errors_name_the_field(reg: Registry, kwargs: dict, field: str) -> None:
    kwargs = {"seed": 1, **kwargs}
    with pytest.raises((InvalidRequest, UnknownModel)) as e:
        api.generate("tiny", 2, registry=reg, **kwargs)
    assert e.value.field == field


def test_keep_class_needs_candidates(reg: Registry) -> None:
    with pytest.raises(InvalidRequest, match="candidates between 2 and 16") as e:
        api.variations("tiny", sprites(1, 8)[0], 2, keep_class=True, teacher=T, registry=reg)
    assert e.value.field == "keep_class"


def test_cli_score_similar_and_candidates(
    reg: Registry, models_dir: Path, teacher_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dirs = ["--no-builtin-models", "--models-dir", str(models_dir), "--models-dir", str(teacher_dir)]
    files = []
    for i, s in enumerate(sprites(3, 8, seed=8)):
        files.append(str(write_png(tmp_path / f"s{i}.png", s)))
    assert main([*dirs, "score", *files, "--teacher", T]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["op"] == "score" and [r["file"] for r in doc["scores"]] == files
    assert all(0 <= r["quality"] <= 1 and r["label"] in LABELS for r in doc["scores"])
    assert main([*dirs, "similar", files[1], *files, "--teacher", T, "-o", str(tmp_path / "r.png")]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ranked_files"][0] == files[1] and (tmp_path / "r.png").is_file()
    assert (
        main(
            [
                *dirs,
                "generate",
                "--model",
                "tiny",
                "-n",
                "3",
                "--seed",
                "4",
                "--candidates",
                "2",
                "--teacher",
                T,
                "-o",
                str(tmp_path / "g.png"),
            ]
        )
        == 0
    )
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["seeds"]) == 3 and len(doc["scores"][0]["candidates"]) == 2
    assert main([*dirs, "generate", "--model", "tiny", "-n", "1", "--candidates", "17", "--teacher", T]) == 2
    assert "candidates must be between 1 and 16" in capsys.readouterr().err
