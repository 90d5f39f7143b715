"""The token U-Net's copy head: a colour may be copied exactly from a neighbour or from the sprite's own colours."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from training.export import PARITY_ATOL, export_graph
from training.models.token_unet import COPIES, NEIGHBOURS, TokenUNet, TokenUNetConfig, copy_mixture
from training.models.unet import UNetConfig
from training.objectives_masked import MaskedLossConfig, MaskedTokenObjective

K = 6
MASK = K + 1


def tiny(patch: int, circular: bool) -> TokenUNet:
    unet = UNetConfig(
        in_channels=8, image_size=8 // patch, widths=(16,), attention=(0,), num_labels=2, groups=4, circular=circular
    )
    model = TokenUNet(TokenUNetConfig(palette_size=K, embed_dim=8, patch=patch, copy=True, unet=unet))
    torch.nn.init.normal_(model.backbone.out.weight, std=0.5)  # the head starts at zero: give it something to mix
    return model.eval()


def head(gate: int, b: int = 1, s: int = 4) -> torch.Tensor:
    """Raw head output (b, 1 + K + COPIES, s, s): flat palette logits; one copy gate (index into NEIGHBOURS, or
    len(NEIGHBOURS) for the sprite's colours) far above the palette, the other gates far below."""
    out = torch.zeros(b, 1 + K + COPIES, s, s)
    out[:, 1 + K :] = -30.0
    out[:, 1 + K + gate] = 30.0
    return out


@pytest.mark.parametrize("patch,circular", [(1, False), (2, False), (2, True)])
def test_colour_channels_are_normalised_log_probabilities(patch: int, circular: bool) -> None:
    model = tiny(patch, circular)
    tokens = torch.randint(0, K + 2, (3, 8, 8))
    with torch.no_grad():
        out = model(tokens, torch.rand(3), torch.tensor([0, 1, 2]))
    assert out.shape == (3, 1 + K, 8, 8)
    total = out[:, 1:].exp().sum(1)
    assert torch.allclose(total, torch.ones_like(total), atol=1e-5)


def test_a_dominant_gate_copies_its_neighbour_exactly() -> None:
    right = NEIGHBOURS.index((0, 1))
    tokens = torch.tensor([[[1, 2, 3, 4], [5, 6, 0, MASK], [1, 1, 1, 1], [2, 2, 2, 2]]])
    logp = copy_mixture(head(right), tokens, K, wrap=False)[0, 1:]
    p = logp.exp()
    # pixel (0, 0): its right neighbour is colour 2 -> token 2 is channel 1
    assert p[1, 0, 0] > 0.999
    # pixel (1, 1): right neighbour transparent; (1, 2): right neighbour masked; (0, 3): off the canvas.
    # Nothing to copy: the gate gets no mass and the palette's uniform logits take it all.
    for y, x in ((1, 1), (1, 2), (0, 3)):
        assert torch.allclose(p[:, y, x], torch.full((K,), 1.0 / K), atol=1e-5)


def test_on_a_torus_the_right_neighbour_of_the_last_column_is_the_first() -> None:
    right = NEIGHBOURS.index((0, 1))
    tokens = torch.tensor([[[3, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1], [4, 1, 1, 1]]])
    p = copy_mixture(head(right), tokens, K, wrap=True)[0, 1:].exp()
    assert p[2, 0, 3] > 0.999 and p[3, 3, 3] > 0.999  # colours 3 and 4 wrap around from column 0


def test_the_sprite_gate_draws_from_the_colours_already_shown() -> None:
    tokens = torch.full((1, 4, 4), MASK)
    tokens[0, 0, :3] = torch.tensor([2, 2, 5])
    tokens[0, 3, 3] = 0  # transparent pixels are not colours
    p = copy_mixture(head(len(NEIGHBOURS)), tokens, K, wrap=False)[0, 1:].exp()
    want = torch.zeros(K)
    want[1], want[4] = 2 / 3, 1 / 3
    assert torch.allclose(p[:, 2, 2], want, atol=1e-4)
    empty = copy_mixture(head(len(NEIGHBOURS)), torch.full((1, 4, 4), MASK), K, wrap=False)[0, 1:].exp()
    assert torch.allclose(empty[:, 2, 2], torch.full((K,), 1.0 / K), atol=1e-5)  # nothing shown yet


@pytest.mark.parametrize("circular", [False, True])
def test_export_parity(tmp_path: Path, circular: bool) -> None:
    model = tiny(2, circular)
    inputs = {"tokens": torch.randint(0, K + 2, (3, 8, 8)), "t": torch.rand(3), "label": torch.tensor([0, 1, 2])}
    result = export_graph(model, inputs, ["logits"], tmp_path / "logits.onnx")
    assert result.parity_max_abs_diff <= PARITY_ATOL


def test_the_masked_objective_trains_through_the_mixture() -> None:
    torch.manual_seed(0)
    model = tiny(1, False).train()
    palette = np.array([[i * 40, 255 - i * 40, 7 * i] for i in range(K)], np.uint8)
    objective = MaskedTokenObjective(MaskedLossConfig(max_shift=0), palette, 2, MASK)
    tok = torch.randint(0, K + 1, (4, 8, 8))
    rgb = torch.from_numpy(palette.astype(np.float32))[(tok - 1).clamp(min=0)].permute(0, 3, 1, 2) / 127.5 - 1
    x = torch.cat([rgb, (tok > 0).float()[:, None] * 2 - 1], 1)
    loss, stats = objective.loss(model, x, torch.tensor([0, 1, 0, 1]), 0)
    loss.backward()
    gate_grad = model.backbone.out.weight.grad.view(1 + K + COPIES, -1)[1 + K :]
    assert torch.isfinite(loss) and 0 <= stats["colour_acc"] <= 1
    assert float(gate_grad.abs().sum()) > 0  # the copy gates learn


def test_init_from_grows_the_head_and_keeps_everything_else(tmp_path: Path) -> None:
    from dataclasses import replace

    from training.train_pixel import init_weights

    plain = TokenUNet(replace(tiny(2, False).cfg, copy=False))
    torch.nn.init.normal_(plain.backbone.out.weight, std=0.5)
    torch.save({"ema": plain.state_dict()}, tmp_path / "last.pt")
    grown = TokenUNet(replace(plain.cfg, copy=True))
    init_weights(grown, str(tmp_path / "last.pt"))
    w_old, w_new = plain.backbone.out.weight, grown.backbone.out.weight
    rows = w_old.shape[0]
    assert w_new.shape[0] == rows + COPIES * 4  # patch 2: every channel has 4 sub-pixels
    assert torch.equal(w_new[:rows], w_old) and not w_new[rows:].any()
    assert torch.equal(grown.embed.weight, plain.embed.weight)
    with pytest.raises(SystemExit, match="shape"):
        init_weights(TokenUNet(replace(plain.cfg, embed_dim=4)), str(tmp_path / "last.pt"))
