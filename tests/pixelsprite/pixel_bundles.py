"""A tiny ``pixel`` bundle for the runtime tests: a few-thousand-parameter TokenUNet exported to ONNX.

``write_pixel_model(root, name="tpixel")`` writes an 8x8 bundle with labels (a, b) and a 6-colour palette
(:data:`PALETTE`) whose random weights make varied sprites. Its defaults: ``random`` order, 4 steps, guidance 2,
temperature 1.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from pixelsprite.colorspace import srgb_to_oklab  # noqa: E402
from pixelsprite.imageio import write_png  # noqa: E402
from pixelsprite.manifest import ImageSpec, Manifest, PostprocessSpec  # noqa: E402
from pixelsprite.pixel import TokenSpec  # noqa: E402
from training.export import export_graph  # noqa: E402
from training.export_pixel import logits_graph  # noqa: E402
from training.models.token_unet import TokenUNet, TokenUNetConfig  # noqa: E402
from training.models.unet import UNetConfig  # noqa: E402

SIZE = 8
LABELS = ("a", "b")
PALETTE = np.array([[0, 0, 0], [255, 255, 255], [200, 40, 40], [40, 200, 40], [40, 40, 200], [230, 200, 60]], np.uint8)
CFG = TokenUNetConfig(
    palette_size=len(PALETTE),
    embed_dim=8,
    unet=UNetConfig(
        in_channels=8,
        image_size=SIZE,
        widths=(8, 8),
        blocks_per_level=1,
        attention=(0, 1),
        num_labels=len(LABELS),
        emb_dim=16,
        groups=4,
        time_scale=1000.0,
    ),
)


def randomised(cfg: TokenUNetConfig, palette: np.ndarray, seed: int = 0) -> TokenUNet:
    """An eval-mode TokenUNet of ``cfg`` with seeded random weights (the zero-initialised layers too, which would
    make every logit 0) and the shade kernel / palette buffers of ``palette`` (K, 3) uint8."""
    torch.manual_seed(seed)
    model = TokenUNet(cfg)
    with torch.no_grad():
        for p in model.parameters():
            if p.abs().sum() == 0 and p.ndim > 1:
                p.normal_(0, 0.3)
    model.set_palette(torch.from_numpy(srgb_to_oklab(palette)).float())
    return model.eval()


def tiny_token_net(seed: int = 0, tiling: bool = False, copy: bool = False) -> TokenUNet:
    cfg = replace(CFG, unet=replace(CFG.unet, circular=tiling), copy=copy, shades=2 if copy else 0)
    return randomised(cfg, PALETTE, seed)


def write_pixel_model(
    root: Path,
    name: str = "tpixel",
    labels: tuple[str, ...] = LABELS,
    tiling: bool = False,
    opaque: bool = False,
    picks: bool = False,
    copy: bool = False,
) -> Path:
    """``tiling``: the network wraps around (a tile model, ``tokens.tiling``); ``opaque``: ``tokens.opaque``;
    ``picks``: the graph takes ``pick`` (the logits of the pixels asked for; ``training.export_pixel.logits_graph``);
    ``copy``: the network has the copy head and a shade gate."""
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    model = tiny_token_net(tiling=tiling, copy=copy)
    if picks:
        spec = logits_graph(model, len(LABELS), folder / "logits.onnx").graph
    else:
        g = torch.Generator().manual_seed(0)
        tokens = torch.randint(0, len(PALETTE) + 2, (4, SIZE, SIZE), generator=g)
        spec = export_graph(
            model,
            {"tokens": tokens, "t": torch.tensor([0.0, 0.3, 0.7, 1.0]), "label": torch.tensor([0, 1, 2, 0])},
            ["logits"],
            folder / "logits.onnx",
        ).graph
    tok = TokenSpec(
        PALETTE,
        len(labels) if labels else None,
        "cosine",
        ("random", "confidence"),
        SIZE * SIZE,
        "random",
        4,
        2.0,
        1.0,
        {"conditioning": {"label_dropout": 0.1}},
        tiling=tiling,
        opaque=opaque,
    )
    m = Manifest(
        name=name,
        family="pixel",
        description="tiny test pixel model",
        image=ImageSpec(SIZE, SIZE),
        labels=labels,
        postprocess=PostprocessSpec(0.0, 0),
        graphs={"logits": spec},
        training={"data": [], "recipe": {}, "seconds": 0.0, "epochs": 0, "framework": "test"},
        extra={"tokens": tok.to_dict()},
    )
    (folder / "manifest.json").write_text(json.dumps(m.to_dict(), indent=2))
    (folder / "card.md").write_text(f"# {name}\n")
    write_png(folder / "samples.png", np.zeros((SIZE, SIZE, 4), np.uint8))
    return folder


def tiny_renderer_net(seed: int = 0) -> TokenUNet:
    """A tiny renderer (``guide=4``: it also sees an RGBA image of the sprite), copy head and shade gate."""
    return randomised(replace(CFG, copy=True, shades=2, guide=4), PALETTE, seed)


def write_renderer_model(root: Path, guide: Path, name: str = "trender") -> Path:
    """A renderer bundle: :func:`tiny_renderer_net` (label-free, with ``pick``) over the latent generator bundle
    folder ``guide`` (the tiny latent flow ``tflow-lat``: its graphs, sampling section and labels copied in, as
    ``training.export_pixel.renderer_stage`` does). Defaults: ``random`` order, 4 steps, guidance 1, one corrector
    round."""
    from pixelsprite.manifest import load_manifest
    from training.export_pixel import GUIDE_GRAPHS

    g = load_manifest(guide)
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    spec = logits_graph(tiny_renderer_net(), len(g.labels), folder / "logits.onnx").graph
    graphs = {"logits": spec}
    for role in ("velocity", *GUIDE_GRAPHS):
        (folder / g.graphs[role].file).write_bytes((guide / g.graphs[role].file).read_bytes())
        graphs[role] = g.graphs[role]
    tok = TokenSpec(
        PALETTE,
        len(g.labels),
        "cosine",
        ("random", "confidence"),
        SIZE * SIZE,
        "random",
        4,
        1.0,
        1.0,
        {"conditioning": {"label_dropout": 1.0}, "guide": {"family": g.family, "bundle": g.name}},
        corrector=1,
    )
    m = Manifest(
        name=name,
        family="pixel",
        description="tiny test renderer",
        image=ImageSpec(SIZE, SIZE),
        labels=g.labels,
        postprocess=PostprocessSpec(0.0, 0),
        graphs=graphs,
        training={"data": [], "recipe": {}, "seconds": 0.0, "epochs": 0, "framework": "test"},
        extra={"tokens": tok.to_dict(), "sampling": g.extra["sampling"]},
    )
    (folder / "manifest.json").write_text(json.dumps(m.to_dict(), indent=2))
    (folder / "card.md").write_text(f"# {name}\n")
    write_png(folder / "samples.png", np.zeros((SIZE, SIZE, 4), np.uint8))
    return folder
