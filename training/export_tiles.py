"""Turn a trained tile checkpoint into a tiling ``pixel`` bundle, evaluated through the runtime a user runs.

    python -m training.export_tiles runs/tiles16/last.pt --dataset dcss16tiles --bundle pixelsprite/models/tiles16 \
        --name tiles16

A tile model is a ``pixel`` model whose U-Net pads every convolution by wrapping around (``--circular true`` in
``training.train_pixel``): it lives on a torus, so every tile it makes is seamless by construction, and its manifest
says ``tokens.tiling: true``. Story: checkpoint -> EMA TokenUNet -> ONNX ``logits`` graph (parity-checked) -> manifest
-> **sweep** of steps x colour temperature x guidance x corrector rounds on the held-out label mix (neighbour-step
distance to held-out real tiles, seam distance, colours per tile) -> **speed** of one network evaluation per tile:
the defaults may spend what reaches the speed target (:data:`TARGET_TILES_PER_S`), and at least
:data:`QUALITY_NFE` evaluations (quality first) -> defaults: within that budget, colours within
:data:`COLOUR_GAP` of real, the lowest step distance -> evaluation at the defaults (crispness, seams, two-sample
CNN, memorization, speed) -> sheets (per label, each tile beside its 3x3 repeat, real tiles first; variations;
inpainting) and ``card.md``.
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
from pixelsprite.evaluation.crispness import STEP_BINS, profile_distance, step_profile
from pixelsprite.evaluation.seams import repeat_3x3, seam_distance, seam_report
from pixelsprite.manifest import Manifest, save_manifest
from pixelsprite.pixel import PixelModel, TokenSpec
from pixelsprite.registry import Registry

from .card_tiles import write_card
from .data.builders import SpriteSet, load_dataset
from .evaluate import memorization_rate, pixel_art_stats
from .export import install_bundle
from .export_generator import labels_like
from .export_pixel import (
    _two_sample,
    export_logits,
    first_manifest,
    first_stage,
    generate_settings,
    load_pixel_model,
    nfe_of,
    sweep_metrics,
    token_conditioning,
)
from .sheets import save_sheet
from .token_palette import from_hex, from_tokens, to_tokens
from .trainer import load_checkpoint

SPEED_BATCH = 64
TARGET_TILES_PER_S = {16: 100.0, 32: 30.0}  # issue 19's speed targets at defaults, by tile size
COLOUR_GAP = 0.25  # the defaults keep colours per tile within this share of real
QUALITY_NFE = 13  # the defaults may always spend this many evaluations per tile (12 steps + a corrector round):
# quality first; when the speed target allows more, they may spend more
SWEEP = [(steps, temp, 1.0, corr) for steps in (6, 8, 12) for temp in (0.6, 0.75, 0.9, 1.0) for corr in (0, 1)] + [
    (6, temp, 2.0, corr) for temp in (0.6, 0.75) for corr in (0, 1)
]
"""(steps, colour temperature, guidance, corrector rounds) measured on the held-out split; reveal order random."""


def evaluations_per_s(model: PixelModel, label: str, batch: int = SPEED_BATCH, runs: int = 5) -> float:
    """Median tile-evaluations per second of the runtime's network (one labelled, unguided step per call); for a
    cascade, of its upsampler alone, given half-size tiles its first stage drew once beforehand."""
    s = replace(model.settings(label, "random", 1, 1.0, 1.0), corrector=0)
    seeds = list(range(batch))
    small = None if model.base is None else model.base.generate(seeds, model.base_settings(s))

    def run() -> np.ndarray:
        return model.generate(seeds, s) if small is None else model.upsample(small, seeds, s)

    run()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    return batch / float(np.median(times))


def tiles_per_s(name: str, reg: Registry, label: str | None, batch: int = SPEED_BATCH, runs: int = 5) -> float:
    """Median tiles/s of ``api.generate`` at the bundle's defaults (everything but PNG encoding)."""
    api.generate(name, batch, 0, label=label, registry=reg)
    times = []
    for r in range(runs):
        t = time.perf_counter()
        api.generate(name, batch, 1 + r, label=label, registry=reg)
        times.append(time.perf_counter() - t)
    return batch / float(np.median(times))


def choose_defaults(rows: list[dict[str, Any]], real_colours: float, max_nfe: int) -> dict[str, Any]:
    """Among rows within ``max_nfe`` (or the cheapest rows if none is), those whose median colours per tile are
    within :data:`COLOUR_GAP` of real's median (or all), the lowest step distance; ties to fewer evaluations. The
    median, not the mean: a few many-coloured tiles (the abyss walls) pull real tiles' mean far above a typical
    tile's count."""
    affordable = [r for r in rows if r["nfe"] <= max_nfe] or [min(rows, key=lambda r: r["nfe"])]
    ok = [r for r in affordable if abs(r["colors_median"] - real_colours) / real_colours <= COLOUR_GAP]
    return min(ok or affordable, key=lambda r: (r["step_tv"], r["nfe"]))


