"""Train the quality teacher (mixture of experts) on real sprites vs generated and corrupted ones.

    python -m training.train_teacher --data ../shared/datasets --out runs/teacher --threads 1 \
        --time-budget-s 2400                       # re-run the same command to resume from runs/teacher/last.pt
    python -m training.export_teacher runs/teacher/last.pt --data ../shared/datasets --bundle pixelsprite/models/teacher

Story: config -> data (positives: ``sprites16`` and ``dcss40`` training splits with the teacher's 14 labels;
negatives: samples of every shipped generator, decoded by pixelsprite's runtime, and corruptions of real sprites)
-> :class:`~training.models.teacher.TeacherNet` -> epochs of batches of one size each (B real + B negatives of
that size; negatives half generated, half corrupted, redrawn every epoch from ``(seed, epoch)``) with AdamW,
warm-up + cosine learning rate, gradient clipping and EMA weights -> after each epoch one JSON log line with the
losses and expert use, an atomic checkpoint, and every ``eval_every`` epochs the held-out AUCs -> a final held-out
evaluation stored in the checkpoint. A time budget (cumulative over resumes) stops training cleanly.

Why not ``training.trainer``: it trains on one sprite set of one size with one label per sprite; the teacher
needs two sizes (fed natively, never resampled), negatives made per epoch from two sources and gate statistics
per epoch. This loop keeps the trainer's checkpoint/resume/time-budget/EMA behaviour.

Loss per batch: ``BCE(quality logit, real?) + class_weight * CE(cosine logits, label | real only)
+ balance_weight * load_balance(gate) + entropy_weight * mean gate entropy``.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from pixelsprite import families
from pixelsprite.registry import Registry

from .augment import to_model_range
from .config_cli import add_dataclass_args, from_args
from .models.teacher import TeacherConfig, TeacherNet, expert_use, load_balance, size_flag
from .teacher_data import EVAL_SEED, TEACHER_LABELS, Positives, load_positives
from .teacher_eval import HeldOut, ScoreFn, evaluate, held_out_sets
from .teacher_negatives import available_generators, corrupt_mixed, generated
from .trainer import ema_update, load_checkpoint, save_checkpoint

FAMILY = "teacher"


@dataclass(frozen=True)
class TeacherTrainConfig:
    """The shipped recipe (defaults)."""

    epochs: int = 40
    batch_size: int = 48  # real sprites per step; as many negatives join them
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 150
    min_lr_ratio: float = 0.05
    ema_decay: float = 0.995
    grad_clip: float = 1.0
    generated_share: float = 0.5  # of the negatives; the rest are corruptions
    generated_per_model: int = 3072  # training samples per generator (seeds 0 ..)
    generated_per_iterative: int = 1024  # the same for diffusion and flow generators (slow to sample)
    eval_per_model: int = 512  # held-out samples per generator (seeds EVAL_SEED ..)
    class_weight: float = 0.5
    balance_weight: float = 0.05
    entropy_weight: float = 0.01
    flip_p: float = 0.5
    eval_every: int = 5
    seed: int = 0
    threads: int = 1
    time_budget_s: float = 2100.0  # 0: no budget; excludes sampling the generators and the held-out evaluations


# ------------------------------------------------------------------------------------------------- data
def generator_pools(
    registry: Registry,
    names: list[str] | None,
    n_train: int,
    n_eval: int,
    cache: str | None,
    sizes_wanted: tuple[int, ...] = (16, 40),
    n_train_iterative: int | None = None,
) -> tuple[dict[str, tuple[int, np.ndarray]], dict[str, tuple[int, np.ndarray]]]:
    """Every shipped generator (or ``names``) -> (size, training samples) and (size, held-out samples)."""
    sizes = available_generators(registry, sizes_wanted)
    chosen = names if names is not None else sorted(sizes)
    train, held = {}, {}
    for name in chosen:
        if name not in sizes:
            raise ValueError(f"{name!r} is not a 16x16 or 40x40 generator bundle; available: {sorted(sizes)}")
        t0 = time.perf_counter()
        iterative = bool(families.capabilities(registry.info(name).manifest).solvers)  # samples in steps
        n = n_train_iterative if iterative and n_train_iterative is not None else n_train
        train[name] = (sizes[name], generated(registry, name, n, 0, cache))
        held[name] = (sizes[name], generated(registry, name, n_eval, EVAL_SEED, cache))
        print(f"generator {name}: {n} + {n_eval} samples in {time.perf_counter() - t0:.1f}s", flush=True)
    return train, held


def epoch_batches(
    pos: dict[int, Positives], pools: dict[str, tuple[int, np.ndarray]], cfg: TeacherTrainConfig, epoch: int
) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """One epoch: a shuffled list of ``(size, images uint8 (2B, S, S, 4), target (2B,) float 1/0, labels (2B,)
    int64, -1 for negatives)``; every real training sprite appears once, each batch holds B real + B negatives."""
    rng = np.random.default_rng([cfg.seed, epoch])
    batches = []
    for size, p in pos.items():
        real, labels = p.split(held_out=False)
        n = len(real)
        gens = [s for sz, s in pools.values() if sz == size]
        n_gen = int(round(cfg.generated_share * n)) if gens else 0
        parts = []
        if n_gen:
            per = np.bincount(rng.integers(0, len(gens), n_gen), minlength=len(gens))
            parts = [g[rng.integers(0, len(g), c)] for g, c in zip(gens, per)]
        cor, _ = corrupt_mixed(real[rng.integers(0, n, n - n_gen)], seed=int(rng.integers(2**31)))
        negatives = np.concatenate([*parts, cor]) if parts else cor
        negatives = negatives[rng.permutation(n)]
        order = rng.permutation(n)
        b = cfg.batch_size
        for s in range(0, n - b + 1, b):
            idx = order[s : s + b]
            x = np.concatenate([real[idx], negatives[s : s + b]])
            t = np.concatenate([np.ones(b, np.float32), np.zeros(b, np.float32)])
            y = np.concatenate([labels[idx], np.full(b, -1, np.int64)])
            batches.append((size, x, t, y))
    return [batches[i] for i in rng.permutation(len(batches))]


# ------------------------------------------------------------------------------------------------ model
def as_input(images: np.ndarray, size: int, flip: np.ndarray | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 (N, S, S, 4) -> x float32 (N, 4, S, S) in [-1, 1] (optionally flipped per sprite), flag (N, 1)."""
    x = to_model_range(torch.from_numpy(np.ascontiguousarray(images)))
    if flip is not None:
        f = torch.from_numpy(flip)[:, None, None, None]
        x = torch.where(f, x.flip(-1), x)
    return x, torch.full((len(x), 1), size_flag(size))


