"""Turn a trained diffusion or flow checkpoint into a bundle, evaluated through the runtime a user runs.

    python -m training.export_generator runs/diffusion16/last.pt --dataset dcss16fine --data ../shared/datasets \
        --bundle pixelsprite/models/diffusion16 --name diffusion16

Story: checkpoint -> EMA U-Net -> ONNX network graph (parity-checked; plus the first stage's VAE graphs in
latent space) -> a first manifest -> **quality-versus-steps sweep** on the held-out split (raw colours,
Fréchet distance in the frozen evaluator's features, sprites/s at batch 64) -> the default solver/steps = the cheapest
setting within 10% of the reference's fd (diffusion: ``ddpm`` with all T steps; flow: the most expensive
setting swept) -> decoding policy calibrated on the *training* split at those defaults, overall and per label
(a label's own colour tolerance/despeckle where its statistics ask for one) -> evaluation at the
defaults (pixel-art statistics per label and overall, memorization, speed) -> per-label sample sheets and
``card.md``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pixelsprite import api, families
from pixelsprite.diffusion import DiffusionModel
from pixelsprite.flow import FlowModel
from pixelsprite.manifest import ImageSpec, LabelPolicy, Manifest, PostprocessSpec, load_manifest, save_manifest
from pixelsprite.manifest_sections import Conditioning, LatentNorm, SamplerDefaults, SamplingSpec, ScheduleSpec
from pixelsprite.postprocess import despeckle, reduce_colors_adaptive
from pixelsprite.registry import Registry

from .card_generator import write_card
from .data.builders import SpriteSet, label_aliases, label_counts, load_dataset
from .evaluate import memorization_rate, pixel_art_stats, relative_gap
from .evaluate_generator import FrechetMeter, choose_default, frechet_meter
from .export import PARITY_ATOL, export_graph, install_bundle
from .export_vae import COLOR_CAP, DESPECKLE, TOLERANCES
from .models.unet import UNet, UNetConfig
from .sheets import save_sheet
from .trainer import load_checkpoint

ROLES = {"diffusion": DiffusionModel.ROLE, "flow": FlowModel.ROLE}
SOLVERS = {"diffusion": DiffusionModel.SOLVERS, "flow": FlowModel.SOLVERS}
NFE = families.EVALUATIONS_PER_STEP
"""Network evaluations per step of every solver, as the runtime's families declare them."""
SWEEP = {  # (solver, steps) measured on the held-out split
    "diffusion": [("ddim", s) for s in (2, 3, 4, 6, 8, 12, 16, 25, 50, 100)],
    "flow": [(sol, s) for sol in ("euler", "midpoint", "heun") for s in (1, 2, 3, 4, 6, 8, 12, 25, 50)],
}
FLOW_REFERENCE = ("heun", 100)
SPEED_BATCH = 64
LABEL_CALIBRATION_COUNT = 64  # raw sprites per label for its own colour policy
MIN_LABEL_SPRITES = 10  # labels with fewer training sprites keep the overall policy
MAX_DEFAULT_NFE = {16: 4, 40: 8}  # the interactive budget by sprite size: network evaluations the defaults may
# spend (on this 2-core CPU at batch 64: 16x16 stays near 100 sprites/s, 40x40 above 15; see docs)
DEFAULT_FD_TOLERANCE = 0.10  # defaults stay within 10% of the reference's fd where the budget allows


def load_generator(checkpoint: str | Path) -> tuple[UNet, dict]:
    state = load_checkpoint(checkpoint)
    model = UNet(UNetConfig.from_dict(state["model_config"]["unet"]))
    model.load_state_dict(state["ema"])
    return model.eval(), state


