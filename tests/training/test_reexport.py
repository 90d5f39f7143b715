"""A pixel bundle's network rebuilt from its own graph (training.bundle_network) and its graph exported again
(training.reexport_pixel)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from pixelsprite.manifest import load_manifest, sha256_file
from training.graph_feeds import canvas_logits, every_pixel

from .test_diffusion_training import write_folder


@pytest.fixture(scope="module")
def built_bundle(tmp_path_factory: pytest.TempPathFactory, tiny_set) -> Path:
    """A tiny pixel bundle with the copy head and the shade gate, whose GroupNorm affine parameters all differ
    (fresh ones are all 1 and 0, which any matching would get right). Built once; tests get a copy."""
    from training import train_pixel
    from training.data.builders import load_dataset
    from training.export_pixel import export_pixel_bundle

    tmp_path = tmp_path_factory.mktemp("reexport")
    data_dir = write_folder(tmp_path / "sprites", tiny_set.images, tiny_set.labels, tiny_set.label_names)
    args = ["--dataset", f"folder:{data_dir}", "--palette-size", "16", "--embed-dim", "8", "--emb-dim", "16"]
    args += ["--groups", "4", "--epochs", "1", "--batch-size", "16", "--sample-count", "4", "--warmup-steps", "2"]
    args += ["--threads", "1", "--blocks-per-level", "1", "--widths", "8", "8", "--attention", "0", "1"]
    args += ["--copy", "true", "--shades", "3", "--out", str(tmp_path / "run")]
    train_pixel.main(args)
    ckpt = tmp_path / "run" / "last.pt"
    state = torch.load(ckpt, map_location="cpu", weights_only=False)
    g = torch.Generator().manual_seed(3)
    for key, value in state["ema"].items():
        if ".norm" in key and value.is_floating_point():
            state["ema"][key] = torch.randn(value.shape, generator=g)
    torch.save(state, ckpt)
    bundle = tmp_path / "models" / "tiny"
    data = load_dataset(f"folder:{data_dir}", "", 16)
    export_pixel_bundle(ckpt, data, bundle, "tiny", eval_count=8, sweep_count=8, sweep=[("random", 2, 1.0, 1.0, 1)])
    return bundle


@pytest.fixture
def copy_bundle(built_bundle: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(built_bundle, tmp_path / "models" / built_bundle.name))


def graph_output(bundle: Path, tokens: torch.Tensor, t: torch.Tensor, label: torch.Tensor) -> np.ndarray:
    m = load_manifest(bundle)
    session = ort.InferenceSession(str(bundle / m.graphs["logits"].file), providers=["CPUExecutionProvider"])
    feeds = {"tokens": tokens.numpy(), "t": t.numpy(), "label": label.numpy()}
    out = session.run(["logits"], every_pixel(feeds, [i.name for i in session.get_inputs()]))[0]
    return canvas_logits(out, feeds["tokens"])


def test_the_rebuilt_network_gives_the_bundles_graph_back(copy_bundle: Path) -> None:
    from training.bundle_network import token_unet_from_bundle

    net = token_unet_from_bundle(copy_bundle)
    assert net.cfg.copy and net.cfg.shades == 3  # the palette came out with 5 colours: at most 4 shades
    norms = [p for n, p in net.named_parameters() if ".norm" in n]
    assert norms and all(not torch.all(p == p.flatten()[0]) for p in norms)  # the perturbed values came back
    g = torch.Generator().manual_seed(7)
    tokens = torch.randint(0, net.cfg.palette_size + 2, (5, 16, 16), generator=g)
    t, label = torch.rand(5, generator=g), torch.tensor([0, 1, 2, 1, 0])
    with torch.no_grad():
        got = net(tokens, t, label).numpy()
    assert np.abs(got - graph_output(copy_bundle, tokens, t, label)).max() < 1e-4


def test_a_wrong_weight_mapping_is_refused(copy_bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from training import bundle_network

    real = bundle_network._norm_constants
    swapped = lambda graph, inits: [(b, w) for w, b in real(graph, inits)]  # noqa: E731 - weight and bias swapped
    monkeypatch.setattr(bundle_network, "_norm_constants", swapped)
    with pytest.raises(bundle_network.RebuildError, match="differs from the graph"):
        bundle_network.token_unet_from_bundle(copy_bundle)


def test_reexport_replaces_the_graph_and_keeps_the_card(copy_bundle: Path) -> None:
    from training.reexport_pixel import reexport

    before = json.loads((copy_bundle / "manifest.json").read_text())
    report = reexport(copy_bundle, compare=8, min_identical=1.0, runs=1)
    after = json.loads((copy_bundle / "manifest.json").read_text())
    assert report["identical_sprites"] == 1.0 and report["graph_max_abs_diff"] < 1e-4
    assert after["metrics"]["reexport"] == report
    assert after["graphs"]["logits"]["sha256"] == sha256_file(copy_bundle / "logits.onnx")
    assert after["metrics"]["sweep"] == before["metrics"]["sweep"] and after["card"] == before["card"]
    assert (copy_bundle / "card.md").is_file()


def test_reexport_refuses_when_sprites_change(copy_bundle: Path) -> None:
    from training.reexport_pixel import reexport

    sha = sha256_file(copy_bundle / "logits.onnx")
    with pytest.raises(SystemExit, match="identical"):
        reexport(copy_bundle, compare=8, min_identical=1.01, runs=1)  # no share of identical sprites reaches 101%
    assert sha256_file(copy_bundle / "logits.onnx") == sha


def test_quantize_bundle_makes_an_evaluated_int8_bundle(copy_bundle: Path, tmp_path: Path, tiny_set) -> None:
    import onnx

    from training.quantize_pixel import quantize_bundle

    out = tmp_path / "models" / "tinyq"
    report = quantize_bundle(copy_bundle, tiny_set, out, "tinyq", eval_count=8)
    m = json.loads((out / "manifest.json").read_text())
    ops = {n.op_type for n in onnx.load(str(out / "logits.onnx")).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert m["name"] == "tinyq" and m["description"].endswith("int8 convolutions")
    assert m["metrics"]["quantized"] == report and len(report["kept_float"]) == 2
    assert 0.0 <= report["colour_mean_tv"] <= 1.0  # a distance between distributions
    assert m["graphs"]["logits"]["sha256"] == sha256_file(out / "logits.onnx")
    assert "two_sample" in m["metrics"] and m["metrics"]["eval_count"] == 8  # evaluated again, not copied
    from pixelsprite import api
    from pixelsprite.registry import Registry

    sprites = api.generate("tinyq", 4, 0, registry=Registry([out.parent], builtin=False, env=False)).sprites
    assert sprites.shape == (4, 16, 16, 4) and set(np.unique(sprites[..., 3])) <= {0, 255}
