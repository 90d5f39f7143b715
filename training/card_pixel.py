"""``card.md`` for a ``pixel`` bundle, written from its manifest so every number is the manifest's."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pixelsprite.datasets.builders import CLEAN_MERGE
from pixelsprite.manifest import Manifest

SMALL_LABEL = 40  # labels with fewer sprites than this are named in the card as hard to learn


def _f(x: float | None, digits: int = 3) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _overlay_note(overlays: dict[str, dict[str, int]], labels: tuple[str, ...] | list[str]) -> str:
    """The card's sentence on DCSS overlay glyphs: how many each label holds, or that the set has none (and which
    labels the clean builder folded together)."""
    counts = ", ".join(f"{k} {v['overlays']} of {v['sprites']}" for k, v in overlays.items() if v["overlays"])
    if counts:
        return (
            "Looking at every label's real sprites found that many of the small labels are mostly DCSS overlay glyphs "
            "(`i-*.png` identification marks, brand and tentacle-corner pieces drawn on top of another tile), not "
            f"items: {counts}. The model learned them as part of their labels (which is why rare labels often come "
            "out as small glyphs); the clean builders drop them (see docs/pixel.md)."
        )
    folded: dict[str, list[str]] = {}
    for old, new in CLEAN_MERGE.items():
        if new in labels and old not in labels:
            folded.setdefault(new, []).append(old)
    note = (
        "The set holds no DCSS overlay glyphs (identification marks, brand and tentacle-corner pieces drawn on top of "
        "another tile): every training sprite is an item or a monster of its own."
    )
    if folded:
        note += " Labels too small to learn once the glyphs are gone were folded: " + (
            "; ".join(f"{', '.join(olds)} into {new}" for new, olds in folded.items()) + "."
        )
    return note


def cascade_note(tok: dict, what: str = "sprite") -> list[str]:
    """The card's paragraph on a cascade's first stage (nothing for a single-stage bundle); ``what`` the bundle
    draws ("sprite", "tile")."""
    base = tok.get("base")
    if not base:
        return []
    b, d = base["size"], base["defaults"]
    where = "centred" if what == "sprite" else "the whole half-size canvas"
    return [
        "",
        f"**A cascade.** The network above is an upsampler: it also sees the {what} at half size and can copy the "
        f"colour of the half-size pixel above it or of that pixel's neighbours. The half-size {what} comes from a "
        f"first stage carried in this bundle (the graph of `{base['bundle']}`, {b}x{b}, {where}), sampled at its own "
        f"measured defaults ({d['steps']} steps, guidance {d['guidance']:g}, temperature {d['temperature']:g}, "
        f"{d.get('corrector', 0)} corrector round(s)) with the request's label and palette; the request's settings "
        "are the upsampler's. Inpainting repaints the half-size blocks the mask touches first; variations vary the "
        f"half-size {what} at the same strength first.",
    ]


def renderer_note(tok: dict, sampling: Mapping[str, Any] | None) -> list[str]:
    """The card's paragraph on a renderer's first stage (nothing for any other bundle)."""
    guide = tok.get("guide")
    if not guide:
        return []
    d = (sampling or {}).get("defaults", {})
    return [
        "",
        f"**A renderer.** The network above also sees a 4-channel guide image and was trained without labels: it "
        f"redraws, crisp and in its palette, the sprite that the latent generator `{guide['bundle']}` (carried in "
        f"this bundle: its {guide['family']} network, VAE encoder and decoder) draws and its VAE decodes, blurred. "
        f"The generator runs at its own measured defaults ({d.get('solver', '?')} {d.get('steps', '?')} steps, "
        f"guidance {d.get('guidance', '?')}) with the request's label; the request's settings and palette are the "
        "renderer's. It was trained on the training sprites as the VAE redraws them (a posterior sample of each "
        "sprite's latent, decoded), so it learns what a blurred sprite stands for. Variations redraw the chosen "
        "pixels given the sprite as the VAE redraws it; inpainting first lets the generator redraw the latent cells "
        "the mask touches (keeping the others), so something new is drawn there.",
    ]


def quantized_lines(metrics: Mapping[str, Any]) -> list[str]:
    """The card's line for a bundle whose graph was quantised afterwards (``metrics.quantized``), else none."""
    q = metrics.get("quantized")
    if not q:
        return []
    return [
        f"- **int8**: the graph's convolutions, all but the first and the last, were then quantised "
        f"(`python -m training.quantize_pixel`; {q['format']}); on held-out canvases that moved the opacity logit "
        f"by at most {q['opacity_logit_max_abs_diff']:g} and the colour distributions by {q['colour_mean_tv']:g} "
        "(mean total variation). Every number below was measured on the quantised graph."
    ]


