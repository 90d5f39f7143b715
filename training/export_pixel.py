"""Turn a trained pixel-token checkpoint into a ``pixel`` bundle, evaluated through the runtime a user runs.

    python -m training.export_pixel runs/pixel16/last.pt --dataset dcss16fine --bundle pixelsprite/models/pixel16 \
        --name pixel16

Story: checkpoint -> EMA TokenUNet -> ONNX ``logits`` graph (parity-checked against torch) -> a first manifest
(the palette and sampler defaults in its ``tokens`` section, :class:`pixelsprite.pixel.TokenSpec`) -> **sweep**
of reveal order x steps x colour temperature x guidance on the held-out split (neighbour-step distance to held-out
real, the frozen evaluator's Fréchet distance, colours per sprite, sprites/s) -> defaults: among the settings
within the interactive budget (network evaluations per sprite), the lowest ``fd + step_tv`` -> evaluation at the
defaults on >= 512 sprites (crispness, two-sample test, FD, label agreement, memorization, speed) -> sheets (per
label beside real sprites, inpainting before/after, palette-locked vs mapped) and ``card.md``.
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
import onnx
import torch

from pixelsprite import api, families
from pixelsprite.evaluation.crispness import STEP_BINS, profile_distance, step_profile
from pixelsprite.evaluation.evaluator import Evaluator
from pixelsprite.manifest import ImageSpec, Manifest, PostprocessSpec, load_manifest, save_manifest
from pixelsprite.palettes import enforce, resolve_palette
from pixelsprite.pixel import PixelModel, TokenSpec
from pixelsprite.registry import Registry

from .card_pixel import write_card
from .data.builders import SpriteSet, is_overlay_glyph, label_aliases, label_counts, load_dataset
from .evaluate import memorization_rate, pixel_art_stats
from .evaluate_generator import frechet_meter
from .export import PARITY_ATOL, export_graph, install_bundle
from .export_generator import labels_like
from .models.token_unet import PickingTokenUNet, TokenUNet, TokenUNetConfig, example_inputs
from .onnx_teacher import is_bundle
from .sheets import save_sheet
from .token_palette import from_hex, from_tokens, to_tokens
from .trainer import load_checkpoint

SPEED_BATCH = 64
MAX_DEFAULT_NFE = {16: 26, 40: 26}  # network evaluations per sprite the defaults may spend, by sprite size
COLOUR_GAP = 0.25  # the defaults keep colours per sprite within this share of real (speckle shows as colours)
SCORE_TIE = 0.01  # sweep rows scoring this close count as equal (the score's spread between seeds at 128 sprites)
SWEEP_STEPS = (8, 12)
SWEEP_TEMPERATURES = (0.7, 0.85, 1.0)


def sweep_settings(
    steps: tuple[int, ...] = SWEEP_STEPS,
    guidance: tuple[float, ...] = (1.0, 2.0),
    temperatures: tuple[float, ...] = SWEEP_TEMPERATURES,
) -> list[tuple[str, int, float, float, int]]:
    """The grid the export measures: each number of reveal ``steps`` x colour temperature x ``guidance`` x
    corrector rounds in random order, plus one confidence-ordered row (the MaskGIT order, kept in view because it
    collapses) at the largest guidance."""
    return [
        ("random", n, temp, g, corr) for n in steps for temp in temperatures for g in guidance for corr in (0, 1, 2)
    ] + [("confidence", 8, 1.0, max(guidance), 0)]


SWEEP = sweep_settings()
"""(order, steps, colour temperature, guidance, corrector rounds) settings measured on the held-out split."""
LOCK_PALETTE = "pico-8"


def load_pixel_model(checkpoint: str | Path) -> tuple[TokenUNet, dict]:
    state = load_checkpoint(checkpoint)
    model = TokenUNet(TokenUNetConfig.from_dict(state["model_config"]["token_unet"]))
    model.load_state_dict(state["ema"])
    return model.eval(), state


def generate_plan(name: str, reg: Registry, plan: list[tuple[str, int]], seed: int, **kw: object) -> np.ndarray:
    out = []
    for i, (lab, count) in enumerate(plan):
        out.append(api.generate(name, count, seed + 10_000 * i, label=lab, registry=reg, **kw).sprites)  # type: ignore[arg-type]
    return np.concatenate(out)


def generate_settings(
    model: PixelModel,
    plan: list[tuple[str, int]],
    seed: int,
    solver: str,
    steps: int,
    temperature: float,
    guidance: float,
    corrector: int,
    first_stage: dict[str, np.ndarray] | None = None,
    shade: float | None = None,
) -> np.ndarray:
    """Like :func:`generate_plan` (same seeds) with the runtime model directly, so the corrector (and its
    ``shade`` distance) can vary. A cascade's first-stage sprites depend on the seeds and label only: drawn once per
    label into ``first_stage`` and upsampled for every setting."""
    out = []
    cache = {} if first_stage is None else first_stage
    for i, (lab, count) in enumerate(plan):
        s = replace(model.settings(lab, solver, steps, guidance, temperature), corrector=corrector, shade=shade)
        seeds = list(range(seed + 10_000 * i, seed + 10_000 * i + count))
        if model.base is None:
            out.append(model.generate(seeds, s))
            continue
        key = f"{lab}/{seed + 10_000 * i}/{count}"
        if key not in cache:
            cache[key] = model.base.generate(seeds, model.base_settings(s))
        out.append(model.upsample(cache[key], seeds, s))
    return np.concatenate(out)


def speed(
    name: str, reg: Registry, batch: int = SPEED_BATCH, runs: int = 3, label: str | None = None, **kw: object
) -> float:
    """Median sprites/s of ``generate`` at ``batch`` sprites of ``label`` (one warm-up call). With a label the
    sampler runs guided (two evaluations a step), as a user asking for a kind of sprite gets it."""
    api.generate(name, batch, 0, label=label, registry=reg, **kw)  # type: ignore[arg-type]
    times = []
    for r in range(runs):
        t = time.perf_counter()
        api.generate(name, batch, 1 + r, label=label, registry=reg, **kw)  # type: ignore[arg-type]
        times.append(time.perf_counter() - t)
    return batch / float(np.median(times))


def nfe_of(steps: int, guidance: float, corrector: int) -> int:
    """Network evaluations per sprite of one labelled sampling run (a guided step asks the network twice)."""
    return (steps + corrector) * (2 if guidance not in (0.0, 1.0) else 1)


def sweep_metrics(parity: float, floors: dict[str, Any], rows: list[dict[str, Any]], count: int) -> dict[str, Any]:
    """The metrics an export measured before its defaults are chosen: graph parity, floors, the sweep's rows."""
    return {
        "parity_max_abs_diff": {"logits": parity, "tolerance": PARITY_ATOL},
        "floors": floors,
        "sweep": rows,
        "sweep_count": count,
    }


