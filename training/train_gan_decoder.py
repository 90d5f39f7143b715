"""Train an adversarial decoder for a frozen latent first stage (VQGAN-style; Esser et al. 2021, §3.2).

    PYTHONPATH=. python -m training.train_gan_decoder --bundle pixelsprite/models/flow16 --out runs/flow16gan \
        --name flow16gan --data ../shared/datasets          # re-run the same command to resume

The latent generators (``flow16``, ``diffusion16``) decode through the VAE decoder of their first stage, and that
decoder blurs. This script keeps the bundle's encoder (ONNX, frozen) and trains a *new* decoder of the same
architecture (:class:`training.models.vae.Decoder`) from latent to RGBA with

    L_G = L_rec + [step >= disc_start] * lambda * L_adv,    L_adv = -E[D(x_hat)]             (generator hinge)
    L_D = 1/2 E[relu(1 - D(x))] + 1/2 E[relu(1 + D(x_hat))]                                   (discriminator hinge)
    lambda = disc_weight * ||grad_{W_last} L_rec|| / (||grad_{W_last} L_adv|| + 1e-4)          (VQGAN eq. 7)

where ``L_rec`` is the VAE's likelihood without the KL term (Laplace L1 on opaque colour, the edge term, Bernoulli
alpha; :mod:`training.objectives_vae`) and ``D`` a PatchGAN (Isola et al. 2017) that scores overlapping patches of
the sprite with alpha premultiplied (so colour under transparent pixels, which no loss constrains, tells it nothing).
Latents are drawn from the posterior, ``z = mean + exp(logvar / 2) * eps``, so the decoder also learns the
neighbourhood of each encoding that a generator's samples fall into; training sprites and their mirror images are
encoded once (flips are the only augmentation: exact on pixels, and the encoder sees the flipped sprite itself).

Story: config -> data (encode the training split and its mirror images) -> decoder + discriminator -> loop (time
budget, checkpoint and resume, EMA decoder) -> export (ONNX ``decoder`` with the source bundle's I/O names, parity
check; a bundle copy in ``OUT/bundles/NAME`` with only ``decoder.onnx`` replaced) -> reconstruction floor (held-out
real -> encoder -> old and new decoder, neighbour-step distance) -> comparison sheet (same seeds and labels).
The generators are then measured by the evaluation suite: ``python -m training.evaluate_suite --models-dir
OUT/bundles --models flow16 NAME pixel16 ...``.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import nn
from torch.nn import functional as F

from pixelsprite import api
from pixelsprite.evaluation.crispness import profile_distance, step_profile
from pixelsprite.manifest import load_manifest
from pixelsprite.postprocess import finish
from pixelsprite.registry import Bundle, Registry

from . import distributed
from .augment import to_model_range, to_uint8
from .config_cli import add_dataclass_args, from_args
from .data.builders import SpriteSet, load_dataset
from .export import export_graph
from .models.vae import Decoder, VAEConfig
from .objectives_vae import likelihood_terms
from .sheets import save_sheet, sheet
from .trainer import clipped_step, ema_update, load_checkpoint, save_checkpoint

FAMILY = "gan_decoder"


@dataclass(frozen=True)
class RunConfig:
    bundle: str = "pixelsprite/models/flow16"  # the latent bundle whose encoder is kept and whose decoder is replaced
    dataset: str = ""  # '' = the bundle's training.dataset.builder
    data: str = "../shared/datasets"
    cache: str = ".cache/datasets"
    out: str = "runs/flow16gan"
    name: str = "flow16gan"  # the new bundle's name (OUT/bundles/NAME)
    export: bool = True  # after training: export, reconstruction floor, comparison sheet
    compare_seeds: int = 8  # sprites per label in the comparison sheet


@dataclass(frozen=True)
class DecoderConfig:
    """The decoder's shape: :class:`VAEConfig` minus the encoder (defaults: ``vae16``'s decoder)."""

    image_size: int = 16
    widths: tuple[int, ...] = (32, 48, 64)
    blocks_per_level: int = 1
    latent_channels: int = 8

    def vae(self) -> VAEConfig:
        return VAEConfig(self.image_size, self.widths, self.blocks_per_level, self.latent_channels)


@dataclass(frozen=True)
class DiscriminatorConfig:
    """PatchGAN: a 3x3 stem at full resolution, then ``levels`` stride-2 4x4 convs (channels doubling), then a 3x3
    conv to one logit per patch (16x16 sprite, 2 levels: 4x4 patches with a 22-pixel receptive field)."""

    channels: int = 32
    levels: int = 2


@dataclass(frozen=True)
class GanLossConfig:
    laplace_scale: float = 0.1  # as the VAE: colour L1 / b
    edge_weight: float = 0.5
    disc_weight: float = 0.5  # times the adaptive weight
    adaptive: bool = True  # False: lambda = disc_weight
    max_adaptive: float = 1e4
    disc_start: int = 2000  # steps of reconstruction only before D and the adversarial term switch on
    posterior: bool = True  # z = mean + std * eps; False: means only


@dataclass(frozen=True)
class GanTrainConfig:
    steps: int = 8000
    batch_size: int = 64
    lr: float = 1e-3  # decoder
    lr_disc: float = 2e-4
    warmup_steps: int = 200
    min_lr_ratio: float = 0.1
    ema_decay: float = 0.999
    grad_clip: float = 1.0
    seed: int = 0
    time_budget_s: float = 2400.0  # 0: no budget; cumulative over resumes
    threads: int = 1  # torch CPU threads; 0 leaves torch's default
    log_every: int = 50
    eval_every: int = 500  # held-out reconstruction check, preview sheet and checkpoint


# --- data -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Encoded:
    """Sprites (uint8 NHWC) and their posterior under the frozen encoder (float32 ``(N, *latent_shape)`` each)."""

    images: np.ndarray
    mean: np.ndarray
    logvar: np.ndarray
    labels: np.ndarray


def encode(bundle: Bundle, images: np.ndarray, labels: np.ndarray, flips: bool = False) -> Encoded:
    """Run the bundle's ``encoder`` graph on ``images`` (and, with ``flips``, on their mirror images too)."""
    if flips:
        images = np.concatenate([images, images[:, :, ::-1]])
        labels = np.concatenate([labels, labels])
    images = np.ascontiguousarray(images)
    spec = bundle.manifest.graph("encoder")
    means, logvars = [], []
    for i in range(0, len(images), 256):
        x = to_model_range(torch.from_numpy(images[i : i + 256])).numpy()
        out = bundle.run("encoder", {spec.inputs[0].name: x})
        means.append(out[spec.outputs[0].name])
        logvars.append(out[spec.outputs[1].name])
    return Encoded(images, np.concatenate(means), np.concatenate(logvars), labels)


