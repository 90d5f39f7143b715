"""Training side of the tile models: a tiny train (circular U-Net, torus rolls) -> export_tiles -> generate run
through ``pixelsprite.api``: the manifest says tiling, the network wraps around, tiles come out seamless."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pixelsprite import api
from pixelsprite.evaluation.seams import seam_distance
from pixelsprite.manifest import load_manifest
from pixelsprite.registry import Registry
from training.data.builders import SpriteSet, load_dataset
from training.export import PARITY_ATOL
from training.export_tiles import choose_defaults, export_tiles_bundle, with_repeats

from .test_diffusion_training import write_folder


def draw_tiles(n: int, s: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Opaque periodic tiles: label 0 horizontal stripes, label 1 a checkerboard, in random colour pairs."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:s, 0:s]
    out = np.zeros((n, s, s, 4), np.uint8)
    labels = np.arange(n) % 2
    for i in range(n):
        a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        on = (y // 2) % 2 == 0 if labels[i] == 0 else (y // 4 + x // 4) % 2 == 0
        out[i, ..., :3] = np.where(on[..., None], a, b)
    out[..., 3] = 255
    return out, labels


def test_choose_defaults_within_budget_and_colours() -> None:
    rows = [
        {"nfe": 4, "step_tv": 0.2, "colors_median": 10.0},
        {"nfe": 8, "step_tv": 0.1, "colors_median": 10.0},
        {"nfe": 8, "step_tv": 0.05, "colors_median": 30.0},  # speckled: too many colours
        {"nfe": 24, "step_tv": 0.01, "colors_median": 10.0},  # too slow
    ]
    assert choose_defaults(rows, 10.0, 8) is rows[1]
    assert choose_defaults(rows, 10.0, 2) is rows[0]  # nothing affordable: the cheapest


def test_with_repeats_pairs_each_tile_with_its_3x3() -> None:
    tiles, _ = draw_tiles(2, 4)
    shown = with_repeats(tiles)
    assert shown.shape == (4, 12, 12, 4)
    np.testing.assert_array_equal(shown[0, 4:8, 4:8], tiles[0])
    assert shown[0, :4].max() == 0
    np.testing.assert_array_equal(shown[1, 8:12, 0:4], tiles[0])


def test_train_export_generate_tiles(tmp_path: Path) -> None:
    from training import train_pixel

    images, labels = draw_tiles(64)
    data_dir = write_folder(tmp_path / "tiles", images, labels, ("stripes", "checks"))
    out = tmp_path / "run"
    args = "--palette-size 16 --embed-dim 8 --widths 8 8 --blocks-per-level 1 --attention 0 1 --emb-dim 16 "
    args += "--groups 4 --epochs 1 --batch-size 16 --sample-count 4 --warmup-steps 2 --threads 1 "
    args += "--circular true --torus-roll true"
    train_pixel.main(["--dataset", f"folder:{data_dir}", "--out", str(out), "--name", "ttl", *args.split()])
    data = load_dataset(f"folder:{data_dir}", "", 16)
    assert isinstance(data, SpriteSet)
    bundle = tmp_path / "models" / "ttl"
    export_tiles_bundle(
        out / "last.pt",
        data,
        bundle,
        "ttl",
        eval_count=16,
        sweep_count=8,
        sweep=[(2, 1.0, 1.0, 0), (2, 1.0, 2.0, 1)],
        speed_batch=8,
        speed_runs=1,
        two_sample=False,
    )
    m = load_manifest(bundle)
    assert m.family == "pixel" and m.extra["tokens"]["tiling"] is True
    assert m.metrics["parity_max_abs_diff"]["logits"] <= PARITY_ATOL
    assert set(m.metrics["seams"]) >= {"seam_distance", "seam_distance_real", "step_distance"}
    for f in ("samples.png", "variations.png", "inpaint.png", "label_stripes.png", "card.md"):
        assert (bundle / f).is_file(), f
    assert "seam distance" in (bundle / "card.md").read_text()
    reg = Registry([tmp_path / "models"], builtin=False, env=False)
    a = api.generate("ttl", 8, seed=1, label="checks", registry=reg).sprites
    b = api.generate("ttl", 1, seed=2, label="checks", registry=reg).sprites
    assert a[1].tobytes() == b[0].tobytes()
    assert a.shape == (8, 16, 16, 4)
    assert 0.0 <= seam_distance(a) <= 1.0

    # int8 convolutions: evaluated again as a tile model (seams, the budget from the quantised graph's speed)
    from training.quantize_pixel import quantize_bundle

    quantize_bundle(bundle, data, tmp_path / "models" / "ttlq", "ttlq", eval_count=16)
    q = load_manifest(tmp_path / "models" / "ttlq")
    assert q.extra["tokens"]["tiling"] is True and "quantized" in q.metrics and "seams" in q.metrics
    assert 0.0 <= q.metrics["quantized"]["colour_mean_tv"] <= 1.0  # a plain head's logits, softmaxed
    assert q.metrics["sweep"] == m.metrics["sweep"] and "int8" in (tmp_path / "models" / "ttlq" / "card.md").read_text()
    fresh = Registry([tmp_path / "models"], builtin=False, env=False)  # a registry scans its folders once
    tiles = api.generate("ttlq", 4, seed=1, label="checks", registry=fresh).sprites
    assert tiles.shape == (4, 16, 16, 4) and (tiles[..., 3] == 255).all()

    # a student distilled from the int8 tile bundle (how the shipped tiles16 was made): its card says so
    student = tmp_path / "student"
    argv = ["--dataset", f"folder:{data_dir}", "--out", str(student), "--name", "ttls", *args.split()]
    train_pixel.main([*argv, "--distill-from", str(tmp_path / "models" / "ttlq"), "--distill-guidance", "1"])
    export_tiles_bundle(student / "last.pt", data, tmp_path / "models" / "ttls", "ttls", eval_count=16, sweep_count=8,
                        sweep=[(2, 1.0, 1.0, 0)], speed_batch=8, speed_runs=1, two_sample=False)  # fmt: skip
    card = (tmp_path / "models" / "ttls" / "card.md").read_text()
    assert f"distilled from the bundle `{tmp_path / 'models' / 'ttlq'}`" in card and "- loss: distillation" in card


def test_export_refuses_a_model_that_does_not_wrap(tmp_path: Path) -> None:
    from training import train_pixel

    images, labels = draw_tiles(32)
    data_dir = write_folder(tmp_path / "tiles", images, labels, ("stripes", "checks"))
    args = "--palette-size 8 --embed-dim 8 --widths 8 8 --blocks-per-level 1 --attention 0 0 --emb-dim 16 "
    args += "--groups 4 --epochs 1 --batch-size 16 --sample-count 2 --warmup-steps 1 --threads 1"
    train_pixel.main(["--dataset", f"folder:{data_dir}", "--out", str(tmp_path / "run"), "--name", "x", *args.split()])
    data = load_dataset(f"folder:{data_dir}", "", 16)
    with pytest.raises(SystemExit, match="--circular true"):
        export_tiles_bundle(tmp_path / "run" / "last.pt", data, tmp_path / "b", "x")


def test_a_tile_cascade_exports_generates_and_keeps_the_border(tmp_path: Path) -> None:
    """A tiny 8x8 tile model and a 16x16 upsampler over it, both on a torus, exported by ``export_tiles`` with
    ``base``: a tiling cascade whose tiles are opaque, reproducible, and whose inpainting keeps the outer ring."""
    from training import train_pixel

    images, labels = draw_tiles(64)
    data_dir = write_folder(tmp_path / "tiles", images, labels, ("stripes", "checks"))
    dataset = f"folder:{data_dir}"
    tiny = "--palette-size 16 --embed-dim 8 --widths 8 8 --blocks-per-level 1 --attention 0 1 --emb-dim 16 --groups 4 "
    tiny += "--epochs 1 --batch-size 16 --sample-count 4 --warmup-steps 2 --threads 1 --circular true --torus-roll true"
    small = {"eval_count": 8, "sweep_count": 4, "speed_batch": 4, "speed_runs": 1, "two_sample": False}
    train_pixel.main(["--dataset", dataset, "--out", str(tmp_path / "b"), "--name", "tb", "--sprite-size", "8",
                      *tiny.split()])  # fmt: skip
    export_tiles_bundle(tmp_path / "b" / "last.pt", load_dataset(dataset, "", 8), tmp_path / "models" / "tb", "tb",
                        sweep=[(2, 1.0, 1.0, 0)], **small)  # fmt: skip
    up_args = ["--sprite-size", "16", "--patch", "2", "--copy", "true", "--lowres", "true"]
    train_pixel.main(["--dataset", dataset, "--out", str(tmp_path / "u"), "--name", "tu", *up_args,
                      "--palette-from", str(tmp_path / "b"), *tiny.split()])  # fmt: skip
    data = load_dataset(dataset, "", 16)
    with pytest.raises(SystemExit, match="--base"):
        export_tiles_bundle(tmp_path / "u" / "last.pt", data, tmp_path / "x", "tu", **small)
    export_tiles_bundle(tmp_path / "u" / "last.pt", data, tmp_path / "models" / "tu", "tu",
                        sweep=[(2, 1.0, 1.0, 0), (2, 1.0, 1.0, 1)], base=tmp_path / "models" / "tb",
                        **small)  # fmt: skip
    m = load_manifest(tmp_path / "models" / "tu")
    tokens = m.extra["tokens"]
    assert tokens["tiling"] is True and tokens["base"]["tiling"] is True and tokens["base"]["size"] == 8
    assert set(m.graphs) == {"logits", "base"} and "cascade" in m.description
    assert "**A cascade.**" in (tmp_path / "models" / "tu" / "card.md").read_text()
    reg = Registry([tmp_path / "models"], builtin=False, env=False)
    a = api.generate("tu", 4, seed=3, label="stripes", registry=reg).sprites
    b = api.generate("tu", 1, seed=4, label="stripes", registry=reg).sprites
    assert a.shape == (4, 16, 16, 4) and (a[..., 3] == 255).all() and a[1].tobytes() == b[0].tobytes()
    mask = np.ones((16, 16), bool)
    painted = api.inpaint("tu", a[0], mask, 2, seed=5, registry=reg).sprites
    ring = ~np.pad(np.ones((14, 14), bool), 1)
    assert (painted[:, ring] == a[0][ring]).all()  # the border that meets the neighbours is kept exactly

    # int8: the upsampler's convolutions quantised (calibrated with half-size tiles), the first stage carried as is
    from training.quantize_pixel import quantize_bundle

    quantize_bundle(tmp_path / "models" / "tu", data, tmp_path / "models" / "tuq", "tuq", eval_count=8)
    q = load_manifest(tmp_path / "models" / "tuq")
    assert "quantized" in q.metrics and q.extra["tokens"]["base"] == tokens["base"]
    assert (tmp_path / "models" / "tuq" / "base.onnx").read_bytes() == (
        tmp_path / "models" / "tb" / "logits.onnx"
    ).read_bytes()
    fresh = Registry([tmp_path / "models"], builtin=False, env=False)
    assert api.generate("tuq", 2, seed=3, label="checks", registry=fresh).sprites.shape == (2, 16, 16, 4)
