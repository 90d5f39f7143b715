"""A pixel cascade: an upsampler (``TokenUNetConfig.lowres``) draws every pixel given the sprite at half size, a
first-stage bundle draws that half-size sprite. The torch reduction matches the runtime's, the copy head's nine
half-size sources copy exactly, and a tiny base + upsampler trained and exported here answer generate,
variations, inpaint and upsample through ``pixelsprite.api`` with kept pixels exact and seeds reproducible."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pixelsprite import api, families
from pixelsprite.datasets.reduce import reduce_2x
from pixelsprite.errors import InvalidRequest
from pixelsprite.manifest import load_manifest
from pixelsprite.registry import Registry
from training.data.builders import load_dataset
from training.export import PARITY_ATOL
from training.export_pixel import export_pixel_bundle
from training.models.token_unet import LOWRES_AROUND, TokenUNet, TokenUNetConfig, copy_mixture, reduce_tokens
from training.models.unet import UNetConfig
from training.objectives_masked import token_luma
from training.token_palette import from_tokens

from .test_diffusion_training import write_folder

PALETTE = np.array([[20, 20, 20], [200, 40, 40], [40, 200, 40], [250, 250, 250], [90, 90, 200]], np.uint8)


def test_reduce_tokens_matches_the_runtime_reduction() -> None:
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, len(PALETTE) + 1, (64, 8, 8))  # ties of every kind, transparent blocks
    want = np.stack([reduce_2x(img) for img in from_tokens(tokens, PALETTE)])
    got = reduce_tokens(torch.from_numpy(tokens), token_luma(PALETTE)).numpy()
    assert (from_tokens(got, PALETTE) == want).all()


def test_half_size_sources_copy_exactly_and_skip_transparent_parents() -> None:
    k, s = len(PALETTE), 4
    tokens = torch.full((1, s, s), k + 1)  # all masked: only the half-size sources can be copied
    lowres = torch.tensor([[[2, 0], [5, 3]]])
    out = torch.full((1, 1 + k + 9 + len(LOWRES_AROUND), s, s), -50.0)
    out[:, 1 + k + 9] = 50.0  # the gate "the parent block's colour" wins everywhere
    logp = copy_mixture(out, tokens, k, False, None, lowres)[:, 1:].exp()
    parent = lowres.repeat_interleave(2, 1).repeat_interleave(2, 2)[0]
    for y in range(s):
        for x in range(s):
            p = int(parent[y, x])
            if p:
                assert logp[0, p - 1, y, x] > 0.999
            else:  # a transparent parent is nothing to copy: the mass falls back on the palette softmax
                assert logp[0, :, y, x].max() < 0.5
    assert torch.allclose(logp.sum(1), torch.ones(1, s, s), atol=1e-5)


def test_an_upsampler_needs_lowres_copy_and_patch_1_or_2() -> None:
    unet = UNetConfig(in_channels=8, image_size=4, widths=(8, 8), attention=(0, 0), emb_dim=16, groups=4)
    with pytest.raises(ValueError, match="patch 1 or 2"):
        TokenUNet(TokenUNetConfig(palette_size=5, embed_dim=8, patch=2, copy=False, lowres=True, unet=unet))
    with pytest.raises(ValueError, match="patch 1 or 2"):
        TokenUNet(TokenUNetConfig(palette_size=5, embed_dim=8, patch=4, copy=True, lowres=True, unet=unet))
    model = TokenUNet(TokenUNetConfig(palette_size=5, embed_dim=8, patch=2, copy=True, lowres=True, unet=unet))
    tokens, t, label = torch.zeros(2, 8, 8, dtype=torch.long), torch.rand(2), torch.zeros(2, dtype=torch.long)
    with pytest.raises(ValueError, match="lowres"):
        model(tokens, t, label)
    assert model(tokens, t, label, torch.zeros(2, 4, 4, dtype=torch.long)).shape == (2, 6, 8, 8)


def test_a_full_resolution_upsampler_sees_each_half_size_block_under_its_pixels() -> None:
    """patch 1: the half-size tokens are repeated over their 2x2 blocks and feed the backbone, not only the gates."""
    torch.manual_seed(0)
    unet = UNetConfig(in_channels=8, image_size=8, widths=(8, 8), attention=(0, 0), emb_dim=16, groups=4)
    model = TokenUNet(TokenUNetConfig(palette_size=5, embed_dim=8, patch=1, copy=True, lowres=True, unet=unet))
    for param in model.parameters():  # the zero-initialised head would hide the backbone
        torch.nn.init.normal_(param, std=0.3)
    mask = torch.full((1, 8, 8), model.cfg.mask_token, dtype=torch.long)
    t, label = torch.ones(1), torch.zeros(1, dtype=torch.long)
    flat = torch.ones(1, 4, 4, dtype=torch.long)
    one_block = flat.clone()
    one_block[0, 0, 0] = 2  # a transparent-free change in one half-size block, far from pixel (7, 7)'s parents
    a, b = model(mask, t, label, flat), model(mask, t, label, one_block)
    assert a.shape == (1, 6, 8, 8)
    assert not torch.allclose(a[0, 0], b[0, 0])  # the opacity logit comes from the backbone alone: it saw lowres


TINY = ["--embed-dim", "8", "--widths", "8", "8", "--blocks-per-level", "1", "--attention", "0", "1", "--emb-dim",
        "16", "--groups", "4", "--epochs", "1", "--batch-size", "16", "--sample-count", "4", "--warmup-steps", "2",
        "--threads", "1", "--palette-size", "16"]  # fmt: skip


@pytest.fixture(scope="module", params=["2", "1"], ids=["patch2", "patch1"])
def cascade(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, tiny_set) -> Registry:
    """A tiny 8x8 base and a 16x16 upsampler over it (on 2x2 cells or at full resolution), trained one epoch each
    and exported as bundle ``tc``."""
    from training import train_pixel

    tmp = tmp_path_factory.mktemp("cascade")
    folder = write_folder(tmp / "sprites", tiny_set.images, tiny_set.labels, tiny_set.label_names)
    dataset = f"folder:{folder}"
    train_pixel.main(["--dataset", dataset, "--out", str(tmp / "base"), "--name", "tb", "--sprite-size", "8", *TINY])
    export_pixel_bundle(
        tmp / "base" / "last.pt", load_dataset(dataset, "", 8), tmp / "models" / "tb", "tb",
        eval_count=8, sweep_count=4, sweep=[("random", 2, 1.0, 2.0, 0)],
    )  # fmt: skip
    train_pixel.main(
        ["--dataset", dataset, "--out", str(tmp / "up"), "--name", "tc", "--sprite-size", "16",
         "--patch", request.param, "--copy", "true", "--lowres", "true", "--palette-from", str(tmp / "base"), *TINY]
    )  # fmt: skip
    export_pixel_bundle(
        tmp / "up" / "last.pt", load_dataset(dataset, "", 16), tmp / "models" / "tc", "tc",
        eval_count=8, sweep_count=4, sweep=[("random", 2, 1.0, 1.0, 0), ("random", 3, 1.0, 2.0, 1)],
        base=tmp / "models" / "tb",
    )  # fmt: skip
    return Registry([tmp / "models"], builtin=False, env=False)


def test_a_cascade_exports_with_its_first_stage(cascade: Registry) -> None:
    m = load_manifest(cascade.info("tc").path)
    assert set(m.graphs) == {"logits", "base"} and m.metrics["parity_max_abs_diff"]["logits"] <= PARITY_ATOL
    first = m.extra["tokens"]["base"]
    assert first["size"] == 8 and first["bundle"] == "tb"
    assert first["defaults"] == load_manifest(cascade.info("tb").path).extra["tokens"]["defaults"]
    assert (cascade.info("tc").path / "base.onnx").read_bytes() == (
        cascade.info("tb").path / "logits.onnx"
    ).read_bytes()
    assert "Cascade" in m.description


def test_a_cascade_generates_reproducibly_and_reports_every_step(cascade: Registry) -> None:
    seen: list[tuple[int, int]] = []
    a = api.generate("tc", 3, seed=5, label="square", registry=cascade, progress=lambda d, t: seen.append((d, t)))
    b = api.generate("tc", 1, seed=6, label="square", registry=cascade).sprites
    assert a.sprites.shape == (3, 16, 16, 4) and a.sprites[1].tobytes() == b[0].tobytes()
    assert set(np.unique(a.sprites[..., 3])) <= {0, 255}
    model = families.load(cascade.load("tc"))
    s = model.settings("square", None, None, None)
    first = model.base_settings(s)
    total = first.steps + first.corrector + s.steps + s.corrector
    assert [d for d, _ in seen] == list(range(1, total + 1)) and {t for _, t in seen} == {total}
    # the same first-stage sprites, upsampled alone, give the same sprites
    small = model.base.generate([5, 6, 7], first)
    assert (model.upsample(small, [5, 6, 7], s) == a.sprites).all()


def test_a_cascade_inpaints_and_varies_keeping_what_it_must(cascade: Registry, tiny_set) -> None:
    sprite = tiny_set.images[3]
    mask = np.zeros((16, 16), bool)
    mask[4:12, 8:] = True
    out = api.inpaint("tc", sprite, mask, 3, seed=1, label="square", registry=cascade).sprites
    assert out.shape == (3, 16, 16, 4) and (out[:, ~mask] == sprite[~mask]).all()
    assert (api.variations("tc", sprite, 2, seed=1, strength=0.0, registry=cascade).sprites == sprite).all()
    seen: list[tuple[int, int]] = []
    v = api.variations("tc", sprite, 2, seed=1, strength=0.3, registry=cascade).sprites
    again = api.variations(
        "tc", sprite, 2, seed=1, strength=0.3, registry=cascade, progress=lambda d, t: seen.append((d, t))
    ).sprites
    assert v.shape == (2, 16, 16, 4) and (v == again).all()
    assert [d for d, _ in seen] == list(range(1, seen[-1][1] + 1)) and len({t for _, t in seen}) == 1


def test_a_cascade_upsample_names_the_size_it_needs(cascade: Registry) -> None:
    model = families.load(cascade.load("tc"))
    s = model.settings(None, None, None, None)
    with pytest.raises(InvalidRequest, match="8x8"):
        model.upsample(np.zeros((1, 16, 16, 4), np.uint8), [0], s)


def test_a_single_stage_model_is_no_cascade() -> None:
    model = families.load(api.default_registry().load("pixel16"))
    assert model.base is None
    with pytest.raises(TypeError, match="not a cascade"):
        model.base_settings(model.settings(None, None, None, None))


def test_palette_from_copies_the_first_stage_palette(cascade: Registry) -> None:
    up = load_manifest(cascade.info("tc").path).extra["tokens"]["palette"]
    assert up == load_manifest(cascade.info("tb").path).extra["tokens"]["palette"]


def test_lowres_noise_replaces_only_opaque_half_size_pixels() -> None:
    from training.objectives_masked import corrupt_lowres

    torch.manual_seed(0)
    lowres = torch.randint(0, 6, (8, 10, 10))
    out = corrupt_lowres(lowres, 0.5, 5)
    assert ((out == 0) == (lowres == 0)).all()  # transparency is never touched
    changed = (out != lowres).float().sum() / (lowres > 0).float().sum()
    assert 0.25 < changed < 0.5  # half are redrawn, a fifth of those as the same colour
    assert (corrupt_lowres(lowres, 0.0, 5) == lowres).all()
