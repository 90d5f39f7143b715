"""Train a pixel-token generator (family ``pixel``): every pixel is a palette colour or transparent, and a masked
discrete diffusion model fills the canvas. No decoder, no blur, exact alpha.

    python -m training.train_pixel --dataset dcss16fine --data ../shared/datasets --out runs/pixel16 \
        --image-size 16 --widths 64 128 --attention 0 1
    python -m training.train_pixel --dataset dcss40fine --out runs/pixel40 --image-size 40 \
        --widths 32 64 128 --attention 0 0 1 --blocks-per-level 1

Story: config -> data (train split; per-label counts) -> palette (OKLab k-means on the training split; the training
sprites are quantised to it) -> TokenUNet -> the shared Trainer (resumes from ``OUT/last.pt``; time budget) ->
(export with ``python -m training.export_pixel``). Recipes: ``docs/pixel.md``.
"""

from __future__ import annotations

import argparse
import json
import shutil
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from pixelsprite.colorspace import srgb_to_oklab

from . import distributed
from .config_cli import add_dataclass_args, from_args
from .data.builders import label_counts, load_dataset
from .models.token_unet import TokenUNet, TokenUNetConfig
from .models.unet import UNetConfig
from .objectives_distill import DistillConfig, GuidanceDistillObjective
from .objectives_masked import MaskedLossConfig, MaskedTokenObjective
from .onnx_teacher import OnnxTeacher, bundle_palette_hex, is_bundle
from .token_palette import from_hex, from_tokens, hex_colours, kmeans_palette, to_tokens
from .trainer import Trainer, TrainerConfig, load_checkpoint
from .vae_guide import VaeGuide


@dataclass(frozen=True)
class PixelRunConfig:
    dataset: str = "dcss16fine"  # a builder name (training.data.builders.BUILDERS) or "folder:PATH"
    data: str = "../shared/datasets"
    out: str = "runs/pixel16"
    cache: str = ".cache/datasets"
    sprite_size: int = 16
    palette_size: int = 255
    embed_dim: int = 32
    patch: int = 1  # the backbone sees patch x patch cells (2 for 40x40 on a CPU budget)
    copy: bool = False  # the copy head: colours may be copied exactly from neighbours and the sprite's own colours
    shades: int = 0  # with --copy: a gate for "a shade of a neighbour's colour" (its M nearest palette colours)
    lowres: bool = False  # an upsampler (cascade stage 2): also sees each sprite's 2x reduction (patch 1 or 2, --copy)
    guide_from: str = ""  # a renderer: sees each sprite as this bundle's VAE redraws it (training.vae_guide)
    guide_prior: bool = False  # a renderer's head also gets the guide's colour as a prior (token_unet docstring)
    palette_from: str = ""  # a fresh run takes this run folder's palette.json instead of learning one
    init_from: str = ""  # a fresh run starts from this checkpoint's EMA weights (its palette too); see init_weights
    distill_from: str = ""  # learn this checkpoint's or bundle folder's guided predictions (objectives_distill)
    distill_guidance: float = 2.0  # the teacher's guidance the student draws from at guidance 1
    name: str = "pixel16"


def palette_for(run: PixelRunConfig, train_images: np.ndarray) -> np.ndarray:
    """The run's palette: read from ``OUT/palette.json`` when resuming, else learned and written there."""
    path = Path(run.out) / "palette.json"
    if path.exists():
        return from_hex(json.loads(path.read_text())["palette"])
    palette = kmeans_palette(train_images, run.palette_size)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"palette": hex_colours(palette)}))
    tmp.replace(path)
    return palette


