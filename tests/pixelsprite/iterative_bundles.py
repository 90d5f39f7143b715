"""Tiny diffusion and flow bundles for the runtime tests: a few-thousand-parameter U-Net exported to ONNX.

``write_iterative_models(root, vae_files)`` writes into ``root``:

* ``tdiff``: pixel-space diffusion, 8x8, labels (a, b), linear schedule T=40, ε-prediction, x̂_0 clipped;
* ``tdiff-v``: the same network read as a cosine-schedule v-prediction model;
* ``tdiff-u``: unconditional (no labels);
* ``tflow``: pixel-space flow, linear path, labels (a, b);
* ``tflow-lat``: flow in the latent space (4, 2, 2) of the tiny VAE of ``conftest.py`` (its encoder/decoder).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from pixelsprite.imageio import write_png  # noqa: E402
from pixelsprite.manifest import GraphSpec, ImageSpec, Manifest, PostprocessSpec, TensorSpec, sha256_file  # noqa: E402
from pixelsprite.manifest_sections import (  # noqa: E402
    Conditioning,
    LatentNorm,
    SamplerDefaults,
    SamplingSpec,
    ScheduleSpec,
)
from training.export import export_graph  # noqa: E402
from training.models.unet import UNet, UNetConfig  # noqa: E402

SIZE = 8
LABELS = ("a", "b")
PIXEL_CFG = UNetConfig(
    in_channels=4,
    image_size=SIZE,
    widths=(8, 8),
    blocks_per_level=1,
    attention=(0, 1),
    num_labels=2,
    emb_dim=16,
    groups=4,
)
LATENT_CFG = UNetConfig(
    in_channels=4,
    image_size=2,
    widths=(8,),
    blocks_per_level=1,
    attention=(0,),
    num_labels=2,
    emb_dim=16,
    groups=4,
    time_scale=1000.0,
)


def _net(cfg: UNetConfig, seed: int) -> UNet:
    torch.manual_seed(seed)
    model = UNet(cfg)
    with torch.no_grad():  # the zero-initialised output layers would make every prediction 0
        for p in model.parameters():
            if p.abs().sum() == 0 and p.ndim > 1:
                p.normal_(0, 0.05)
        model.out.weight.normal_(0, 0.05)
    return model.eval()


def _export(model: UNet, path: Path, output: str, t_max: float) -> GraphSpec:
    cfg = model.cfg
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, cfg.in_channels, cfg.image_size, cfg.image_size, generator=g)
    t = torch.tensor([0.0, 0.3, 0.7, 1.0]) * t_max
    label = torch.tensor([0, 1, cfg.num_labels, 0])
    return export_graph(model, {"x": x, "t": t, "label": label}, [output], path).graph


def _write(
    root: Path,
    name: str,
    family: str,
    graphs: dict[str, tuple[Path, GraphSpec]],
    sampling: SamplingSpec,
    labels: tuple[str, ...],
    max_colors: int = 8,
) -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    for src, spec in graphs.values():
        shutil.copyfile(src, folder / spec.file)
    m = Manifest(
        name=name,
        family=family,
        description=f"tiny test {family}",
        image=ImageSpec(SIZE, SIZE),
        labels=labels,
        postprocess=PostprocessSpec(0.0, max_colors, 0.0, 0.0),
        graphs={role: spec for role, (_, spec) in graphs.items()},
        training={"data": [], "recipe": {}, "seconds": 0.0, "epochs": 0, "framework": "test"},
        extra={SamplingSpec.KEY: sampling.to_dict()},
    )
    (folder / "manifest.json").write_text(json.dumps(m.to_dict(), indent=2))
    (folder / "card.md").write_text(f"# {name}\n")
    write_png(folder / "samples.png", np.zeros((SIZE, SIZE, 4), np.uint8))
    return folder


def diffusion_sampling(labels: tuple[str, ...], schedule: ScheduleSpec, prediction: str = "eps") -> SamplingSpec:
    return SamplingSpec(
        space="pixel",
        shape=(4, SIZE, SIZE),
        prediction=prediction,
        time_input="index",
        schedule=schedule,
        clip_denoised=1.0,
        conditioning=Conditioning(len(labels) if labels else None, 0.1, {lab: 10 for lab in labels}),
        solvers=("ddpm", "ddim"),
        defaults=SamplerDefaults("ddim", 5, 2.0),
        max_steps=schedule.T,
    )


def flow_sampling(space: str = "pixel", shape: tuple[int, ...] = (4, SIZE, SIZE)) -> SamplingSpec:
    return SamplingSpec(
        space=space,
        shape=shape,
        prediction="velocity",
        time_input="t",
        path="linear",
        conditioning=Conditioning(2, 0.1, {"a": 10, "b": 10}),
        solvers=("euler", "midpoint", "heun"),
        defaults=SamplerDefaults("heun", 4, 2.0),
        max_steps=1000,
        latent=LatentNorm((0.1, -0.1, 0.0, 0.2), (1.0, 0.5, 2.0, 1.0)) if space == "latent" else None,
    )


def write_iterative_models(root: Path, vae_files: dict[str, Path]) -> Path:
    work = root / "_onnx"
    work.mkdir(parents=True, exist_ok=True)
    linear = ScheduleSpec("linear", 40, {"beta_start": 1e-3, "beta_end": 0.2})
    cosine = ScheduleSpec("cosine", 40, {"s": 0.008, "max_beta": 0.999})
    den = _export(_net(PIXEL_CFG, 0), work / "denoiser.onnx", "eps", 39.0)
    _write(
        root,
        "tdiff",
        "diffusion",
        {"denoiser": (work / "denoiser.onnx", den)},
        diffusion_sampling(LABELS, linear),
        LABELS,
    )
    den_v = _export(_net(PIXEL_CFG, 0), work / "denoiser_v.onnx", "v", 39.0)
    den_v = GraphSpec("denoiser.onnx", den_v.sha256, den_v.inputs, den_v.outputs, den_v.opset)
    _write(
        root,
        "tdiff-v",
        "diffusion",
        {"denoiser": (work / "denoiser_v.onnx", den_v)},
        diffusion_sampling(LABELS, cosine, "v"),
        LABELS,
    )
    den_u = _export(_net(PIXEL_CFG, 1), work / "denoiser_u.onnx", "eps", 39.0)
    den_u = GraphSpec("denoiser.onnx", den_u.sha256, den_u.inputs, den_u.outputs, den_u.opset)
    _write(
        root,
        "tdiff-u",
        "diffusion",
        {"denoiser": (work / "denoiser_u.onnx", den_u)},
        diffusion_sampling((), linear),
        (),
    )
    vel = _export(_net(PIXEL_CFG, 2), work / "velocity.onnx", "velocity", 1.0)
    _write(root, "tflow", "flow", {"velocity": (work / "velocity.onnx", vel)}, flow_sampling(), LABELS)
    vel_l = _export(_net(LATENT_CFG, 3), work / "velocity_lat.onnx", "velocity", 1.0)
    vel_l = GraphSpec("velocity.onnx", vel_l.sha256, vel_l.inputs, vel_l.outputs, vel_l.opset)
    img = TensorSpec("image", "float32", ("batch", 4, SIZE, SIZE))
    lat = ("batch", 4, 2, 2)
    enc = GraphSpec(
        "encoder.onnx",
        sha256_file(vae_files["encoder"]),
        [img],
        [TensorSpec("mean", "float32", lat), TensorSpec("logvar", "float32", lat)],
    )
    dec = GraphSpec("decoder.onnx", sha256_file(vae_files["decoder"]), [TensorSpec("z", "float32", lat)], [img])
    _write(
        root,
        "tflow-lat",
        "flow",
        {
            "velocity": (work / "velocity_lat.onnx", vel_l),
            "encoder": (vae_files["encoder"], enc),
            "decoder": (vae_files["decoder"], dec),
        },
        flow_sampling("latent", (4, 2, 2)),
        LABELS,
    )
    shutil.rmtree(work)
    return root