def crisp_stats(gen: np.ndarray, real_profile: np.ndarray) -> dict:
    p = step_profile(gen)
    return {"step_tv": round(profile_distance(p, real_profile), 4), "step_profile": [round(float(x), 4) for x in p]}


def export_pixel_bundle(
    checkpoint: str | Path,
    data: SpriteSet,
    bundle: str | Path,
    name: str,
    *,
    eval_count: int = 512,
    sweep_count: int = 256,
    max_nfe: int | None = None,
    sweep: list[tuple[str, int, float, float, int]] | None = None,
    base: str | Path | None = None,
    guide: str | Path | None = None,
    shade: float | None = None,
) -> Manifest:
    """Steps 1-2 (module docstring), then :func:`finish_pixel_bundle`. An upsampler checkpoint (``lowres``) needs
    ``base``, the bundle folder of its first stage: the bundle becomes a cascade that carries the base's graph
    (``base.onnx``) and ``tokens`` section (``tokens.base``, its measured defaults). A renderer checkpoint
    (``guide``) needs ``guide``, the latent generator bundle whose decoded sprites it redraws: the bundle carries
    that generator's graphs, ``sampling`` section and labels (:func:`renderer_stage`), and ``data`` is that
    generator's dataset (its labels; the renderer itself was trained without labels). ``shade``: the corrector
    redraws confetti as shades of its neighbours within this OKLab distance (``tokens.defaults.shade``) in every
    sweep row with corrector rounds, and in the bundle when such a row becomes the defaults."""
    t0 = time.perf_counter()
    train, val = data.train(), data.val()
    model, state = load_pixel_model(checkpoint)
    mc = state["model_config"]
    if tuple(mc["labels"]) != data.label_names and not model.cfg.guide:
        raise ValueError(f"checkpoint labels {mc['labels']} differ from the dataset's {data.label_names}")
    palette = from_hex(mc["palette"])
    s = data.size
    work = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    out = work / name
    out.mkdir()

    # 1. the network graph, parity-checked against torch (and a cascade's first stage beside it)
    net = export_logits(model, data, out)
    graphs = {"logits": net.graph}
    cascade: dict[str, Any] = {}
    stage_extra: dict[str, Any] = {}
    if model.cfg.guide:
        if guide is None:
            raise SystemExit("a renderer checkpoint (guide) needs --guide-from, the latent generator bundle folder")
        stage_graphs, cascade, stage_extra = renderer_stage(Path(guide), data, out)
        graphs.update(stage_graphs)
    elif guide is not None:
        raise SystemExit("--guide-from is only for a renderer checkpoint (guide)")
    elif model.cfg.lowres:
        if base is None:
            raise SystemExit("an upsampler checkpoint (lowres) needs --base, the bundle folder of its first stage")
        graphs["base"], cascade = first_stage(Path(base), data, out)
    elif base is not None:
        raise SystemExit("--base is only for an upsampler checkpoint (lowres)")

    # 2. a first manifest and the sweep
    spec = TokenSpec(
        palette,
        len(data.label_names),
        "cosine",
        ("random", "confidence"),
        min(256, s * s),
        "random",
        8,
        2.0,
        1.0,
        {**token_conditioning(data, mc), **cascade},
    )
    description = (
        f"Class-conditional masked discrete diffusion over a {len(palette)}-colour palette, "
        f"{s}x{s} pixel art ({data.name})"
    )
    if mc.get("distilled"):
        d = mc["distilled"]
        description = (
            f"{Path(d['teacher']).stem} distilled (guidance {float(d['guidance']):g} built in, one network "
            f"evaluation a step): " + description[0].lower() + description[1:]
        )
    if "guide" in cascade:
        description = (
            f"Renderer: {cascade['guide']['bundle']} draws the sprite in its VAE's latent space, a masked discrete "
            f"diffusion network over a {len(palette)}-colour palette draws every pixel at {s}x{s} given the "
            f"decoded image ({data.name})"
        )
    elif cascade:
        b = cascade["base"]["size"]
        description = (
            f"Cascade: {cascade['base']['bundle']} draws a {b}x{b} sprite, a masked discrete diffusion upsampler "
            f"over a {len(palette)}-colour palette draws every pixel at {s}x{s} given it ({data.name})"
        )
    manifest = first_manifest(name, description, data, state, graphs, spec)
    if stage_extra:
        manifest = replace(manifest, extra={**manifest.extra, **stage_extra["extra"]},
                           label_aliases=stage_extra["label_aliases"])  # fmt: skip
    save_manifest(manifest, out / "manifest.json")
    reg = Registry([work], builtin=False, env=False)
    fd = frechet_meter(val.images)
    real_profile = step_profile(val.images)
    palette_floor = from_tokens(to_tokens(val.images, palette), palette)
    real_sub = train.images[np.linspace(0, len(train.images) - 1, len(val.images) * 2).astype(int)]
    floors = {
        "real_train_vs_held_out": {
            "step_tv": round(profile_distance(step_profile(train.images), real_profile), 4),
            "fd": round(fd(real_sub), 4),
        },
        "palette_quantised_held_out": {
            "step_tv": round(profile_distance(step_profile(palette_floor), real_profile), 4),
            "fd": round(fd(palette_floor), 4),
        },
    }
    print(f"floors {floors}", flush=True)
    plan = labels_like(val, sweep_count)
    rows: list[dict[str, Any]] = []
    runtime = families.load(reg.load(name))
    first: dict[str, np.ndarray] = {}
    for solver, steps, temp, guidance, corrector in sweep or SWEEP:
        row_shade = shade if corrector else None
        kw = {"solver": solver, "steps": steps, "temperature": temp, "guidance": guidance, "corrector": corrector}
        if row_shade is not None:
            kw["shade"] = row_shade
        gen = generate_settings(runtime, plan, 0, solver, steps, temp, guidance, corrector, first, row_shade)
        row = {
            **kw,
            "nfe": nfe_of(steps, guidance, corrector),
            "fd": round(fd(gen), 4),
            **crisp_stats(gen, real_profile),
            **{k: round(v, 4) for k, v in pixel_art_stats(gen).items()},
        }
        rows.append(row)
        print(f"sweep {json.dumps(row)}", flush=True)
    measured = sweep_metrics(net.parity_max_abs_diff, floors, rows, sweep_count)
    return finish_pixel_bundle(
        out, replace(manifest, metrics=measured), data, bundle, eval_count=eval_count, max_nfe=max_nfe, started=t0
    )


