"""Export a trained teacher to the bundle ``pixelsprite/models/teacher`` and judge the *exported* model.

    python -m training.export_teacher runs/teacher/last.pt --data ../shared/datasets --bundle pixelsprite/models/teacher

Story: checkpoint -> :class:`~training.models.teacher.TeacherNet` with the EMA weights -> one ONNX graph (role
``teacher``; batch, height and width dynamic, so 16x16 and 40x40 sprites go in natively) with the torch vs
onnxruntime parity check at both sizes -> the bundle is staged and loaded by pixelsprite's own runtime
(:class:`pixelsprite.teacher.TeacherModel`), which scores the held-out sets (:mod:`training.teacher_eval`) ->
manifest (family ``teacher``, labels, sizes and how they are fed, metrics), ranked sample sheets, the candidates'
pick rules judged as sets (random / argmax / the runtime's anchored pick of 4 against the held-out split of each
generator's own training data: :func:`best_of_sets`), ``card.md`` -> installed by
:func:`training.export.install_bundle`.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from pixelsprite.api.candidates import ANCHOR, pick
from pixelsprite.errors import PixelspriteError
from pixelsprite.evaluation.data import load_split
from pixelsprite.evaluation.suite import dataset_of
from pixelsprite.manifest import ImageSpec, Manifest, save_manifest
from pixelsprite.manifest_sections import TEACHER_OUTPUTS, TeacherSpec
from pixelsprite.registry import Registry
from pixelsprite.teacher import FAMILY, GRAPH_ROLE, TeacherModel

from .card_teacher import write_card
from .export import PARITY_ATOL, export_graph, install_bundle
from .models.teacher import SIZES, TeacherConfig, TeacherNet, size_flag
from .sheets import save_sheet
from .teacher_data import CREDITS, DATASETS, EVAL_SEED, TEACHER_LABELS, label_counts, load_positives
from .teacher_eval import evaluate, held_out_sets
from .teacher_negatives import available_generators, generated
from .train_teacher import as_input
from .trainer import load_checkpoint

OUTPUTS = list(TEACHER_OUTPUTS)
FEEDING = (
    "each sprite at its native size (16x16 or 40x40; no resampling; the graph's height and width are "
    "dynamic) as float32 NCHW RGBA in [-1, 1], with a size flag (batch, 1) = (S - 16) / 24: 0.0 for "
    "16x16, 1.0 for 40x40; BatchNorm statistics are kept per size and chosen by the flag"
)


def load_model(ckpt: dict) -> TeacherNet:
    model = TeacherNet(TeacherConfig.from_dict(ckpt["model_config"]))
    model.load_state_dict(ckpt["ema"])
    return model.eval()


def export_onnx(model: TeacherNet, example: dict[int, np.ndarray], out: Path) -> tuple:
    """The graph (parity-checked at 40x40 by export_graph, then at 16x16 here) -> (GraphSpec, max abs diff)."""
    x40, f40 = as_input(example[40], 40)
    res = export_graph(
        model,
        {"image": x40, "size_flag": f40},
        OUTPUTS,
        out / "teacher.onnx",
        dynamic_dims={"image": {2: "height", 3: "width"}},
    )
    x16, f16 = as_input(example[16], 16)
    session = ort.InferenceSession(str(out / "teacher.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(OUTPUTS, {"image": x16.numpy(), "size_flag": f16.numpy()})
    with torch.no_grad():
        want = model(x16, f16)
    diff16 = max(float(np.abs(g - w.numpy()).max()) for g, w in zip(got, want))
    if not diff16 <= PARITY_ATOL:
        raise AssertionError(f"teacher.onnx at 16x16: onnxruntime differs from torch by {diff16:.3g}")
    return res.graph, max(res.parity_max_abs_diff, diff16)


def throughput(teacher: TeacherModel, images: np.ndarray, repeats: int = 3) -> float:
    """Sprites per second scoring ``images`` (median of ``repeats`` runs)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        teacher.score(images)
        times.append(time.perf_counter() - t0)
    return round(len(images) / float(np.median(times)), 1)


def ranked_sheet(teacher: TeacherModel, sprites: dict[str, np.ndarray], path: Path, k: int = 8) -> dict:
    """Per generator two rows: its ``k`` best-scored and ``k`` worst-scored held-out samples."""
    rows, report = [], {}
    for name, s in sprites.items():
        q = teacher.score(s).quality
        order = np.argsort(-q, kind="stable")
        rows += [s[order[:k]], s[order[-k:]]]
        report[name] = {
            "best": [round(float(v), 3) for v in q[order[:k]]],
            "worst": [round(float(v), 3) for v in q[order[-k:]]],
        }
    save_sheet(np.concatenate(rows), path, columns=k, scale=4 if rows[0].shape[1] <= 16 else 2)
    return report


