"""The adversarial decoder trainer (training/train_gan_decoder.py) on a tiny VAE bundle built here: a few steps
on drawn sprites, resume, export into a bundle copy (same decoder I/O, parity), and the reconstruction check."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from pixelsprite.manifest import ImageSpec, LatentSpec, Manifest, PostprocessSpec, save_manifest  # noqa: E402
from pixelsprite.registry import Registry  # noqa: E402
from training import distributed  # noqa: E402
from training.export import export_graph  # noqa: E402
from training.models.vae import VAE, VAEConfig  # noqa: E402
from training.train_gan_decoder import (  # noqa: E402
    DecoderConfig,
    DiscriminatorConfig,
    GanLossConfig,
    GanTrainConfig,
    PatchDiscriminator,
    encode,
    export_bundle,
    load_source,
    premultiply,
    reconstruction_floor,
    train,
)

from .drawing import draw_sprites  # noqa: E402

TINY = VAEConfig(image_size=16, widths=(8, 8, 8), blocks_per_level=1, latent_channels=2)
DEC = DecoderConfig(16, (8, 8, 8), 1, 2)
DISC = DiscriminatorConfig(channels=8, levels=2)
LOSS = GanLossConfig(disc_start=3)


def _source_bundle(folder):
    """A 'vae' bundle folder ``folder`` holding a random tiny VAE's encoder and decoder graphs."""
    torch.manual_seed(0)
    vae = VAE(TINY).eval()
    folder.mkdir(parents=True)
    x = torch.rand(4, 4, 16, 16) * 2 - 1
    enc = export_graph(vae.encoder, {"image": x}, ["mean", "logvar"], folder / "encoder.onnx").graph
    dec = export_graph(vae.decoder, {"z": torch.randn(4, 2, 4, 4)}, ["image"], folder / "decoder.onnx").graph
    save_manifest(
        Manifest(
            name="tinysrc",
            family="vae",
            description="tiny source VAE",
            image=ImageSpec(16, 16),
            latent=LatentSpec((2, 4, 4)),
            labels=["diamond", "square"],
            postprocess=PostprocessSpec(alpha_threshold=0.0, max_colors=16, color_tolerance=0.01),
            graphs={"encoder": enc, "decoder": dec},
            training={"data": [], "recipe": {}, "dataset": {"builder": "tiny16"}},
        ),
        folder,
    )
    return folder


def _cfg(steps: int) -> GanTrainConfig:
    return GanTrainConfig(steps=steps, batch_size=8, warmup_steps=2, time_budget_s=0, log_every=3, eval_every=3)


def test_patch_discriminator_and_premultiply():
    d = PatchDiscriminator(DISC)
    assert d(torch.zeros(2, 4, 16, 16)).shape == (2, 1, 4, 4)  # one logit per patch
    real = torch.tensor([-1.0, -1.0, -1.0, -1.0, 0.2, 0.4, -0.6, 1.0]).reshape(2, 4, 1, 1)
    assert torch.allclose(premultiply(real), real)  # hard-alpha sprites are unchanged
    hidden = premultiply(torch.tensor([0.9, 0.1, 0.5, -1.0]).reshape(1, 4, 1, 1))
    assert torch.allclose(hidden, -torch.ones(1, 4, 1, 1))  # colour under transparency is invisible to D


def test_train_resume_export_parity(tmp_path):
    source = load_source(_source_bundle(tmp_path / "src" / "tinysrc"))
    images = draw_sprites(24, 16)
    labels = np.arange(24) % 2
    train_set = encode(source, images[:20], labels[:20], flips=True)
    held_out = encode(source, images[20:], labels[20:])
    assert train_set.mean.shape == (40, 2, 4, 4) and train_set.logvar.shape == (40, 2, 4, 4)
    assert np.array_equal(train_set.images[20:], images[:20, :, ::-1])  # the mirror images, encoded themselves

    rt = distributed.setup("cpu")
    out = tmp_path / "run"
    ckpt = train(train_set, held_out, out, DEC, DISC, LOSS, _cfg(6), rt)
    state = torch.load(ckpt, weights_only=False)
    assert state["step"] == 6 and (out / "warmup.pt").exists()
    assert torch.load(out / "warmup.pt", weights_only=False)["step"] == LOSS.disc_start
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert "d_loss" not in rows[0] and "d_loss" in rows[-1] and rows[-1]["lam"] > 0  # adversarial after warm-up
    assert "val_step_distance" in rows[-1]

    train(train_set, held_out, out, DEC, DISC, LOSS, _cfg(8), rt)  # resumes at step 6
    assert torch.load(ckpt, weights_only=False)["step"] == 8

    folder = export_bundle(ckpt, source, train_set, tmp_path / "bundles" / "tinygan", "tinygan")
    new = Registry([folder.parent], builtin=False, env=False).load("tinygan")  # hashes and I/O checked on load
    assert new.manifest.graphs["decoder"].inputs == source.manifest.graphs["decoder"].inputs
    assert new.manifest.graphs["decoder"].outputs == source.manifest.graphs["decoder"].outputs
    assert new.manifest.graphs["encoder"] == source.manifest.graphs["encoder"]  # the frozen encoder, as is
    assert new.manifest.training["decoder"]["parity_max_abs_diff"] <= 1e-4
    assert new.manifest.training["decoder"]["steps"] == 8

    floor = reconstruction_floor(source, new, held_out)
    assert set(floor) == {"tinysrc", "tinygan"}
    for row in floor.values():
        assert 0.0 <= row["step_distance"] <= 1.0 and 0.0 <= row["alpha_err"] <= 1.0