def sampling_section(family: str, state: dict, defaults: SamplerDefaults) -> SamplingSpec:
    """The bundle's ``sampling`` section, from the checkpoint's recipe (the runtime reads the same class)."""
    mc = state["model_config"]
    loss, unet, fs = mc["loss"], mc["unet"], mc["first_stage"]
    labels = mc["labels"]
    diffusion = family == "diffusion"
    schedule = None
    if diffusion:
        params = (
            {"beta_start": loss["beta_start"], "beta_end": loss["beta_end"]}
            if loss["schedule"] == "linear"
            else {"s": 0.008, "max_beta": 0.999}
        )
        schedule = ScheduleSpec(loss["schedule"], loss["T"], params)
    return SamplingSpec(
        space="latent" if fs else "pixel",
        shape=(unet["in_channels"], unet["image_size"], unet["image_size"]),
        prediction=loss["prediction"] if diffusion else "velocity",
        time_input="index" if diffusion else "t",
        conditioning=Conditioning(
            null_label=len(labels) if labels else None,
            label_dropout=loss["label_dropout"],
            label_counts=mc["label_counts"],
        ),
        solvers=SOLVERS[family],
        defaults=defaults,
        schedule=schedule,
        path=None if diffusion else loss["path"],
        max_steps=loss["T"] if diffusion else 1000,
        clip_denoised=loss["clip_denoised"] if diffusion and loss["clip_denoised"] > 0 and not fs else None,
        latent=LatentNorm(fs["mean"], fs["std"], fs["name"]) if fs else None,
    )


def labels_like(val: SpriteSet, n: int) -> list[tuple[str, int]]:
    """(label, count) summing to n, proportional to the held-out labels (largest remainders)."""
    counts = np.bincount(val.labels, minlength=len(val.label_names)).astype(np.float64)
    want = counts / counts.sum() * n
    got = np.floor(want).astype(int)
    for i in np.argsort(-(want - got))[: n - got.sum()]:
        got[i] += 1
    return [(val.label_names[i], int(c)) for i, c in enumerate(got) if c > 0]


def _generate(name: str, reg: Registry, plan: list[tuple[str, int]], seed: int, **kw: object) -> np.ndarray:
    out, s = [], seed
    for label, count in plan:
        out.append(api.generate(name, count, s, label=label, registry=reg, **kw).sprites)  # type: ignore[arg-type]
        s += count
    return np.concatenate(out)


def _speed(name: str, reg: Registry, solver: str, steps: int, batch: int = SPEED_BATCH) -> float:
    """Sprites/s at ``batch`` (median of 3 runs) with raw colours at these settings and the default guidance."""
    label = reg.load(name).manifest.labels[0] if reg.load(name).manifest.labels else None
    times = []
    for r in range(3):
        t = time.perf_counter()
        api.generate(name, batch, 10_000 + r, label=label, solver=solver, steps=steps, max_colors=0, registry=reg)
        times.append(time.perf_counter() - t)
    return batch / float(np.median(times))


def _ladder(raw: np.ndarray, real: dict[str, float]) -> list[dict]:
    """Every (tolerance, despeckle) policy applied to ``raw`` (uint8, hard alpha), with its statistics and its
    ``gap`` to ``real``: the larger relative gap of colours per sprite and isolated-pixel rate."""
    rows = []
    for tolerance in TOLERANCES:
        reduced = reduce_colors_adaptive(raw, COLOR_CAP, tolerance)
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
    return rows


def calibrate(
    raw: np.ndarray, real: dict[str, float], per_label: dict[str, tuple[np.ndarray, dict[str, float]]] | None = None
) -> tuple[PostprocessSpec, dict]:
    """The decoding policy whose statistics on ``raw`` (uint8, hard alpha) sit closest to ``real``, plus, for
    each label in ``per_label`` (label -> (its raw sprites, its real statistics)), that label's own closest
    policy where it differs from the overall one. Returns the spec and the calibration record (all rows)."""
    rows = _ladder(raw, real)
    best = min(rows, key=lambda r: r["gap"])
    policies: list[LabelPolicy] = []
    record: dict[str, Any] = {"overall": rows, "per_label": {}}
    for label, (label_raw, label_real) in (per_label or {}).items():
        label_rows = _ladder(label_raw, label_real)
        own = min(label_rows, key=lambda r: r["gap"])
        overall = next(
            r
            for r in label_rows
            if (r["color_tolerance"], r["despeckle"]) == (best["color_tolerance"], best["despeckle"])
        )
        record["per_label"][label] = {"chosen": own, "overall_policy": overall}
        if own["gap"] < overall["gap"]:
            policies.append(LabelPolicy(label, own["color_tolerance"], own["despeckle"]))
    return PostprocessSpec(0.0, COLOR_CAP, best["color_tolerance"], best["despeckle"], tuple(policies)), record


