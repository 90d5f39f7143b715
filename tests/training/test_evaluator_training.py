"""The evaluator: a short training run on drawn sprites, its bundle (ONNX parity through the runtime, manifest,
card), the registry's handling of the family, and — with ../shared present — the shipped bundle's accuracy."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from pixelsprite import api
from pixelsprite.errors import InvalidRequest
from pixelsprite.evaluation.evaluator import Evaluator
from pixelsprite.registry import BUILTIN_DIR, Registry
from training.data.builders import SpriteSet
from training.models.evaluator import EvaluatorNet, EvaluatorNetConfig
from training.train_evaluator import EvaluatorTrainConfig, accuracy_report, as_input, export_bundle, predict, train

CANVAS = 16


@pytest.fixture(scope="module")
def trained(tiny_set: SpriteSet, tmp_path_factory: pytest.TempPathFactory) -> tuple[EvaluatorNet, Path]:
    torch.set_num_threads(1)
    cfg = EvaluatorTrainConfig(epochs=3, batch_size=32, warmup_steps=2, time_budget_s=0)
    net_cfg = EvaluatorNetConfig(canvas=CANVAS, widths=(4, 8), num_labels=2)
    tr = tiny_set.train()
    model, run = train(cfg, net_cfg, as_input(tr.images, CANVAS), torch.from_numpy(tr.labels))
    sets = {"tiny16": tiny_set}
    metrics: dict = {"held_out": {}, "train": {}}
    for split, part in (("held_out", tiny_set.val()), ("train", tr)):
        metrics[split]["tiny16"] = accuracy_report(
            predict(model, as_input(part.images, CANVAS)), part.labels, tiny_set.label_names
        )
    root = tmp_path_factory.mktemp("ev")
    export_bundle(model, sets, cfg, run, metrics, root / "evaluator", "evaluator", "python -m training.x")
    return model, root


def test_the_bundle_matches_torch_through_the_runtime(trained: tuple[EvaluatorNet, Path], tiny_set: SpriteSet) -> None:
    model, root = trained
    ev = Evaluator.load(Registry([root], builtin=False, env=False))
    images = tiny_set.val().images
    got = ev.run(images)
    with torch.no_grad():
        features, logits = model(as_input(images, CANVAS))
    assert np.abs(got.features - features.numpy()).max() < 1e-4
    assert np.abs(got.logits - logits.numpy()).max() < 1e-4
    # 8x8 sprites go in upscaled 2x: the same as feeding the 16x16 upscaled copy
    small = images[:, ::2, ::2]
    assert np.allclose(ev.run(small).features, ev.run(np.repeat(np.repeat(small, 2, 1), 2, 2)).features)


def test_the_bundle_documents_itself(trained: tuple[EvaluatorNet, Path]) -> None:
    _, root = trained
    m = json.loads((root / "evaluator" / "manifest.json").read_text())
    assert m["family"] == "evaluator" and m["labels"] == ["diamond", "square"]
    assert m["evaluator"]["feature_dim"] == 8 and m["graphs"]["evaluator"]["outputs"][0]["shape"] == ["batch", 8]
    assert 0 <= m["metrics"]["held_out"]["tiny16"]["accuracy"] <= 1
    assert m["metrics"]["parity_max_abs_diff"]["evaluator"] < 1e-4
    card = (root / "evaluator" / "card.md").read_text()
    assert "Held-out accuracy" in card and "python -m training.x" in card and "no generator" in card
    assert (root / "evaluator" / "samples.png").is_file()


def test_the_registry_lists_it_and_generation_refuses_it(trained: tuple[EvaluatorNet, Path]) -> None:
    _, root = trained
    reg = Registry([root], builtin=False, env=False)
    listed = api.models(registry=reg)
    assert [(m.name, m.family) for m in listed.models] == [("evaluator", "evaluator")] and not listed.problems
    with pytest.raises(InvalidRequest, match="'evaluator' model"):
        api.generate("evaluator", 2, 0, registry=reg)


def test_augment_keeps_shapes_and_the_recipe_is_frozen() -> None:
    from training.train_evaluator import augment

    x = torch.rand(5, 4, CANVAS, CANVAS)
    y = augment(x, EvaluatorTrainConfig(), torch.Generator().manual_seed(0))
    assert y.shape == x.shape and torch.allclose(y.sum(), x.sum())
    with pytest.raises(Exception):  # noqa: B017 - frozen dataclass
        EvaluatorTrainConfig().epochs = 1  # type: ignore[misc]
    assert replace(EvaluatorTrainConfig(), epochs=1).epochs == 1


@pytest.mark.shipped
def test_shipped_evaluator_reproduces_its_held_out_accuracy(shared_datasets: Path) -> None:
    from pixelsprite.evaluation.data import load_split

    manifest = json.loads((BUILTIN_DIR / "evaluator" / "manifest.json").read_text())
    ev = Evaluator.load(Registry(builtin=True, env=False))
    for name in ("dcss16fine", "dcss40fine"):
        data = load_split(name, shared_datasets)
        assert (len(data.train), len(data.held_out)) == (1233, 135)
        acc = float((ev.run(data.held_out).predicted == data.held_out_labels).mean())
        assert acc == pytest.approx(manifest["metrics"]["held_out"][name]["accuracy"], abs=1e-3)
        assert acc > 0.8


@pytest.mark.shipped
def test_shipped_evaluator_distances_grow_with_known_damage(shared_datasets: Path) -> None:
    from pixelsprite.evaluation.corruptions import posterize, rgb_noise
    from pixelsprite.evaluation.data import load_split
    from pixelsprite.evaluation.distances import frechet_distance

    ev = Evaluator.load(Registry(builtin=True, env=False))
    data = load_split("dcss16fine", shared_datasets)
    rng = np.random.default_rng(0)
    subset = data.train[np.sort(rng.choice(len(data.train), 256, replace=False))]
    real = ev.features(data.held_out)
    fds = [
        frechet_distance(real, ev.features(x))
        for x in (subset, rgb_noise(subset, rng, 8.0), rgb_noise(subset, rng, 32.0), posterize(subset, rng))
    ]
    assert fds[0] < fds[1] < fds[2] < fds[3]
