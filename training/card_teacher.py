"""``card.md`` for the teacher bundle, written from its manifest (every number is the manifest's)."""

from __future__ import annotations

from pathlib import Path

from pixelsprite.manifest import Manifest
from pixelsprite.manifest_sections import TeacherSpec


def _f(x: float | None, d: int = 3) -> str:
    return "—" if x is None else f"{x:.{d}f}"


def _experts(use: dict) -> list[str]:
    k = len(next(iter(use.values()))["mean_gate"])
    lines = [
        "| sprites | " + " | ".join(f"expert {i} mean gate / top-1 share" for i in range(k)) + " |",
        "|---|" + "---|" * k,
    ]
    for src, u in use.items():
        lines.append(
            f"| {src} | " + " | ".join(f"{g:.3f} / {t:.1%}" for g, t in zip(u["mean_gate"], u["top1_share"])) + " |"
        )
    return lines


RULE_NAMES = {"random": "random", "argmax": "argmax", "anchored": "anchored (shipped)"}


def _candidates(fd: dict, sheets: dict) -> list[str]:
    """The candidates section: each pick rule's set of picks against held-out real sprites, and the sheets."""
    lines: list[str] = []
    if fd:
        rules = list(next(iter(fd.values()))["rules"])
        anchor = next(iter(fd.values())).get("anchor")
        has_ts = all("two_sample" in r["rules"][k] for r in fd.values() for k in rules)
        names = " / ".join(RULE_NAMES.get(k, k) for k in rules)
        lines += [
            "",
            "### Candidates: random vs argmax vs anchored pick of 4 (frozen evaluator, two-sample test)",
            "",
            f"Each generator's seeds {2_000_000}.. in groups of 4, reduced to one sprite per group three ways: "
            "**random** (the first of each group; what `candidates=1` gives), **argmax** (the highest teacher "
            "quality; the rule before issue 16) and **anchored** (the runtime's `candidates` rule: the highest "
            f"`logit(quality) - {anchor:g} * (1 - cos(embedding, first candidate's))`, "
            "`pixelsprite/api/candidates.py`). Each *set* of picks is compared with the held-out split of the "
            "generator's own training data: Fréchet distance in the features of the frozen evaluator "
            "(`pixelsprite/models/evaluator`, which the teacher never saw; lower is better)"
            + (
                " and the accuracy of a small CNN trained to tell the picks from real sprites on pixels (the "
                "two-sample test, seed 0; 0.5 = indistinguishable; about ±0.03 between seeds)"
                if has_ts
                else ""
            )
            + "; the mean teacher quality of the picks says how much each sprite gained. FD differences of "
            "about 0.3 are within the noise of 512 groups (paired bootstrap; `benchmarks/bench_candidates.py` "
            "measures more rules, with more groups).",
            "",
            f"| generator | real (held out) | groups | FD {names} | "
            + (f"two-sample {names} | " if has_ts else "")
            + f"mean quality {names} |",
            "|---|---|---|---|" + ("---|" if has_ts else "") + "---|",
        ]
        for g, r in fd.items():
            rr = r["rules"]
            low = min(v["fd"] for v in rr.values())
            fds = " / ".join(f"**{v['fd']:.2f}**" if v["fd"] == low else f"{v['fd']:.2f}" for v in rr.values())
            ts = " / ".join(f"{v['two_sample']:.3f}" for v in rr.values()) + " | " if has_ts else ""
            qs = " / ".join(f"{v['mean_quality']:.3f}" for v in rr.values())
            lines.append(f"| `{g}` | `{r['reference']}` ({r['real']}) | {r['groups']} | {fds} | {ts}{qs} |")
        if {"random", "argmax", "anchored"} <= set(rules):

            def worse(rule: str) -> list[str]:
                return [g for g, r in fd.items() if r["rules"][rule]["fd"] > r["rules"]["random"]["fd"]]

            arg, anc = worse("argmax"), worse("anchored")
            lines += [
                "",
                "Argmax tends to be mode-seeking: the teacher likes some kinds of sprite (compact, clean, simple "
                "items) much more than others, so its picks drift towards those kinds"
                + (
                    f"; here its set is further from the real sprites than a random pick for "
                    f"{', '.join(f'`{g}`' for g in arg)}"
                    if arg
                    else ""
                )
                + ". The anchored pick replaces a group's first (random) draw only by a candidate that is both "
                "better and of the same kind in the teacher's embedding, so the set keeps the model's own mix of "
                "kinds while each sprite gains most of argmax's quality"
                + (
                    f"; its set is further from the real sprites than a random pick for "
                    f"{', '.join(f'`{g}`' for g in anc)}."
                    if anc
                    else "; its set is no further from the real sprites than a random pick for any generator here."
                ),
            ]
    bo = {k: v for k, v in sheets.items() if k.startswith("best_of_4_")}
    if bo:
        lines += ["", "## Candidates: random, argmax and anchored pick of 4", ""]
        for k, v in bo.items():
            g = k.removeprefix("best_of_4_")
            mq = " / ".join(f"{q:.3f}" for q in v["mean_quality"].values())
            lines += [
                f"![random, argmax and anchored pick of 4, {g}]({k}.png)  ",
                f"*`{g}`, {v['groups']} groups of 4 held-out seeds; in each row the left 4 are the first of each "
                "group (what `candidates=1` gives), the middle 4 the teacher's argmax and the right 4 the anchored "
                f"pick that `candidates` returns. Mean teacher quality {mq}.*",
                "",
            ]
    return lines