def export_tiles_bundle(
    checkpoint: str | Path,
    data: SpriteSet,
    bundle: str | Path,
    name: str,
    *,
    eval_count: int = 512,
    sweep_count: int = 256,
    sweep: list[tuple[int, float, float, int]] | None = None,
    speed_batch: int = SPEED_BATCH,
    speed_runs: int = 5,
    two_sample: bool = True,
    base: str | Path | None = None,
) -> Manifest:
    """Export, sweep, evaluate and install (see the module docstring). ``speed_batch``/``speed_runs`` and
    ``two_sample`` (the fresh CNN's fit, the slowest measure) exist so that tests can run it small. ``base``: for
    an upsampler checkpoint (``--lowres true``), the tile bundle folder of its first stage (a cascade: the base
    draws the tile at half size at its own defaults, the upsampler every pixel given it; docs/tiles.md)."""
    t0 = time.perf_counter()
    train, val = data.train(), data.val()
    model, state = load_pixel_model(checkpoint)
    mc, cfg, s = state["model_config"], model.cfg, data.size
    if not cfg.unet.circular:
        raise SystemExit(f"{checkpoint} was not trained with --circular true: its tiles would not wrap around")
    if tuple(mc["labels"]) != data.label_names:
        raise ValueError(f"checkpoint labels {mc['labels']} differ from the dataset's {data.label_names}")
    palette = from_hex(mc["palette"])
    work = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    out = work / name
    out.mkdir()

    # 1. the network graph, parity-checked against torch (and a cascade's first stage beside it)
    net = export_logits(model, data, out)
    graphs = {"logits": net.graph}
    cascade: dict[str, Any] = {}
    if cfg.lowres:
        if base is None:
            raise SystemExit("an upsampler checkpoint (lowres) needs --base, the tile bundle folder of its first stage")
        graphs["base"], cascade = first_stage(Path(base), data, out)
        if not cascade["base"].get("tiling"):
            raise SystemExit(f"--base {base}: not a tile model (its tiles would not wrap around)")
    elif base is not None:
        raise SystemExit("--base is only for an upsampler checkpoint (lowres)")

    # 2. a first manifest
    spec = TokenSpec(
        palette,
        len(data.label_names),
        "cosine",
        ("random",),
        min(256, s * s),
        "random",
        8,
        1.0,
        1.0,
        {**token_conditioning(data, mc), **cascade},
        tiling=True,
        opaque=bool((data.images[..., 3] == 255).all()),  # terrain tiles: no pixel may come out transparent
    )
    if not cascade:
        description = (
            f"Seamless {s}x{s} terrain tiles ({', '.join(data.label_names)}): masked discrete diffusion over a "
            f"{len(palette)}-colour palette on a torus ({data.name})"
        )
    else:
        b = cascade["base"]
        description = (
            f"Seamless {s}x{s} terrain tiles ({', '.join(data.label_names)}), a cascade: {b['bundle']} draws the "
            f"{b['size']}x{b['size']} tile, a masked discrete diffusion upsampler over a {len(palette)}-colour "
            f"palette on a torus draws every pixel given it ({data.name})"
        )
    manifest = first_manifest(name, description, data, state, graphs, spec)
    save_manifest(manifest, out / "manifest.json")
    reg = Registry([work], builtin=False, env=False)
    runtime = families.load(reg.load(name))
    assert isinstance(runtime, PixelModel) and runtime.spec.tiling

    # 3. the sweep (floors first: what real tiles and the palette alone score)
    real_profile = step_profile(val.images)
    floors = {
        "real_train_vs_held_out": {"step_tv": round(profile_distance(step_profile(train.images), real_profile), 4)},
        "palette_quantised_held_out": {  # the held-out tiles through the palette: the closest any sampler can get
            "step_tv": round(
                profile_distance(step_profile(from_tokens(to_tokens(val.images, palette), palette)), real_profile), 4
            )
        },
        "seam_distance_real_held_out": round(seam_distance(val.images), 4),
        "seam_distance_real_train": round(seam_distance(train.images), 4),
    }
    plan = labels_like(val, sweep_count)
    rows: list[dict[str, Any]] = []
    for steps, temp, guidance, corrector in sweep or SWEEP:
        gen = generate_settings(runtime, plan, 0, "random", steps, temp, guidance, corrector)
        row = {
            "steps": steps,
            "temperature": temp,
            "guidance": guidance,
            "corrector": corrector,
            "nfe": nfe_of(steps, guidance, corrector),
            "step_tv": round(profile_distance(step_profile(gen), real_profile), 4),
            "seam_distance": round(seam_distance(gen), 4),
            "colors_per_sprite": round(pixel_art_stats(gen)["colors_per_sprite"], 2),
            "colors_median": float(pixel_art_stats(gen)["colors_per_sprite_median"]),
        }
        rows.append(row)
        print(f"sweep {json.dumps(row)}", flush=True)
    return finish_tiles_bundle(
        out,
        replace(manifest, metrics=sweep_metrics(net.parity_max_abs_diff, floors, rows, sweep_count)),
        data,
        bundle,
        eval_count=eval_count,
        speed_batch=speed_batch,
        speed_runs=speed_runs,
        two_sample=two_sample,
        started=t0,
    )


