"""A renderer (``TokenUNetConfig.guide``): the network that redraws a latent generator's blurred sprite crisp.
The guide input, the label-free export, the loss on a sample of the masked pixels, and the VAE's guide images."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from pixelsprite.colorspace import srgb_to_oklab
from tests.pixelsprite.pixel_bundles import randomised
from training.export_pixel import LabelFreeRenderer, logits_graph
from training.models.token_unet import TokenUNet, TokenUNetConfig, example_inputs
from training.models.unet import UNetConfig
from training.objectives_masked import MaskedLossConfig, MaskedTokenObjective, loss_pick, tokens_to_rgba

PALETTE = np.array([[0, 0, 0], [255, 255, 255], [200, 40, 40], [40, 200, 40]], np.uint8)
CFG = TokenUNetConfig(
    palette_size=len(PALETTE),
    embed_dim=8,
    copy=True,
    shades=2,
    guide=4,
    unet=UNetConfig(in_channels=8, image_size=8, widths=(8, 8), attention=(0, 1), num_labels=2, emb_dim=16, groups=4),
)


def _net(seed: int = 0, prior: bool = False) -> TokenUNet:
    return randomised(replace(CFG, guide_prior=prior), PALETTE, seed)


def test_a_renderer_needs_its_guide_and_reads_it() -> None:
    net = _net()
    ex = example_inputs(CFG, 2, 3, seed=0)
    assert ex["guide"].shape == (3, 4, 8, 8)
    with pytest.raises(ValueError, match="guide"):
        net(ex["tokens"], ex["t"], ex["label"])
    with torch.no_grad():
        a = net(ex["tokens"], ex["t"], ex["label"], guide=ex["guide"])
        b = net(ex["tokens"], ex["t"], ex["label"], guide=-ex["guide"])
    assert a.shape == (3, 1 + len(PALETTE), 8, 8) and not torch.allclose(a, b)
    with pytest.raises(ValueError, match="guide needs patch 1"):
        TokenUNet(replace(CFG, patch=2))


@pytest.mark.parametrize("prior", [False, True])
def test_picked_pixels_of_a_renderer_equal_the_whole_canvas(prior: bool) -> None:
    net = _net(prior=prior)
    ex = example_inputs(CFG, 2, 3, seed=1, pick=10)
    with torch.no_grad():
        whole = net(ex["tokens"], ex["t"], ex["label"], guide=ex["guide"])
        picked = net(ex["tokens"], ex["t"], ex["label"], None, ex["pick"], guide=ex["guide"])
    want = whole.reshape(3, whole.shape[1], -1).gather(2, ex["pick"][:, None, :].expand(-1, whole.shape[1], -1))
    assert torch.allclose(picked, want, atol=1e-5)


@pytest.mark.parametrize("prior", [False, True])
def test_the_exported_renderer_takes_a_label_and_ignores_it(tmp_path: Path, prior: bool) -> None:
    net = _net(prior=prior)
    spec = logits_graph(net, 2, tmp_path / "logits.onnx").graph
    assert [i.name for i in spec.inputs] == ["tokens", "t", "label", "guide", "pick"]
    session = ort.InferenceSession(str(tmp_path / "logits.onnx"), providers=["CPUExecutionProvider"])
    ex = {k: v.numpy() for k, v in example_inputs(CFG, 2, 3, seed=2, pick=7).items()}
    a = session.run(["logits"], ex)[0]
    b = session.run(["logits"], {**ex, "label": (ex["label"] + 1) % 3})[0]
    assert np.array_equal(a, b)
    with torch.no_grad():  # the network sees its own null label (it was trained without labels)
        null = torch.full((3,), CFG.unet.num_labels)
        want = net(torch.from_numpy(ex["tokens"]), torch.from_numpy(ex["t"]), null, None,
                   torch.from_numpy(ex["pick"]), guide=torch.from_numpy(ex["guide"]))  # fmt: skip
    assert np.allclose(a, want.numpy(), atol=1e-4)
    assert isinstance(LabelFreeRenderer.of(net), LabelFreeRenderer)


def test_the_guide_prior_favours_the_palette_colours_nearest_the_guide() -> None:
    from training.models.token_unet import guide_lab, guide_prior

    rgb = np.array([[10, 200, 30], [250, 250, 250], [128, 64, 0]], np.uint8)
    x = torch.from_numpy(rgb.T[None, :, :, None].astype(np.float32) / 127.5 - 1)  # (1, 3, 3, 1)
    assert np.allclose(guide_lab(x)[0, :, :, 0].T.numpy(), srgb_to_oklab(rgb), atol=1e-4)
    lab = torch.from_numpy(srgb_to_oklab(PALETTE)).float()
    d = guide_prior(x, lab)[0, :, :, 0]  # (K, 3 pixels)
    assert d.argmin(0).tolist() == [3, 1, 2]  # green, white, the red nearest the brown
    assert float(d.min()) >= -1e-6
    net = _net(prior=True)
    assert net.palette_lab is not None and torch.allclose(net.palette_lab, lab)
    with torch.no_grad():  # a guide of one colour everywhere: the prior moves that colour up
        ex = example_inputs(net.cfg, 2, 2, seed=3)
        green = torch.zeros(2, 4, 8, 8)
        green[:, :3] = x[0, :, 0, 0][None, :, None, None]
        green[:, 3] = 1.0
        with_prior = net(ex["tokens"], ex["t"], ex["label"], guide=green)
        net.backbone.out.weight[-1].fill_(0.0)
        net.backbone.out.bias[-1].fill_(-30.0)  # the prior's weight about 0
        without = net(ex["tokens"], ex["t"], ex["label"], guide=green)
    masked = ex["tokens"] == len(PALETTE) + 1
    gain = (with_prior[:, 1 + 3] - without[:, 1 + 3])[masked]
    assert float(gain.mean()) > 0


def test_loss_pick_samples_masked_pixels_and_its_weights_add_up_to_every_masked_pixel() -> None:
    torch.manual_seed(0)
    masked = torch.rand(6, 8, 8) < torch.tensor([0.0, 0.05, 0.2, 0.5, 0.9, 1.0])[:, None, None]
    pick, weight = loss_pick(masked, 16)
    assert pick.shape == (6, 16) and weight.shape == (6, 16)
    flat = masked.reshape(6, -1)
    picked_masked = flat.gather(1, pick)
    for i in range(6):
        n = int(flat[i].sum())
        assert int(picked_masked[i].sum()) == min(n, 16)  # masked pixels come first
        assert len(set(pick[i].tolist())) == 16  # without replacement
        assert float(weight[i].sum()) == pytest.approx(n)  # n_i / min(P, n_i) each
    assert (weight[~picked_masked] == 0).all()


def test_the_objective_trains_a_renderer_on_sampled_pixels_with_guides_of_the_clean_sprite() -> None:
    seen: list[torch.Tensor] = []

    def guide(rgba: torch.Tensor) -> torch.Tensor:
        seen.append(rgba)
        return rgba * 0.5  # a stand-in for the VAE: any image of the sprite

    obj = MaskedTokenObjective(
        MaskedLossConfig(label_dropout=1.0, loss_pixels=12), PALETTE, 2, len(PALETTE) + 1, guide=guide
    )
    net = _net().train()
    rng = np.random.default_rng(0)
    tokens = torch.from_numpy(rng.integers(0, len(PALETTE) + 1, (4, 8, 8)))
    x = tokens_to_rgba(tokens, PALETTE)
    assert x.shape == (4, 4, 8, 8) and float(x[:, 3][tokens == 0].max()) == -1.0
    loss, logs = obj.loss(net, x, torch.zeros(4, dtype=torch.long), 0)
    loss.backward()
    assert torch.isfinite(loss) and logs["loss"] > 0
    assert seen and seen[0].shape == (4, 4, 8, 8)  # the whole sprite, not only the picked pixels
    grads = [p.grad for p in net.parameters() if p.grad is not None]
    assert grads and any(float(g.abs().sum()) > 0 for g in grads)
    net.eval()
    full, _ = obj.loss(net, x, torch.zeros(4, dtype=torch.long), 0)  # evaluation: every masked pixel
    assert torch.isfinite(full)


@pytest.fixture(scope="module")
def vae_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny 8x8 VAE of the runtime tests as a bundle folder (encoder and decoder)."""
    import json

    from tests.pixelsprite.conftest import _export_tiny_vae, tiny_manifest

    folder = tmp_path_factory.mktemp("vae") / "tiny"
    folder.mkdir()
    files = _export_tiny_vae(folder)
    (folder / "manifest.json").write_text(json.dumps(tiny_manifest("tiny", files).to_dict()))
    return folder


def test_vae_guides_decode_a_posterior_sample_of_the_sprite(vae_bundle: Path) -> None:
    from training.vae_guide import VaeGuide

    rgba = torch.rand(3, 4, 8, 8) * 2 - 1
    mean_guide = VaeGuide(vae_bundle, noise=0.0)
    a, b = mean_guide(rgba), mean_guide(rgba)
    assert a.shape == (3, 4, 8, 8) and torch.equal(a, b) and float(a.abs().max()) <= 1.0
    noisy = VaeGuide(vae_bundle)
    assert not torch.equal(noisy(rgba), a)
    with pytest.raises(ValueError, match="guide images"):
        mean_guide(torch.zeros(1, 4, 16, 16))