def load_source(folder: str | Path, threads: int = 1) -> Bundle:
    """A latent bundle (its encoder and decoder graphs) loaded from ``folder`` alone."""
    folder = Path(folder).resolve()
    name = load_manifest(folder).name
    bundle = Registry([folder.parent], builtin=False, env=False, threads=threads).load(name)
    if not {"encoder", "decoder"} <= set(bundle.manifest.graphs):
        raise SystemExit(f"{folder}: the bundle needs an encoder and a decoder graph")
    return bundle


def dataset_name(bundle: Bundle, override: str) -> str:
    if override:
        return override
    ds = bundle.manifest.training.get("dataset", {})
    builder = ds.get("builder") if isinstance(ds, dict) else None
    if not builder:
        raise SystemExit(f"{bundle.name}: the manifest names no training.dataset.builder; pass --dataset")
    return str(builder)


# --- models -----------------------------------------------------------------------------------------------------


class PatchDiscriminator(nn.Module):
    """RGBA (B, 4, S, S) in [-1, 1] -> patch logits (B, 1, S / 2**levels, S / 2**levels)."""

    def __init__(self, cfg: DiscriminatorConfig) -> None:
        super().__init__()
        c = cfg.channels
        layers: list[nn.Module] = [nn.Conv2d(4, c, 3, padding=1), nn.LeakyReLU(0.2)]
        for _ in range(cfg.levels):
            layers += [nn.Conv2d(c, 2 * c, 4, stride=2, padding=1), nn.GroupNorm(8, 2 * c), nn.LeakyReLU(0.2)]
            c *= 2
        layers.append(nn.Conv2d(c, 1, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def premultiply(x: torch.Tensor) -> torch.Tensor:
    """RGBA in [-1, 1] with colour composited onto black where alpha is low: real sprites are unchanged (their
    transparent pixels are already (-1, -1, -1, -1)); a decoder's colour under transparency is hidden."""
    a01 = (x[:, 3:4] + 1) / 2
    return torch.cat([(x[:, :3] + 1) * a01 - 1, x[:, 3:4]], 1)


def reconstruction_loss(logits: torch.Tensor, x: torch.Tensor, cfg: GanLossConfig) -> tuple[torch.Tensor, dict]:
    """The VAE's likelihood terms (:mod:`training.objectives_vae`) without KL, per pixel, batch mean."""
    logits = logits.float()
    rgb, edge, alpha, err, m = likelihood_terms(logits, x, cfg.laplace_scale, cfg.edge_weight)
    loss = (rgb + edge + alpha).mean() / (x.shape[-1] * x.shape[-2])
    with torch.no_grad():
        logs = {
            "rec": float(loss),
            "l1_255": float((err.abs() * m[:, None]).sum() / m.sum().clamp(min=1) / 3 * 127.5),
            "alpha_err": float(((logits[:, 3] > 0).float() != m).float().mean()),
        }
    return loss, logs


def adaptive_weight(rec: torch.Tensor, adv: torch.Tensor, last: torch.Tensor, cfg: GanLossConfig) -> torch.Tensor:
    """VQGAN eq. 7: balance the two gradients at the decoder's last layer (detached)."""
    if not cfg.adaptive:
        return torch.tensor(cfg.disc_weight, device=rec.device)
    g_rec = torch.autograd.grad(rec, last, retain_graph=True)[0]
    g_adv = torch.autograd.grad(adv, last, retain_graph=True)[0]
    lam = g_rec.norm() / (g_adv.norm() + 1e-4)
    return (lam.clamp(0.0, cfg.max_adaptive) * cfg.disc_weight).detach()


@torch.no_grad()
def refresh_batchnorm(decoder: nn.Module, data: Encoded, device: torch.device, max_samples: int = 2048) -> None:
    """BatchNorm statistics recomputed for ``decoder``'s own (EMA) weights on posterior samples of the training
    latents (a fixed subset and fixed noise); leaves it in eval mode."""
    norms = [m for m in decoder.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    idx = np.linspace(0, len(data.mean) - 1, min(max_samples, len(data.mean))).astype(np.int64)
    gen = torch.Generator().manual_seed(0)
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    decoder.train()
    for s in range(0, len(idx), 256):
        mean = torch.from_numpy(data.mean[idx[s : s + 256]])
        std = torch.from_numpy(data.logvar[idx[s : s + 256]]).mul(0.5).exp()
        decoder((mean + std * torch.randn(mean.shape, generator=gen)).to(device))
    for m in norms:
        m.momentum = 0.1
    decoder.eval()


# --- training ---------------------------------------------------------------------------------------------------


def lr_at(step: int, cfg: GanTrainConfig, peak: float) -> float:
    if step < cfg.warmup_steps:
        return peak * (step + 1) / cfg.warmup_steps
    t = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps))
    return peak * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t)))