PICK_EXAMPLE = 24
"""Pixels picked per canvas in the export's example inputs (any count works at run time: a dynamic axis)."""


class LabelFreeRenderer(PickingTokenUNet):
    """A renderer's exported network: it takes ``label`` (the request's, which its first stage draws) and ignores
    it; trained without labels (label dropout 1), the network always sees its own null label."""

    def forward(  # type: ignore[override]  # positional, as an exporter passes inputs
        self, tokens: torch.Tensor, t: torch.Tensor, label: torch.Tensor, *rest: torch.Tensor
    ) -> torch.Tensor:
        return super().forward(tokens, t, torch.full_like(label, self.cfg.unet.num_labels), *rest)


def logits_graph(model: TokenUNet, labels: int, path: Path, seed: int = 0) -> Any:
    """Export ``model``'s ``logits`` graph to ``path`` (parity-checked against torch on 6 random canvases): with
    ``pick`` as its last input where the model can pick (patch 1; :class:`PickingTokenUNet`), so the sampler asks
    only for the pixels it draws; a renderer's label-free (:class:`LabelFreeRenderer`). Returns
    :func:`training.export.export_graph`'s result."""
    if not model.can_pick():
        return export_graph(model, example_inputs(model.cfg, labels, 6, seed=seed), ["logits"], path)
    example = example_inputs(model.cfg, labels, 6, seed=seed, pick=PICK_EXAMPLE)
    dims = {"pick": {1: "pixels"}, "logits": {2: "pixels"}}
    wrapper = LabelFreeRenderer if model.cfg.guide else PickingTokenUNet
    return export_graph(wrapper.of(model), example, ["logits"], path, dynamic_dims=dims)


