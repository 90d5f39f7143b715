"""``card.md`` for a diffusion or flow bundle, written from its manifest so every number is the manifest's."""

from __future__ import annotations

from pathlib import Path

from pixelsprite import families
from pixelsprite.manifest import Manifest
from pixelsprite.manifest_sections import SamplingSpec


def write_card(m: Manifest, path: str | Path, export_seconds: float) -> None:
    t, x, s = m.training, m.metrics, SamplingSpec.of(m, m.name)
    real, gen, raw = x["held_out_real"], x["generated"], x["generated_without_color_cap"]
    gaps, d, ref, speed = x["gaps_vs_held_out"], x["defaults"], x["reference"], x["sprites_per_s"]
    fd = x["fd"]
    ds, recipe = t["dataset"], t["recipe"]
    size = f"{m.image.width}x{m.image.height}"
    what = (
        f"schedule `{s.schedule.to_dict() if s.schedule else None}`, {s.prediction}-prediction"
        if m.family == "diffusion"
        else f"`{s.path}` path, velocity prediction"
    )
    credits = "\n".join(f"- **{c['name']}** — licence {c['license']}; source: {c['source']}" for c in t["data"])
    lines = [
        f"# {m.name} — {m.description}",
        "",
        "![samples](samples.png)  ",
        f"*8 sprites per label ({', '.join(m.labels)}), row by row; default settings. One sheet per label: "
        "`label_<name>.png`.*",
        "",
        "## What it is",
        f"A class-conditional residual U-Net ({m.family}: {what}) in {s.space} space, {size} RGBA, "
        f"labels with classifier-free guidance (label dropout {s.conditioning.label_dropout}). "
        f"Defaults chosen by measurement: solver `{d['solver']}`, {d['steps']} steps, guidance {d['guidance']:g}. "
        "Decoding: hard alpha, then the calibrated colour policy "
        f"(tolerance {m.postprocess.color_tolerance:g}, despeckle {m.postprocess.despeckle:g}"
        f"{_label_policies(m)}).",
        "",
        "## Data",
        credits,
        "",
        f"Dataset `{ds['builder']}`: {ds['train']} training and {ds['held_out']} held-out sprites "
        f"(split: {ds['split']}). Sprites per label: "
        + ", ".join(f"{k} {v}" for k, v in ds["label_counts"].items())
        + ".",
        "",
        "## Recipe",
        f"- model: `{recipe['model']}`",
        f"- loss: `{recipe['loss']}`",
        f"- trainer: `{recipe['trainer']}`",
        f"- first stage: `{recipe['first_stage']}`",
        f"- trained {t['epochs']} epochs ({t['steps']} steps) in {t['seconds'] / 60:.1f} min on {t['hardware']} "
        f"with {t['framework']}; export + evaluation took {export_seconds / 60:.1f} min.",
        "",
        "## Quality versus steps (held-out split, raw colours)",
        f"Fréchet distance `{fd['metric']}` ({fd['feature']}) on {x['reference_count']} sprites with the held-out "
        "label mix against the held-out split; sprites/s at batch 64 with guidance.",
        "",
        f"| solver | steps | network evals | {fd['metric']} | colours/sprite | isolated-pixel rate | sprites/s |",
        "|---|---|---|---|---|---|---|",
        f"| {ref['solver']} (reference) | {ref['steps']} | {ref['nfe']} | {ref['fd']:.3f} | "
        f"{ref['colors_per_sprite']:.1f} | {ref['isolated_pixel_rate']:.3f} | {ref['sprites_per_s']:.2f} |",
        *(
            f"| {r['solver']} | {r['steps']} | {r['nfe']} | {r['fd']:.3f} | {r['colors_per_sprite']:.1f} | "
            f"{r['isolated_pixel_rate']:.3f} | {r['sprites_per_s']:.1f} |"
            for r in x["quality_vs_steps"]
        ),
        "",
        "## Evaluation at the defaults (held-out split, through the runtime)",
        "| statistic | held-out real | generated (default) | generated, raw colours |",
        "|---|---|---|---|",
        *(
            f"| {k} | {real[k]:.3f} | {gen[k]:.3f} | {raw[k]:.3f} |"
            for k in (
                "colors_per_sprite",
                "colors_per_sprite_median",
                "isolated_pixel_rate",
                "non_binary_alpha_share",
                "opaque_coverage",
            )
        ),
        "",
        f"- relative gap, colours per sprite: **{gaps['colors_per_sprite']:.1%}**; isolated-pixel rate: "
        f"**{gaps['isolated_pixel_rate']:.1%}** (target: within 25%).",
        f"- {fd['metric']}: default {fd['default']:.3f} (as shipped), reference {fd['reference']:.3f} (raw colours).",
        f"- how the defaults were chosen: the cheapest swept setting whose fd is within 10% of the reference's "
        f"(at most {fd.get('bar', float('nan')):.3f}) among those spending at most {x.get('max_default_nfe', '?')} "
        "network evaluations (the interactive budget); where none is, the lowest fd within the budget.",
        f"- speed at batch {speed['batch']}: {speed['default']:.1f} sprites/s at the defaults, "
        f"{speed['reference']:.3f} for the reference ({speed['speedup']:.0f}x).",
        f"- memorization rate: {x['memorization_rate']:.2%}.",
        "",
        "| label | real colours | generated colours | real isolated | generated isolated |",
        "|---|---|---|---|---|",
        *(
            f"| {lab} | {v['real']['colors_per_sprite']:.1f} | {v['generated']['colors_per_sprite']:.1f} | "
            f"{v['real']['isolated_pixel_rate']:.3f} | {v['generated']['isolated_pixel_rate']:.3f} |"
            for lab, v in x["per_label"].items()
        ),
        "",
        *_distillation_lines(x.get("distilled_from")),
        "## Reproduce",
        "See `docs/diffusion-and-flow.md` (recipes) for the exact training and export commands.",
    ]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _distillation_lines(d: dict | None) -> list[str]:
    """The reflow section: what the student was distilled from and how it compares (empty when not distilled)."""
    if not d:
        return []
    r, ref = d.get("recipe") or {}, d["reference"]
    return [
        "## Distillation (reflow with guidance folded in)",
        f"This bundle is a student of `{d['bundle']}` (`training/reflow.py`): {r.get('pairs', '?')} couplings of "
        f"the teacher's guided ODE (heun {r.get('teacher_steps', '?')} steps, guidance {r.get('guidance', '?')}; "
        f"{r.get('pair_seconds', 0) / 60:.1f} min to draw), then {r.get('step', '?')} steps of straight-line "
        f"regression ({r.get('seconds', 0) / 60:.1f} min). It runs at guidance 1: one network pass per step.",
        "",
        "| model | setting | network passes / sprite | fd (raw colours) | sprites/s (batch 64) |",
        "|---|---|---|---|---|",
        f"| teacher `{d['bundle']}` | {ref['solver']} {ref['steps']} (reference, guided) | {2 * ref['nfe']} | "
        f"{ref['fd']:.3f} | {ref['sprites_per_s']:.2f} |",
        f"| teacher `{d['bundle']}` | {d['defaults']['solver']} {d['defaults']['steps']} (its default) | "
        f"{2 * _nfe(d['defaults'])} | {d['fd_default']:.3f} | {d['sprites_per_s_default']:.1f} |",
        f"| this student | defaults above | see the table above | see above | "
        f"{d['speedup_vs_its_reference']:.0f}x the teacher's reference speed |",
        "",
        "The defaults were chosen against the teacher's reference fd (within 10%), not the student's own.",
        "",
    ]


def _nfe(defaults: dict) -> int:
    return families.EVALUATIONS_PER_STEP[defaults["solver"]] * int(defaults["steps"])


def _label_policies(m: Manifest) -> str:
    """The labels calibrated to their own colour policy, in words (empty when none)."""
    if not m.postprocess.per_label:
        return ""
    own = ", ".join(f"{p.label} {p.color_tolerance:g}/{p.despeckle:g}" for p in m.postprocess.per_label)
    return f"; labels with their own tolerance/despeckle, calibrated on their training sprites: {own}"
