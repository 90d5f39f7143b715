"""``card.md`` for the evaluator bundle, written from its manifest (the numbers are the manifest's)."""

from __future__ import annotations

from pathlib import Path

from pixelsprite.manifest import Manifest
from pixelsprite.manifest_sections import EvaluatorSpec


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def write_card(m: Manifest, path: str | Path) -> None:
    t, ev = m.training, EvaluatorSpec.of(m, m.name)
    ds, recipe = t["dataset"], t["recipe"]
    held, train = m.metrics["held_out"], m.metrics["train"]
    lines = [
        f"# {m.name} — {m.description}",
        "",
        "![held-out sprites as the network sees them](samples.png)  ",
        f"*Held-out sprites as the network sees them: 16 of `dcss16fine` (upscaled 2x, centred) and 16 of "
        f"`dcss40fine`, on the {m.image.width}x{m.image.height} canvas.*",
        "",
        "## What it is for",
        "The frozen feature space of the evaluation suite (`pixelsprite evaluate`, `python -m training.evaluate`, "
        "see `docs/evaluation.md`): Fréchet distance, KID and precision/recall of generated sprites are computed "
        f"on its {ev.feature_dim}-d `features` output (global average of the last ReLU). It is a small "
        "classifier trained on the DCSS fine labels and nothing else; **no generator and not the teacher is "
        "trained against it**, so the numbers cannot be gamed by training on them. It is not a product model: "
        "`pixelsprite generate` refuses it (family `evaluator`).",
        "",
        "## Input",
        f"Float32 NCHW RGBA in [-1, 1] on a {m.image.width}x{m.image.height} canvas: {ev.input}. "
        "So 16x16 sprites become 32x32 (each pixel a 2x2 block) centred on 40x40 — undoing the 2x pixel-art "
        "reduction that made `dcss16` from the 32x32 DCSS tiles and placing them as `dcss40` places those tiles — "
        "and 40x40 sprites go in as they are. One network serves both sizes; the suite only compares sets of one "
        "size.",
        "",
        "## Data",
    ]
    for d in t["data"]:
        lines.append(f"- **{d['name']}** — licence {d['license']}; source: {d['source']}")
    lines += [
        "",
        f"Datasets {', '.join(f'`{b}`' for b in ds['builders'])}: the DCSS monsters and items with 12 fine labels "
        f"({', '.join(f'{k} {v}' for k, v in ds['label_counts'].items())} per size). Trained on the training "
        f"splits of both sizes together ({' + '.join(str(v) for v in ds['train'].values())} sprites), evaluated on "
        f"the held-out split ({', '.join(f'{k}: {v}' for k, v in ds['held_out'].items())}; "
        f"{ds['split']}), the same split every generator was held out from.",
        "",
        "## Held-out accuracy",
        "",
        "| dataset | sprites | accuracy | balanced accuracy (mean per-label recall) | training-split accuracy |",
        "|---|---|---|---|---|",
    ]
    for k, r in held.items():
        lines.append(
            f"| `{k}` | {r['count']} | **{_pct(r['accuracy'])}** | {_pct(r['balanced_accuracy'])} | "
            f"{_pct(train[k]['accuracy'])} |"
        )
    names = list(next(iter(held.values()))["per_label"])
    lines += [
        "",
        "Per label (held out): ",
        "",
        "| label | " + " | ".join(f"`{k}`" for k in held) + " |",
        "|---|" + "---|" * len(held),
    ]
    for n in names:
        cells = [
            f"{_pct(r['per_label'][n]['accuracy'])} of {r['per_label'][n]['count']}" if n in r["per_label"] else "—"
            for r in held.values()
        ]
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    parity = m.metrics["parity_max_abs_diff"]
    lines += [
        "",
        "## Recipe",
        f"- model: `{recipe['model']}`",
        f"- trainer: `{recipe['trainer']}`",
        f"- trained {t['epochs']} epochs ({t['steps']} steps) in {t['seconds'] / 60:.1f} min on {t['hardware']} with "
        f"{t['framework']}.",
        f"- ONNX parity (max |torch − onnxruntime| over both outputs): {parity[next(iter(parity))]:.1e} "
        f"(tolerance {parity['tolerance']:g}).",
        "",
        "## Limitations",
        "- Small held-out split (135 sprites per size) and a label mix dominated by monsters: a feature space "
        "that knows DCSS monsters and items, not pixel art in general. Sprites of other kinds (floors, walls, "
        "icons) still get features, but distances between such sets mean less.",
        "- Fréchet distance in 128-d from a few hundred sprites is biased upwards; always read it beside the "
        "suite's real-versus-real baseline. KID is unbiased.",
        "",
        "## Licence",
        "The weights are MIT-licensed like the rest of pixelsprite; the training data are CC0 (above).",
        "",
        "## Reproduce",
        "```",
        recipe["command"],
        "```",
        "",
    ]
    Path(path).write_text("\n".join(lines))
