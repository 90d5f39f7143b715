"""Writing the suite's result: a markdown report, a JSON file and one sample sheet per evaluated set."""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import write_bytes_atomic
from ..imageio import compose_sheet, encode_png, upscale
from .crispness import STEP_BINS
from .suite import DatasetReport, SetMetrics, SuiteResult

__all__ = ["headline_table", "markdown", "sheet_image", "to_json", "write_report"]

COLUMNS = 8


def sheet_image(sprites: np.ndarray, columns: int = COLUMNS) -> np.ndarray:
    """uint8 ``(N, S, S, 4)`` -> uint8 RGBA sheet on a grey checkerboard, 1-px gutters, upscaled x4 (16) / x2."""
    sheet = compose_sheet(sprites, columns=min(columns, len(sprites)), gutter=1)
    h, w = sheet.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    bg = np.where(((yy // 2 + xx // 2) % 2 == 0), 200, 160).astype(np.float32)[..., None]
    a = sheet[..., 3:4].astype(np.float32) / 255
    rgb = sheet[..., :3] * a + bg * (1 - a)
    out = np.concatenate([rgb.round().astype(np.uint8), np.full((h, w, 1), 255, np.uint8)], -1)
    return upscale(out, 4 if sprites.shape[1] <= 16 else 2)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-").lower()


def sheet_name(dataset: str, row_name: str) -> str:
    return f"{_slug(dataset)}-{_slug(row_name.split(' (')[0])}.png"


def _f(x: float | None, digits: int = 2, scale: float = 1.0) -> str:
    return "—" if x is None else f"{x * scale:.{digits}f}"


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _profile(p: tuple[float, ...] | None) -> str:
    """The six step shares as whole percents, ``37·2·3·9·13·37`` (bins :data:`~.crispness.STEP_BINS`)."""
    return "—" if p is None else "·".join(f"{100 * v:.0f}" for v in p)


PROFILE_HEAD = f"step profile % ({' · '.join(b.replace('identical', '=') for b in STEP_BINS)})"


def _settings(s: dict[str, Any]) -> str:
    if not s:
        return "one pass"
    parts = [f"{s['solver']} {s['steps']}" if "solver" in s and "steps" in s else ""]
    if "guidance" in s:
        parts.append(f"w={s['guidance']:g}")
    if s.get("corrector"):
        parts.append(f"+{s['corrector']} corrector")
    return ", ".join(p for p in parts if p)


def _row(r: SetMetrics, sheets_rel: str | None) -> str:
    name = f"**{r.name}**" if r.kind == "generator" else r.name
    if sheets_rel is not None and r.kind != "baseline":
        name = f"[{name}]({sheets_rel}/{sheet_name(r.dataset, r.name)})"
    teacher = "—" if r.teacher is None else f"{r.teacher['mean']:.3f} / {r.teacher['median']:.3f}"
    s = r.stats
    fd = _f(r.fd) + (f" ± {r.fd_std:.2f}" if r.fd_std is not None else "")
    two = _f(r.two_sample, 3) + (f" ± {r.two_sample_std:.3f}" if r.two_sample_std is not None else "")
    return (
        f"| {name} | {r.count} | {_settings(r.settings) if r.kind == 'generator' else '—'} | {fd} | "
        f"{_f(r.kid, 2, 1e3)} ± {_f(r.kid_std, 2, 1e3)} | {_f(r.precision, 3)} | {_f(r.recall, 3)} | "
        f"{_f(r.step_distance, 3)} | {two} | "
        f"{_pct(r.label_agreement)} | {s['colors_per_sprite']:.1f} ({s['colors_per_sprite_median']:.0f}) | "
        f"{_pct(s['non_binary_alpha_share'])} | {s['isolated_pixel_rate']:.3f} | {_pct(r.memorization_rate)} | "
        f"{teacher} | {_profile(r.step_profile)} |"
    ).replace("— ± —", "—")


TABLE_HEAD = (
    "| set | sprites | sampler | FD ↓ | KID ×10³ ↓ | precision ↑ | recall ↑ | step distance ↓ | "
    "two-sample accuracy ↓ | label agreement | colours / sprite (median) | non-binary α | isolated px | "
    f"memorized | teacher quality mean / median | {PROFILE_HEAD} |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def dataset_table(d: DatasetReport, sheets_rel: str | None) -> str:
    return "\n".join([TABLE_HEAD, *(_row(r, sheets_rel) for r in d.rows if r.kind != "corruption")])


def corruption_table(d: DatasetReport) -> str:
    """How the distances respond to known damage of the real training subset ('' when not measured)."""
    rows = [r for r in d.rows if r.kind in ("baseline", "corruption")]
    if len(rows) < 2:
        return ""
    lines = [
        "| training subset | FD ↓ | KID ×10³ ↓ | precision ↑ | recall ↑ | step distance ↓ | two-sample accuracy ↓ "
        f"| colours / sprite | isolated px | {PROFILE_HEAD} |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        name = (
            f"as is (the real-vs-real row: mean of {r.draws} subsets; the damage is done to the first)"
            if r.kind == "baseline"
            else r.name
        )
        lines.append(
            f"| {name} | {_f(r.fd)} | {_f(r.kid, 2, 1e3)} | {_f(r.precision, 3)} | {_f(r.recall, 3)} | "
            f"{_f(r.step_distance, 3)} | {_f(r.two_sample, 3)} | "
            f"{r.stats['colors_per_sprite']:.1f} | {r.stats['isolated_pixel_rate']:.3f} | "
            f"{_profile(r.step_profile)} |"
        )
    return "\n".join(lines)


def _teacher_mean(r: SetMetrics) -> str:
    return "—" if r.teacher is None else f"{r.teacher['mean']:.2f}"


def headline_table(result: SuiteResult) -> str:
    """One row per generator, each beside its dataset's real-vs-real baseline and held-out figures (README)."""
    teacher = result.teacher is not None
    lines = [
        "| model | dataset | FD ↓ (real vs real) | KID ×10³ ↓ (real vs real) | precision / recall | "
        "step distance ↓ (real vs real) | two-sample accuracy ↓ (real vs real) | "
        "colours / sprite (held-out real) | isolated px (held-out real) | memorized |"
        + (" teacher quality (held-out real) |" if teacher else ""),
        "|---|---|---|---|---|---|---|---|---|---|" + ("---|" if teacher else ""),
    ]
    for d in result.datasets:
        base = next(r for r in d.rows if r.kind == "baseline")
        real = next(r for r in d.rows if r.kind == "held_out")
        for r in d.rows:
            if r.kind != "generator":
                continue
            lines.append(
                f"| `{r.name}` | `{d.dataset}` | {_f(r.fd)} ({_f(base.fd)}) | {_f(r.kid, 2, 1e3)} "
                f"({_f(base.kid, 2, 1e3)}) | {_f(r.precision, 2)} / {_f(r.recall, 2)} | "
                f"{_f(r.step_distance, 3)} ({_f(base.step_distance, 3)}) | {_f(r.two_sample, 2)} "
                f"({_f(base.two_sample, 2)}) | "
                f"{r.stats['colors_per_sprite']:.1f} ({real.stats['colors_per_sprite']:.1f}) | "
                f"{r.stats['isolated_pixel_rate']:.3f} ({real.stats['isolated_pixel_rate']:.3f}) | "
                f"{_pct(r.memorization_rate)} |" + (f" {_teacher_mean(r)} ({_teacher_mean(real)}) |" if teacher else "")
            )
    return "\n".join(lines)


def markdown(
    result: SuiteResult,
    *,
    sheets_rel: str | None = "evaluation",
    json_rel: str = "evaluation.json",
    command: str = "",
    evaluator_card: str = "",
    when: str = "",
) -> str:
    """The whole report (``docs/evaluation.md``): how it was made, one table and sheet row per dataset."""
    cfg = result.config
    out = [
        "# Evaluation of the shipped generators",
        "",
        f"*Written by the evaluation suite{f' on {when}' if when else ''} in {result.seconds / 60:.1f} min"
        f"{f': `{command}`' if command else ''}. Re-run it to refresh this page; the numbers are also in "
        f"[`{json_rel}`]({json_rel}).*",
        "",
        "Every generator bundle is sampled at its own defaults (solver, steps, guidance, decoding policy) — "
        f"{cfg.count} sprites, seeds {cfg.seed}–{cfg.seed + cfg.count - 1}; label-conditional models get the "
        "held-out label mix — and measured against the **held-out split** of the dataset it was trained on "
        "(the builders' stable 10% split, which no model trained on). Each table also measures "
        f"{cfg.baseline_count} real *training* sprites against the same held-out split (**real vs real**: the "
        f"best a generator can expect at these sample sizes; the mean over {cfg.baseline_draws} random training "
        "subsets, FD ± its standard deviation across them — the noise floor of the comparison) and the held-out "
        "sprites themselves.",
        "",
        "## Reading the columns",
        f"- **FD**, **KID**, **precision**, **recall** are computed in the {result.evaluator!r} network's features "
        f"(a frozen CNN classifier trained only on the DCSS fine labels, used by no generator or teacher; "
        f"{evaluator_card or 'see its card'}). FD: Fréchet distance between Gaussians fitted to the features "
        "(Heusel et al. 2017); biased upwards at these sizes — compare with the real-vs-real row. KID: unbiased "
        f"squared MMD with the cubic polynomial kernel (Bińkowski et al. 2018), mean ± std over {cfg.kid_subsets} "
        "subsets, ×10³; about 0 when the sets come from one distribution. Precision: share of generated sprites "
        "inside the real sprites' k-NN manifold; recall: share of real sprites inside the generated manifold "
        f"(Kynkäänniemi et al. 2019, k = {cfg.pr_k}, equal-size subsamples, {cfg.pr_repeats} repeats).",
        "- **step distance** and **step profile** see crispness, which the evaluator's features barely do. For every "
        "pair of 4-neighbour pixels that are both opaque, the colour difference in OKLab (Euclidean, L in [0, 1]) "
        "falls in one of six bins: identical, < .02, .02–.05 (soft), .05–.10, .10–.20, ≥ .20 (hard); the profile is "
        "the share of pairs in each bin over the whole set (whole percents here, exact in the JSON), and the step "
        "distance is the total-variation distance between a set's profile and the held-out profile (0 = the same "
        "stepping, 1 = disjoint; `pixelsprite.evaluation.crispness`). Pixel art is flat areas and hard steps: blur "
        "moves pairs into the soft bins, noise empties the identical bin.",
        "- **two-sample accuracy**: a small CNN (two 3×3 convolutions — 32 and 64 channels up to 24×24 sprites, "
        "16 and 32 above — then global mean and max pooling; numpy) is trained fresh, on the pixels (RGBA and "
        "whether each pixel equals its right / lower neighbour), to tell the set's sprites from the held-out ones; "
        f"the score is its {cfg.two_sample_folds}-fold held-out accuracy, with the larger set subsampled to the "
        "smaller one's size. **0.5 = indistinguishable**, 1.0 = every sprite told apart; with 135 sprites a side "
        "it varies by up to about ±0.03 with the seed (`pixelsprite.evaluation.two_sample`; Lopez-Paz & Oquab "
        "2017). The real-vs-real row is the floor of both: the mean over the training subsets, two-sample "
        "accuracy ± its standard deviation across them (the test's noise). That floor can sit a little below 0.5: "
        "DCSS has near-duplicates across the split, and a held-out sprite whose near-twin is in the other set "
        "tends to be misclassified.",
        "- **label agreement**: for label-conditional generators, the share of sprites the evaluator classifies "
        "as the label they were sampled with; for the held-out row, the evaluator's own accuracy.",
        "- **colours / sprite**: distinct opaque RGB colours, mean (median). **non-binary α**: share of pixels "
        "whose alpha is neither 0 nor 255. **isolated px**: share of opaque pixels none of whose four neighbours "
        "has the same RGBA (`pixelsprite.metrics.isolated_pixel_rate`), mean over sprites.",
        "- **memorized**: share of sprites whose nearest training sprite is almost identical (mean |ΔRGBA| < 2 "
        "over the pixels opaque in either); for the held-out row, the near-duplicates the data already has.",
        "- **teacher quality**: the teacher model's quality score in [0, 1]"
        + (
            f" (`{result.teacher}`), mean / median. The teacher learned real *training* sprites as its positives, so "
            "its score on the training subset is optimistic: compare generators with the held-out row."
            if result.teacher
            else " — no teacher bundle was installed for this run."
        ),
        "",
    ]
    for d in result.datasets:
        out += [
            f"## `{d.dataset}` ({d.size}×{d.size}): {d.held_out_count} held-out sprites, "
            f"{d.train_count} training sprites",
            "",
            dataset_table(d, sheets_rel),
            "",
        ]
        damage = corruption_table(d)
        if damage:
            out += [
                "How the measures respond to known damage: the same training subset, corrupted, against the "
                "same held-out split (a sanity check of each measure: the feature-space distances barely see "
                "blur and halved resolution; the step distance and the two-sample test must).",
                "",
                damage,
                "",
            ]
        if sheets_rel is not None:
            for name in d.sheets:
                out += [f"**{name}**  ", f"![{name}]({sheets_rel}/{sheet_name(d.dataset, name)})", ""]
    if result.skipped:
        out += ["## Not evaluated", "", *(f"- {s}" for s in result.skipped), ""]
    out += [
        "## How to run",
        "",
        "```sh",
        "pixelsprite evaluate --data ../shared/datasets --out docs   # every installed generator -> this page",
        "pixelsprite evaluate --data ../shared/datasets --models flow16 --count 256 --out /tmp/eval   # one model",
        "python -m training.evaluate --data ../shared/datasets --models-dir DIR --out /tmp/eval  # plus bundles in DIR",
        "```",
        "",
        "The suite (`pixelsprite/evaluation/`) is numpy and onnxruntime only. It reads the datasets with the "
        "builders of `pixelsprite/datasets` — numpy and pillow, never torch, the ones training builds with — so "
        "the held-out split is exactly the one the models were trained without; the command runs with torch absent. "
        "The evaluator is retrained with `python -m training.train_evaluator --data ../shared/datasets --threads 1` "
        "(about 4 minutes on one CPU thread); see its card, `pixelsprite/models/evaluator/card.md`. Without `--out` "
        "the report goes to `./pixelsprite-evaluation/` in the current directory (the command prints where); "
        "`--out docs` refreshes this page.",
        "",
    ]
    return "\n".join(out)


def to_json(result: SuiteResult) -> dict[str, Any]:
    return {
        "evaluator": result.evaluator,
        "teacher": result.teacher,
        "config": asdict(result.config),
        "seconds": round(result.seconds, 1),
        "skipped": list(result.skipped),
        "datasets": [
            {
                "dataset": d.dataset,
                "size": d.size,
                "train_count": d.train_count,
                "held_out_count": d.held_out_count,
                "rows": [r.to_dict() for r in d.rows],
            }
            for d in result.datasets
        ],
    }


def write_report(
    result: SuiteResult,
    markdown_path: str | os.PathLike[str],
    *,
    json_path: str | os.PathLike[str] | None = None,
    sheets_dir: str | os.PathLike[str] | None = None,
    **kw: Any,
) -> list[Path]:
    """Write the markdown report, the JSON (default: next to it) and the sheets (default: ``<stem>/`` beside it).

    Returns the paths written.
    """
    md = Path(markdown_path)
    sheets = Path(sheets_dir) if sheets_dir is not None else md.with_suffix("")
    js = Path(json_path) if json_path is not None else sheets / f"{md.stem}.json"
    written = []
    sheets.mkdir(parents=True, exist_ok=True)
    for d in result.datasets:
        for name, sprites in d.sheets.items():
            p = sheets / sheet_name(d.dataset, name)
            write_bytes_atomic(p, encode_png(sheet_image(sprites)))
            written.append(p)
    md.parent.mkdir(parents=True, exist_ok=True)
    rel = Path(os.path.relpath(sheets, md.parent)).as_posix()
    json_rel = Path(os.path.relpath(js, md.parent)).as_posix()
    write_bytes_atomic(md, markdown(result, sheets_rel=rel, json_rel=json_rel, **kw).encode())
    js.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(js, (json.dumps(to_json(result), indent=1) + "\n").encode())
    return [md, js, *written]