def batch_loss(
    model: TeacherNet,
    x: torch.Tensor,
    flag: torch.Tensor,
    target: torch.Tensor,
    labels: torch.Tensor,
    cfg: TeacherTrainConfig,
) -> tuple[torch.Tensor, dict[str, float], torch.Tensor]:
    q_logit, _, logits, gate = model.raw(x, flag)
    bce = F.binary_cross_entropy_with_logits(q_logit, target)
    real = labels >= 0
    ce = F.cross_entropy(logits[real], labels[real]) if real.any() else q_logit.sum() * 0
    bal = load_balance(gate)
    ent = -(gate * gate.clamp_min(1e-8).log()).sum(1).mean()
    loss = bce + cfg.class_weight * ce + cfg.balance_weight * bal + cfg.entropy_weight * ent
    acc = ((q_logit > 0).float() == target).float().mean()
    logs = {
        k: float(v.detach())
        for k, v in {"loss": loss, "bce": bce, "ce": ce, "balance": bal, "entropy": ent, "acc": acc}.items()
    }
    return loss, logs, gate.detach()


@torch.no_grad()
def refresh_norms(
    model: nn.Module, batches: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]], per_size: int = 20
) -> None:
    """Recompute every BatchNorm's running statistics for ``model``'s own (EMA) weights: cumulative averages over
    the first ``per_size`` batches of each size (each size updates its own statistics, see ``SizeNorm``). EMA
    weights paired with the live model's statistics score no better than chance. Leaves ``model`` in eval mode."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    used: dict[int, int] = {}
    for size, xb, _, _ in batches:
        if used.get(size, 0) < per_size:
            used[size] = used.get(size, 0) + 1
            model(*as_input(xb, size))
    for m, momentum in zip(norms, saved):
        m.momentum = momentum
    model.eval()


def lr_at(step: int, total: int, cfg: TeacherTrainConfig) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    t = min(1.0, (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps))
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t)))


def torch_score_fn(model: TeacherNet, batch: int = 256) -> ScoreFn:
    """A :data:`training.teacher_eval.ScoreFn` running ``model`` (eval mode) in torch."""

    def fn(images: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        model.eval()
        qs, preds, gates = [], [], []
        for s in range(0, len(images), batch):
            x, flag = as_input(images[s : s + batch], size)
            with torch.no_grad():
                q, _, logits, gate = model(x, flag)
            qs.append(q.numpy())
            preds.append(logits.argmax(1).numpy())
            gates.append(gate.numpy())
        return np.concatenate(qs), np.concatenate(preds), np.concatenate(gates)

    return fn


# ------------------------------------------------------------------------------------------------- loop
def fit(
    cfg: TeacherTrainConfig,
    net_cfg: TeacherConfig,
    pos: dict[int, Positives],
    pools: dict[str, tuple[int, np.ndarray]],
    held: dict[int, HeldOut],
    out: Path,
    extra: dict,
) -> Path:
    """Train with checkpoint/resume (``out/last.pt``) and a cumulative time budget; returns the checkpoint path."""
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / "last.pt"
    torch.manual_seed(cfg.seed)
    model = TeacherNet(net_cfg)
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    epoch, step, elapsed, history = 0, 0, 0.0, []
    if ckpt.exists():
        state = load_checkpoint(ckpt)
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["optimizer"])
        epoch, step, elapsed, history = state["epoch"], state["step"], state["elapsed_s"], state["history"]
        print(f"resumed from {ckpt}: epoch {epoch}, step {step}, {elapsed:.0f}s trained", flush=True)
    steps_per_epoch = len(epoch_batches(pos, pools, cfg, 0))
    total = cfg.epochs * steps_per_epoch
    budget_hit = cfg.time_budget_s > 0 and elapsed >= cfg.time_budget_s

    def save(evaluation: dict | None = None) -> None:
        save_checkpoint(
            ckpt,
            {
                "family": FAMILY,
                "model_config": net_cfg.to_dict(),
                "trainer_config": asdict(cfg),
                "model": model.state_dict(),
                "ema": ema.state_dict(),
                "optimizer": opt.state_dict(),
                "epoch": epoch,
                "step": step,
                "elapsed_s": elapsed,
                "history": history,
                "budget_exhausted": budget_hit,
                "labels": list(TEACHER_LABELS),
                "evaluation": evaluation,
                **extra,
            },
        )

    while epoch < cfg.epochs and not budget_hit:
        t0 = time.perf_counter()
        batches = epoch_batches(pos, pools, cfg, epoch)
        flip_rng = np.random.default_rng([cfg.seed, epoch, 7])
        model.train()
        sums: dict[str, float] = {}
        gates = []
        for size, xb, tb, yb in batches:
            x, flag = as_input(xb, size, flip_rng.random(len(xb)) < cfg.flip_p)
            for group in opt.param_groups:
                group["lr"] = lr_at(step, total, cfg)
            loss, logs, gate = batch_loss(model, x, flag, torch.from_numpy(tb), torch.from_numpy(yb), cfg)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            ema_update(ema, model, cfg.ema_decay)
            step += 1
            gates.append(gate)
            for k, v in logs.items():
                sums[k] = sums.get(k, 0.0) + v
            if cfg.time_budget_s > 0 and elapsed + time.perf_counter() - t0 >= cfg.time_budget_s:
                budget_hit = True
                break
        elapsed += time.perf_counter() - t0
        epoch += 1
        refresh_norms(ema, batches)
        n = max(1, len(gates))
        row = {
            "epoch": epoch,
            "step": step,
            "lr": round(lr_at(step, total, cfg), 6),
            "elapsed_s": round(elapsed, 1),
            **{f"train_{k}": round(v / n, 4) for k, v in sums.items()},
            "experts": expert_use(torch.cat(gates)) if gates else {},
        }
        last = epoch >= cfg.epochs or budget_hit
        if held and (last or (cfg.eval_every > 0 and epoch % cfg.eval_every == 0)):
            ev = evaluate(torch_score_fn(ema), held)
            row["val"] = {
                **ev["summary"],
                "auc_generated": ev["auc_generated"],
                "auc_corruption": ev["auc_corruption"],
                "experts_real": ev["expert_use"].get("real"),
            }
        history.append(row)
        print(json.dumps(row), flush=True)
        save()
    if budget_hit:
        print(f"time budget {cfg.time_budget_s:.0f}s reached after epoch {epoch} ({elapsed:.0f}s)", flush=True)
    return ckpt


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="../shared/datasets")
    p.add_argument("--cache", default=".cache/datasets")
    p.add_argument("--generator-cache", default=".cache/teacher")
    p.add_argument("--out", default="runs/teacher")
    p.add_argument(
        "--generators",
        nargs="*",
        default=None,
        help="generator bundles to draw negatives from (default: every shipped 16x16/40x40 generator)",
    )
    p.add_argument("--models-dir", action="append", default=[], help="extra bundle folders (generators)")
    p.add_argument("--sizes", type=int, nargs="+", default=[16, 40], choices=[16, 40])
    p.add_argument("--limit", type=int, default=0, help="use only this many real sprites per size (smoke tests)")
    add_dataclass_args(p, TeacherTrainConfig)
    add_dataclass_args(p, TeacherConfig, prefix="net-")
    a = p.parse_args(argv)
    cfg = from_args(TeacherTrainConfig, a)
    net_cfg = from_args(TeacherConfig, a, prefix="net-")
    if net_cfg.num_labels != len(TEACHER_LABELS):
        net_cfg = TeacherConfig(**{**asdict(net_cfg), "num_labels": len(TEACHER_LABELS)})
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    pos = load_positives(a.data, a.cache or None, tuple(a.sizes))
    if a.limit:
        pos = {s: _limit(p_, a.limit) for s, p_ in pos.items()}
    registry = Registry(a.models_dir, env=False, threads=max(1, cfg.threads))
    pools, eval_pools = generator_pools(
        registry,
        a.generators,
        cfg.generated_per_model,
        cfg.eval_per_model,
        a.generator_cache or None,
        tuple(a.sizes),
        cfg.generated_per_iterative,
    )
    held = held_out_sets(pos, eval_pools)
    for s, p_ in pos.items():
        print(
            f"size {s}: {int((~p_.held_out).sum())} real training sprites, {int(p_.held_out.sum())} held out "
            f"({p_.dataset}); generators: {[g for g, (sz, _) in pools.items() if sz == s]}",
            flush=True,
        )
    extra = {
        "generators": {
            g: {
                "size": sz,
                "train_seeds": [0, len(pool)],
                "family": registry.info(g).family,
                "held_out_seeds": [EVAL_SEED, EVAL_SEED + cfg.eval_per_model],
            }
            for g, (sz, pool) in pools.items()
        },
        "datasets": {str(s): p_.dataset for s, p_ in pos.items()},
        "command": " ".join(["python -m training.train_teacher", *(argv if argv is not None else sys.argv[1:])]),
    }
    ckpt = fit(cfg, net_cfg, pos, pools, held, Path(a.out), extra)
    state = load_checkpoint(ckpt)
    if state.get("evaluation") is None:
        ema = TeacherNet(net_cfg)
        ema.load_state_dict(state["ema"])
        state["evaluation"] = evaluate(torch_score_fn(ema), held)
        save_checkpoint(ckpt, state)
    print(
        json.dumps(
            {
                "final": state["evaluation"]["summary"],
                "auc_generated": state["evaluation"]["auc_generated"],
                "auc_corruption": state["evaluation"]["auc_corruption"],
            }
        ),
        flush=True,
    )


def _limit(p: Positives, n: int) -> Positives:
    idx = np.linspace(0, len(p.images) - 1, min(n, len(p.images))).astype(np.int64)
    return Positives(p.size, p.dataset, p.images[idx], p.labels[idx], p.held_out[idx])


if __name__ == "__main__":
    main()