def init_weights(model: TokenUNet, checkpoint: str) -> None:
    """Start ``model`` from another run's EMA weights (a fine-tune on a fresh schedule). The head may gain gates
    (copy, shade): the old head's channel groups keep their rows, wherever the new layout puts them
    (:meth:`TokenUNetConfig.head_groups`: an upsampler's half-size gates come after the shade gate), and the new
    gates' rows start at zero (their logits start at 0, level with an average palette colour); buffers the old
    run lacks (the shade kernel) keep the model's own values. The caller copies the old run's palette, so the
    tokens mean the same colours."""
    state = load_checkpoint(checkpoint)
    weights = dict(state["ema"])
    for key, target in model.state_dict().items():
        if key not in weights and key in ("shade_kernel", "palette_lab"):  # buffers made from the palette
            weights[key] = target
            continue
        old = weights[key]
        if old.shape != target.shape:
            if not key.startswith("backbone.out.") or old.shape[1:] != target.shape[1:]:
                raise SystemExit(
                    f"--init-from {checkpoint}: {key} has shape {tuple(old.shape)}, want {tuple(target.shape)}"
                )
            weights[key] = grown_head(old, target, model.cfg, checkpoint)
    model.load_state_dict(weights)


def grown_head(old: torch.Tensor, target: torch.Tensor, cfg: TokenUNetConfig, checkpoint: str) -> torch.Tensor:
    """The head's weight or bias ``old`` (rows of a configuration with fewer gates) laid out as ``target``'s rows
    for ``cfg``: each channel group the old head has is copied to its new place, the rest is zero. The old
    configuration is ``cfg`` with some of its gates off, the one whose channel count matches."""
    p2 = cfg.patch**2
    variants = [
        replace(cfg, copy=c, shades=s, lowres=lo, guide_prior=gp)
        for c in {cfg.copy, False}
        for s in {cfg.shades, 0}
        for lo in {cfg.lowres, False}
        for gp in {cfg.guide_prior, False}
        if c or not (s or lo)
    ]
    fits = [v for v in variants if sum(n for _, n in v.head_groups()) * p2 == old.shape[0]]
    if not fits:
        raise SystemExit(f"--init-from {checkpoint}: a head of {old.shape[0]} rows is no smaller version of {cfg}")
    new_at = _group_rows(cfg.head_groups(), p2)
    grown = torch.zeros_like(target)
    for name, (start, rows) in _group_rows(fits[0].head_groups(), p2).items():
        grown[new_at[name][0] : new_at[name][0] + rows] = old[start : start + rows]
    return grown


def _group_rows(groups: list[tuple[str, int]], p2: int) -> dict[str, tuple[int, int]]:
    """{group: (first row, rows)} of each channel group in a head with ``p2`` rows per channel."""
    out, at = {}, 0
    for name, n in groups:
        out[name] = (at, n * p2)
        at += n * p2
    return out


