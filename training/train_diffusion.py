"""Train a class-conditional diffusion bundle: config -> data -> model -> loop -> (evaluate + export with --bundle).

    python -m training.train_diffusion --dataset dcss16fine --data ../shared/datasets --out runs/diffusion16
    python -m training.train_diffusion ... --first-stage pixelsprite/models/vae16     # in the VAE's latent space

Re-running the same command resumes from ``OUT/last.pt``. The defaults of the config dataclasses are the
proposed ``diffusion16`` recipe; the others are in ``docs/diffusion-and-flow.md``.
"""

from __future__ import annotations

import argparse

from .config_cli import add_dataclass_args, from_args
from .models.unet import UNetConfig
from .objectives_diffusion import DiffusionLossConfig, DiffusionObjective
from .train_generator import RunConfig, fit_generator
from .trainer import TrainerConfig


def parse(argv: list[str] | None = None) -> tuple[RunConfig, UNetConfig, DiffusionLossConfig, TrainerConfig]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for cls in (RunConfig, UNetConfig, DiffusionLossConfig, TrainerConfig):
        add_dataclass_args(p, cls)
    a = p.parse_args(argv)
    return (
        from_args(RunConfig, a),
        from_args(UNetConfig, a),
        from_args(DiffusionLossConfig, a),
        from_args(TrainerConfig, a),
    )


def main(argv: list[str] | None = None) -> None:
    run, unet_cfg, loss_cfg, trainer_cfg = parse(argv)
    fit_generator(
        "diffusion",
        run,
        unet_cfg,
        loss_cfg,
        trainer_cfg,
        lambda num_labels, first_stage: DiffusionObjective(loss_cfg, num_labels, first_stage),
        time_scale=1.0,
    )  # the network sees the integer timestep


if __name__ == "__main__":
    main()