BEST_OF_SEED = 2_000_000
BEST_OF_GROUPS = 512
BEST_OF_N = 4
PICK_RULES = ("random", "argmax", "anchored")
"""How a group of candidates can be reduced to one sprite: ``random`` = the first of the group (seeds are
independent, so a random draw; what ``candidates=1`` gives), ``argmax`` = the highest teacher quality (the rule
before issue 16), ``anchored`` = the runtime's rule (:func:`pixelsprite.api.candidates.pick`)."""


def best_of_picks(teacher: TeacherModel, sprites: np.ndarray, n: int = BEST_OF_N) -> tuple[dict, np.ndarray]:
    """Each of :data:`PICK_RULES`' pick in every group of ``n`` consecutive sprites (flat row indices int
    ``(G,)``, ``G = len(sprites) // n``), and the qualities float32 ``(G, n)``."""
    g = len(sprites) // n
    p = pick(teacher, sprites[: n * g], g, n)
    first = np.arange(g) * n
    return {"random": first, "argmax": first + p.quality.argmax(1), "anchored": p.index}, p.quality


def best_of_sheet(teacher: TeacherModel, sprites: np.ndarray, path: Path, n: int = BEST_OF_N, count: int = 32) -> dict:
    """``count`` sprites three ways from the same ``n * count`` seeds, 4 of each per row: the first of each group of
    ``n`` (what ``candidates=1`` gives), the teacher's argmax, and the runtime's anchored pick."""
    count = min(count, len(sprites) // n) // 4 * 4
    idx, q = best_of_picks(teacher, sprites[: n * count], n)
    picked = [sprites[idx[r]] for r in PICK_RULES]
    sheet = np.concatenate([np.concatenate([p[i : i + 4] for p in picked]) for i in range(0, count, 4)])
    save_sheet(sheet, path, columns=4 * len(PICK_RULES), scale=4 if sprites.shape[1] <= 16 else 2)
    return {"groups": count, "mean_quality": {r: round(float(q.reshape(-1)[idx[r]].mean()), 4) for r in PICK_RULES}}


def best_of_sets(
    teacher: TeacherModel,
    registry: Registry,
    real: np.ndarray,
    sprites: np.ndarray,
    reference: str,
    two_sample: bool = True,
) -> dict | None:
    """How far each pick rule's *set* of picks is from held-out ``real`` sprites (the generator's own dataset
    ``reference``): Fréchet distance in the frozen evaluator's features (``pixelsprite/models/evaluator``; the
    teacher never saw it), the two-sample CNN's accuracy on pixels (seed 0; 0.5 = indistinguishable), and the
    picks' mean teacher quality, for every rule of :data:`PICK_RULES` on the groups of ``sprites``. None when no
    evaluator is installed."""
    try:
        from pixelsprite.evaluation.distances import frechet_distance
        from pixelsprite.evaluation.evaluator import Evaluator
        from pixelsprite.evaluation.two_sample import two_sample_accuracy

        evaluator = Evaluator.load(registry)
    except (ImportError, PixelspriteError):
        return None
    idx, q = best_of_picks(teacher, sprites)
    flat_q = q.reshape(-1)
    feats, real_feats = evaluator.features(sprites[: q.size]), evaluator.features(real)
    rules = {}
    for r in PICK_RULES:
        row = {
            "fd": round(frechet_distance(real_feats, feats[idx[r]]), 3),
            "mean_quality": round(float(flat_q[idx[r]].mean()), 4),
            "share_argmax": round(float((idx[r] == idx["argmax"]).mean()), 4),
        }
        if two_sample:
            row["two_sample"] = round(two_sample_accuracy(real, sprites[idx[r]], seed=0).accuracy, 4)
        rules[r] = row
    return {
        "groups": len(q),
        "real": len(real),
        "reference": reference,
        "evaluator": evaluator.name,
        "anchor": ANCHOR,
        "rules": rules,
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint")
    p.add_argument("--data", default="../shared/datasets")
    p.add_argument("--cache", default=".cache/datasets")
    p.add_argument("--generator-cache", default=".cache/teacher")
    p.add_argument("--bundle", default="pixelsprite/models/teacher")
    p.add_argument("--name", default="teacher")
    p.add_argument("--models-dir", action="append", default=[], help="extra bundle folders (generators)")
    a = p.parse_args(argv)
    ckpt = load_checkpoint(a.checkpoint)
    model = load_model(ckpt)
    tcfg = ckpt["trainer_config"]
    pos = load_positives(a.data, a.cache or None)
    generators = ckpt.get("generators", {})
    gen_registry = Registry(a.models_dir, env=False)
    # every generator shipped now is judged, also those the teacher never saw in training (marked in the card)
    present = available_generators(gen_registry)
    unseen = sorted(set(present) - set(generators))
    eval_pools = {
        g: (size, generated(gen_registry, g, tcfg["eval_per_model"], EVAL_SEED, a.generator_cache or None))
        for g, size in present.items()
    }
    held = held_out_sets(pos, eval_pools)

    work = Path(tempfile.mkdtemp(prefix=f"{a.name}-"))
    out = work / a.name
    out.mkdir()
    graph, parity = export_onnx(model, {s: pos[s].split(True)[0][:4] for s in SIZES}, out)
    net = model.cfg
    section = TeacherSpec(
        sizes=SIZES,
        size_flags={s: size_flag(s) for s in SIZES},
        inputs={"image": "image", "size_flag": "size_flag"},
        outputs={k: k for k in OUTPUTS},
        embedding_dim=net.embed_dim,
        experts=net.experts,
        feeding=FEEDING,
        quality="probability that a person keeps the sprite: real held-in sprites 1, generated and "
        "corrupted ones 0 (training prior 50/50)",
    )
    manifest = Manifest(
        name=a.name,
        family=FAMILY,
        description=f"Quality teacher: residual CNN + {net.experts}-expert mixture; quality, "
        f"{net.embed_dim}-d embedding, {len(TEACHER_LABELS)} classes; 16x16 and 40x40",
        image=ImageSpec(max(SIZES), max(SIZES)),
        labels=TEACHER_LABELS,
        graphs={GRAPH_ROLE: graph},
        training={
            "data": list(CREDITS),
            "dataset": {
                "positives": {str(s): DATASETS[s] for s in SIZES},
                "train": {str(s): int((~pos[s].held_out).sum()) for s in SIZES},
                "held_out": {str(s): int(pos[s].held_out.sum()) for s in SIZES},
                "split": "sha1(relative path) < 10%, the builders' split",
                "label_counts": label_counts(pos),
                "generators": generators,
            },
            "recipe": {"model": net.to_dict(), "trainer": tcfg, "command": ckpt.get("command", "")},
            "seconds": round(float(ckpt["elapsed_s"]), 1),
            "epochs": ckpt["epoch"],
            "steps": ckpt["step"],
            "framework": f"torch {torch.__version__}",
            "hardware": f"CPU, {tcfg['threads']} thread(s), shared",
        },
        metrics={},
        card="card.md",
        samples="samples.png",
        extra={TeacherSpec.KEY: section.to_dict()},
    )
    save_manifest(manifest, out / "manifest.json")

    teacher = TeacherModel.load(Registry([work], builtin=False, env=False, threads=1), a.name)

    def score_fn(images: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        s = teacher.score(images)
        return s.quality, s.label, s.gate

    evaluation = evaluate(score_fn, held)
    speed = {str(s): throughput(teacher, np.concatenate([pos[s].images[:512]] * 2)) for s in SIZES}
    sheets = {}
    for s in SIZES:
        gens = {g: v for g, (sz, v) in eval_pools.items() if sz == s}
        if gens:
            sheets[f"ranked{s}"] = ranked_sheet(teacher, gens, out / ("samples.png" if s == 16 else f"ranked{s}.png"))
            for g in sorted(gens):
                sheets[f"best_of_4_{g}"] = best_of_sheet(teacher, gens[g], out / f"best_of_4_{g}.png")
    evaluation["generators_not_trained_against"] = unseen
    # candidates: each pick rule's set of picks against the held-out split of the generator's own training data
    real_sets = {DATASETS[s]: held[s].real for s in SIZES}
    best_of = {}
    for g, (size, _) in eval_pools.items():
        ref = dataset_of(gen_registry, g)
        if ref not in real_sets:
            try:
                real_sets[ref] = load_split(ref, a.data, a.cache or None, size).held_out
            except PixelspriteError:
                real_sets[ref] = np.zeros((0, size, size, 4), np.uint8)
        if real_sets[ref].shape[1:3] != (size, size) or len(real_sets[ref]) < 10:
            ref = DATASETS[size]  # the teacher's own positives of that size
        pool = generated(gen_registry, g, BEST_OF_N * BEST_OF_GROUPS, BEST_OF_SEED, a.generator_cache or None)
        row = best_of_sets(teacher, gen_registry, real_sets[ref], pool, ref)
        if row is not None:
            best_of[g] = row
    evaluation["best_of_4"] = best_of
    metrics = {
        "held_out": evaluation,
        "parity_max_abs_diff": {GRAPH_ROLE: parity, "tolerance": PARITY_ATOL},
        "score_sprites_per_s": {**speed, "threads": 1},
        "sheets": sheets,
        "history": ckpt.get("history", [])[-1:],
    }
    manifest = Manifest.from_dict({**manifest.to_dict(), "metrics": metrics})
    save_manifest(manifest, out / "manifest.json")
    write_card(manifest, ckpt.get("history", []), out / "card.md")
    install_bundle(out, a.bundle)
    print(
        json.dumps(
            {
                "bundle": a.bundle,
                **evaluation["summary"],
                "auc_generated": evaluation["auc_generated"],
                "auc_corruption": evaluation["auc_corruption"],
                "score_sprites_per_s": speed,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