def write_card(m: Manifest, path: str | Path, export_seconds: float) -> None:
    t, x, tok = m.training, m.metrics, m.extra["tokens"]
    ds, recipe, d = t["dataset"], t["recipe"], x["defaults"]
    real, gen, floors = x["held_out_real"], x["generated"], x["floors"]
    size = f"{m.image.width}x{m.image.height}"
    credits = "\n".join(f"- **{c['name']}** — licence {c['license']}; source: {c['source']}" for c in t["data"])
    small = [k for k, v in ds["label_counts"].items() if v < SMALL_LABEL]
    ts = x.get("two_sample") or {}
    lines = [
        f"# {m.name} — {m.description}",
        "",
        "![samples](samples.png)  ",
        f"*8 sprites per label ({', '.join(m.labels)}), row by row; default settings, seeds from 0. One sheet per "
        "label, `label_<name>.png`: its first row is real training sprites of that label, the rest generated.*",
        "",
        "## What it is",
        f"Pixel-art-native generation at {size}: every pixel is a token, transparent or one of "
        f"{len(tok['palette'])} palette colours (OKLab k-means of the training sprites). "
        + (
            "A class-conditional U-Net over token embeddings"
            if not tok.get("guide")
            else "A U-Net over token embeddings (label-free: the label goes to the first stage, below)"
        )  # fmt: skip
        + " predicts, for every masked pixel, opacity (a logistic head) and colour given "
        "opacity (a softmax over the palette); sampling reveals pixels on MaskGIT's cosine schedule. Colours come "
        "straight from the palette, alpha is exact, and nothing is decoded or colour-reduced afterwards. "
        f"Defaults chosen by measurement: reveal order `{d['solver']}`, {d['steps']} steps, guidance "
        f"{d['guidance']:g}, colour temperature {d['temperature']:g}, {d['corrector']} corrector round(s) that "
        "redraw the confetti pixels (a hard step from every neighbour) as anything but a neighbour's colour"
        + (
            f", restricted to shades within OKLab {d['shade']:g} of a neighbour where the network allows one"
            if d.get("shade") is not None
            else ""
        )
        + f" ({d['nfe']} network evaluations per sprite). "
        "It also inpaints (repaints a mask, keeps every other pixel exactly), makes variations by re-masking a "
        "share of pixels (`strength` 0 returns the input), and samples inside a given palette (palette lock).",
        *cascade_note(tok),
        *renderer_note(tok, m.extra.get("sampling")),
        "",
        "## Data",
        credits,
        "",
        (
            f"Dataset `{ds['builder']}`: {ds['train']} training and {ds['held_out']} held-out sprites "
            f"(split: {ds['split']}). Sprites per label: "
            if not tok.get("guide")
            else f"The renderer was trained on `{ds['builder']}`'s training split (labels unused). It is evaluated, "
            f"and its first stage `{tok['guide']['bundle']}` was trained, on `{ds['name']}`: {ds['train']} training "
            f"and {ds['held_out']} held-out sprites (split: {ds['split']}, the same rule in both sets, so no "
            f"held-out sprite was trained on). Sprites per label of `{ds['name']}`: "
        )
        + ", ".join(f"{k} {v}" for k, v in ds["label_counts"].items())
        + ".",
        "",
        (
            f"Labels with fewer than {SMALL_LABEL} sprites ({', '.join(small)}) are small to learn from: they were "
            "kept as labels (merging would lose what users ask for), trained with pixel-exact augmentation only "
            "(horizontal flips, 1-px shifts inside the canvas), and their rows show what that gives."
            if small
            else "Every label has at least 40 sprites."
        ),
        "",
        _overlay_note(x["label_overlays"], m.labels),
        "",
        "## Recipe",
        f"- model: `{recipe['model']}`",
        f"- palette: {recipe['palette']}",
        (
            f"- loss: `{recipe['loss']}` (masked-token BCE(opacity) + CE(colour | opaque), cosine mask ratio)"
            if not recipe.get("distilled")
            else "- loss: guidance distillation (`training/objectives_distill.py`): on the teacher's masked canvases, "
            "BCE(opacity) + p(opaque) · KL(colour) to the teacher's guided output, the runtime's guidance formula"
        ),
        f"- trainer: `{recipe['trainer']}`",
        f"- trained {t['epochs']} epochs ({t['steps']} steps) in {t['seconds'] / 60:.1f} min on {t['hardware']} "
        f"with {t['framework']}; export + evaluation took {export_seconds / 60:.1f} min.",
        *(
            [
                f"- fine-tuned from `{recipe['init_from']['checkpoint']}` ({recipe['init_from']['epochs']} epochs, "
                f"{recipe['init_from']['seconds'] / 60:.1f} min; new gates of the head start at zero): "
                f"{(t['seconds'] + recipe['init_from'].get('chain_seconds', recipe['init_from']['seconds'])) / 60:.1f} "
                "min of training in all, counting every run of the chain."
            ]
            if recipe.get("init_from")
            else []
        ),
        *(
            [
                f"- distilled from `{recipe['distilled']['teacher']}` "
                f"({recipe['distilled']['teacher_parameters']:,} parameters, "
                f"{recipe['distilled']['teacher_seconds'] / 60:.1f} min of training) at guidance "
                f"{recipe['distilled']['guidance']:g}: this bundle at guidance 1 draws what the teacher draws at "
                f"guidance {recipe['distilled']['guidance']:g}, one evaluation of a smaller network a step instead "
                "of two (a guidance g here extrapolates from the teacher's guided prediction)."
            ]
            if recipe.get("distilled")
            else []
        ),
        f"- ONNX parity: max |torch − onnxruntime| = {x['parity_max_abs_diff']['logits']:.2e} "
        f"(tolerance {x['parity_max_abs_diff']['tolerance']:g}).",
        *quantized_lines(x),
        "",
        f"## Evaluation at the defaults (held-out split, {x['eval_count']} sprites with the held-out label mix)",
        "",
        "| measure | generated | held-out real | floor |",
        "|---|---|---|---|",
        f"| neighbour-step distance to held-out real (TV) | {x['step_tv']:.3f} | — | "
        f"{floors['real_train_vs_held_out']['step_tv']:.3f} (training vs held-out); "
        f"{floors['palette_quantised_held_out']['step_tv']:.3f} (held-out through the palette) |",
        f"| two-sample CNN accuracy (0.5 = indistinguishable) | {_f(ts.get('generated_vs_real'))} | — | "
        f"{_f(ts.get('real_vs_real'))} (training vs held-out) |",
        f"| Fréchet distance `{x['fd']['metric']}` | {x['fd']['default']:.3f} | — | "
        f"{floors['real_train_vs_held_out']['fd']:.3f} (training vs held-out); "
        f"{floors['palette_quantised_held_out']['fd']:.3f} (palette) |",
        f"| label agreement (frozen evaluator) | {_f(x['label_agreement'])} | {_f(x['label_agreement_real'])} | |",
        f"| colours per sprite (mean / median) | {gen['colors_per_sprite']:.1f} / "
        f"{gen['colors_per_sprite_median']:.0f} | {real['colors_per_sprite']:.1f} / "
        f"{real['colors_per_sprite_median']:.0f} | gap {x['colors_gap']:.1%} |",
        f"| isolated-pixel rate | {gen['isolated_pixel_rate']:.3f} | {real['isolated_pixel_rate']:.3f} | |",
        f"| non-binary alpha | {x['non_binary_alpha_share']:.1%} | 0% | |",
        f"| memorization (nearest training sprite almost identical) | {x['memorization_rate']:.1%} | | |",
        f"| sprites/s at batch {x['sprites_per_s']['batch']} (2-core CPU), with a label (guided) / without | "
        f"{x['sprites_per_s']['default']:.1f} / {x['sprites_per_s'].get('unlabelled', 0.0):.1f} | | |",
        "",
        f"Neighbour-step profile (bins {', '.join(x['step_bins'])}): generated "
        f"{', '.join(f'{v:.3f}' for v in x['step_profile'])}; held-out real "
        f"{', '.join(f'{v:.3f}' for v in x['real_step_profile'])}.",
        "",
        "Per label (generated vs held-out real colours per sprite; step distance of the label's sprites to all "
        "held-out real):",
        "",
        "| label | generated | colours/sprite | real colours/sprite | step TV |",
        "|---|---|---|---|---|",
        *(
            f"| {lab} | {v['count']} | {v['colors_per_sprite']:.1f} | {_f(v['real_colors_per_sprite'], 1)} | "
            f"{v['step_tv_vs_all_real']:.3f} |"
            for lab, v in x["per_label"].items()
        ),
        "",
        f"## Sampler sweep ({x['sweep_count']} held-out-mix sprites per row)",
        "",
        "| order | steps | temperature | guidance | corrector | network evals | step TV | fd | colours/sprite | "
        "isolated |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *(
            f"| {r['solver']} | {r['steps']} | {r['temperature']:g} | {r['guidance']:g} | {r['corrector']}"
            f"{' (shades ' + format(r['shade'], 'g') + ')' if r.get('shade') is not None else ''} | "
            f"{r['nfe']} | {r['step_tv']:.3f} | {r['fd']:.3f} | {r['colors_per_sprite']:.1f} | "
            f"{r['isolated_pixel_rate']:.3f} |"
            for r in x["sweep"]
        ),
        "",
        f"Defaults: among the rows within {x['max_default_nfe']} network evaluations per sprite whose colours per "
        "sprite are within 25% of real (speckle shows as extra colours), the lowest "
        "`step TV + 0.05 * fd / fd(real vs real)`; rows within 0.01 of it count as equal, and the one with the "
        "fewest network evaluations wins.",
        "",
        "## Inpainting",
        "![inpainting](inpaint.png)  ",
        "*Each row: a held-out sprite, the mask (its right half, tinted red), and six repaintings of the masked "
        "half with the sprite's own label; the left half is kept byte for byte.*",
        "",
        "## Palette lock",
        "![palette lock](palette_locked.png)  ",
        '*Pairs of rows, same seeds: drawn by the sampler inside PICO-8 (`palette="pico-8"`), then drawn freely '
        "and mapped onto PICO-8 afterwards.*",
        "",
        "## Licence",
        "The model is MIT-licensed with pixelsprite; the training art is CC0 (credited above).",
        "",
    ]
    Path(path).write_text("\n".join(lines))