def finish_tiles_bundle(
    out: Path,
    manifest: Manifest,
    data: SpriteSet,
    bundle: str | Path,
    *,
    eval_count: int = 512,
    speed_batch: int = SPEED_BATCH,
    speed_runs: int = 5,
    two_sample: bool = True,
    started: float | None = None,
) -> Manifest:
    """The steps after the sweep (module docstring) on an exported folder ``out`` whose ``manifest.metrics`` holds
    the parity, the floors and the sweep: the evaluation budget from the graph's measured speed, the defaults from
    the sweep, the evaluation at the defaults, the sheets and the card; install into ``bundle``. ``out``'s parent
    is used as a scratch registry and removed afterwards."""
    t0 = time.perf_counter() if started is None else started
    name, work, s = manifest.name, out.parent, data.size
    train, val = data.train(), data.val()
    spec = TokenSpec.parse(manifest.labels, manifest.extra["tokens"], s * s, str(out))
    runtime = families.load(Registry([work], builtin=False, env=False).load(name))
    assert isinstance(runtime, PixelModel) and runtime.spec.tiling

    # 4. the evaluation budget from the network's speed, then the defaults
    rate = evaluations_per_s(runtime, data.label_names[0], speed_batch, speed_runs)
    target = TARGET_TILES_PER_S.get(s, 30.0)
    max_nfe = max(QUALITY_NFE, int(rate // target))
    print(
        f"{rate:.0f} tile-evaluations/s: the defaults may spend {max_nfe} per tile for {target:g} tiles/s", flush=True
    )
    real_profile = step_profile(val.images)
    real_colours = pixel_art_stats(val.images)["colors_per_sprite_median"]
    best = choose_defaults(manifest.metrics["sweep"], real_colours, max_nfe)
    spec = replace(
        spec,
        default_steps=best["steps"],
        default_guidance=best["guidance"],
        default_temperature=best["temperature"],
        corrector=best["corrector"],
    )
    manifest = replace(manifest, extra={"tokens": spec.to_dict()})
    save_manifest(manifest, out / "manifest.json")
    reg = Registry([work], builtin=False, env=False)

    # 5. evaluation at the defaults
    eplan = labels_like(val, eval_count)
    gen = np.concatenate(
        [
            api.generate(name, c, 100_000 + 10_000 * i, label=lab, registry=reg).sprites
            for i, (lab, c) in enumerate(eplan)
        ]
    )
    per_label = {}
    k = 0
    for lab, c in eplan:
        i = data.label_names.index(lab)
        real_lab = data.images[data.labels == i]
        per_label[lab] = {
            "count": c,
            "real_count": int(len(real_lab)),
            "step_tv_vs_real_label": round(profile_distance(step_profile(gen[k : k + c]), step_profile(real_lab)), 4),
            "seam_distance": round(seam_distance(gen[k : k + c]), 4),
            "seam_distance_real": round(seam_distance(real_lab), 4),
            "colors_per_sprite": round(pixel_art_stats(gen[k : k + c])["colors_per_sprite"], 2),
            "real_colors_per_sprite": round(pixel_art_stats(real_lab)["colors_per_sprite"], 2),
        }
        k += c
    metrics = {
        **manifest.metrics,
        "evaluations_per_s": round(rate, 1),
        "max_default_nfe": max_nfe,
        "defaults": {**{k: best[k] for k in ("steps", "temperature", "guidance", "corrector")}, "nfe": best["nfe"]},
        "eval_count": len(gen),
        "step_bins": list(STEP_BINS),
        "real_step_profile": [round(float(x), 4) for x in real_profile],
        "step_profile": [round(float(x), 4) for x in step_profile(gen)],
        "seams": seam_report(gen, val.images),
        "held_out_real": pixel_art_stats(val.images),
        "generated": pixel_art_stats(gen),
        "two_sample": _two_sample(gen, val.images, train.images) if two_sample else None,
        "memorization_rate": memorization_rate(gen, train.images),
        "per_label": per_label,
        "tiles_per_s": {
            "batch": speed_batch,
            "default": round(tiles_per_s(name, reg, data.label_names[0], speed_batch, speed_runs), 1),
            "unlabelled": round(tiles_per_s(name, reg, None, speed_batch, speed_runs), 1),
            "target": target,
        },
    }
    manifest = replace(manifest, metrics=metrics)

    # 6. pictures and the card
    scale = 4 if s <= 16 else 2
    first = np.concatenate([api.generate(name, 4, 0, label=lab, registry=reg).sprites for lab in data.label_names])
    save_sheet(with_repeats(first), out / "samples.png", columns=8, scale=scale)
    for lab in data.label_names:
        i = data.label_names.index(lab)
        real_lab = train.images[train.labels == i][:4]
        gen_lab = api.generate(name, 12, 0, label=lab, registry=reg).sprites
        save_sheet(with_repeats(np.concatenate([real_lab, gen_lab])), out / f"label_{lab}.png", columns=8, scale=scale)
    _variation_sheet(name, reg, val, out / "variations.png", scale)
    _inpaint_sheet(name, reg, val, out / "inpaint.png", scale)
    save_manifest(manifest, out / "manifest.json")
    write_card(manifest, out / "card.md", export_seconds=time.perf_counter() - t0)
    install_bundle(out, bundle)
    shutil.rmtree(work)
    print(json.dumps({k: metrics[k] for k in ("defaults", "seams", "two_sample", "tiles_per_s")}, indent=1))
    return manifest


def with_repeats(tiles: np.ndarray) -> np.ndarray:
    """(N, S, S, 4) tiles -> (N * 2, 3S, 3S, 4): each tile (centred on a transparent 3S canvas) then its 3x3 repeat,
    so a sheet with an even column count shows pairs side by side."""
    n, s = tiles.shape[0], tiles.shape[1]
    out = np.zeros((n * 2, 3 * s, 3 * s, 4), np.uint8)
    out[0::2, s : 2 * s, s : 2 * s] = tiles
    out[1::2] = repeat_3x3(tiles)
    return out


def _variation_sheet(name: str, reg: Registry, val: SpriteSet, path: Path, scale: int) -> None:
    """Rows: a held-out tile and 3 variations at strength 0.35 (in the tile's own colours), each with its repeat."""
    rows = []
    for j, i in enumerate(np.linspace(0, len(val.images) - 1, 4).astype(int)):
        tile, lab = val.images[i], val.label_names[val.labels[i]]
        res = api.variations(name, tile, 3, 0.35, 11 * j, label=lab, registry=reg).sprites
        rows.append(with_repeats(np.concatenate([tile[None], res])))
    save_sheet(np.concatenate(rows), path, columns=8, scale=scale)


def _inpaint_sheet(name: str, reg: Registry, val: SpriteSet, path: Path, scale: int) -> None:
    """Rows: a held-out tile and 3 repaintings of its centre (the border is kept), each with its repeat."""
    s = val.size
    mask = np.zeros((s, s), bool)
    mask[s // 4 : 3 * s // 4, s // 4 : 3 * s // 4] = True
    rows = []
    for j, i in enumerate(np.linspace(0, len(val.images) - 1, 4).astype(int)):
        tile, lab = val.images[i], val.label_names[val.labels[i]]
        res = api.inpaint(name, tile, mask, 3, 13 * j, label=lab, registry=reg).sprites
        rows.append(with_repeats(np.concatenate([tile[None], res])))
    save_sheet(np.concatenate(rows), path, columns=8, scale=scale)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint")
    p.add_argument("--dataset", default="dcss16tiles")
    p.add_argument("--data", default="../shared/datasets")
    p.add_argument("--cache", default=".cache/datasets")
    p.add_argument("--bundle", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--eval-count", type=int, default=512)
    p.add_argument("--sweep-count", type=int, default=256)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--base", default=None, help="an upsampler's first stage: a tile bundle folder (a cascade)")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    size = int(load_checkpoint(a.checkpoint)["model_config"]["run"]["sprite_size"])
    data = load_dataset(a.dataset, a.data, size, a.cache)
    export_tiles_bundle(
        a.checkpoint, data, a.bundle, a.name, eval_count=a.eval_count, sweep_count=a.sweep_count, base=a.base
    )


if __name__ == "__main__":
    main()
