"""``card.md`` for a VAE bundle, written from its manifest so every number on the card is the manifest's."""

from __future__ import annotations

from pathlib import Path

from pixelsprite.manifest import Manifest, load_manifest


def _arg(v: object) -> str:
    return " ".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)


def _row(name: str, real: dict, gen: dict, raw: dict, key: str, fmt: str) -> str:
    return f"| {name} | {real[key]:{fmt}} | {gen[key]:{fmt}} | {raw[key]:{fmt}} |"


def write_card(m: Manifest, path: str | Path) -> None:
    t, x = m.training, m.metrics
    real, gen, raw = x["held_out_real"], x["generated"], x["generated_without_color_cap"]
    rec, gaps = x["reconstruction_held_out"], x["gaps_vs_held_out"]
    ds = t["dataset"]
    recipe = t["recipe"]
    size = f"{m.image.width}x{m.image.height}"
    credits = "\n".join(f"- **{d['name']}** — licence {d['license']}; source: {d['source']}" for d in t["data"])
    lines = [
        f"# {m.name} — {m.description}",
        "",
        "![samples](samples.png)  ",
        f"*64 sprites, seeds 0–63, default settings (`pixelsprite generate --model {m.name} -n 64 --seed 0`).*",
        "",
        "![interpolation](interpolation.png)  ",
        "*Slerp between the sprites of seeds 1→2, 3→4, 5→6, 7→8 (10 frames each).*",
        "",
        "![reconstructions](reconstructions.png)  ",
        "*Held-out sprites (odd columns) and their reconstructions (even columns).*",
        "",
        "## What it is",
        f"A convolutional residual VAE for {size} RGBA sprites: conv stem, one residual block per level, stride-2 "
        f"downsampling to a {'x'.join(map(str, m.latent.shape if m.latent else ()))} latent, mirror decoder with "
        "nearest-neighbour upsampling, tanh on all four channels (alpha trained as a Bernoulli logit). "
        "Samples come from a Gaussian mixture fitted to the training latents (graph `prior`), not from N(0, I): "
        "unit-Gaussian samples of a small VAE land in holes of its latent space and decode to mush. "
        "Decoding fights the VAE's blur: alpha snaps to 0/255; each sprite gets the fewest colours "
        f"(deterministic k-means in OKLab, at most {m.postprocess.max_colors}) that stay within a mean OKLab error "
        f"of {m.postprocess.color_tolerance:g} of the decoded colours; then lone pixels within OKLab distance "
        f"{m.postprocess.despeckle:g} of a neighbour join it (contrasting highlights stay). Both numbers were "
        "chosen on the training split so that colours per sprite and isolated-pixel rate match real sprites.",
        "",
        "## Data",
        credits,
        "",
        f"Dataset `{ds['builder']}`: {ds['train']} training and {ds['held_out']} held-out sprites "
        f"(split: {ds['split']}). Labels: {', '.join(m.labels)}. The models are trained on these CC0 works; "
        "generated sprites are yours to use (this project is MIT-licensed).",
        "",
        "## Recipe",
        f"- model: `{recipe['model']}`",
        f"- loss: `{recipe['loss']}`",
        f"- trainer: `{recipe['trainer']}`",
        f"- prior: `{recipe['prior']}`",
        f"- trained {t['epochs']} epochs ({t['steps']} steps) in {t['seconds'] / 60:.1f} min on {t['hardware']} "
        f"with {t['framework']}; export + evaluation took {t['export_seconds'] / 60:.1f} min.",
        *([f"- note: {t['notes']}"] if t.get("notes") else []),
        "",
        "## Evaluation (held-out split, default settings, through the runtime)",
        f"{x['eval_count']} generated sprites (seeds 0–{x['eval_count'] - 1}) against the {real['count']} "
        "held-out real sprites.",
        "",
        "| statistic | held-out real | generated (default) | generated, raw decoder colours |",
        "|---|---|---|---|",
        _row("colours per sprite (mean)", real, gen, raw, "colors_per_sprite", ".1f"),
        _row("colours per sprite (median)", real, gen, raw, "colors_per_sprite_median", ".1f"),
        _row("isolated-pixel rate", real, gen, raw, "isolated_pixel_rate", ".3f"),
        _row("non-binary alpha share", real, gen, raw, "non_binary_alpha_share", ".3f"),
        _row("opaque coverage", real, gen, raw, "opaque_coverage", ".3f"),
        "",
        f"- relative gap, colours per sprite (mean): **{gaps['colors_per_sprite']:.1%}**; median: "
        f"{gaps['colors_per_sprite_median']:.1%}; isolated-pixel rate: **{gaps['isolated_pixel_rate']:.1%}** "
        "(target: within 25%).",
        f"- held-out reconstruction: colour MAE {rec['rgb_mae_255']:.1f}/255 on pixels opaque in both, alpha "
        f"mismatch {rec['alpha_mismatch']:.2%} of pixels.",
        f"- memorization rate: {x['memorization_rate']:.2%} of samples have a training sprite within mean "
        "|ΔRGBA| < 2/255 over the pixels opaque in either.",
        f"- ONNX parity (max |torch − onnxruntime|): encoder {x['parity_max_abs_diff']['encoder']:.1e}, decoder "
        f"{x['parity_max_abs_diff']['decoder']:.1e}, prior {x['parity_max_abs_diff']['prior']:.1e} "
        f"(tolerance {x['parity_max_abs_diff']['tolerance']:g}).",
        f"- decode speed at export time: {x['decode_sprites_per_s_batch256']:.0f} sprites/s at batch 256 "
        "(see `benchmarks/` for the maintained figures).",
        "",
        "## Reproduce",
        "```",
        f"python -m training.train_vae --dataset {ds['builder']} --data ../shared/datasets --out runs/{m.name} "
        f"--name {m.name} "
        + " ".join(f"--{k.replace('_', '-')} {_arg(v)}" for k, v in recipe["model"].items())
        + f" --epochs {recipe['trainer']['epochs']} --time-budget-s {recipe['trainer']['time_budget_s']:g}"
        f" --threads {recipe['trainer']['threads']}",
        f"python -m training.export_vae runs/{m.name}/last.pt --dataset {ds['builder']} --data ../shared/datasets "
        f"--bundle pixelsprite/models/{m.name} --name {m.name}",
        "```",
        "",
        "## Limits",
        "- Unconditional: the labels above describe the training data; this model does not take a label.",
        "- A VAE averages: fine texture (floors, fur) comes out smoother than the originals; the decoding "
        "policy hides some of this, not all of it.",
    ]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":  # python -m training.card_vae BUNDLE_DIR...: rewrite card.md from manifest.json
    import sys

    for folder in sys.argv[1:]:
        write_card(load_manifest(Path(folder) / "manifest.json"), Path(folder) / "card.md")