def export_generator_bundle(
    checkpoint: str | Path,
    data: SpriteSet,
    bundle: str | Path,
    name: str,
    *,
    eval_count: int = 512,
    reference_count: int = 256,
    guidance: float = 2.0,
    sweep: list[tuple[str, int]] | None = None,
    reference: tuple[str, int] | None = None,
    speed_batch: int = SPEED_BATCH,
    baseline: Manifest | None = None,
    baseline_folder: str | Path | None = None,
    max_nfe: int | None = None,
) -> Manifest:
    """Export, sweep, calibrate, evaluate and write the bundle (see the module docstring).

    ``sweep``: (solver, steps) settings to measure (default :data:`SWEEP`); ``reference``: the setting the
    defaults must stay within 10% fd of (default: ``ddpm`` with all T steps, or :data:`FLOW_REFERENCE`).
    ``baseline``: the exported bundle this model was distilled from (``training.reflow``): its reference fd is
    then the bar the defaults must stay within; with ``baseline_folder`` its reference fd and speed are
    re-measured here (same process, same meter) for that bar and the speed-up.
    """
    t0 = time.perf_counter()
    train, val = data.train(), data.val()
    model, state = load_generator(checkpoint)
    family = state["family"]
    mc = state["model_config"]
    cfg = model.cfg
    if tuple(mc["labels"]) != data.label_names:
        raise ValueError(f"checkpoint labels {mc['labels']} differ from the dataset's {data.label_names}")
    work = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    out = work / name
    out.mkdir()

    # 1. the network graph, parity-checked against torch; the first stage's graphs in latent space
    g = torch.Generator().manual_seed(0)
    n_ex = 6
    x = torch.randn(n_ex, cfg.in_channels, cfg.image_size, cfg.image_size, generator=g)
    t = (
        torch.tensor([0, 1, 7, 100, 250, 499], dtype=torch.float32).clamp(max=mc["loss"].get("T", 500) - 1)
        if family == "diffusion"
        else torch.rand(n_ex, generator=g)
    )
    label = torch.arange(n_ex) % (cfg.num_labels + 1)
    role = ROLES[family]
    output = mc["loss"]["prediction"] if family == "diffusion" else "velocity"
    net = export_graph(model, {"x": x, "t": t, "label": label}, [output], out / f"{role}.onnx")
    graphs = {role: net.graph}
    fs = mc["first_stage"]
    if fs:
        vae = load_manifest(fs["bundle"])
        for r in ("encoder", "decoder"):
            shutil.copyfile(Path(fs["bundle"]) / vae.graphs[r].file, out / vae.graphs[r].file)
            graphs[r] = vae.graphs[r]
    print(f"exported {role}: parity {net.parity_max_abs_diff:.2e}", flush=True)

    # 2. a first manifest (defaults provisional) and the quality-versus-steps sweep on raw colours
    defaults = (
        SamplerDefaults("ddim", min(25, int(mc["loss"]["T"])), guidance)
        if family == "diffusion"
        else SamplerDefaults("heun", 8, guidance)
    )
    run_cfg, trainer_cfg = mc["run"], state["trainer_config"]
    manifest = Manifest(
        name=name,
        family=family,
        description=(
            f"Class-conditional {'DDPM' if family == 'diffusion' else 'flow-matching'} U-Net, "
            f"{data.size}x{data.size} RGBA ({data.name}{', VAE latent space' if fs else ''})"
        ),
        image=ImageSpec(data.size, data.size),
        labels=data.label_names,
        label_aliases=label_aliases(data.name, data.label_names),
        postprocess=PostprocessSpec(alpha_threshold=0.0, max_colors=0),
        graphs=graphs,
        training={
            "data": list(data.credits),
            "dataset": {
                "name": data.name,
                "builder": run_cfg["dataset"],
                "train": len(train.images),
                "held_out": len(val.images),
                "split": "sha1(relative path) < 10%",
                "label_counts": label_counts(data),
            },
            "recipe": {"model": cfg.to_dict(), "loss": mc["loss"], "trainer": trainer_cfg, "first_stage": fs},
            "seconds": round(float(state["elapsed_s"]), 1),
            "epochs": int(state["epoch"]),
            "steps": int(state["step"]),
            "framework": f"torch {torch.__version__}",
            "hardware": "2-core CPU, 1 thread" if trainer_cfg.get("threads") == 1 else "CPU",
        },
        card="card.md",
        samples="samples.png",
        extra={SamplingSpec.KEY: sampling_section(family, state, defaults).to_dict()},
    )
    save_manifest(manifest, out / "manifest.json")
    reg = Registry([work], builtin=False, env=False)
    fd = frechet_meter(val.images)
    ref_plan = labels_like(val, reference_count)
    if reference is not None:
        ref_solver, ref_steps = reference
    elif family == "diffusion":
        ref_solver, ref_steps = "ddpm", int(mc["loss"]["T"])
    else:
        ref_solver, ref_steps = FLOW_REFERENCE
    ref = _generate(name, reg, ref_plan, 0, solver=ref_solver, steps=ref_steps, max_colors=0)
    measured_ref: dict[str, Any] = {
        "solver": ref_solver,
        "steps": ref_steps,
        "nfe": NFE[ref_solver] * ref_steps,
        "count": reference_count,
        "fd": round(fd(ref), 4),
        **{k: round(v, 4) for k, v in pixel_art_stats(ref).items()},
    }
    # the reference's speed: per-step cost is constant, so time 10 steps of it and scale to all of them
    probe = min(10, ref_steps)
    measured_ref["sprites_per_s"] = round(_speed(name, reg, ref_solver, probe, speed_batch) * probe / ref_steps, 3)
    rows = []
    for solver, steps in sweep or SWEEP[family]:
        gen = _generate(name, reg, ref_plan, 0, solver=solver, steps=steps, max_colors=0)
        rows.append(
            {
                "solver": solver,
                "steps": steps,
                "nfe": NFE[solver] * steps,
                "fd": round(fd(gen), 4),
                "sprites_per_s": round(_speed(name, reg, solver, steps, speed_batch), 2),
                **{k: round(v, 4) for k, v in pixel_art_stats(gen).items()},
            }
        )
        print(f"sweep {rows[-1]}", flush=True)
    distilled_from = (
        _baseline_summary(baseline, baseline_folder, speed_batch, fd, ref_plan) if baseline is not None else None
    )
    measured = {
        "quality_vs_steps": rows,
        "reference": measured_ref,
        "reference_count": reference_count,
        "parity_max_abs_diff": {role: net.parity_max_abs_diff, "tolerance": PARITY_ATOL},
    }
    if distilled_from is not None:
        measured["distilled_from"] = {**distilled_from, "recipe": mc.get("reflow")}
    return finish_bundle(
        out,
        replace(manifest, metrics=measured),
        data,
        bundle,
        eval_count=eval_count,
        speed_batch=speed_batch,
        max_nfe=max_nfe,
        started=t0,
        fd=fd,
    )


