"""Reflow with guidance folded in: a few-step, one-pass student of a trained flow model.

    python -m training.reflow runs/flow16/last.pt --out runs/flow16-reflow --dataset dcss16fine \
        --baseline pixelsprite/models/flow16 --bundle pixelsprite/models/flow16 --name flow16 --threads 1

Rectified-flow reflow (Liu et al. 2023, "Flow Straight and Fast", §2.3), with the coupling drawn from the
*guided* teacher (the idea of guidance distillation, Meng et al. 2023, in its simplest form):

1. **Pairs.** For pair i: ``x_0 ~ N(0, I)`` (seeded by i), a label drawn from the training label mix (the null
   label with probability ``null_share``), ``x_1`` = the teacher's ODE solution from ``x_0`` (``heun`` with
   ``teacher_steps`` steps, classifier-free guidance ``guidance``; null rows unguided). Cached in
   ``OUT/pairs.npz`` chunk by chunk, so an interrupted run resumes where it stopped.
2. **Student.** Starts from the teacher's EMA weights and regresses the straight line of each pair:
   ``x_t = t x_1 + (1 - t) x_0``, target ``x_1 - x_0`` at the pair's label, ``t ~ U(0, 1)``. Its paths are
   straighter, so Euler with 1–2 steps lands near where the teacher's guided Heun did; guidance is inside the
   coupling, so the student runs at guidance 1 (one network pass per step, not two).
3. **Checkpoint** ``OUT/last.pt`` in the trainer's format (resumes; time budget), then, with ``--bundle``,
   :func:`training.export_generator.export_generator_bundle` with default guidance 1 and the *teacher bundle's*
   reference (``--baseline``) as the quality bar the defaults must stay within.

Only the linear path (``x_t = t x_1 + (1 - t) x_0``) is supported: reflow straightens that path's couplings.
"""

from __future__ import annotations

import argparse
import copy
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from pixelsprite.samplers import heun
from pixelsprite.samplers.guidance import guided
from pixelsprite.samplers.paths import uniform_grid

from .config_cli import add_dataclass_args, from_args
from .generator_common import numpy_network
from .models.unet import UNet, UNetConfig
from .trainer import TrainerConfig, ema_update, load_checkpoint, lr_at, save_checkpoint


@dataclass(frozen=True)
class ReflowConfig:
    pairs: int = 12_000  # teacher couplings (x_0, label, x_1)
    teacher_steps: int = 25  # heun steps of the teacher's ODE per pair
    guidance: float = 2.0  # classifier-free guidance of the teacher's ODE (folded into the student)
    null_share: float = 0.1  # share of pairs drawn unconditionally (keeps the null label meaningful)
    chunk: int = 512  # pairs per generation chunk (one cache write each)
    steps: int = 6_000  # student optimisation steps
    batch_size: int = 128
    lr: float = 2e-4
    warmup_steps: int = 100
    min_lr_ratio: float = 0.1
    ema_decay: float = 0.999
    grad_clip: float = 1.0
    val_share: float = 0.05  # pairs held out for the logged validation loss
    checkpoint_every: int = 250
    time_budget_s: float = 0.0  # student training only; 0: none
    seed: int = 0
    threads: int = 0


@dataclass(frozen=True)
class Pairs:
    """x0, x1: (N, C, H, W) float32 in the teacher's model space; labels: (N,) int64 (null = num_labels)."""

    x0: np.ndarray
    x1: np.ndarray
    labels: np.ndarray
    seconds: float


def load_teacher(checkpoint: str | Path) -> tuple[UNet, dict]:
    state = load_checkpoint(checkpoint)
    if state["family"] != "flow":
        raise SystemExit(f"{checkpoint}: reflow needs a flow checkpoint, got family {state['family']!r}")
    if state["model_config"]["loss"]["path"] != "linear":
        raise SystemExit(f"{checkpoint}: reflow needs the linear path, got {state['model_config']['loss']['path']!r}")
    model = UNet(UNetConfig.from_dict(state["model_config"]["unet"]))
    model.load_state_dict(state["ema"])
    return model.eval(), state


