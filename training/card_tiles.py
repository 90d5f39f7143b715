"""``card.md`` for a tiling ``pixel`` bundle (``tiles16``, ``tiles32``), written from its manifest so every number
is the manifest's."""

from __future__ import annotations

from pathlib import Path

from pixelsprite.manifest import Manifest

from .card_pixel import cascade_note, quantized_lines


def _f(x: float | None, digits: int = 3) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _palette_floor(floors: dict) -> str:
    """The palette's own floor (held-out tiles through the palette), for bundles whose export measured it."""
    pq = floors.get("palette_quantised_held_out")
    return f"; {pq['step_tv']:.3f} (held-out through the palette)" if pq else ""


def write_card(m: Manifest, path: str | Path, export_seconds: float) -> None:
    t, x, tok = m.training, m.metrics, m.extra["tokens"]
    ds, recipe, d = t["dataset"], t["recipe"], x["defaults"]
    real, gen, floors, seams = x["held_out_real"], x["generated"], x["floors"], x["seams"]
    ts = x.get("two_sample") or {}
    size = f"{m.image.width}x{m.image.height}"
    credits = "\n".join(f"- **{c['name']}** — licence {c['license']}; source: {c['source']}" for c in t["data"])
    sp = x["tiles_per_s"]
    scale = "reduced 2x to 16x16 by the pixel-art reduction" if m.image.width == 16 else "at their native size"
    lines = [
        f"# {m.name} — {m.description}",
        "",
        "![samples](samples.png)  ",
        f"*4 tiles per label ({', '.join(m.labels)}), each beside its 3x3 repeat (a seam shows only when a tile is "
        "repeated); default settings, seeds from 0. One sheet per label, `label_<name>.png`: its first row is real "
        "training tiles of that label, the rest generated.*",
        "",
        "## What it is",
        f"Seamless terrain tiles at {size}. Every pixel is a token of a {len(tok['palette'])}-colour palette "
        "(OKLab k-means of the training tiles), and a class-conditional U-Net over token embeddings fills a canvas "
        "by masked discrete diffusion, like the `pixel` sprite models, with one difference: **every convolution "
        "pads by wrapping around**, so the network sees the tile as a torus. No pixel is at an edge; the right "
        "column is drawn knowing the left one, and the tile repeats without a seam by construction (training rolls "
        "each tile by a random offset, which is exact on a torus). The manifest says `tokens.tiling: true`; the "
        "runtime's corrector then compares pixels with their wrapped-around neighbours, `variations` re-mask a "
        "share of pixels and draw them in the tile's own colours, and `inpaint` keeps the tile's 1-px border so a "
        "repainted tile still meets its neighbours. "
        f"Defaults chosen by measurement: {d['steps']} steps, guidance {d['guidance']:g}, colour temperature "
        f"{d['temperature']:g}, {d['corrector']} corrector round(s) ({d['nfe']} network evaluations per tile).",
        *cascade_note(tok, "tile"),
        "",
        "## Data",
        credits,
        "",
        f"Dataset `{ds['builder']}`: the fully opaque 32x32 tiles of the DCSS `dngn/floor`, `dngn/wall` and "
        f"`dngn/water` folders ({scale}); "
        f"`floor/grass` counts as floor and `wall/abyss` as wall. The other `dngn` folders (altars, doors, statues, "
        "gateways, traps, trees, vaults) hold objects standing on a floor, not tiles that repeat, and water's "
        "partly transparent shoal edges are overlays. "
        f"{ds['train']} training and {ds['held_out']} held-out tiles (split: {ds['split']}). Tiles per label: "
        + ", ".join(f"{k} {v}" for k, v in ds["label_counts"].items())
        + ". Water is small (its opaque tiles are few); it was kept as a label and its sheet shows what that gives.",
        "",
        "## Recipe",
        f"- model: `{recipe['model']}`",
        f"- palette: {recipe['palette']}",
        (
            f"- loss: `{recipe['loss']}`"
            if not recipe.get("distilled")
            else "- loss: distillation (`training/objectives_distill.py`): on the teacher's masked canvases, "
            "BCE(opacity) + p(opaque) · KL(colour) to the teacher's output at guidance "
            f"{recipe['distilled']['guidance']:g}, with the same masking and torus rolls as training on data"
        ),
        f"- trainer: `{recipe['trainer']}`",
        f"- trained {t['epochs']} epochs ({t['steps']} steps) in {t['seconds'] / 60:.1f} min on {t['hardware']} "
        f"with {t['framework']}; export + evaluation took {export_seconds / 60:.1f} min.",
        *(
            [
                f"- distilled from the bundle `{recipe['distilled']['teacher']}` as it was then "
                f"({recipe['distilled']['teacher_parameters']:,} parameters, "
                f"{recipe['distilled']['teacher_seconds'] / 60:.1f} min of training): a smaller network learns its "
                "predictions, "
                f"{(t['seconds'] + recipe['distilled']['teacher_seconds']) / 60:.1f} min of training in all."
            ]
            if recipe.get("distilled")
            else []
        ),
        f"- ONNX parity: max |torch − onnxruntime| = {x['parity_max_abs_diff']['logits']:.2e} "
        f"(tolerance {x['parity_max_abs_diff']['tolerance']:g}).",
        *quantized_lines(x),
        "",
        f"## Evaluation at the defaults (held-out split, {x['eval_count']} tiles with the held-out label mix)",
        "",
        "| measure | generated | real | target |",
        "|---|---|---|---|",
        f"| seam distance: step profile across the wrap-around edge vs inside (TV) | {seams['seam_distance']:.3f} | "
        f"{seams['seam_distance_real']:.3f} (held-out), {floors['seam_distance_real_train']:.3f} (training) | "
        "≤ real |",
        f"| neighbour-step distance to held-out real (TV) | {seams['step_distance']:.3f} | "
        f"{floors['real_train_vs_held_out']['step_tv']:.3f} (training vs held-out){_palette_floor(floors)} | ≤ 0.08 |",
        f"| the same on the 3x3 repeats | {seams['repeat_step_distance']:.3f} | | |",
        f"| two-sample CNN accuracy (0.5 = indistinguishable) | {_f(ts.get('generated_vs_real'))} | "
        f"{_f(ts.get('real_vs_real'))} (training vs held-out) | |",
        f"| colours per tile (mean / median) | {gen['colors_per_sprite']:.1f} / {gen['colors_per_sprite_median']:.0f}"
        f" | {real['colors_per_sprite']:.1f} / {real['colors_per_sprite_median']:.0f} | |",
        f"| isolated-pixel rate | {gen['isolated_pixel_rate']:.3f} | {real['isolated_pixel_rate']:.3f} | |",
        f"| memorization (nearest training tile almost identical) | {x['memorization_rate']:.1%} | | ≤ 1% |",
        f"| tiles/s at batch {sp['batch']} (2-core CPU), with a label / without | {sp['default']:.1f} / "
        f"{sp['unlabelled']:.1f} | | ≥ {sp['target']:g} |",
        "",
        "A brick wall has mortar along its tile edges, so real walls step harder across the edge than inside "
        "(seam distance above 0 with no visible seam); the torus model draws mortar anywhere, so its edges step "
        "like its interior.",
        "",
        f"Neighbour-step profile (bins {', '.join(x['step_bins'])}): generated "
        f"{', '.join(f'{v:.3f}' for v in x['step_profile'])}; held-out real "
        f"{', '.join(f'{v:.3f}' for v in x['real_step_profile'])}.",
        "",
        "| label | generated | step TV vs real of the label | seam distance | real seam distance | colours/tile | "
        "real colours/tile |",
        "|---|---|---|---|---|---|---|",
        *(
            f"| {lab} | {v['count']} | {v['step_tv_vs_real_label']:.3f} | {v['seam_distance']:.3f} | "
            f"{v['seam_distance_real']:.3f} | {v['colors_per_sprite']:.1f} | {v['real_colors_per_sprite']:.1f} |"
            for lab, v in x["per_label"].items()
        ),
        "",
        f"## Sampler sweep ({x['sweep_count']} held-out-mix tiles per row)",
        "",
        f"The network runs {x['evaluations_per_s']:.0f} tile-evaluations per second here: "
        f"{sp['target']:g} tiles/s would allow {int(x['evaluations_per_s'] // sp['target'])} per tile. Quality "
        f"comes first, so the defaults may spend {x['max_default_nfe']}; among those rows, the ones whose median "
        "colours per tile are within 25% of real's median, the lowest step distance.",
        "",
        "| steps | temperature | guidance | corrector | network evals | step TV | seam distance | colours/tile |",
        "|---|---|---|---|---|---|---|---|",
        *(
            f"| {r['steps']} | {r['temperature']:g} | {r['guidance']:g} | {r['corrector']} | {r['nfe']} | "
            f"{r['step_tv']:.3f} | {r['seam_distance']:.3f} | {r['colors_per_sprite']:.1f} |"
            for r in x["sweep"]
        ),
        "",
        "## Variations and inpainting",
        "![variations](variations.png)  ",
        "*Each row: a held-out tile and three variations at strength 0.35 (35% of its pixels re-masked and drawn "
        "again, in the tile's own colours), each beside its 3x3 repeat.*",
        "",
        "![inpainting](inpaint.png)  ",
        "*Each row: a held-out tile and three repaintings of its centre (the middle half; the border is kept), "
        "each beside its 3x3 repeat.*",
        "",
        "## Licence",
        "The model is MIT-licensed with pixelsprite; the training art is CC0 (credited above).",
        "",
    ]
    Path(path).write_text("\n".join(lines))