@torch.no_grad()
def decode_images(decoder: nn.Module, z: np.ndarray, device: torch.device) -> np.ndarray:
    """Latents -> raw decoder output float32 (N, 4, S, S) on the CPU."""
    out = [decoder(torch.from_numpy(z[i : i + 256]).to(device)).float().cpu() for i in range(0, len(z), 256)]
    return torch.cat(out).numpy()


def reconstruction_check(raw: np.ndarray, real: np.ndarray, postprocess: Any | None = None) -> dict[str, float]:
    """Raw decoder output of ``real``'s encodings -> colour L1 (0..255, opaque pixels), alpha error and the
    neighbour-step distance to ``real`` (hard alpha only; with ``postprocess``, also after the bundle's policy)."""
    x = to_model_range(torch.from_numpy(real)).numpy()
    m = x[:, 3] > 0
    rec = to_uint8(torch.from_numpy(raw)).numpy()
    out = {
        "l1_255": float(np.abs(raw[:, :3] - x[:, :3]).transpose(0, 2, 3, 1)[m].mean() * 127.5),
        "alpha_err": float(((raw[:, 3] > 0) != m).mean()),
        "step_distance": profile_distance(step_profile(rec), step_profile(real)),
    }
    if postprocess is not None:
        done = finish(
            raw,
            (-1.0, 1.0),
            alpha_threshold=postprocess.alpha_threshold,
            max_colors=postprocess.max_colors,
            color_tolerance=postprocess.color_tolerance,
            despeckle_distance=postprocess.despeckle,
        )
        out["step_distance_postprocessed"] = profile_distance(step_profile(done), step_profile(real))
    return out


