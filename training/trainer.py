"""The trainer every model family shares.

Story: pick the device (CUDA + autocast when present, else CPU; several processes under ``torchrun``) ->
resume from ``out_dir/last.pt`` if there is one -> epochs of shuffled, augmented mini-batches (each process
takes its own shard) with AdamW, warm-up + cosine learning rate, gradient clipping and EMA weights -> after
each epoch: validation loss on the held-out split with the EMA weights, one CSV row, a sample grid and an
atomic checkpoint. A time budget (cumulative over resumes) stops training cleanly with a checkpoint.

A family plugs in through :class:`Objective`: its loss on a batch, and how to draw sample sprites.
"""

from __future__ import annotations

import copy
import csv
import math
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol, TypeVar, overload

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .augment import augment, to_model_range
from .distributed import Runtime, all_reduce_mean
from .sheets import save_sheet

M = TypeVar("M", bound=nn.Module)


@dataclass(frozen=True)
class TrainerConfig:
    epochs: int = 100
    batch_size: int = 64  # per process
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 200
    min_lr_ratio: float = 0.05
    ema_decay: float = 0.995
    grad_clip: float = 1.0
    seed: int = 0
    time_budget_s: float = 0.0  # 0: no budget
    flip_p: float = 0.5
    hue_p: float = 0.2
    sample_count: int = 64
    sample_every: int = 1  # epochs between preview sheets (the last epoch always gets one)
    threads: int = 0  # torch CPU threads; 0 leaves torch's default
    label_balance: float = 0.0  # draw sprite i with weight count(label_i)^-balance (0: every sprite once an epoch;
    # 1: every label equally often; epochs then draw with replacement)


def label_weights(labels: np.ndarray, balance: float) -> torch.Tensor:
    """Per-sprite sampling weights ``count(label)^-balance`` (float64, sum 1): 0 keeps every sprite equally likely,
    1 makes every label equally likely."""
    counts = np.bincount(labels)
    w = counts[labels].astype(np.float64) ** -balance
    return torch.from_numpy(w / w.sum())


class Objective(Protocol):
    def loss(
        self, model: nn.Module, x: torch.Tensor, labels: torch.Tensor, step: int
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """x: (B, 4, S, S) float in [-1, 1]; labels: (B,) int64 -> (scalar loss, metrics to log)."""
        ...

    def samples(self, model: nn.Module, n: int, gen: torch.Generator) -> torch.Tensor:
        """Draw n sprites with ``model`` (eval mode) -> (n, S, S, 4) uint8 hard-alpha RGBA on CPU."""
        ...


@dataclass(frozen=True)
class FitResult:
    epochs_done: int
    steps: int
    seconds: float
    stopped_by_budget: bool
    checkpoint: Path


@overload
def unwrap(model: nn.Module) -> nn.Module: ...
@overload
def unwrap(model: nn.Module, kind: type[M]) -> M: ...
def unwrap(model: nn.Module, kind: type[nn.Module] = nn.Module) -> nn.Module:
    """The network inside a DistributedDataParallel wrapper (or ``model`` itself); with ``kind``, checked to be
    one (so its attributes, e.g. ``cfg``, are typed)."""
    net = model.module if isinstance(model, DistributedDataParallel) else model
    if not isinstance(net, kind):
        raise TypeError(f"expected a {kind.__name__}, got {type(net).__name__}")
    return net


def lr_at(step: int, total: int, cfg: TrainerConfig) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    t = min(1.0, (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps))
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t)))


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    for e, p in zip(ema.parameters(), model.parameters()):
        e.lerp_(p.detach(), 1 - decay)
    for eb, b in zip(ema.buffers(), model.buffers()):
        eb.copy_(b)


