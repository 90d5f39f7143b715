"""Train the frozen evaluator network and ship it as the bundle ``pixelsprite/models/evaluator``.

    python -m training.train_evaluator --data ../shared/datasets --out runs/evaluator \
        --bundle pixelsprite/models/evaluator --threads 1

Story: config -> data (``dcss16fine`` and ``dcss40fine``: the same DCSS monsters and items with the same 12 fine
labels and the same stable 10% held-out split; 16x16 sprites embedded on the 40x40 canvas by
:func:`pixelsprite.evaluation.evaluator.embed_on_canvas`) -> :class:`~training.models.evaluator.EvaluatorNet` ->
a short AdamW run on the training split of both sizes together (flips and +-2 px shifts, label smoothing) ->
held-out accuracy per size -> ONNX export with the parity check -> manifest, sample sheet, ``card.md``.

The evaluator exists only to measure generators: no generator and not the teacher is trained against it. It is
cheap on purpose (about 4 minutes on one CPU thread).
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from pixelsprite.evaluation.evaluator import EVALUATOR_FAMILY, GRAPH_ROLE, embed_on_canvas
from pixelsprite.manifest import ImageSpec, Manifest, save_manifest
from pixelsprite.manifest_sections import EvaluatorSpec

from .augment import to_model_range
from .card_evaluator import write_card
from .config_cli import add_dataclass_args, from_args
from .data.builders import SpriteSet, label_counts, load_dataset
from .export import PARITY_ATOL, export_graph, install_bundle
from .models.evaluator import EvaluatorNet, EvaluatorNetConfig
from .sheets import save_sheet
from .trainer import save_checkpoint

DATASETS = {"dcss16fine": 16, "dcss40fine": 40}  # builder -> sprite size


@dataclass(frozen=True)
class EvaluatorTrainConfig:
    """The shipped recipe (defaults)."""

    epochs: int = 30
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 5e-4
    warmup_steps: int = 100
    label_smoothing: float = 0.1
    flip_p: float = 0.5
    max_shift: int = 2  # pixels on the 40x40 canvas
    seed: int = 0
    threads: int = 1
    time_budget_s: float = 900.0


def load_data(data_root: str, cache: str | None) -> dict[str, SpriteSet]:
    """Both fine datasets, with their label lists checked to agree."""
    sets = {name: load_dataset(name, data_root, size, cache) for name, size in DATASETS.items()}
    names = {s.label_names for s in sets.values()}
    if len(names) != 1:
        raise ValueError(f"{list(DATASETS)} disagree on labels: {names}")
    return sets


def as_input(images: np.ndarray, canvas: int) -> torch.Tensor:
    """uint8 (N, S, S, 4) -> float32 (N, 4, canvas, canvas) in [-1, 1], embedded like the runtime does."""
    return to_model_range(torch.from_numpy(embed_on_canvas(images, canvas)))


def augment(x: torch.Tensor, cfg: EvaluatorTrainConfig, gen: torch.Generator) -> torch.Tensor:
    """Random horizontal flips and integer shifts (rolls of at most ``max_shift``; the canvas border is empty)."""
    flip = torch.rand(len(x), generator=gen) < cfg.flip_p
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    if cfg.max_shift:
        dy, dx = torch.randint(-cfg.max_shift, cfg.max_shift + 1, (2,), generator=gen).tolist()
        x = x.roll((dy, dx), dims=(2, 3))
    return x


def lr_at(step: int, total: int, cfg: EvaluatorTrainConfig) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    t = (step - cfg.warmup_steps) / max(total - cfg.warmup_steps, 1)
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))


@torch.no_grad()
def predict(model: EvaluatorNet, x: torch.Tensor, batch: int = 256) -> np.ndarray:
    model.eval()
    return torch.cat([model(x[s : s + batch])[1].argmax(1) for s in range(0, len(x), batch)]).numpy()


def accuracy_report(pred: np.ndarray, labels: np.ndarray, names: tuple[str, ...]) -> dict:
    """Accuracy, balanced accuracy (mean per-label recall) and per-label accuracy with counts."""
    per = {}
    for i, n in enumerate(names):
        idx = labels == i
        if idx.any():
            per[n] = {"accuracy": round(float((pred[idx] == i).mean()), 4), "count": int(idx.sum())}
    return {
        "accuracy": round(float((pred == labels).mean()), 4),
        "balanced_accuracy": round(float(np.mean([v["accuracy"] for v in per.values()])), 4),
        "count": int(len(labels)),
        "per_label": per,
    }


def train(
    cfg: EvaluatorTrainConfig, net_cfg: EvaluatorNetConfig, x: torch.Tensor, y: torch.Tensor
) -> tuple[EvaluatorNet, dict]:
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    model = EvaluatorNet(net_cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(x) / cfg.batch_size)
    total, step, t0 = cfg.epochs * steps_per_epoch, 0, time.perf_counter()
    epoch = 0
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        order = torch.randperm(len(x), generator=gen)
        loss_sum, correct = 0.0, 0
        for s in range(0, len(x), cfg.batch_size):
            idx = order[s : s + cfg.batch_size]
            for group in opt.param_groups:
                group["lr"] = lr_at(step, total, cfg)
            _, logits = model(augment(x[idx], cfg, gen))
            loss = F.cross_entropy(logits, y[idx], label_smoothing=cfg.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            loss_sum += float(loss.detach()) * len(idx)
            correct += int((logits.argmax(1) == y[idx]).sum())
        elapsed = time.perf_counter() - t0
        print(
            json.dumps(
                {
                    "epoch": epoch,
                    "loss": round(loss_sum / len(x), 4),
                    "train_acc": round(correct / len(x), 4),
                    "seconds": round(elapsed, 1),
                }
            ),
            flush=True,
        )
        if cfg.time_budget_s and elapsed > cfg.time_budget_s:
            print(f"time budget {cfg.time_budget_s:.0f}s reached after epoch {epoch}", flush=True)
            break
    return model.eval(), {"epochs": epoch, "steps": step, "seconds": round(time.perf_counter() - t0, 1)}


def export_bundle(
    model: EvaluatorNet,
    sets: dict[str, SpriteSet],
    cfg: EvaluatorTrainConfig,
    run: dict,
    metrics: dict,
    bundle: str | Path,
    name: str,
    command: str,
) -> Manifest:
    net_cfg = model.cfg
    work = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    out = work / name
    out.mkdir()
    example = torch.cat([as_input(s.val().images[:3], net_cfg.canvas) for s in sets.values()])
    exported = export_graph(model, {"image": example}, ["features", "logits"], out / "evaluator.onnx")
    first = next(iter(sets.values()))
    manifest = Manifest(
        name=name,
        family=EVALUATOR_FAMILY,
        description=f"Frozen evaluator CNN ({net_cfg.feature_dim}-d features) for FD/KID/precision/recall, "
        f"DCSS fine labels, 16x16 and 40x40 on a {net_cfg.canvas}x{net_cfg.canvas} canvas",
        image=ImageSpec(net_cfg.canvas, net_cfg.canvas),
        labels=first.label_names,
        graphs={GRAPH_ROLE: exported.graph},
        training={
            "data": list(first.credits),
            "dataset": {
                "name": "+".join(sets),
                "builders": list(sets),
                "train": {k: int((~s.held_out).sum()) for k, s in sets.items()},
                "held_out": {k: int(s.held_out.sum()) for k, s in sets.items()},
                "split": "sha1(relative path) < 10%, the builders' split",
                "label_counts": label_counts(first),
            },
            "recipe": {"model": net_cfg.to_dict(), "trainer": asdict(cfg), "command": command},
            "seconds": run["seconds"],
            "epochs": run["epochs"],
            "steps": run["steps"],
            "framework": f"torch {torch.__version__}",
            "hardware": f"CPU, {cfg.threads} thread(s)",
        },
        metrics={
            **metrics,
            "parity_max_abs_diff": {GRAPH_ROLE: exported.parity_max_abs_diff, "tolerance": PARITY_ATOL},
        },
        card="card.md",
        samples="samples.png",
        extra={
            EvaluatorSpec.KEY: EvaluatorSpec(
                features="features",
                logits="logits",
                feature_dim=net_cfg.feature_dim,
                input=(
                    f"sprites of side S are upscaled nearest-neighbour by {net_cfg.canvas} // S and centred on a "
                    f"transparent {net_cfg.canvas}x{net_cfg.canvas} canvas"
                ),
            ).to_dict()
        },
    )
    save_manifest(manifest, out / "manifest.json")
    sheet = np.concatenate([embed_on_canvas(s.val().images[:16], net_cfg.canvas) for s in sets.values()])
    save_sheet(sheet, out / "samples.png", columns=8, scale=2)
    write_card(manifest, out / "card.md")
    install_bundle(out, bundle)
    return manifest


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="../shared/datasets")
    p.add_argument("--cache", default=".cache/datasets")
    p.add_argument("--out", default="runs/evaluator")
    p.add_argument("--bundle", default="pixelsprite/models/evaluator")
    p.add_argument("--name", default="evaluator")
    add_dataclass_args(p, EvaluatorTrainConfig)
    p.add_argument("--widths", type=int, nargs="+", default=list(EvaluatorNetConfig.widths))
    a = p.parse_args(argv)
    cfg = from_args(EvaluatorTrainConfig, a)
    torch.set_num_threads(cfg.threads)
    sets = load_data(a.data, a.cache or None)
    first = next(iter(sets.values()))
    net_cfg = EvaluatorNetConfig(widths=tuple(a.widths), num_labels=len(first.label_names))
    x = torch.cat([as_input(s.train().images, net_cfg.canvas) for s in sets.values()])
    y = torch.from_numpy(np.concatenate([s.train().labels for s in sets.values()]))
    print(
        f"training on {len(x)} sprites ({', '.join(f'{k}: {(~s.held_out).sum()}' for k, s in sets.items())}), "
        f"{len(first.label_names)} labels",
        flush=True,
    )
    model, run = train(cfg, net_cfg, x, y)
    metrics: dict[str, dict[str, dict]] = {"held_out": {}, "train": {}}
    for k, s in sets.items():
        for split, part in (("held_out", s.val()), ("train", s.train())):
            metrics[split][k] = accuracy_report(
                predict(model, as_input(part.images, net_cfg.canvas)), part.labels, s.label_names
            )
    print(
        json.dumps(
            {
                k: {d: {m: v[m] for m in ("accuracy", "balanced_accuracy", "count")} for d, v in r.items()}
                for k, r in metrics.items()
            }
        ),
        flush=True,
    )
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    save_checkpoint(
        out / "last.pt",
        {
            "model_config": net_cfg.to_dict(),
            "model": model.state_dict(),
            "train_config": asdict(cfg),
            "metrics": metrics,
            **run,
        },
    )
    command = (
        "python -m training.train_evaluator --data ../shared/datasets --out runs/evaluator "
        f"--bundle pixelsprite/models/evaluator --threads {cfg.threads}"
    )
    export_bundle(model, sets, cfg, run, metrics, a.bundle, a.name, command)
    print(f"wrote {a.bundle}", flush=True)


if __name__ == "__main__":
    main()