def pair_labels(mc: dict, n: int, null_share: float, rng: np.random.Generator) -> np.ndarray:
    """(n,) int64: labels in proportion to the training label counts; the null label with ``null_share``."""
    names = mc["labels"]
    counts = np.asarray([mc["label_counts"][k] for k in names], np.float64)
    labels = rng.choice(len(names), size=n, p=counts / counts.sum()).astype(np.int64)
    labels[rng.random(n) < null_share] = len(names)
    return labels


def make_pairs(teacher: UNet, mc: dict, cfg: ReflowConfig, cache: Path) -> Pairs:
    """Draw (or finish drawing) ``cfg.pairs`` teacher couplings, cached chunk by chunk in ``cache``."""
    shape = (teacher.cfg.in_channels, teacher.cfg.image_size, teacher.cfg.image_size)
    null = len(mc["labels"])
    rng = np.random.default_rng(cfg.seed)
    x0 = rng.standard_normal((cfg.pairs, *shape), dtype=np.float32)
    labels = pair_labels(mc, cfg.pairs, cfg.null_share, rng)
    x1 = np.zeros_like(x0)
    done, seconds = 0, 0.0
    if cache.exists():
        with np.load(cache) as z:
            if z["x0"].shape == x0.shape and np.array_equal(z["labels"], labels):
                done, seconds = int(z["done"]), float(z["seconds"])
                x1[:done] = z["x1"][:done]
    net = numpy_network(teacher)
    grid = uniform_grid(cfg.teacher_steps)
    while done < cfg.pairs:
        t0 = time.perf_counter()
        sl = slice(done, min(cfg.pairs, done + cfg.chunk))
        x1[sl] = heun.integrate(guided(net, labels[sl], null, cfg.guidance), x0[sl], grid)
        done = sl.stop
        seconds += time.perf_counter() - t0
        tmp = cache.with_name(cache.name + ".tmp.npz")
        np.savez(tmp, x0=x0, x1=x1, labels=labels, done=done, seconds=seconds)
        tmp.replace(cache)
        print(f"pairs {done}/{cfg.pairs} ({seconds:.0f}s)", flush=True)
    return Pairs(x0, x1, labels, seconds)


def straight_loss(
    model: torch.nn.Module, x0: torch.Tensor, x1: torch.Tensor, labels: torch.Tensor, t: torch.Tensor
) -> torch.Tensor:
    """Mean squared error of the velocity against the pair's straight line x_1 - x_0 at x_t = t x_1 + (1-t) x_0."""
    tt = t[:, None, None, None]
    return (model(tt * x1 + (1 - tt) * x0, t, labels).float() - (x1 - x0)).pow(2).mean()