def export_logits(model: TokenUNet, data: SpriteSet, out: Path) -> Any:
    """The ``logits`` ONNX graph of ``model`` in ``out`` (:func:`logits_graph`)."""
    net = logits_graph(model, len(data.label_names), out / "logits.onnx")
    print(f"exported logits: parity {net.parity_max_abs_diff:.2e}", flush=True)
    return net


def first_stage(base: Path, data: SpriteSet, out: Path) -> tuple[Any, dict[str, Any]]:
    """A cascade's first stage from the ``pixel`` bundle folder ``base``: its graph copied into ``out`` as
    ``base.onnx`` (the GraphSpec) and the ``tokens.base`` section (its tokens section with its measured defaults,
    its sprite size and name). Its labels must be the dataset's; its sprites must fit the half-size canvas."""
    m = load_manifest(base)
    if m.family != "pixel" or "base" in m.extra.get("tokens", {}):
        raise SystemExit(f"--base {base}: must be a single-stage 'pixel' bundle, got family {m.family!r}")
    if tuple(m.labels) != data.label_names:
        raise SystemExit(f"--base {base}: its labels {m.labels} differ from the dataset's {data.label_names}")
    if m.image.width * 2 > data.size or (data.size // 2 - m.image.width) % 2:
        raise SystemExit(f"--base {base}: {m.image.width}x{m.image.width} does not centre on {data.size // 2}")
    shutil.copyfile(base / m.graphs["logits"].file, out / "base.onnx")
    return replace(m.graphs["logits"], file="base.onnx"), {
        "base": {**m.extra["tokens"], "size": m.image.width, "bundle": m.name}
    }


GUIDE_GRAPHS = ("encoder", "decoder")
"""Graphs a renderer's first stage carries besides its network (``denoiser`` or ``velocity``)."""


def renderer_stage(guide: Path, data: SpriteSet, out: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A renderer's first stage from the latent generator bundle folder ``guide``: its network, encoder and decoder
    graphs copied into ``out`` (GraphSpecs by role), the ``tokens.guide`` section, and what the manifest takes
    from it (``extra``: its ``sampling`` section; ``label_aliases``). Its labels must be the dataset's."""
    m = load_manifest(guide)
    network = {"diffusion": "denoiser", "flow": "velocity"}.get(m.family)
    sampling = m.extra.get("sampling", {})
    if network is None or sampling.get("space") != "latent" or not set(GUIDE_GRAPHS) <= set(m.graphs):
        raise SystemExit(f"--guide-from {guide}: must be a latent diffusion or flow bundle with encoder and decoder")
    if tuple(m.labels) != data.label_names:
        raise SystemExit(f"--guide-from {guide}: its labels {m.labels} differ from the dataset's {data.label_names}")
    graphs = {}
    for role in (network, *GUIDE_GRAPHS):
        shutil.copyfile(guide / m.graphs[role].file, out / m.graphs[role].file)
        graphs[role] = m.graphs[role]
    section = {"guide": {"family": m.family, "bundle": m.name}}
    return graphs, section, {"extra": {"sampling": sampling}, "label_aliases": dict(m.label_aliases)}


def token_conditioning(data: SpriteSet, mc: dict[str, Any]) -> dict[str, Any]:
    """The ``tokens`` section's raw ``conditioning`` part: null label, label dropout, label counts."""
    return {
        "conditioning": {
            "null_label": len(data.label_names),
            "label_dropout": mc["loss"]["label_dropout"],
            "label_counts": label_counts(data),
        }
    }


def first_manifest(
    name: str, description: str, data: SpriteSet, state: dict[str, Any], graphs: dict[str, Any], spec: TokenSpec
) -> Manifest:
    """A ``pixel`` bundle's manifest before the sweep: graphs, labels, data credits and the training recipe."""
    mc, s = state["model_config"], data.size
    trainer_cfg = state["trainer_config"]
    return Manifest(
        name=name,
        family="pixel",
        description=description,
        image=ImageSpec(s, s),
        labels=data.label_names,
        label_aliases=label_aliases(data.name, data.label_names),
        postprocess=PostprocessSpec(alpha_threshold=0.0, max_colors=0),
        graphs=graphs,
        training={
            "data": list(data.credits),
            "dataset": {
                "name": data.name,
                "builder": mc["run"]["dataset"],
                "train": int((~data.held_out).sum()),
                "held_out": int(data.held_out.sum()),
                "split": "sha1(relative path) < 10%",
                "label_counts": label_counts(data),
            },
            "recipe": {
                "model": TokenUNetConfig.from_dict(mc["token_unet"]).to_dict(),
                "loss": mc["loss"],
                "trainer": trainer_cfg,
                "palette": f"OKLab k-means, {len(spec.palette)} colours, training split",
                **({"init_from": init_from(mc["run"]["init_from"])} if mc["run"].get("init_from") else {}),
                **({"distilled": distilled_from(mc["distilled"])} if mc.get("distilled") else {}),
            },
            "seconds": round(float(state["elapsed_s"]), 1),
            "epochs": int(state["epoch"]),
            "steps": int(state["step"]),
            "framework": f"torch {torch.__version__}",
            "hardware": "2-core CPU, 1 thread" if trainer_cfg.get("threads") == 1 else "CPU",
        },
        card="card.md",
        samples="samples.png",
        extra={"tokens": spec.to_dict()},
    )


def init_from(checkpoint: str) -> dict[str, Any]:
    """What a fine-tuned run started from, for the card: the checkpoint's path, epochs and training seconds, and
    ``chain_seconds``, the training seconds of that run and of every run it was itself fine-tuned from."""
    state = load_checkpoint(checkpoint)
    seconds = round(float(state["elapsed_s"]), 1)
    base = state["model_config"]["run"].get("init_from")
    before = init_from(base)["chain_seconds"] if base else 0.0
    chain = seconds + before
    return {"checkpoint": checkpoint, "epochs": int(state["epoch"]), "seconds": seconds, "chain_seconds": chain}


def distilled_from(distilled: dict[str, Any]) -> dict[str, Any]:
    """What a distilled student learned from: the teacher checkpoint (or bundle folder), its guidance, its size and
    training time (a bundle's: its whole fine-tuning chain, from its manifest)."""
    if is_bundle(distilled["teacher"]):
        m = load_manifest(distilled["teacher"])
        graph = onnx.load(str(Path(distilled["teacher"]) / m.graphs["logits"].file))
        chain = float(m.training.get("recipe", {}).get("init_from", {}).get("chain_seconds", 0.0))
        return {
            "teacher": distilled["teacher"],
            "guidance": float(distilled["guidance"]),
            "teacher_parameters": int(sum(np.prod(t.dims) for t in graph.graph.initializer)),
            "teacher_seconds": round(float(m.training["seconds"]) + chain, 1),
        }
    state = load_checkpoint(distilled["teacher"])
    teacher = TokenUNet(TokenUNetConfig.from_dict(state["model_config"]["token_unet"]))
    return {
        "teacher": distilled["teacher"],
        "guidance": float(distilled["guidance"]),
        "teacher_parameters": sum(q.numel() for q in teacher.parameters()),
        "teacher_seconds": round(float(state["elapsed_s"]), 1),
    }


def choose_defaults(rows: list[dict[str, Any]], real_colours: float, fd_floor: float, max_nfe: int) -> dict[str, Any]:
    """The sweep row the defaults take: among rows within ``max_nfe`` network evaluations per sprite whose colours
    per sprite are within :data:`COLOUR_GAP` of real, score ``step_tv + 0.05 * fd / fd_floor``; of the rows within
    :data:`SCORE_TIE` of the lowest score, the one with the fewest evaluations (then the lowest score). When no row
    keeps the colours, the row closest to real colours."""
    affordable = [r for r in rows if r["nfe"] <= max_nfe] or rows

    def gap(r: dict[str, Any]) -> float:
        return abs(r["colors_per_sprite"] - real_colours) / real_colours

    ok = [r for r in affordable if gap(r) <= COLOUR_GAP]
    if not ok:
        return min(affordable, key=gap)

    def score(r: dict[str, Any]) -> float:
        return float(r["step_tv"] + 0.05 * r["fd"] / max(fd_floor, 1e-6))

    best = min(score(r) for r in ok)
    return min((r for r in ok if score(r) <= best + SCORE_TIE), key=lambda r: (r["nfe"], score(r)))


def finish_pixel_bundle(
    out: Path,
    manifest: Manifest,
    data: SpriteSet,
    bundle: str | Path,
    *,
    eval_count: int = 512,
    max_nfe: int | None = None,
    started: float | None = None,
    shade: float | None = None,
) -> Manifest:
    """Steps 3-4 on an exported folder ``out`` whose ``manifest.metrics`` holds the sweep, floors and parity:
    choose the defaults, evaluate, draw the sheets, write the card; install into ``bundle``. ``out``'s parent is
    used as a scratch registry and removed afterwards. ``shade``: the corrector's shade distance
    (``tokens.defaults.shade``) for defaults chosen from a sweep measured without one (a bundle re-finished after
    the sampler gained it); the evaluation at the defaults measures it."""
    t0 = time.perf_counter() if started is None else started
    name, work, s = manifest.name, out.parent, data.size
    train, val = data.train(), data.val()
    rows, floors = manifest.metrics["sweep"], manifest.metrics["floors"]
    real = pixel_art_stats(val.images)
    max_nfe = max_nfe or MAX_DEFAULT_NFE.get(s, 26)
    best = choose_defaults(rows, real["colors_per_sprite"], floors["real_train_vs_held_out"]["fd"], max_nfe)
    spec = replace(
        TokenSpec.parse(manifest.labels, manifest.extra["tokens"], s * s, str(out)),
        default_solver=best["solver"],
        default_steps=best["steps"],
        default_guidance=best["guidance"],
        default_temperature=best["temperature"],
        corrector=best["corrector"],
        shade=best.get("shade", shade if best["corrector"] else None),
    )
    manifest = replace(manifest, extra={**manifest.extra, "tokens": spec.to_dict()})
    save_manifest(manifest, out / "manifest.json")
    reg = Registry([work], builtin=False, env=False)
    fd = frechet_meter(val.images)
    real_profile = step_profile(val.images)

    # 3. evaluation at the defaults on the held-out split
    eplan = labels_like(val, eval_count)
    gen = generate_plan(name, reg, eplan, 100_000)
    generated = pixel_art_stats(gen)
    ev = Evaluator.load(api.default_registry())
    wanted = [lab for lab, c in eplan for _ in range(c)]
    predicted = ev.run(gen).predicted
    agreement = ev.agreement(predicted, wanted, data.label_names)
    real_agreement = ev.agreement(
        ev.run(val.images).predicted, [val.label_names[i] for i in val.labels], data.label_names
    )
    two_sample = _two_sample(gen, val.images, train.images)
    per_label = {}
    k = 0
    for lab, count in eplan:
        idx = val.labels == val.label_names.index(lab)
        g_lab = gen[k : k + count]
        per_label[lab] = {
            "count": count,
            "real_count": int(idx.sum()),
            "colors_per_sprite": round(pixel_art_stats(g_lab)["colors_per_sprite"], 2),
            "real_colors_per_sprite": round(pixel_art_stats(val.images[idx])["colors_per_sprite"], 2)
            if idx.any()
            else None,
            "step_tv_vs_all_real": round(profile_distance(step_profile(g_lab), real_profile), 4),
        }
        k += count
    sp = speed(name, reg, label=data.label_names[0] if data.label_names else None)
    sp_unlabelled = speed(name, reg)
    metrics = {
        **manifest.metrics,
        "defaults": {
            "solver": spec.default_solver,
            "steps": spec.default_steps,
            "guidance": spec.default_guidance,
            "temperature": spec.default_temperature,
            "corrector": spec.corrector,
            **({"shade": spec.shade} if spec.shade is not None else {}),
            "nfe": best["nfe"],
        },
        "max_default_nfe": max_nfe,
        "eval_count": len(gen),
        "held_out_real": real,
        "generated": generated,
        "step_bins": list(STEP_BINS),
        "real_step_profile": [round(float(x), 4) for x in real_profile],
        **crisp_stats(gen, real_profile),
        "fd": {"metric": fd.name, "default": round(fd(gen), 4)},
        "two_sample": two_sample,
        "label_agreement": agreement,
        "label_agreement_real": real_agreement,
        "colors_gap": round(
            abs(generated["colors_per_sprite"] - real["colors_per_sprite"]) / real["colors_per_sprite"], 4
        ),
        "non_binary_alpha_share": generated["non_binary_alpha_share"],
        "memorization_rate": memorization_rate(gen, train.images),
        "per_label": per_label,
        "label_overlays": overlay_counts(data),
        "sprites_per_s": {"batch": SPEED_BATCH, "default": round(sp, 2), "unlabelled": round(sp_unlabelled, 2)},
    }
    manifest = replace(manifest, metrics=metrics)

    # 4. pictures and the card
    scale = 4 if s <= 16 else 2
    save_sheet(
        generate_plan(name, reg, [(lab, 8) for lab in data.label_names], 0), out / "samples.png", columns=8, scale=scale
    )
    for lab in data.label_names:
        i = data.label_names.index(lab)
        real_lab = train.images[train.labels == i][:8]
        gen_lab = api.generate(name, 24, 0, label=lab, registry=reg).sprites
        both = np.concatenate([_pad8(real_lab, s), gen_lab])
        save_sheet(both, out / f"label_{lab}.png", columns=8, scale=scale)
    _inpaint_sheet(name, reg, val, out / "inpaint.png", scale)
    _palette_sheet(name, reg, data.label_names, out / "palette_locked.png", scale)
    save_manifest(manifest, out / "manifest.json")
    write_card(manifest, out / "card.md", export_seconds=time.perf_counter() - t0)
    install_bundle(out, bundle)
    shutil.rmtree(work)
    print(
        json.dumps(
            {
                k: metrics[k]
                for k in (
                    "defaults",
                    "step_tv",
                    "fd",
                    "two_sample",
                    "label_agreement",
                    "sprites_per_s",
                    "memorization_rate",
                )
            },
            indent=1,
        )
    )
    return manifest


def overlay_counts(data: SpriteSet) -> dict[str, dict[str, int]]:
    """Per label: sprites, and how many are DCSS overlay glyphs rather than items (``i-*.png`` identification
    marks, ``brands``/``*_brands`` and tentacle ``*_corners`` pieces drawn on top of another tile)."""
    out: dict[str, dict[str, int]] = {}
    for path, i in zip(data.paths, data.labels):
        lab = data.label_names[i]
        row = out.setdefault(lab, {"sprites": 0, "overlays": 0})
        row["sprites"] += 1
        row["overlays"] += is_overlay_glyph(path)
    return out


def _two_sample(gen: np.ndarray, real: np.ndarray, train: np.ndarray) -> dict | None:
    """Two-sample CNN accuracy generated-vs-held-out real, and the real-vs-real floor (training vs held-out)."""
    try:
        from pixelsprite.evaluation.two_sample import two_sample_accuracy
    except ImportError:
        return None
    rr = train[np.random.default_rng(0).permutation(len(train))[: len(real) * 2]]
    g, r = two_sample_accuracy(real, gen, seed=0), two_sample_accuracy(real, rr, seed=0)
    return {
        "generated_vs_real": round(g.accuracy, 4),
        "generated_vs_real_fold_std": round(g.fold_std, 4),
        "real_vs_real": round(r.accuracy, 4),
        "per_class": g.per_class,
        "folds": g.folds,
    }


def _pad8(sprites: np.ndarray, s: int) -> np.ndarray:
    """Up to 8 sprites, padded with transparent ones to a full row of 8."""
    out = np.zeros((8, s, s, 4), np.uint8)
    out[: len(sprites)] = sprites[:8]
    return out


def _inpaint_sheet(name: str, reg: Registry, val: SpriteSet, path: Path, scale: int) -> None:
    """Rows of: a held-out sprite, its mask (the right half, shown as a red box), and 6 repaintings."""
    rows = []
    s = val.size
    picks = np.linspace(0, len(val.images) - 1, 6).astype(int)
    for j, i in enumerate(picks):
        img = val.images[i]
        mask = np.zeros((s, s), bool)
        mask[:, s // 2 :] = True
        shown = img.copy()
        shown[mask] = (shown[mask] // 2 + np.array([120, 0, 0, 127], np.uint8)).clip(0, 255)
        shown[mask, 3] = 255
        lab = val.label_names[val.labels[i]]
        res = api.inpaint(name, img, mask, 6, 7 * j, label=lab, registry=reg).sprites
        rows.append(np.concatenate([img[None], shown[None], res]))
    save_sheet(np.concatenate(rows), path, columns=8, scale=scale)


def _palette_sheet(name: str, reg: Registry, labels: tuple[str, ...], path: Path, scale: int) -> None:
    """Pairs of rows with the same seeds: drawn in PICO-8 by the sampler (palette-locked), then generated freely
    and mapped onto PICO-8 afterwards."""
    pal = resolve_palette(LOCK_PALETTE)
    rows = []
    for lab in labels[:6]:
        locked = api.generate(name, 8, 3, label=lab, palette=LOCK_PALETTE, registry=reg).sprites
        free = api.generate(name, 8, 3, label=lab, registry=reg).sprites
        rows += [locked, enforce(free, pal)]
    save_sheet(np.concatenate(rows), path, columns=8, scale=scale)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "source",
        help="a trained checkpoint (.pt), or an exported bundle folder: then its stored sweep "
        "is reused (defaults re-decided, re-evaluated; no re-sweep)",
    )
    p.add_argument("--dataset", default="dcss16fine")
    p.add_argument("--data", default="../shared/datasets")
    p.add_argument("--cache", default=".cache/datasets")
    p.add_argument("--bundle", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--sprite-size", type=int, default=16)
    p.add_argument("--eval-count", type=int, default=512)
    p.add_argument("--sweep-count", type=int, default=256)
    p.add_argument("--sweep-steps", type=int, nargs="+", default=list(SWEEP_STEPS), help="reveal steps the sweep tries")
    p.add_argument(
        "--sweep-guidance",
        type=float,
        nargs="+",
        default=[1.0, 2.0],
        help="guidance scales the sweep tries (a distilled student: 1, its teacher's guidance is built in)",
    )
    p.add_argument(
        "--sweep-temperatures", type=float, nargs="+", default=list(SWEEP_TEMPERATURES), help="colour temperatures"
    )
    p.add_argument(
        "--shade",
        type=float,
        default=None,
        help="the corrector redraws confetti as shades of a neighbour within this OKLab distance (e.g. 0.1): in "
        "every sweep row with corrector rounds, or (re-finishing a bundle) at its defaults",
    )
    p.add_argument("--max-nfe", type=int, default=0)
    p.add_argument("--base", default=None, help="an upsampler's first stage: a pixel bundle folder (a cascade)")
    p.add_argument(
        "--guide-from", default=None, help="a renderer's first stage: a latent generator bundle folder (diffusion40)"
    )
    p.add_argument("--threads", type=int, default=0)
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    data = load_dataset(a.dataset, a.data, a.sprite_size, a.cache)
    if Path(a.source).is_dir():
        m = load_manifest(a.source)
        work = Path(tempfile.mkdtemp(prefix=f"{m.name}-"))
        shutil.copytree(a.source, work / m.name)
        keep = ("parity_max_abs_diff", "floors", "sweep", "sweep_count", "quantized")
        finish_pixel_bundle(
            work / m.name,
            replace(m, metrics={k: m.metrics[k] for k in keep if k in m.metrics}),
            data,
            a.bundle,
            eval_count=a.eval_count,
            max_nfe=a.max_nfe or None,
            shade=a.shade,
        )
        return
    export_pixel_bundle(
        a.source,
        data,
        a.bundle,
        a.name,
        eval_count=a.eval_count,
        sweep_count=a.sweep_count,
        max_nfe=a.max_nfe or None,
        sweep=sweep_settings(tuple(a.sweep_steps), tuple(a.sweep_guidance), tuple(a.sweep_temperatures)),
        base=a.base,
        guide=a.guide_from,
        shade=a.shade,
    )


if __name__ == "__main__":
    main()
