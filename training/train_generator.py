"""The story both iterative families share: config -> data -> (first stage) -> U-Net -> loop -> (export).

``train_diffusion.py`` and ``train_flow.py`` are the entry points; each supplies its loss config and objective.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from . import distributed
from .data.builders import label_counts, load_dataset
from .first_stage import FirstStage
from .models.unet import UNet, UNetConfig
from .trainer import Objective, Trainer, TrainerConfig


@dataclass(frozen=True)
class RunConfig:
    dataset: str = "dcss16fine"  # a builder name (training.data.builders.BUILDERS) or "folder:PATH"
    data: str = "../shared/datasets"
    out: str = "runs/diffusion16"
    cache: str = ".cache/datasets"
    sprite_size: int = 16  # for folder:PATH datasets; checked against the data
    first_stage: str = "pixelsprite/models/vae16"  # a VAE bundle folder: train in its latent space; "": pixels
    bundle: str = ""  # when set: evaluate and export the trained model into this bundle folder
    name: str = "diffusion16"


def fit_generator(
    family: str,
    run: RunConfig,
    unet_cfg: UNetConfig,
    loss_cfg: Any,
    trainer_cfg: TrainerConfig,
    make_objective: Callable[[int, FirstStage | None], Objective],
    time_scale: float,
) -> None:
    rt = distributed.setup()
    # 1. data (labels from the builder; the null label for CFG is index len(labels))
    data = load_dataset(run.dataset, run.data, run.sprite_size, run.cache)
    if data.size != run.sprite_size:
        raise SystemExit(f"dataset {run.dataset} is {data.size}x{data.size} but --sprite-size is {run.sprite_size}")
    train, val = data.train(), data.val()
    if rt.is_main:
        print(
            f"data: {run.dataset} train={len(train.images)} val={len(val.images)} labels={label_counts(data)}",
            flush=True,
        )
    # 2. model space: pixels, or a frozen VAE's normalised latents
    first_stage = FirstStage.load(run.first_stage, train.images) if run.first_stage else None
    if first_stage is not None:
        c, h, w = first_stage.latent_shape
        unet_cfg = replace(unet_cfg, in_channels=c, image_size=h)
    else:
        unet_cfg = replace(unet_cfg, in_channels=4, image_size=data.size)
    unet_cfg = replace(unet_cfg, num_labels=len(data.label_names), time_scale=time_scale)
    # 3. model
    model = UNet(unet_cfg)
    if rt.is_main:
        print(
            f"model: {sum(p.numel() for p in model.parameters()):,} parameters {unet_cfg}"
            + (f"; first stage {first_stage.folder} {first_stage.latent_shape}" if first_stage else ""),
            flush=True,
        )
    # 4. loop
    model_config = {
        "unet": unet_cfg.to_dict(),
        "loss": asdict(loss_cfg),
        "run": asdict(run),
        "first_stage": first_stage.to_dict() if first_stage else None,
        "labels": list(data.label_names),
        "label_counts": label_counts(data),
    }
    result = Trainer(trainer_cfg, rt, run.out).fit(
        model,
        model_config,
        family,
        make_objective(len(data.label_names), first_stage),
        train.images,
        train.labels,
        val.images,
        val.labels,
    )
    # 5. evaluate + export
    if rt.is_main:
        print(f"trained: {result}", flush=True)
        if run.bundle:
            from .export_generator import export_generator_bundle

            export_generator_bundle(result.checkpoint, data, run.bundle, run.name)
    distributed.teardown()
