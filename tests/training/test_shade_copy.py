"""The copy head's shade gate: "a shade of a neighbour's colour", the palette restricted to the M colours nearest to
the revealed neighbours' colours."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from pixelsprite.colorspace import srgb_to_oklab
from training.export import PARITY_ATOL, export_graph
from training.models.token_unet import (
    COPIES,
    NEIGHBOURS,
    SHADE_GATES,
    TokenUNet,
    TokenUNetConfig,
    copy_mixture,
    neighbour_sum,
    shade_rows,
)
from training.models.unet import UNetConfig

K = 6
MASK = K + 1
# a ramp of greys (tokens 1..4, darkest first) and two saturated colours far from them (tokens 5, 6)
PALETTE = np.array([[20, 20, 20], [60, 60, 60], [100, 100, 100], [140, 140, 140], [255, 0, 0], [0, 0, 255]], np.uint8)


def tiny(patch: int = 1, circular: bool = False, shades: int = 2) -> TokenUNet:
    unet = UNetConfig(
        in_channels=8, image_size=8 // patch, widths=(16,), attention=(0,), num_labels=2, groups=4, circular=circular
    )
    model = TokenUNet(TokenUNetConfig(palette_size=K, embed_dim=8, patch=patch, copy=True, shades=shades, unet=unet))
    model.set_palette(torch.from_numpy(srgb_to_oklab(PALETTE)))
    torch.nn.init.normal_(model.backbone.out.weight, std=0.5)
    return model.eval()


def shade_head(palette: torch.Tensor, s: int = 4) -> torch.Tensor:
    """Raw head output (1, 1 + K + COPIES + 1, s, s): the given palette logits, the shade gate far above the rest."""
    out = torch.zeros(1, 1 + K + COPIES + SHADE_GATES, s, s)
    out[0, 1 : 1 + K] = palette[:, None, None]
    out[:, 1 + K :] = -30.0
    out[:, 1 + K + COPIES] = 30.0
    return out


def test_the_shade_kernel_marks_the_nearest_other_colours() -> None:
    kernel = tiny().shade_kernel
    assert kernel is not None and kernel.shape == (K, K)
    assert kernel.sum(1).tolist() == [2.0] * K and not kernel.diagonal().any()  # M each, never itself
    assert kernel[1].nonzero().flatten().tolist() == [0, 2]  # mid-dark grey: the greys on either side
    assert kernel[0].nonzero().flatten().tolist() == [1, 2]  # the darkest grey: the next two greys


@pytest.mark.parametrize("wrap", [False, True])
def test_shade_support_counts_each_neighbours_kernel_row(wrap: bool) -> None:
    """The support the gate restricts to, summed by pooling each pixel's row, equals the plain count over the 8
    neighbours: for each colour c, how many revealed neighbours (off the canvas: none, or wrapped) have c among
    their shades."""
    kernel = tiny().shade_kernel
    assert kernel is not None
    gen = torch.Generator().manual_seed(3)
    tokens = torch.randint(0, K + 2, (3, 6, 6), generator=gen)  # transparent, colours and MASK
    got = neighbour_sum(shade_rows(tokens, kernel, K), wrap)
    want = torch.zeros(3, K, 6, 6)
    for b in range(3):
        for y in range(6):
            for x in range(6):
                for dy, dx in NEIGHBOURS:
                    ny, nx = y + dy, x + dx
                    if wrap:
                        ny, nx = ny % 6, nx % 6
                    elif not (0 <= ny < 6 and 0 <= nx < 6):
                        continue
                    t = int(tokens[b, ny, nx])
                    if 1 <= t <= K:
                        want[b, :, y, x] += kernel[t - 1]
    assert torch.equal(got, want)


def test_a_dominant_shade_gate_draws_the_palette_restricted_to_the_neighbours_shades() -> None:
    model = tiny()
    tokens = torch.full((1, 4, 4), MASK)
    tokens[0, 0, 1] = 2  # grey 60 (index 1): its shades are indices 0 and 2
    palette = torch.tensor([0.0, 5.0, float(np.log(3.0)), 0.0, 9.0, 9.0])  # index 2 three times index 0's odds
    p = copy_mixture(shade_head(palette), tokens, K, wrap=False, shade_kernel=model.shade_kernel)[0, 1:].exp()
    assert torch.allclose(p[:, 0, 0], torch.tensor([0.25, 0.0, 0.75, 0.0, 0.0, 0.0]), atol=1e-4)
    # with (1, 2) grey 140 (index 3, shades: grey 100 and, nearer in OKLab than grey 60, the red), pixel (0, 2)
    # sees two coloured neighbours: grey 100 is a shade of both and counts twice
    assert model.shade_kernel is not None and model.shade_kernel[3].nonzero().flatten().tolist() == [2, 4]
    tokens[0, 1, 2] = 4
    p = copy_mixture(shade_head(torch.zeros(K)), tokens, K, wrap=False, shade_kernel=model.shade_kernel)[0, 1:].exp()
    assert torch.allclose(p[:, 0, 2], torch.tensor([0.25, 0.0, 0.5, 0.0, 0.25, 0.0]), atol=1e-4)
    # pixel (3, 3): no revealed neighbour, so the gate gets no mass and the palette takes it all
    assert torch.allclose(p[:, 3, 3], torch.full((K,), 1.0 / K), atol=1e-4)


@pytest.mark.parametrize("patch,circular", [(1, False), (2, True)])
def test_colour_channels_stay_normalised(patch: int, circular: bool) -> None:
    model = tiny(patch, circular)
    tokens = torch.randint(0, K + 2, (3, 8, 8))
    with torch.no_grad():
        out = model(tokens, torch.rand(3), torch.tensor([0, 1, 0]))
    total = out[:, 1:].exp().sum(1)
    assert out.shape == (3, 1 + K, 8, 8) and torch.allclose(total, torch.ones_like(total), atol=1e-5)


def test_export_parity_and_the_table_travels_with_the_weights(tmp_path: Path) -> None:
    model = tiny(2, True)
    inputs = {"tokens": torch.randint(0, K + 2, (3, 8, 8)), "t": torch.rand(3), "label": torch.tensor([0, 1, 0])}
    result = export_graph(model, inputs, ["logits"], tmp_path / "logits.onnx")
    assert result.parity_max_abs_diff <= PARITY_ATOL
    fresh = TokenUNet(model.cfg)
    fresh.load_state_dict(model.state_dict())
    assert fresh.shade_kernel is not None and model.shade_kernel is not None
    assert torch.equal(fresh.shade_kernel, model.shade_kernel)


def test_config_round_trip_and_limits() -> None:
    cfg = tiny().cfg
    assert TokenUNetConfig.from_dict(cfg.to_dict()) == cfg
    old = {key: value for key, value in cfg.to_dict().items() if key != "shades"}  # a checkpoint from before shades
    assert TokenUNetConfig.from_dict(old).shades == 0
    with pytest.raises(ValueError, match="copy"):
        TokenUNet(replace(cfg, copy=False))
    with pytest.raises(ValueError, match="shades"):
        TokenUNet(replace(cfg, shades=K))
    with pytest.raises(ValueError, match="palette"):
        tiny().set_palette(torch.zeros(K + 1, 3))


def test_init_from_a_copy_run_grows_the_shade_gates_and_keeps_the_table(tmp_path: Path) -> None:
    from training.train_pixel import init_weights

    copy_only = TokenUNet(replace(tiny().cfg, shades=0))
    torch.nn.init.normal_(copy_only.backbone.out.weight, std=0.5)
    torch.save({"ema": copy_only.state_dict()}, tmp_path / "last.pt")
    grown = tiny()
    table = grown.shade_kernel.clone() if grown.shade_kernel is not None else None
    init_weights(grown, str(tmp_path / "last.pt"))
    rows = copy_only.backbone.out.weight.shape[0]
    assert grown.backbone.out.weight.shape[0] == rows + SHADE_GATES
    assert torch.equal(grown.backbone.out.weight[:rows], copy_only.backbone.out.weight)
    assert not grown.backbone.out.weight[rows:].any()
    assert table is not None and torch.equal(grown.shade_kernel, table)


def test_the_card_counts_every_run_of_a_fine_tune_chain(tmp_path: Path) -> None:
    from training.export_pixel import init_from

    def run(name: str, seconds: float, base: str = "") -> str:
        path = tmp_path / f"{name}.pt"
        torch.save({"epoch": 3, "elapsed_s": seconds, "model_config": {"run": {"init_from": base}}}, path)
        return str(path)

    first = run("base", 600.0)
    second = run("copy", 300.0, first)
    assert init_from(first) == {"checkpoint": first, "epochs": 3, "seconds": 600.0, "chain_seconds": 600.0}
    assert init_from(second)["seconds"] == 300.0 and init_from(second)["chain_seconds"] == 900.0


@pytest.mark.parametrize("patch", [1, 2])
def test_an_upsampler_grows_its_shade_gate_between_the_copies_and_the_half_size_gates(
    tmp_path: Path, patch: int
) -> None:
    """The head's layout is opacity, palette, copies, shade, half-size copies: the old half-size rows move past
    the new shade row (appending it at the end would feed them to the wrong gates)."""
    from training.models.token_unet import COPIES, LOWRES_AROUND
    from training.models.unet import UNetConfig
    from training.train_pixel import init_weights

    unet = UNetConfig(in_channels=8, image_size=8 // patch, widths=(8, 8), attention=(0, 0), emb_dim=16, groups=4)
    cfg = TokenUNetConfig(palette_size=K, embed_dim=8, patch=patch, copy=True, lowres=True, unet=unet)
    old = TokenUNet(cfg)
    torch.nn.init.normal_(old.backbone.out.weight, std=0.5)
    torch.nn.init.normal_(old.backbone.out.bias, std=0.5)
    torch.save({"ema": old.state_dict()}, tmp_path / "last.pt")
    grown = TokenUNet(replace(cfg, shades=4))
    init_weights(grown, str(tmp_path / "last.pt"))
    p2, before = patch * patch, (1 + K + COPIES) * patch * patch
    for name in ("weight", "bias"):
        a, b = getattr(old.backbone.out, name), getattr(grown.backbone.out, name)
        assert b.shape[0] == a.shape[0] + SHADE_GATES * p2
        assert torch.equal(b[:before], a[:before])
        assert not b[before : before + SHADE_GATES * p2].any()
        assert torch.equal(b[before + SHADE_GATES * p2 :], a[before:])
        assert a[before:].shape[0] == len(LOWRES_AROUND) * p2
