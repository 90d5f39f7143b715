"""Turn a trained VAE checkpoint into a shipped bundle, evaluated through the runtime a user runs.

    python -m training.export_vae runs/vae16/last.pt --dataset sprites16 --data ../shared/datasets \
        --bundle pixelsprite/models/vae16 --name vae16

Story: checkpoint -> EMA weights with fresh BatchNorm statistics -> ONNX encoder and decoder (parity-checked) ->
a Gaussian-mixture prior fitted to the training latents (ONNX graph ``prior``, see ``training.prior_gmm``) ->
a first manifest -> the decoding colour policy calibrated on the *training* split -> evaluation on the
held-out split through ``pixelsprite.api`` -> final manifest, sample sheet, interpolation strip,
reconstruction sheet and ``card.md``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from pixelsprite import api
from pixelsprite.manifest import ImageSpec, LatentSpec, Manifest, PostprocessSpec, save_manifest
from pixelsprite.postprocess import despeckle, hard_alpha_from_model, reduce_colors_adaptive
from pixelsprite.registry import Registry
from pixelsprite.vae import VaeModel

from .augment import to_model_range
from .card_vae import write_card
from .data.builders import SpriteSet, load_dataset
from .evaluate import memorization_rate, pixel_art_stats, reconstruction_error, relative_gap
from .export import PARITY_ATOL, export_graph, install_bundle
from .models.vae import VAE, VAEConfig
from .prior_gmm import MixturePrior, fit_gmm
from .sheets import save_sheet
from .trainer import load_checkpoint, refresh_batchnorm

EVAL_COUNT = 512  # generated sprites per evaluation
COLOR_CAP = 128  # hard upper bound on colours per sprite; the tolerance decides below it
TOLERANCES = (0.004, 0.006, 0.008, 0.01, 0.012, 0.015, 0.02, 0.03)  # mean OKLab error allowed by colour reduction
DESPECKLE = (0.0, 0.05, 0.1, 0.15, 0.2)  # OKLab distance under which a lone pixel joins its neighbour


def load_vae(checkpoint: str | Path, train_images: np.ndarray) -> tuple[VAE, dict]:
    """EMA weights of a checkpoint, BatchNorm statistics recomputed for them, in eval mode on the CPU."""
    state = load_checkpoint(checkpoint)
    model = VAE(VAEConfig.from_dict(state["model_config"]["vae"]))
    model.load_state_dict(state["ema"])
    refresh_batchnorm(model, train_images, torch.device("cpu"), max_samples=4096)
    return model.eval(), state


@torch.no_grad()
def latent_means(model: VAE, images: np.ndarray) -> np.ndarray:
    """Encoder means (N, D) of sprites and of their mirror images (the flips the model trained on)."""
    x = to_model_range(torch.from_numpy(np.concatenate([images, images[:, :, ::-1]])))
    return torch.cat([model.encoder(x[i : i + 512])[0] for i in range(0, len(x), 512)]).flatten(1).numpy()


def calibrate_postprocess(model: VaeModel, real: dict[str, float]) -> tuple[PostprocessSpec, list[dict]]:
    """Pick the decoding policy (colour tolerance and despeckle distance, under :data:`COLOR_CAP`) whose
    generated statistics sit closest to ``real`` (computed on the training split).

    Score = the larger of the relative gaps in mean colours per sprite and isolated-pixel rate.
    """
    x = model.decode_raw(model.sample_latents(range(10_000, 10_000 + EVAL_COUNT)))
    sprites = hard_alpha_from_model(x, model.manifest.image.value_range, 0.0)
    rows = []
    for tolerance in TOLERANCES:
        reduced = reduce_colors_adaptive(sprites, COLOR_CAP, tolerance)
        for distance in DESPECKLE:
            stats = pixel_art_stats(despeckle(reduced, distance))
            gap = max(relative_gap(stats, real, "colors_per_sprite"), relative_gap(stats, real, "isolated_pixel_rate"))
            rows.append(
                {
                    "color_tolerance": tolerance,
                    "despeckle": distance,
                    "gap": round(gap, 4),
                    **{k: round(v, 4) for k, v in stats.items()},
                }
            )
    best = min(rows, key=lambda r: r["gap"])
    return PostprocessSpec(0.0, COLOR_CAP, best["color_tolerance"], best["despeckle"]), rows


def export_vae_bundle(
    checkpoint: str | Path, data: SpriteSet, bundle: str | Path, name: str, components: int = 32, notes: str = ""
) -> Manifest:
    t0 = time.perf_counter()
    bundle = Path(bundle)
    train, val = data.train(), data.val()
    model, state = load_vae(checkpoint, train.images)
    cfg = model.cfg
    work = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    out = work / name
    out.mkdir()

    # 1. graphs, each parity-checked against torch
    x = to_model_range(torch.from_numpy(val.images[:8]))
    enc = export_graph(model.encoder, {"image": x}, ["mean", "logvar"], out / "encoder.onnx")
    z = torch.randn(8, *cfg.latent_shape, generator=torch.Generator().manual_seed(0))
    dec = export_graph(model.decoder, {"z": z}, ["image"], out / "decoder.onnx")
    mu = latent_means(model, train.images)
    gmm = fit_gmm(mu, components)
    comp = torch.arange(8) % components
    eps = torch.randn(8, mu.shape[1], generator=torch.Generator().manual_seed(1))
    pri = export_graph(MixturePrior(gmm, cfg.latent_shape), {"eps": eps, "component": comp}, ["z"], out / "prior.onnx")
    print(
        f"exported: parity encoder {enc.parity_max_abs_diff:.2e} decoder {dec.parity_max_abs_diff:.2e} "
        f"prior {pri.parity_max_abs_diff:.2e}; gmm log-lik/dim {gmm.log_likelihood(mu) / mu.shape[1]:.3f}",
        flush=True,
    )

    trainer_cfg, run_cfg = state["trainer_config"], state["model_config"]["run"]
    manifest = Manifest(
        name=name,
        family="vae",
        description=f"Convolutional residual VAE, {cfg.image_size}x{cfg.image_size} RGBA pixel art "
        f"({data.name}), Gaussian-mixture prior",
        image=ImageSpec(cfg.image_size, cfg.image_size),
        latent=LatentSpec(cfg.latent_shape, "gaussian_mixture", tuple(float(w) for w in gmm.weights)),
        labels=data.label_names,
        postprocess=PostprocessSpec(alpha_threshold=0.0, max_colors=0),
        graphs={"encoder": enc.graph, "decoder": dec.graph, "prior": pri.graph},
        training={
            "data": list(data.credits),
            "dataset": {
                "name": data.name,
                "builder": run_cfg["dataset"],
                "train": len(train.images),
                "held_out": len(val.images),
                "split": "sha1(relative path) < 10%",
            },
            "recipe": {
                "model": cfg.to_dict(),
                "loss": state["model_config"]["loss"],
                "trainer": trainer_cfg,
                "prior": {
                    "kind": "gaussian_mixture",
                    "components": components,
                    "fit": "EM on encoder means of training sprites and their mirror images",
                },
            },
            "seconds": round(float(state["elapsed_s"]), 1),
            "epochs": int(state["epoch"]),
            "steps": int(state["step"]),
            "framework": f"torch {torch.__version__}",
            "hardware": "2-core CPU, 1 thread" if trainer_cfg.get("threads") == 1 else "CPU",
            **({"notes": notes} if notes else {}),
        },
        card="card.md",
        samples="samples.png",
    )
    save_manifest(manifest, out / "manifest.json")
    registry = Registry([work], builtin=False, env=False)

    # 2. decoding policy, calibrated against the training split (never the held-out one)
    postprocess, ladder = calibrate_postprocess(VaeModel(registry.load(name)), pixel_art_stats(train.images))
    manifest = replace(manifest, postprocess=postprocess)
    save_manifest(manifest, out / "manifest.json")
    registry = Registry([work], builtin=False, env=False)

    # 3. evaluation on the held-out split, through the runtime, at default settings
    real = pixel_art_stats(val.images)
    gen = api.generate(name, EVAL_COUNT, seed=0, registry=registry)
    generated = pixel_art_stats(gen.sprites)
    raw = pixel_art_stats(api.generate(name, EVAL_COUNT, seed=0, max_colors=0, registry=registry).sprites)
    recon = api.decode(name, api.encode(name, list(val.images), registry=registry).latents, registry=registry)
    t_dec = []
    zs = np.random.default_rng(0).standard_normal((256, *cfg.latent_shape)).astype(np.float32)
    for _ in range(5):
        t = time.perf_counter()
        api.decode(name, zs, max_colors=0, registry=registry)
        t_dec.append(time.perf_counter() - t)
    metrics = {
        "held_out_real": real,
        "generated": generated,
        "generated_without_color_cap": raw,
        "gaps_vs_held_out": {
            k: round(relative_gap(generated, real, k), 4)
            for k in ("colors_per_sprite", "colors_per_sprite_median", "isolated_pixel_rate")
        },
        "reconstruction_held_out": reconstruction_error(val.images, recon.sprites),
        "memorization_rate": memorization_rate(gen.sprites, train.images),
        "postprocess_calibration": ladder,
        "parity_max_abs_diff": {
            "encoder": enc.parity_max_abs_diff,
            "decoder": dec.parity_max_abs_diff,
            "prior": pri.parity_max_abs_diff,
            "tolerance": PARITY_ATOL,
        },
        "decode_sprites_per_s_batch256": round(256 / float(np.median(t_dec)), 1),
        "eval_count": EVAL_COUNT,
    }
    manifest = replace(manifest, metrics=metrics)

    # 4. pictures and the card
    save_sheet(
        api.generate(name, 64, seed=0, registry=registry).sprites,
        out / "samples.png",
        columns=8,
        scale=4 if cfg.image_size <= 16 else 2,
    )
    strips = [
        api.interpolate(name, a, b, count=10, method="slerp", registry=registry).sprites
        for a, b in ((1, 2), (3, 4), (5, 6), (7, 8))
    ]
    save_sheet(np.concatenate(strips), out / "interpolation.png", columns=10, scale=4 if cfg.image_size <= 16 else 2)
    n_pairs = min(32, len(val.images))
    pairs = np.stack([val.images[:n_pairs], recon.sprites[:n_pairs]], 1).reshape(-1, *val.images.shape[1:])
    save_sheet(pairs, out / "reconstructions.png", columns=16, scale=4 if cfg.image_size <= 16 else 2)
    manifest = replace(manifest, training={**manifest.training, "export_seconds": round(time.perf_counter() - t0, 1)})
    save_manifest(manifest, out / "manifest.json")
    write_card(manifest, out / "card.md")

    install_bundle(out, bundle)
    shutil.rmtree(work)
    print(
        json.dumps(
            {
                k: metrics[k]
                for k in (
                    "held_out_real",
                    "generated",
                    "gaps_vs_held_out",
                    "reconstruction_held_out",
                    "memorization_rate",
                )
            },
            indent=1,
        )
    )
    return manifest


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint")
    p.add_argument("--dataset", default="sprites16")
    p.add_argument("--data", default="../shared/datasets")
    p.add_argument("--cache", default=".cache/datasets")
    p.add_argument("--bundle", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--components", type=int, default=32)
    p.add_argument("--image-size", type=int, default=16, help="sprite size, for folder:PATH datasets")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--notes", default="", help="provenance notes for the card (interruptions, caveats)")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    data = load_dataset(a.dataset, a.data, a.image_size, a.cache)
    export_vae_bundle(a.checkpoint, data, a.bundle, a.name, a.components, a.notes)


if __name__ == "__main__":
    main()
