"""Train a class-conditional flow-matching bundle: config -> data -> model -> loop -> (evaluate + export).

    python -m training.train_flow --dataset dcss16fine --data ../shared/datasets --out runs/flow16 --name flow16
    python -m training.train_flow ... --first-stage pixelsprite/models/vae16     # in the VAE's latent space

Re-running the same command resumes from ``OUT/last.pt``. Recipes: ``docs/diffusion-and-flow.md``.
"""

from __future__ import annotations

import argparse

from .config_cli import add_dataclass_args, from_args
from .models.unet import UNetConfig
from .objectives_flow import FlowLossConfig, FlowObjective
from .train_generator import RunConfig, fit_generator
from .trainer import TrainerConfig


def parse(argv: list[str] | None = None) -> tuple[RunConfig, UNetConfig, FlowLossConfig, TrainerConfig]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for cls in (RunConfig, UNetConfig, FlowLossConfig, TrainerConfig):
        add_dataclass_args(p, cls)
    p.set_defaults(out="runs/flow16", name="flow16")
    a = p.parse_args(argv)
    return (
        from_args(RunConfig, a),
        from_args(UNetConfig, a),
        from_args(FlowLossConfig, a),
        from_args(TrainerConfig, a),
    )


def main(argv: list[str] | None = None) -> None:
    run, unet_cfg, loss_cfg, trainer_cfg = parse(argv)
    fit_generator(
        "flow",
        run,
        unet_cfg,
        loss_cfg,
        trainer_cfg,
        lambda num_labels, first_stage: FlowObjective(loss_cfg, num_labels, first_stage),
        time_scale=1000.0,
    )  # t in [0, 1] stretched to the range the sinusoid resolves


if __name__ == "__main__":
    main()