def train_student(teacher: UNet, state: dict, pairs: Pairs, cfg: ReflowConfig, out: Path) -> Path:
    """Fit the student on the pairs; resumes from ``out/last.pt``; returns the checkpoint path."""
    ckpt = out / "last.pt"
    n_val = max(1, int(len(pairs.x0) * cfg.val_share))
    x0, x1, y = (torch.from_numpy(a) for a in (pairs.x0, pairs.x1, pairs.labels))
    va = slice(0, n_val)  # held out; training draws from n_val on
    model = copy.deepcopy(teacher).train()
    ema = copy.deepcopy(teacher).eval()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0)
    sched = TrainerConfig(lr=cfg.lr, warmup_steps=cfg.warmup_steps, min_lr_ratio=cfg.min_lr_ratio)
    step, elapsed = 0, 0.0
    if ckpt.exists():
        saved = load_checkpoint(ckpt)
        model.load_state_dict(saved["model"])
        ema.load_state_dict(saved["ema"])
        opt.load_state_dict(saved["optimizer"])
        step, elapsed = saved["reflow"]["step"], saved["reflow"]["seconds"]
        print(f"resumed student at step {step} ({elapsed:.0f}s)", flush=True)
    gen = torch.Generator().manual_seed(cfg.seed + step)
    val_t = torch.rand(n_val, generator=torch.Generator().manual_seed(99))
    n_train = len(x0) - n_val

    def save() -> None:
        with torch.no_grad():
            val = float(straight_loss(ema, x0[va], x1[va], y[va], val_t))
        print(
            f"step={step} elapsed_s={elapsed:.0f} lr={lr_at(step, cfg.steps, sched):.2e} val_loss={val:.5f}", flush=True
        )
        reflow = {
            **asdict(cfg),
            "step": step,
            "seconds": round(elapsed, 1),
            "pair_seconds": round(pairs.seconds, 1),
            "val_loss": round(val, 6),
            "teacher_epochs": state["epoch"],
            "teacher_steps_trained": state["step"],
            "teacher_seconds": round(float(state["elapsed_s"]), 1),
        }
        save_checkpoint(
            ckpt,
            {
                "family": "flow",
                "model_config": {**state["model_config"], "reflow": reflow},
                "trainer_config": state["trainer_config"],
                "model": model.state_dict(),
                "ema": ema.state_dict(),
                "optimizer": opt.state_dict(),
                "epoch": state["epoch"],
                "step": state["step"] + step,
                "elapsed_s": float(state["elapsed_s"]) + pairs.seconds + elapsed,
                "reflow": reflow,
            },
        )

    while step < cfg.steps:
        if cfg.time_budget_s > 0 and elapsed >= cfg.time_budget_s:
            print("time budget reached", flush=True)
            break
        t0 = time.perf_counter()
        idx = n_val + torch.randint(0, n_train, (cfg.batch_size,), generator=gen)
        t = torch.rand(cfg.batch_size, generator=gen)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg.steps, sched)
        loss = straight_loss(model, x0[idx], x1[idx], y[idx], t)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        ema_update(ema, model, cfg.ema_decay)
        step += 1
        elapsed += time.perf_counter() - t0
        if step % cfg.checkpoint_every == 0:
            save()
    save()
    return ckpt


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", help="the teacher: a flow checkpoint (linear path)")
    p.add_argument("--out", required=True)
    p.add_argument("--dataset", default="dcss16fine")
    p.add_argument("--data", default="../shared/datasets")
    p.add_argument("--cache", default=".cache/datasets")
    p.add_argument("--baseline", default="", help="the teacher's exported bundle: its reference is the quality bar")
    p.add_argument("--bundle", default="", help="export the student into this bundle folder")
    p.add_argument("--name", default="flow16")
    add_dataclass_args(p, ReflowConfig)
    a = p.parse_args(argv)
    cfg = from_args(ReflowConfig, a)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    teacher, state = load_teacher(a.checkpoint)
    pairs = make_pairs(teacher, state["model_config"], cfg, out / "pairs.npz")
    ckpt = train_student(teacher, state, pairs, cfg, out)
    if a.bundle:
        from pixelsprite.manifest import load_manifest

        from .data.builders import load_dataset
        from .export_generator import export_generator_bundle

        baseline = load_manifest(a.baseline) if a.baseline else None
        data = load_dataset(a.dataset, a.data, _sprite_size(state), a.cache)
        export_generator_bundle(
            ckpt,
            data,
            a.bundle,
            a.name,
            guidance=1.0,
            sweep=STUDENT_SWEEP,
            baseline=baseline,
            baseline_folder=a.baseline or None,
        )


STUDENT_SWEEP = [(sol, s) for sol in ("euler", "midpoint", "heun") for s in (1, 2, 3, 4, 6, 8, 12)]


def _sprite_size(state: dict) -> int:
    return int(state["model_config"]["run"]["sprite_size"])


if __name__ == "__main__":
    main()
