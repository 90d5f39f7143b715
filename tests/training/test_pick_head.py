"""The token U-Net's head on picked pixels (``forward(..., pick=)``) and the graph that takes ``pick``: the same
numbers as the whole canvas at those pixels, for every head the network can have."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from pixelsprite.colorspace import srgb_to_oklab
from training.export_pixel import logits_graph
from training.graph_feeds import canvas_logits, every_pixel
from training.models.token_unet import PickingTokenUNet, TokenUNet, TokenUNetConfig, example_inputs
from training.models.unet import UNetConfig

K = 6
PALETTE = np.array([[20, 20, 20], [60, 60, 60], [100, 100, 100], [140, 140, 140], [255, 0, 0], [0, 0, 255]], np.uint8)
HEADS = {  # (copy, shades, circular, lowres)
    "plain": (False, 0, False, False),
    "copy": (True, 0, False, False),
    "copy + shade, torus": (True, 2, True, False),
    "copy + shade + half-size input": (True, 2, False, True),
}


def tiny(copy: bool, shades: int, circular: bool, lowres: bool, patch: int = 1) -> TokenUNet:
    unet = UNetConfig(
        in_channels=8, image_size=8 // patch, widths=(8, 16), attention=(0, 1), num_labels=2, groups=4,
        circular=circular, time_scale=1000.0,
    )  # fmt: skip
    cfg = TokenUNetConfig(palette_size=K, embed_dim=8, patch=patch, copy=copy, shades=shades, lowres=lowres, unet=unet)
    torch.manual_seed(0)
    model = TokenUNet(cfg)
    with torch.no_grad():  # the zero-initialised layers would make every logit equal
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    model.set_palette(torch.from_numpy(srgb_to_oklab(PALETTE)).float())
    return model.eval()


@pytest.mark.parametrize("head", list(HEADS))
def test_the_head_on_picked_pixels_gives_those_pixels_numbers(head: str) -> None:
    model = tiny(*HEADS[head])
    ex = example_inputs(model.cfg, 2, 5, seed=0, pick=10)
    args = (ex["tokens"], ex["t"], ex["label"], ex.get("lowres"))
    with torch.no_grad():
        whole = model(*args)
        picked = model(*args, pick=ex["pick"])
    assert picked.shape == (5, 1 + K, 10)
    at = whole.reshape(5, 1 + K, -1).gather(2, ex["pick"][:, None, :].expand(5, 1 + K, 10))
    assert (picked - at).abs().max() < 1e-5
    with torch.no_grad():  # the exported signature: pick last, by position
        assert (PickingTokenUNet.of(model)(*[a for a in args if a is not None], ex["pick"]) - picked).abs().max() == 0


def test_a_patched_network_cannot_pick() -> None:
    model = tiny(True, 0, False, False, patch=2)
    ex = example_inputs(model.cfg, 2, 2, seed=0, pick=4)
    assert not model.can_pick()
    with pytest.raises(ValueError, match="patch 1"):
        model(ex["tokens"], ex["t"], ex["label"], pick=ex["pick"])


@pytest.mark.parametrize("head", ["plain", "copy + shade + half-size input"])
def test_the_exported_graph_takes_pick_and_any_number_of_pixels(head: str, tmp_path: Path) -> None:
    model = tiny(*HEADS[head])
    spec = logits_graph(model, 2, tmp_path / "logits.onnx").graph
    assert [i.name for i in spec.inputs][-1] == "pick" and spec.outputs[0].shape == ("batch", 1 + K, "pixels")
    session = ort.InferenceSession(str(tmp_path / "logits.onnx"), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    ex = {k: v.numpy() for k, v in example_inputs(model.cfg, 2, 4, seed=3).items()}
    with torch.no_grad():
        want = model(*[torch.from_numpy(ex[k]) for k in ex]).numpy()
    (out,) = session.run(["logits"], every_pixel(ex, names))  # every pixel, back in the canvas layout
    assert np.abs(canvas_logits(out, ex["tokens"]) - want).max() < 1e-4
    for count in (1, 7, 64):
        feeds = {**ex, "pick": np.tile(np.arange(count, dtype=np.int64)[::-1], (4, 1))}
        (got,) = session.run(["logits"], feeds)
        assert got.shape == (4, 1 + K, count)
        assert np.abs(got - want.reshape(4, 1 + K, -1)[:, :, count - 1 :: -1][:, :, :count]).max() < 1e-4


def test_every_pixel_leaves_a_graph_without_pick_alone() -> None:
    feeds = {"tokens": np.zeros((2, 4, 4), np.int64)}
    assert every_pixel(feeds, ["tokens", "t", "label"]) is feeds
    full = every_pixel(feeds, ["tokens", "t", "label", "pick"])["pick"]
    assert full.shape == (2, 16) and (full[1] == np.arange(16)).all()
