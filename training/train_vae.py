"""Train a VAE bundle: config -> data -> model -> loop -> (evaluate + export with --bundle).

    python -m training.train_vae --dataset sprites16 --data ../shared/datasets --out runs/vae16
    torchrun --nproc_per_node=2 -m training.train_vae ...      # data parallel (gloo on CPU, NCCL on CUDA)

Re-running the same command resumes from ``OUT/last.pt``. The defaults of the config dataclasses are the
shipped ``vae16`` recipe; ``vae40`` overrides are in ``training/recipes.md``.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass

from . import distributed
from .config_cli import add_dataclass_args, from_args
from .data.builders import load_dataset
from .models.vae import VAE, VAEConfig
from .objectives_vae import VAELossConfig, VAEObjective
from .trainer import Trainer, TrainerConfig


@dataclass(frozen=True)
class RunConfig:
    dataset: str = "sprites16"  # a builder name (training.data.builders.BUILDERS) or "folder:PATH"
    data: str = "../shared/datasets"
    out: str = "runs/vae16"
    cache: str = ".cache/datasets"
    bundle: str = ""  # when set: evaluate and export the trained model into this bundle folder
    name: str = "vae16"


def parse(argv: list[str] | None = None) -> tuple[RunConfig, VAEConfig, VAELossConfig, TrainerConfig]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for cls in (RunConfig, VAEConfig, VAELossConfig, TrainerConfig):
        add_dataclass_args(p, cls)
    a = p.parse_args(argv)
    return (from_args(RunConfig, a), from_args(VAEConfig, a), from_args(VAELossConfig, a), from_args(TrainerConfig, a))


def main(argv: list[str] | None = None) -> None:
    run, model_cfg, loss_cfg, trainer_cfg = parse(argv)
    rt = distributed.setup()
    data = load_dataset(run.dataset, run.data, model_cfg.image_size, run.cache)
    if data.size != model_cfg.image_size:
        raise SystemExit(f"dataset {run.dataset} is {data.size}x{data.size} but --image-size is {model_cfg.image_size}")
    train, val = data.train(), data.val()
    if rt.is_main:
        print(
            f"data: {run.dataset} train={len(train.images)} val={len(val.images)} labels={data.label_names}", flush=True
        )
    model = VAE(model_cfg)
    if rt.is_main:
        print(f"model: {sum(p.numel() for p in model.parameters()):,} parameters {model_cfg}", flush=True)
    result = Trainer(trainer_cfg, rt, run.out).fit(
        model,
        {"vae": model_cfg.to_dict(), "loss": asdict(loss_cfg), "run": asdict(run)},
        "vae",
        VAEObjective(loss_cfg),
        train.images,
        train.labels,
        val.images,
        val.labels,
    )
    if rt.is_main:
        print(f"trained: {result}", flush=True)
        if run.bundle:
            from .export_vae import export_vae_bundle

            export_vae_bundle(result.checkpoint, data, run.bundle, run.name)
    distributed.teardown()


if __name__ == "__main__":
    main()