@torch.no_grad()
def refresh_batchnorm(
    model: nn.Module, images: np.ndarray, device: torch.device, max_samples: int = 2048, batch_size: int = 256
) -> None:
    """Recompute BatchNorm running statistics for ``model``'s own weights (EMA weights would otherwise be
    paired with the live model's statistics). Cumulative averages over up to ``max_samples`` training sprites
    (a fixed, evenly spaced subset); no-op for models without BatchNorm. Leaves ``model`` in eval mode."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    idx = np.linspace(0, len(images) - 1, min(max_samples, len(images))).astype(np.int64)
    for s in range(0, len(idx), batch_size):
        x = to_model_range(torch.from_numpy(images[idx[s : s + batch_size]]).to(device))
        model(x)
    for m, momentum in zip(norms, saved):
        m.momentum = momentum
    model.eval()


def clipped_step(
    opt: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    loss: torch.Tensor,
    params: Iterable[nn.Parameter],
    grad_clip: float,
) -> None:
    """One optimizer step on ``loss``: backward through the (possibly disabled) AMP scaler, gradient norm clipped
    to ``grad_clip`` on the unscaled gradients."""
    opt.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.unscale_(opt)
    nn.utils.clip_grad_norm_(params, grad_clip)
    scaler.step(opt)
    scaler.update()


def save_checkpoint(path: Path, state: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def load_checkpoint(path: str | Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)


class Trainer:
    def __init__(self, cfg: TrainerConfig, rt: Runtime, out_dir: str | Path) -> None:
        self.cfg, self.rt, self.out = cfg, rt, Path(out_dir)
        if cfg.threads > 0:
            torch.set_num_threads(cfg.threads)

    def _log(self, msg: str) -> None:
        if self.rt.is_main:
            print(msg, flush=True)

    def fit(
        self,
        model: nn.Module,
        model_config: dict,
        family: str,
        objective: Objective,
        train_images: np.ndarray,
        train_labels: np.ndarray,
        val_images: np.ndarray,
        val_labels: np.ndarray,
    ) -> FitResult:
        """Train ``model`` on (N, S, S, 4) uint8 images; returns where the last checkpoint is."""
        cfg, rt = self.cfg, self.rt
        self.out.mkdir(parents=True, exist_ok=True)
        ckpt_path = self.out / "last.pt"
        torch.manual_seed(cfg.seed + rt.rank)
        model.to(rt.device)
        ema = copy.deepcopy(model).eval().requires_grad_(False)
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        scaler = torch.amp.GradScaler("cuda", enabled=rt.amp_dtype == torch.float16)
        epoch, step, elapsed = 0, 0, 0.0
        if ckpt_path.exists():
            state = load_checkpoint(ckpt_path)
            model.load_state_dict(state["model"])
            ema.load_state_dict(state["ema"])
            opt.load_state_dict(state["optimizer"])
            scaler.load_state_dict(state["scaler"])
            epoch, step, elapsed = state["epoch"], state["step"], state["elapsed_s"]
            self._log(f"resumed from {ckpt_path}: epoch {epoch}, step {step}, {elapsed:.0f}s trained")
        train_model: nn.Module = model
        if rt.world_size > 1:
            train_model = DistributedDataParallel(
                model, device_ids=[rt.device.index] if rt.device.type == "cuda" else None
            )

        x_all = torch.from_numpy(train_images).to(rt.device)
        y_all = torch.from_numpy(train_labels).to(rt.device)
        per_rank = len(x_all) // rt.world_size
        steps_per_epoch = max(1, per_rank // cfg.batch_size)
        weights = label_weights(train_labels, cfg.label_balance) if cfg.label_balance > 0 else None
        total_steps = cfg.epochs * steps_per_epoch
        budget_hit = cfg.time_budget_s > 0 and elapsed >= cfg.time_budget_s
        metrics_path = self.out / "metrics.csv"

        while epoch < cfg.epochs and not budget_hit:
            t0 = time.perf_counter()
            # same permutation on every rank (seeded by epoch), each takes its own shard
            gen = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
            order = (
                torch.randperm(len(x_all), generator=gen)
                if weights is None
                else torch.multinomial(weights, len(x_all), replacement=True, generator=gen)
            )
            perm = order[rt.rank * per_rank : (rt.rank + 1) * per_rank]
            aug_gen = torch.Generator(device=rt.device).manual_seed(cfg.seed * 7919 + epoch * 31 + rt.rank)
            train_model.train()
            sums: dict[str, float] = {}
            bar = range(steps_per_epoch)
            if rt.is_main and sys.stderr.isatty():
                from tqdm import tqdm

                bar = tqdm(bar, desc=f"epoch {epoch + 1}/{cfg.epochs}", leave=False)
            for i in bar:
                idx = perm[i * cfg.batch_size : (i + 1) * cfg.batch_size].to(rt.device)
                x = augment(to_model_range(x_all[idx]), aug_gen, cfg.flip_p, cfg.hue_p)
                for group in opt.param_groups:
                    group["lr"] = lr_at(step, total_steps, cfg)
                with torch.autocast(
                    rt.device.type, dtype=rt.amp_dtype or torch.float32, enabled=rt.amp_dtype is not None
                ):
                    loss, logs = objective.loss(train_model, x, y_all[idx], step)
                clipped_step(opt, scaler, loss, model.parameters(), cfg.grad_clip)
                ema_update(ema, model, cfg.ema_decay)
                step += 1
                for k, v in logs.items():
                    sums[k] = sums.get(k, 0.0) + v
                if cfg.time_budget_s > 0 and elapsed + time.perf_counter() - t0 >= cfg.time_budget_s:
                    budget_hit = True
                    break
            elapsed += time.perf_counter() - t0
            epoch += 1
            train_logs = all_reduce_mean({f"train_{k}": v / max(1, i + 1) for k, v in sums.items()}, rt)
            if rt.is_main:
                refresh_batchnorm(ema, train_images, rt.device)
                val_logs = self.validate(ema, objective, val_images, val_labels, step)
                logs = {k: round(v, 6) for k, v in {**train_logs, **val_logs}.items()}
                row = {
                    "epoch": epoch,
                    "step": step,
                    "lr": lr_at(step, total_steps, cfg),
                    "elapsed_s": round(elapsed, 2),
                    **logs,
                }
                new = not metrics_path.exists()
                with metrics_path.open("a", newline="") as f:
                    w = csv.DictWriter(f, fieldnames=list(row))
                    if new:
                        w.writeheader()
                    w.writerow(row)
                self._log(" ".join(f"{k}={v}" for k, v in row.items()))
                last = epoch >= cfg.epochs or budget_hit
                if last or epoch % max(1, cfg.sample_every) == 0:
                    sample_gen = torch.Generator(rt.device).manual_seed(1234)
                    sprites = objective.samples(ema, cfg.sample_count, sample_gen)
                    save_sheet(sprites.numpy(), self.out / "samples" / f"epoch_{epoch:04d}.png")
                save_checkpoint(
                    ckpt_path,
                    {
                        "family": family,
                        "model_config": model_config,
                        "trainer_config": asdict(cfg),
                        "model": unwrap(model).state_dict(),
                        "ema": ema.state_dict(),
                        "optimizer": opt.state_dict(),
                        "scaler": scaler.state_dict(),
                        "epoch": epoch,
                        "step": step,
                        "elapsed_s": elapsed,
                        "budget_exhausted": budget_hit,
                    },
                )
        return FitResult(epoch, step, elapsed, budget_hit, ckpt_path)

    @torch.no_grad()
    def validate(
        self, ema: nn.Module, objective: Objective, images: np.ndarray, labels: np.ndarray, step: int
    ) -> dict[str, float]:
        """Objective on the held-out split with the EMA weights, fixed noise, no augmentation."""
        if len(images) == 0:
            return {}
        torch.manual_seed(0)
        sums: dict[str, float] = {}
        n = 0
        for s in range(0, len(images), 256):
            x = to_model_range(torch.from_numpy(images[s : s + 256]).to(self.rt.device))
            y = torch.from_numpy(labels[s : s + 256]).to(self.rt.device)
            _, logs = objective.loss(ema, x, y, step)
            for k, v in logs.items():
                sums[k] = sums.get(k, 0.0) + v * len(x)
            n += len(x)
        torch.manual_seed(self.cfg.seed + step)
        return {f"val_{k}": v / n for k, v in sums.items()}