def finish_bundle(
    out: Path,
    manifest: Manifest,
    data: SpriteSet,
    bundle: str | Path,
    *,
    eval_count: int = 512,
    speed_batch: int = SPEED_BATCH,
    max_nfe: int | None = None,
    started: float | None = None,
    fd: FrechetMeter | None = None,
) -> Manifest:
    """Steps 3-5 on an exported folder ``out`` whose ``manifest.metrics`` holds the sweep (``quality_vs_steps``,
    ``reference``, ``reference_count``, ``parity_max_abs_diff``, and ``distilled_from`` for a student): choose
    the defaults, calibrate the decoding policy, evaluate, draw the sheets, write the card; install into
    ``bundle``. ``max_nfe``: the interactive budget (None: :data:`MAX_DEFAULT_NFE` for the sprite size); ``fd``:
    the held-out split's meter when the caller has it. ``out``'s parent folder is used as a scratch registry and
    removed afterwards."""
    t0 = time.perf_counter() if started is None else started
    name, work = manifest.name, out.parent
    train, val = data.train(), data.val()
    measured = manifest.metrics
    rows, reference = measured["quality_vs_steps"], measured["reference"]
    distilled_from = measured.get("distilled_from")
    bar_fd = distilled_from["reference"]["fd"] if distilled_from else reference["fd"]
    max_nfe = max_nfe or MAX_DEFAULT_NFE.get(data.size, max(MAX_DEFAULT_NFE.values()))
    best = choose_default(rows, bar_fd, DEFAULT_FD_TOLERANCE, max_nfe)
    sampling = SamplingSpec.of(manifest, str(out))
    defaults = replace(sampling.defaults, solver=best["solver"], steps=best["steps"])
    manifest = replace(
        manifest,
        postprocess=PostprocessSpec(alpha_threshold=0.0, max_colors=0),
        extra={**manifest.extra, SamplingSpec.KEY: replace(sampling, defaults=defaults).to_dict()},
    )
    save_manifest(manifest, out / "manifest.json")
    reg = Registry([work], builtin=False, env=False)

    # 3. decoding policy at the defaults, calibrated against the training split
    raw = _generate(name, reg, labels_like(train, eval_count), 20_000, max_colors=0)
    per_label = {}
    for i, lab in enumerate(train.label_names):  # each label's own policy, against its own training sprites
        real_lab = train.images[train.labels == i]
        if len(real_lab) >= MIN_LABEL_SPRITES:
            per_label[lab] = (
                _generate(name, reg, [(lab, LABEL_CALIBRATION_COUNT)], 30_000 + 1_000 * i, max_colors=0),
                pixel_art_stats(real_lab),
            )
    postprocess, ladder = calibrate(raw, pixel_art_stats(train.images), per_label)
    manifest = replace(manifest, postprocess=postprocess)
    save_manifest(manifest, out / "manifest.json")
    reg = Registry([work], builtin=False, env=False)

    # 4. evaluation at the defaults on the held-out split, through the runtime
    real_val = val.images
    fd = fd or frechet_meter(real_val)
    plan = labels_like(val, eval_count)
    gen = _generate(name, reg, plan, 0)
    real = pixel_art_stats(real_val)
    generated = pixel_art_stats(gen)
    per_label_stats = {}
    s = 0
    for lab, count in plan:
        idx = val.labels == val.label_names.index(lab)
        per_label_stats[lab] = {
            "real": pixel_art_stats(val.images[idx]),
            "generated": pixel_art_stats(gen[s : s + count]),
        }
        s += count
    speed = _speed(name, reg, defaults.solver, defaults.steps, speed_batch)
    metrics = {
        **measured,
        "held_out_real": real,
        "generated": generated,
        "generated_without_color_cap": pixel_art_stats(_generate(name, reg, plan, 0, max_colors=0)),
        "gaps_vs_held_out": {
            k: round(relative_gap(generated, real, k), 4)
            for k in ("colors_per_sprite", "colors_per_sprite_median", "isolated_pixel_rate")
        },
        "per_label": per_label_stats,
        "fd": {
            "metric": fd.name,
            "feature": fd.feature,
            "default": round(fd(gen), 4),
            "reference": reference["fd"],
            "bar": round(bar_fd * (1 + DEFAULT_FD_TOLERANCE), 4),
        },
        "defaults": defaults.to_dict(),
        "max_default_nfe": max_nfe,
        "sprites_per_s": {
            "batch": speed_batch,
            "default": round(speed, 2),
            "reference": reference["sprites_per_s"],
            "speedup": round(speed / max(reference["sprites_per_s"], 1e-9), 1),
        },
        "memorization_rate": memorization_rate(gen, train.images),
        "postprocess_calibration": ladder,
        "eval_count": eval_count,
    }
    if distilled_from is not None:
        ref_speed = distilled_from["reference"]["sprites_per_s"]
        metrics["distilled_from"] = {
            **distilled_from,
            "speedup_vs_its_reference": round(speed / max(ref_speed, 1e-9), 1),
        }
    manifest = replace(manifest, metrics=metrics)

    # 5. pictures and the card
    scale = 4 if data.size <= 16 else 2
    save_sheet(
        _generate(name, reg, [(lab, 8) for lab in data.label_names], 0), out / "samples.png", columns=8, scale=scale
    )
    for lab in data.label_names:
        save_sheet(
            api.generate(name, 32, 0, label=lab, registry=reg).sprites, out / f"label_{lab}.png", columns=8, scale=scale
        )
    save_manifest(manifest, out / "manifest.json")
    write_card(manifest, out / "card.md", export_seconds=time.perf_counter() - t0)
    install_bundle(out, bundle)
    shutil.rmtree(work)
    print(
        json.dumps(
            {
                k: metrics[k]
                for k in ("held_out_real", "generated", "gaps_vs_held_out", "fd", "defaults", "sprites_per_s")
            },
            indent=1,
        )
    )
    return manifest