def write_card(m: Manifest, history: list[dict], path: str | Path) -> None:
    t, sec, met = m.training, TeacherSpec.of(m, m.name), m.metrics
    ev = met["held_out"]
    recipe, ds = t["recipe"], t["dataset"]
    cfg = recipe["trainer"]
    lines = [
        f"# {m.name} — {m.description}",
        "",
        "![best and worst scored generated 16x16 sprites](samples.png)  ",
        "*Held-out samples of each 16x16 generator: per generator, the top row is its 8 best-scored sprites and "
        "the bottom row its 8 worst (seeds 1000000 ..).*",
        "",
        "## What it does",
        "Scores RGBA pixel-art sprites: **quality** in [0, 1] (the chance a person keeps the sprite; used to "
        "pick one of N `candidates`), a unit-norm "
        f"**{sec.embedding_dim}-d embedding** (cosine similarity = semantic similarity; `similar`), and a "
        f"**class** with its probability over {len(m.labels)} labels ({', '.join(m.labels)}). "
        "`pixelsprite score SPRITE.png...`, `pixelsprite similar REF.png ...`, "
        "`pixelsprite generate --candidates 4`; the bridge ops `score`, `similar` and the `candidates` key.",
        "",
        "## Architecture",
        f"Residual CNN backbone (widths {recipe['model']['widths']}, BatchNorm with per-size statistics, two "
        "coordinate channels so position is visible after pooling, global mean+max pool) -> softmax **gate** -> "
        f"**{sec.experts} experts** (MLPs {recipe['model']['feature_dim']} -> {recipe['model']['expert_hidden']}"
        f" -> {recipe['model']['hidden']}) mixed by the gate weights -> heads: quality (sigmoid), embedding "
        "(L2-normalised), class logits (a cosine classifier on the embedding, so classes live in the embedding's "
        "geometry). A load-balancing term (squared coefficient of variation of the experts' mean gate weight, "
        f"weight {cfg['balance_weight']}) keeps every expert in use; a small gate-entropy term "
        f"(weight {cfg['entropy_weight']}) makes routing decisive.",
        "",
        "## How sizes are fed",
        f"{sec.feeding[0].upper()}{sec.feeding[1:]}. One graph serves both sizes "
        f"({', '.join(f'{s}x{s}' for s in sec.sizes)}); the manifest's `teacher` section lists the sizes, the "
        "flags and the I/O names. `image` in the manifest gives the largest size.",
        "",
        "## Data",
    ]
    for d in t["data"]:
        lines.append(f"- **{d['name']}** — licence {d['license']}; source: {d['source']}")
    gens = ds.get("generators", {})
    lines += [
        "",
        f"Positives: real sprites, `{ds['positives']['16']}` at 16x16 and `{ds['positives']['40']}` at 40x40 "
        f"(training splits: {', '.join(f'{k}: {v}' for k, v in ds['train'].items())}; held out: "
        f"{', '.join(f'{k}: {v}' for k, v in ds['held_out'].items())}; {ds['split']}). Labels: the 12 fine DCSS "
        "labels of the `dcss16fine`/`dcss40fine` builders, `icon` for the 1-bit icons and `other` for every DCSS "
        "tile without a fine label (floors, walls, effects, GUI, paper-doll parts).",
        "",
        "Negatives (half of every batch): generated sprites — "
        + ", ".join(
            f"`{g}` ({v['size']}x{v['size']}, seeds {v['train_seeds'][0]}..{v['train_seeds'][1] - 1})"
            for g, v in gens.items()
        )
        + f", decoded by pixelsprite's runtime with the bundles' defaults, {cfg['generated_share']:.0%} of the "
        "negatives — and corruptions of real training sprites (the rest): gaussian noise, blur, soft alpha, broken "
        "alpha (holes or a filled background), colour mush (washed out and ghosted), posterisation, off-centre "
        "shifts and crops, palette explosions; a corruption that leaves a sprite unchanged is replaced by a "
        "palette explosion. Negatives are redrawn every epoch from `(seed, epoch)`.",
        "",
        "## Held-out results (the exported ONNX model, scored by the runtime)",
        "",
        "AUC = probability that a held-out real sprite outscores a negative. Generated negatives use held-out "
        "seeds (1000000 ..), never trained on; corruptions are of held-out real sprites.",
        "",
        "| negatives | 16x16 AUC | 40x40 AUC | mean quality 16 / 40 |",
        "|---|---|---|---|",
    ]
    per = ev["per_size"]
    unseen = set(ev.get("generators_not_trained_against", []))
    for g in ev["auc_generated"]:
        r16, r40 = per["16"]["generated"].get(g), per["40"]["generated"].get(g)
        note = " (not trained against)" if g in unseen else ""
        lines.append(
            f"| generated by `{g}`{note} | {_f(r16 and r16['auc'])} | {_f(r40 and r40['auc'])} | "
            f"{_f(r16 and r16['mean_quality'])} / {_f(r40 and r40['mean_quality'])} |"
        )
    for k in ev["auc_corruption"]:
        c16, c40 = per["16"]["corruption"][k], per["40"]["corruption"][k]
        lines.append(
            f"| corruption `{k}` | {_f(c16['auc'])} | {_f(c40['auc'])} | "
            f"{_f(c16['mean_quality'])} / {_f(c40['mean_quality'])} |"
        )
    lines += [
        f"| *(held-out real sprites)* | | | {_f(per['16']['real_mean_quality'])} / "
        f"{_f(per['40']['real_mean_quality'])} |",
        "",
        f"Class accuracy on held-out real sprites: 16x16 {per['16']['labels']['accuracy']:.1%} (balanced "
        f"{per['16']['labels']['balanced_accuracy']:.1%}), 40x40 {per['40']['labels']['accuracy']:.1%} (balanced "
        f"{per['40']['labels']['balanced_accuracy']:.1%}).",
        "",
        "### Calibration",
        f"{ev['calibration']['set'][0].upper()}{ev['calibration']['set'][1:]}; expected calibration error "
        f"**{ev['calibration']['ece']:.3f}** (10 equal-width bins).",
        "",
        "| predicted quality | sprites | mean predicted | share real |",
        "|---|---|---|---|",
    ]
    for b in ev["calibration"]["bins"]:
        lines.append(
            f"| {b['lo']:.1f}–{b['hi']:.1f} | {b['count']} | {b['mean_score']:.3f} | {b['positive_rate']:.3f} |"
        )
    lines += ["", "### Expert use (held-out)", ""] + _experts(ev["expert_use"])
    if history:
        first, last = history[0].get("experts"), history[-1].get("experts")
        if first and last:
            lines += [
                "",
                f"Training batches, mean gate per expert: epoch 1 {first['mean_gate']}, epoch "
                f"{history[-1]['epoch']} {last['mean_gate']} (top-1 shares {last['top1_share']}); every "
                "epoch's numbers are in the checkpoint's history and the training log.",
            ]
    lines += _candidates(ev.get("best_of_4") or {}, met.get("sheets", {}))
    sheets = met.get("sheets", {})
    if "ranked40" in sheets:
        lines += [
            "![best and worst scored 40x40 samples](ranked40.png)  ",
            "*40x40 generators: per generator its 8 best-scored (top row) and 8 worst-scored held-out samples.*",
            "",
        ]
    speed = met.get("score_sprites_per_s", {})
    lines += [
        "## Speed and size",
        f"Scoring on one CPU thread of the shared 2-core training machine: "
        f"{', '.join(f'{s}x{s}: {v:.0f} sprites/s' for s, v in speed.items() if s != 'threads')} (batches of 256). "
        f"Parity torch vs onnxruntime: max |diff| {met['parity_max_abs_diff'][m.graphs and 'teacher']:.2g} "
        f"(tolerance {met['parity_max_abs_diff']['tolerance']:g}), checked at both sizes.",
        "",
        "## Training",
        f"{t['epochs']} epochs, {t['steps']} steps, **{t['seconds'] / 60:.1f} minutes** on {t['hardware']} "
        f"({t['framework']}); AdamW lr {cfg['lr']}, batch {cfg['batch_size']} real + {cfg['batch_size']} "
        f"negatives, EMA {cfg['ema_decay']}, class loss weight {cfg['class_weight']}, time budget "
        f"{cfg['time_budget_s']:.0f} s.",
        "",
        "```sh",
        recipe.get("command") or "python -m training.train_teacher --data ../shared/datasets --out runs/teacher",
        "python -m training.export_teacher runs/teacher/last.pt --data ../shared/datasets "
        "--bundle pixelsprite/models/teacher",
        "```",
        "Re-running the training command resumes from `runs/teacher/last.pt`.",
        "",
        "## Limitations",
        "- Quality means *like the training data*: sprites in a style unlike DCSS tiles and 1-bit icons score low "
        "even when they are good.",
        "- The generated negatives are from the generators shipped when it was trained (listed above); a new "
        "generator's typical flaws may be scored more kindly until the teacher is retrained with it.",
        "- `similar` ranks by the embedding, which is trained through the class head: it knows monsters from "
        "potions better than one monster from another.",
        "",
        "## Licence",
        "The model (weights and graph) is released under the repository's licence; the training data is CC0 (see "
        "above).",
        "",
    ]
    Path(path).write_text("\n".join(lines))