def load_teacher(source: str, labels: tuple[str, ...], palette_size: int, threads: int) -> torch.nn.Module:
    """The frozen teacher for distillation: a checkpoint's EMA model, or a shipped bundle's ONNX graph
    (:class:`training.onnx_teacher.OnnxTeacher`). Its labels and palette size must be the run's."""
    if is_bundle(source):
        onnx_teacher = OnnxTeacher(source, threads)
        if onnx_teacher.labels != tuple(labels) or onnx_teacher.palette_size != palette_size:
            raise SystemExit(f"--distill-from {source}: its labels/palette differ from this run's dataset")
        return onnx_teacher
    from .export_pixel import load_pixel_model

    teacher, state = load_pixel_model(source)
    mc = state["model_config"]
    if list(mc["labels"]) != list(labels) or mc["token_unet"]["palette_size"] != palette_size:
        raise SystemExit(f"--distill-from {source}: its labels/palette differ from this run's dataset")
    return teacher.requires_grad_(False)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for cls in (PixelRunConfig, UNetConfig, MaskedLossConfig, TrainerConfig):
        add_dataclass_args(p, cls)
    p.set_defaults(widths=[64, 128], attention=[0, 1], hue_p=0.0, lr=1e-3, time_scale=1000.0)
    a = p.parse_args(argv)
    run, unet_cfg = from_args(PixelRunConfig, a), from_args(UNetConfig, a)
    loss_cfg, trainer_cfg = from_args(MaskedLossConfig, a), from_args(TrainerConfig, a)
    if trainer_cfg.hue_p:
        raise SystemExit("--hue-p must be 0 for pixel tokens: a hue rotation moves colours off the palette")

    rt = distributed.setup()
    # 1. data
    data = load_dataset(run.dataset, run.data, run.sprite_size, run.cache)
    if data.size != run.sprite_size:
        raise SystemExit(f"dataset {run.dataset} is {data.size}x{data.size} but --sprite-size is {run.sprite_size}")
    train, val = data.train(), data.val()
    if rt.is_main:
        print(
            f"data: {run.dataset} train={len(train.images)} val={len(val.images)} labels={label_counts(data)}",
            flush=True,
        )
    fresh = not (Path(run.out) / "last.pt").exists()
    fresh_init = bool(run.init_from) and fresh
    # the student speaks its teacher's tokens; a cascade's stages may share one palette
    checkpoint = run.distill_from or run.init_from
    palette_from = run.palette_from or (str(Path(checkpoint).parent) if checkpoint else "")
    if fresh and checkpoint and is_bundle(checkpoint):  # a bundle's manifest holds its palette
        Path(run.out).mkdir(parents=True, exist_ok=True)
        palette_json = json.dumps({"palette": bundle_palette_hex(checkpoint)})
        (Path(run.out) / "palette.json").write_text(palette_json)
    elif palette_from and fresh:
        Path(run.out).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(palette_from) / "palette.json", Path(run.out) / "palette.json")
    # 2. palette; the sprites become palette-exact (what the model can express)
    palette = palette_for(run, train.images)
    train_q = from_tokens(to_tokens(train.images, palette), palette)
    val_q = from_tokens(to_tokens(val.images, palette), palette)
    # 3. model
    from dataclasses import replace

    if data.size % run.patch:
        raise SystemExit(f"--patch {run.patch} does not divide the {data.size}x{data.size} canvas")
    cfg = TokenUNetConfig(
        palette_size=len(palette),
        embed_dim=run.embed_dim,
        patch=run.patch,
        copy=run.copy,
        shades=run.shades,
        lowres=run.lowres,
        guide=4 if run.guide_from else 0,
        guide_prior=run.guide_prior,
        unet=replace(
            unet_cfg, in_channels=run.embed_dim, image_size=data.size // run.patch, num_labels=len(data.label_names)
        ),
    )
    model = TokenUNet(cfg)
    model.set_palette(torch.from_numpy(srgb_to_oklab(palette)))
    if fresh_init:
        init_weights(model, run.init_from)
    if rt.is_main:
        print(f"model: {sum(q.numel() for q in model.parameters()):,} parameters {cfg}", flush=True)
    # 4. loop
    model_config = {
        "token_unet": cfg.to_dict(),
        "loss": asdict(loss_cfg),
        "run": asdict(run),
        "palette": hex_colours(palette),
        "labels": list(data.label_names),
        "label_counts": label_counts(data),
    }
    objective: MaskedTokenObjective | GuidanceDistillObjective
    pick = np.linspace(0, len(val_q) - 1, min(len(val_q), trainer_cfg.sample_count)).astype(np.int64)
    guide = VaeGuide(run.guide_from, trainer_cfg.threads) if run.guide_from else None
    objective = MaskedTokenObjective(
        loss_cfg, palette, len(data.label_names), cfg.mask_token, (val_q[pick], val.labels[pick]), guide
    )
    if run.distill_from:
        teacher = load_teacher(run.distill_from, data.label_names, len(palette), trainer_cfg.threads).to(rt.device)
        objective = GuidanceDistillObjective(DistillConfig(run.distill_guidance), objective, teacher)
        model_config["distilled"] = {"teacher": run.distill_from, "guidance": run.distill_guidance}
    result = Trainer(trainer_cfg, rt, run.out).fit(
        model, model_config, "pixel", objective, train_q, train.labels, val_q, val.labels
    )
    if rt.is_main:
        print(f"trained: {result}", flush=True)
    distributed.teardown()


if __name__ == "__main__":
    main()