def refinish_bundle(folder: str | Path, data: SpriteSet, bundle: str | Path, **kw: object) -> Manifest:
    """Re-decide an exported bundle's defaults from the sweep stored in its manifest (no re-sweep), then
    recalibrate, re-evaluate and rewrite it into ``bundle`` (may be ``folder`` itself)."""
    m = load_manifest(folder)
    work = Path(tempfile.mkdtemp(prefix=f"{m.name}-"))
    out = work / m.name
    shutil.copytree(folder, out)
    keep = ("quality_vs_steps", "reference", "reference_count", "parity_max_abs_diff", "distilled_from")
    measured = {k: m.metrics[k] for k in keep if k in m.metrics}
    if "distilled_from" in measured:
        measured["distilled_from"] = {
            k: v for k, v in measured["distilled_from"].items() if k != "speedup_vs_its_reference"
        }
    return finish_bundle(out, replace(m, metrics=measured), data, bundle, **kw)  # type: ignore[arg-type]


def _baseline_summary(
    baseline: Manifest, folder: str | Path | None, speed_batch: int, fd: FrechetMeter, plan: list[tuple[str, int]]
) -> dict:
    """What a distilled model is measured against: the baseline bundle's reference and defaults. With its
    ``folder``, both are re-measured in this process (fd with this export's meter and label plan, the
    reference's speed); otherwise they come from its manifest (same held-out protocol)."""
    ref = dict(baseline.metrics["reference"])
    defaults = baseline.metrics["defaults"]
    out = {
        "bundle": baseline.name,
        "reference": ref,
        "defaults": defaults,
        "sprites_per_s_default": baseline.metrics["sprites_per_s"]["default"],
    }
    if folder is None:
        out["fd_default"] = baseline.metrics["fd"]["default"]
    else:
        reg = Registry([Path(folder).resolve().parent], builtin=False, env=False)
        steps = int(ref["steps"])
        probe = min(10, steps)
        ref["sprites_per_s"] = round(_speed(baseline.name, reg, ref["solver"], probe, speed_batch) * probe / steps, 3)
        ref["fd"] = round(
            fd(_generate(baseline.name, reg, plan, 0, solver=ref["solver"], steps=steps, max_colors=0)), 4
        )
        out["fd_default"] = round(fd(_generate(baseline.name, reg, plan, 0, max_colors=0)), 4)
        out["sprites_per_s_default"] = round(
            _speed(baseline.name, reg, defaults["solver"], defaults["steps"], speed_batch), 2
        )
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "source",
        help="a trained checkpoint (.pt), or an exported bundle folder: then its stored sweep "
        "is reused (defaults re-decided, recalibrated, re-evaluated; no re-sweep)",
    )
    p.add_argument("--dataset", default="dcss16fine")
    p.add_argument("--data", default="../shared/datasets")
    p.add_argument("--cache", default=".cache/datasets")
    p.add_argument("--bundle", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--sprite-size", type=int, default=16, help="sprite size, for folder:PATH datasets")
    p.add_argument("--eval-count", type=int, default=512)
    p.add_argument("--reference-count", type=int, default=256)
    p.add_argument("--guidance", type=float, default=2.0)
    p.add_argument(
        "--max-nfe",
        type=int,
        default=0,
        help=f"network evaluations the defaults may spend (0: by sprite size, {MAX_DEFAULT_NFE})",
    )
    p.add_argument("--threads", type=int, default=0)
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    data = load_dataset(a.dataset, a.data, a.sprite_size, a.cache)
    if Path(a.source).is_dir():
        refinish_bundle(a.source, data, a.bundle, eval_count=a.eval_count, max_nfe=a.max_nfe or None)
        return
    export_generator_bundle(
        a.source,
        data,
        a.bundle,
        a.name,
        eval_count=a.eval_count,
        reference_count=a.reference_count,
        guidance=a.guidance,
        max_nfe=a.max_nfe or None,
    )


if __name__ == "__main__":
    main()
