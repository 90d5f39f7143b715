"""Training side of the pixel family: token round trip, the masked objective, and a tiny train -> export ->
generate run through ``pixelsprite.api``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from pixelsprite import api
from pixelsprite.manifest import load_manifest
from pixelsprite.registry import Registry
from training.data.builders import load_dataset
from training.export import PARITY_ATOL
from training.export_pixel import export_pixel_bundle
from training.objectives_masked import image_to_tokens, palette_keys
from training.token_palette import from_tokens, kmeans_palette, to_tokens

from .test_diffusion_training import write_folder


def test_palette_tokens_round_trip_exactly(tiny_set) -> None:
    palette = kmeans_palette(tiny_set.images, 255)
    tokens = to_tokens(tiny_set.images, palette)
    quantised = from_tokens(tokens, palette)
    assert (quantised[..., 3] == tiny_set.images[..., 3]).all()
    x = torch.from_numpy(quantised).permute(0, 3, 1, 2).float() / 127.5 - 1
    keys, tok = palette_keys(palette)
    assert (image_to_tokens(x, keys, tok).numpy() == tokens).all()


def test_train_export_generate_end_to_end(tmp_path: Path, tiny_set) -> None:
    from training import train_pixel

    data_dir = write_folder(tmp_path / "sprites", tiny_set.images, tiny_set.labels, tiny_set.label_names)
    out = tmp_path / "run"
    train_pixel.main(
        [
            "--dataset",
            f"folder:{data_dir}",
            "--out",
            str(out),
            "--name",
            "tpx",
            "--palette-size",
            "16",
            "--embed-dim",
            "8",
            "--widths",
            "8",
            "8",
            "--blocks-per-level",
            "1",
            "--attention",
            "0",
            "1",
            "--emb-dim",
            "16",
            "--groups",
            "4",
            "--epochs",
            "1",
            "--batch-size",
            "16",
            "--sample-count",
            "4",
            "--warmup-steps",
            "2",
            "--threads",
            "1",
        ]
    )
    assert (out / "last.pt").is_file() and (out / "palette.json").is_file()
    data = load_dataset(f"folder:{data_dir}", "", 16)
    bundle = tmp_path / "models" / "tpx"
    export_pixel_bundle(
        out / "last.pt",
        data,
        bundle,
        "tpx",
        eval_count=16,
        sweep_count=8,
        sweep=[("random", 2, 1.0, 1.0, 0), ("random", 2, 1.0, 2.0, 1)],
    )
    m = load_manifest(bundle)
    assert m.family == "pixel" and m.labels == ("diamond", "square")
    assert m.metrics["parity_max_abs_diff"]["logits"] <= PARITY_ATOL
    assert m.extra["tokens"]["conditioning"]["null_label"] == 2
    assert (bundle / "inpaint.png").is_file() and (bundle / "palette_locked.png").is_file()
    assert "Inpainting" in (bundle / "card.md").read_text()
    reg = Registry([tmp_path / "models"], builtin=False, env=False)
    a = api.generate("tpx", 4, seed=1, label="square", registry=reg).sprites
    b = api.generate("tpx", 1, seed=2, label="square", registry=reg).sprites
    assert a.shape == (4, 16, 16, 4) and a[1].tobytes() == b[0].tobytes()
    assert set(np.unique(a[..., 3])) <= {0, 255}