def train(
    train_set: Encoded,
    held_out: Encoded,
    out: Path,
    dec_cfg: DecoderConfig,
    disc_cfg: DiscriminatorConfig,
    loss_cfg: GanLossConfig,
    cfg: GanTrainConfig,
    rt: distributed.Runtime,
    run: dict | None = None,
) -> Path:
    """Train (or resume from ``out/last.pt``) until ``cfg.steps`` or the time budget; returns the checkpoint.
    Also keeps ``out/warmup.pt``: the reconstruction-only decoder at ``disc_start`` (the ablation)."""
    out.mkdir(parents=True, exist_ok=True)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    dev = rt.device
    decoder = Decoder(dec_cfg.vae()).to(dev)
    disc = PatchDiscriminator(disc_cfg).to(dev)
    ema = copy.deepcopy(decoder).eval().requires_grad_(False)
    opt_g = torch.optim.AdamW(decoder.parameters(), lr=cfg.lr, betas=(0.5, 0.9), weight_decay=1e-4)
    opt_d = torch.optim.AdamW(disc.parameters(), lr=cfg.lr_disc, betas=(0.5, 0.9), weight_decay=1e-4)
    fp16 = rt.amp_dtype == torch.float16
    scaler_g = torch.amp.GradScaler("cuda", enabled=fp16)
    scaler_d = torch.amp.GradScaler("cuda", enabled=fp16)
    ckpt_path = out / "last.pt"
    step, elapsed = 0, 0.0
    if ckpt_path.exists():
        state = load_checkpoint(ckpt_path)
        decoder.load_state_dict(state["decoder"])
        ema.load_state_dict(state["ema"])
        disc.load_state_dict(state["discriminator"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        scaler_g.load_state_dict(state["scaler_g"])
        scaler_d.load_state_dict(state["scaler_d"])
        step, elapsed = state["step"], state["elapsed_s"]
        print(f"resumed from {ckpt_path}: step {step}, {elapsed:.0f}s trained", flush=True)
    config = {
        "decoder": asdict(dec_cfg),
        "discriminator": asdict(disc_cfg),
        "loss": asdict(loss_cfg),
        "run": run or {},
    }

    def checkpoint(path: Path, budget_hit: bool) -> None:
        save_checkpoint(
            path,
            {
                "family": FAMILY,
                "model_config": config,
                "trainer_config": asdict(cfg),
                "decoder": decoder.state_dict(),
                "ema": ema.state_dict(),
                "discriminator": disc.state_dict(),
                "opt_g": opt_g.state_dict(),
                "opt_d": opt_d.state_dict(),
                "scaler_g": scaler_g.state_dict(),
                "scaler_d": scaler_d.state_dict(),
                "step": step,
                "elapsed_s": elapsed,
                "budget_exhausted": budget_hit,
            },
        )

    def evaluate() -> dict[str, float]:
        probe = copy.deepcopy(ema)
        refresh_batchnorm(probe, train_set, dev)
        raw = decode_images(probe, held_out.mean, dev)
        n = min(32, len(held_out.images))
        pairs = np.stack([held_out.images[:n], to_uint8(torch.from_numpy(raw[:n])).numpy()], 1).reshape(-1, 16, 16, 4)
        save_sheet(pairs, out / "samples" / f"step_{step:06d}.png", columns=16)
        return {f"val_{k}": round(v, 4) for k, v in reconstruction_check(raw, held_out.images).items()}

    x_all = torch.from_numpy(train_set.images).to(dev)
    mu_all = torch.from_numpy(train_set.mean).to(dev)
    std_all = torch.from_numpy(train_set.logvar).mul(0.5).exp().to(dev)
    gen = torch.Generator(device=dev).manual_seed(cfg.seed * 7919 + step)  # resumed runs continue a fresh stream
    head = decoder.net[-1]
    assert isinstance(head, nn.Conv2d)
    last = head.weight

    def autocast() -> torch.autocast:
        return torch.autocast(dev.type, dtype=rt.amp_dtype or torch.float32, enabled=rt.amp_dtype is not None)

    sums: dict[str, float] = {}
    count = 0
    budget_hit = cfg.time_budget_s > 0 and elapsed >= cfg.time_budget_s
    t0 = time.perf_counter()
    log_path = out / "metrics.jsonl"
    while step < cfg.steps and not budget_hit:
        idx = torch.randint(len(x_all), (cfg.batch_size,), generator=gen, device=dev)
        x = to_model_range(x_all[idx])
        z = mu_all[idx]
        if loss_cfg.posterior:
            z = z + std_all[idx] * torch.randn(z.shape, generator=gen, device=dev)
        adversarial = step >= loss_cfg.disc_start
        for opt, peak in ((opt_g, cfg.lr), (opt_d, cfg.lr_disc)):
            for group in opt.param_groups:
                group["lr"] = lr_at(step, cfg, peak)
        # 1. decoder step: reconstruction (+ adversarial after the warm-up)
        decoder.train()
        with autocast():
            logits = decoder.logits(z)
            rec, logs = reconstruction_loss(logits, x, loss_cfg)
            fake = premultiply(torch.tanh(logits.float()))
            loss = rec
            if adversarial:
                disc.requires_grad_(False)
                adv = -disc(fake).float().mean()
                lam = adaptive_weight(rec, adv, last, loss_cfg)
                loss = rec + lam * adv
                logs.update(g_adv=float(adv.detach()), lam=float(lam))
                disc.requires_grad_(True)
        clipped_step(opt_g, scaler_g, loss, decoder.parameters(), cfg.grad_clip)
        ema_update(ema, decoder, cfg.ema_decay)
        # 2. discriminator step (hinge)
        if adversarial:
            with autocast():
                d_real = disc(x).float()
                d_fake = disc(fake.detach()).float()
                d_loss = 0.5 * (F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean())
            clipped_step(opt_d, scaler_d, d_loss, disc.parameters(), cfg.grad_clip)
            logs.update(
                d_loss=float(d_loss.detach()),
                d_real=float(d_real.detach().mean()),
                d_fake=float(d_fake.detach().mean()),
            )
        step += 1
        for k, v in logs.items():
            sums[k] = sums.get(k, 0.0) + v
        count += 1
        now = time.perf_counter()
        budget_hit = cfg.time_budget_s > 0 and elapsed + now - t0 >= cfg.time_budget_s
        if step % cfg.log_every == 0 or step == cfg.steps or budget_hit:
            row: dict[str, Any] = {"step": step, "lr": round(lr_at(step, cfg, cfg.lr), 6)}
            row["elapsed_s"] = round(elapsed + now - t0, 1)
            row.update({k: round(v / count, 4) for k, v in sums.items()})
            sums, count = {}, 0
            if step % cfg.eval_every == 0 or step == cfg.steps or budget_hit or step == loss_cfg.disc_start:
                row.update(evaluate())
            print(json.dumps(row), flush=True)
            with log_path.open("a") as f:
                f.write(json.dumps(row) + "\n")
        if step % cfg.eval_every == 0 or step == cfg.steps or budget_hit or step == loss_cfg.disc_start:
            elapsed += time.perf_counter() - t0
            t0 = time.perf_counter()
            checkpoint(ckpt_path, budget_hit)
            if step == loss_cfg.disc_start:
                shutil.copyfile(ckpt_path, out / "warmup.pt")
    return ckpt_path


# --- export and checks ------------------------------------------------------------------------------------------


def load_decoder(checkpoint: str | Path, train_set: Encoded) -> tuple[Decoder, dict]:
    """EMA weights of a checkpoint with BatchNorm statistics recomputed for them, eval mode, CPU."""
    state = load_checkpoint(checkpoint)
    dec_cfg = DecoderConfig(
        **{**state["model_config"]["decoder"], "widths": tuple(state["model_config"]["decoder"]["widths"])}
    )
    decoder = Decoder(dec_cfg.vae())
    decoder.load_state_dict(state["ema"])
    refresh_batchnorm(decoder, train_set, torch.device("cpu"))
    return decoder.eval(), state


def export_bundle(checkpoint: str | Path, source: Bundle, train_set: Encoded, folder: str | Path, name: str) -> Path:
    """A copy of ``source`` in ``folder`` (a bundle folder, replaced) whose ``decoder.onnx`` is the checkpoint's
    decoder, exported with the source decoder's input/output names and parity-checked; manifest renamed."""
    folder = Path(folder)
    decoder, state = load_decoder(checkpoint, train_set)
    old = source.manifest.graph("decoder")
    src = source.info.path
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for f in src.iterdir():
        if f.suffix == ".onnx" and f.name != old.file:
            shutil.copyfile(f, folder / f.name)
    z = torch.from_numpy(train_set.mean[:8])
    res = export_graph(decoder, {old.inputs[0].name: z}, [t.name for t in old.outputs], folder / old.file)
    if (res.graph.inputs, res.graph.outputs) != (old.inputs, old.outputs):
        raise SystemExit(f"exported decoder signature {res.graph} differs from the source's {old}")
    manifest = json.loads((src / "manifest.json").read_text())
    manifest["name"] = name
    manifest["description"] = manifest["description"] + "; adversarially trained decoder (PatchGAN, hinge)"
    manifest["graphs"]["decoder"]["sha256"] = res.graph.sha256
    manifest["training"]["decoder"] = {
        "source": source.name,
        "recipe": state["model_config"],
        "trainer": state["trainer_config"],
        "steps": state["step"],
        "seconds": round(state["elapsed_s"], 1),
        "parity_max_abs_diff": res.parity_max_abs_diff,
    }
    manifest["metrics"] = {"note": f"measured in docs/pixel.md; the source bundle's metrics belong to {source.name}"}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    (folder / manifest.get("card", "card.md")).write_text(
        f"# {name}\n\n`{source.name}` with its VAE decoder replaced by one trained with a PatchGAN "
        "(`training/train_gan_decoder.py`). An experiment, not shipped: see docs/pixel.md.\n"
    )
    print(f"exported {folder}: decoder parity {res.parity_max_abs_diff:.2e}", flush=True)
    return folder


def reconstruction_floor(source: Bundle, new: Bundle, held_out: Encoded) -> dict[str, dict[str, float]]:
    """Held-out real -> encoder mean -> each bundle's decoder: colour L1, alpha error, step distance to real
    (hard alpha only, and after the bundle's global decoding policy)."""
    out = {}
    for b in (source, new):
        spec = b.manifest.graph("decoder")
        raw = b.run("decoder", {spec.inputs[0].name: held_out.mean})[spec.outputs[0].name]
        out[b.name] = {
            k: round(v, 4) for k, v in reconstruction_check(raw, held_out.images, b.manifest.postprocess).items()
        }
    return out


def comparison_sheet(
    registry: Registry,
    names: list[str],
    real: SpriteSet,
    path: str | Path,
    per_label: int = 8,
    seed: int = 0,
    scale: int = 3,
) -> Path:
    """One row per label: held-out real sprites of the label, then each model's sprites for the same seeds and
    label (seeds ``seed ... seed + per_label - 1``, the bundles' defaults), side by side at the same scale."""
    val = real.val()
    labels = list(registry.info(names[0]).manifest.labels)
    panels: dict[str, list[np.ndarray]] = {"held-out real": [], **{n: [] for n in names}}
    for label in labels:
        li = real.label_names.index(label) if label in real.label_names else -1
        mine = val.images[val.labels == li][:per_label]
        row = np.zeros((per_label, real.size, real.size, 4), np.uint8)
        row[: len(mine)] = mine
        panels["held-out real"].append(row)
        for n in names:
            panels[n].append(api.generate(n, per_label, seed, label=label, registry=registry).sprites)
    sheets = [sheet(np.concatenate(rows), columns=per_label, scale=scale) for rows in panels.values()]
    head, gap, left = 14, 12, 52
    width = left + sum(s.width for s in sheets) + gap * (len(sheets) - 1)
    canvas = Image.new("RGB", (width, sheets[0].height + head), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for i, label in enumerate(labels):
        draw.text((2, head + (1 + i * (real.size + 1) + real.size // 2) * scale - 5), label, fill=(0, 0, 0))
    x = left
    for title, s in zip(panels, sheets):
        draw.text((x + 2, 1), title, fill=(0, 0, 0))
        canvas.paste(s, (x, head))
        x += s.width + gap
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path, optimize=True)
    return path


# --- command line -----------------------------------------------------------------------------------------------

CONFIGS = (RunConfig, DecoderConfig, DiscriminatorConfig, GanLossConfig, GanTrainConfig)


def parse(argv: list[str] | None = None) -> tuple[Any, ...]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for cls in CONFIGS:
        add_dataclass_args(p, cls)
    a = p.parse_args(argv)
    return tuple(from_args(cls, a) for cls in CONFIGS)


def main(argv: list[str] | None = None) -> None:
    run, dec_cfg, disc_cfg, loss_cfg, cfg = parse(argv)
    rt = distributed.setup()
    if rt.world_size > 1:
        raise SystemExit("train_gan_decoder runs as one process (use one GPU, or the CPU)")
    source = load_source(run.bundle)
    name = dataset_name(source, run.dataset)
    data = load_dataset(name, run.data, dec_cfg.image_size, run.cache or None)
    train_data, val = data.train(), data.val()
    t0 = time.perf_counter()
    train_set = encode(source, train_data.images, train_data.labels, flips=True)
    held_out = encode(source, val.images, val.labels)
    print(
        f"data: {name} train={len(train_data.images)} (x2 with mirror images) held_out={len(val.images)}; encoded by "
        f"{source.name} in {time.perf_counter() - t0:.1f}s; posterior std mean "
        f"{float(np.exp(0.5 * train_set.logvar).mean()):.3f}",
        flush=True,
    )
    out = Path(run.out)
    params = sum(p.numel() for p in Decoder(dec_cfg.vae()).parameters())
    print(f"decoder: {params:,} parameters {dec_cfg}; device {rt.device}", flush=True)
    ckpt = train(train_set, held_out, out, dec_cfg, disc_cfg, loss_cfg, cfg, rt, asdict(run))
    if not run.export:
        return
    folder = export_bundle(ckpt, source, train_set, out / "bundles" / run.name, run.name)
    registry = Registry([folder.parent], threads=1)
    floor = reconstruction_floor(source, registry.load(run.name), held_out)
    if (out / "warmup.pt").exists():
        warm = export_bundle(
            out / "warmup.pt", source, train_set, out / "warmup_bundle" / f"{run.name}_warmup", f"{run.name}_warmup"
        )
        floor.update(reconstruction_floor(source, Registry([warm.parent], threads=1).load(warm.name), held_out))
    (out / "reconstruction.json").write_text(json.dumps(floor, indent=2) + "\n")
    print("reconstruction floor (held-out, encoder means): " + json.dumps(floor), flush=True)
    sheet_path = comparison_sheet(registry, [source.name, run.name], data, out / "compare.png", run.compare_seeds)
    print(f"comparison sheet: {sheet_path}", flush=True)


if __name__ == "__main__":
    main()
