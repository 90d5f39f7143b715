"""Issue 16, item 5: how ``candidates`` picks one sprite of each group of 4, judged as a *set* of picks.

    python benchmarks/bench_candidates.py [--models vae16 flow16 pixel16 vae40] [--groups 1024] [--two-sample-seeds 3]

For each generator: ``4 * groups`` sprites at its defaults (seeds 2000000.., cached like the teacher export's
pools under ``--generator-cache``), scored once by the teacher; then every pick rule below reduces each group of 4
to one sprite, and the set of picks is compared with the held-out split of the generator's own training data (and,
at 16x16, of ``sprites16``, which the teacher card used for every 16x16 generator before): the Fréchet distance in
the frozen evaluator's features, its paired bootstrap difference from ``random`` (40 resamples of the groups, the
same for every rule, so the noise of the groups they share cancels), the two-sample CNN's accuracy (mean over
``--two-sample-seeds`` seeds; 0.5 = indistinguishable) and the picks' mean teacher quality.

Rules: ``random`` (the first of each group), ``argmax`` (the rule before issue 16), ``anchored`` (the shipped
rule, :mod:`pixelsprite.api.candidates`), ``anchored_l{4,16}`` (other anchor weights), ``sir_b{0.5,1}``
(sampling-importance-resampling by the teacher's odds ``(q / (1 - q)) ** b``, the generator seeding the choice
from the group's seeds: discriminator rejection sampling, Azadi et al. 2019), ``class0`` (the best candidate of
the first candidate's teacher class) and ``greedy_l2`` (quality minus 2 x the largest cosine similarity to the
earlier picks of a 16-sprite request).

Prints one JSON object per line: ``{"name", "unit", "median", "runs", ...}`` with ``median`` the FD to the
generator's own held-out split and ``runs`` the bootstrap FDs. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

import numpy as np

from pixelsprite.api.candidates import anchored_scores, choose
from pixelsprite.evaluation.data import load_split
from pixelsprite.evaluation.distances import frechet_distance
from pixelsprite.evaluation.evaluator import Evaluator
from pixelsprite.evaluation.suite import dataset_of
from pixelsprite.evaluation.two_sample import two_sample_accuracy
from pixelsprite.registry import Registry
from pixelsprite.teacher import TeacherModel
from training.export_teacher import BEST_OF_SEED
from training.teacher_negatives import generated

C = 4
Rule = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]  # (q, e, label, seeds) -> j


def sir(beta: float) -> Rule:
    def rule(q: np.ndarray, e: np.ndarray, label: np.ndarray, seeds: np.ndarray) -> np.ndarray:
        qq = np.clip(q.astype(np.float64), 1e-6, 1 - 1e-6)
        w = np.cumsum((qq / (1 - qq)) ** beta, 1)
        u = np.array([np.random.default_rng([0x5049434B, *map(int, s)]).random() for s in seeds])
        return np.minimum((w < (u * w[:, -1])[:, None]).sum(1), q.shape[1] - 1)

    return rule


def greedy(lam: float, request: int = 16) -> Rule:
    def rule(q: np.ndarray, e: np.ndarray, label: np.ndarray, seeds: np.ndarray) -> np.ndarray:
        out = np.zeros(len(q), int)
        for start in range(0, len(q), request):
            picked: list[np.ndarray] = []
            for g in range(start, min(start + request, len(q))):
                near = np.max(np.stack([e[g] @ p for p in picked]), 0) if picked else 0.0
                out[g] = int(np.argmax(q[g] - lam * near))
                picked.append(e[g, out[g]])
        return out

    return rule


RULES: dict[str, Rule] = {
    "random": lambda q, e, label, s: np.zeros(len(q), int),
    "argmax": lambda q, e, label, s: q.argmax(1),
    "anchored": lambda q, e, label, s: choose(anchored_scores(q, e)),
    "anchored_l4": lambda q, e, label, s: choose(anchored_scores(q, e, 4.0)),
    "anchored_l16": lambda q, e, label, s: choose(anchored_scores(q, e, 16.0)),
    "sir_b0.5": sir(0.5),
    "sir_b1": sir(1.0),
    "class0": lambda q, e, label, s: choose(q.astype(np.float64), label == label[:, :1]),
    "greedy_l2": greedy(2.0),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["vae16", "flow16", "pixel16", "vae40"])
    p.add_argument("--rules", nargs="+", default=list(RULES), choices=list(RULES))
    p.add_argument("--groups", type=int, default=1024)
    p.add_argument("--two-sample-seeds", type=int, default=1, help="0: skip the two-sample test")
    p.add_argument("--bootstrap", type=int, default=40)
    p.add_argument("--data", default="../shared/datasets")
    p.add_argument("--cache", default=".cache/datasets")
    p.add_argument("--generator-cache", default=".cache/teacher")
    p.add_argument("--teacher", default="teacher")
    p.add_argument("--threads", type=int, default=1, help="onnxruntime threads")
    p.add_argument("--models-dir", action="append", default=[], help="extra bundle folders")
    a = p.parse_args()
    registry = Registry(a.models_dir, env=False, threads=a.threads)
    teacher, evaluator = TeacherModel.load(registry, a.teacher), Evaluator.load(registry)
    real: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    boot = [np.random.default_rng([7, k]).integers(0, a.groups, a.groups) for k in range(a.bootstrap)]
    for model in a.models:
        pool = generated(registry, model, C * a.groups, BEST_OF_SEED, a.generator_cache or None)
        size = pool.shape[1]
        s = teacher.score(pool)
        q, e, label = (v.reshape(a.groups, C, *v.shape[1:]) for v in (s.quality, s.embedding, s.label))
        seeds = (BEST_OF_SEED + np.arange(C * a.groups)).reshape(a.groups, C)
        feats = evaluator.features(pool)
        refs = [dataset_of(registry, model)] + (["sprites16"] if size == 16 else [])
        for ref in dict.fromkeys(refs):
            if ref not in real:
                held = load_split(ref, a.data, a.cache or None, size).held_out
                real[ref] = held, evaluator.features(held)
        base: dict[str, np.ndarray] = {}
        for name in a.rules:
            j = RULES[name](q, e, label, seeds)
            idx = np.arange(a.groups) * C + j
            row: dict = {
                "name": f"candidates/{model}/{name}",
                "unit": f"FD to held-out {refs[0]} (frozen evaluator)",
                "groups": a.groups,
                "mean_quality": round(float(s.quality[idx].mean()), 4),
                "share_argmax": round(float((j == q.argmax(1)).mean()), 4),
            }
            for ref in dict.fromkeys(refs):
                held, held_feats = real[ref]
                fd = frechet_distance(held_feats, feats[idx])
                runs = np.array([frechet_distance(held_feats, feats[idx[b]]) for b in boot])
                if name == "random":
                    base[ref] = runs
                key = "" if ref == refs[0] else f"_{ref}"
                if ref == refs[0]:
                    row.update(median=round(fd, 3), runs=[round(float(v), 3) for v in runs])
                else:
                    row[f"fd{key}"] = round(fd, 3)
                if ref in base:
                    d = runs - base[ref]
                    row[f"fd_minus_random{key}"] = [round(float(d.mean()), 3), round(float(d.std()), 3)]
                if a.two_sample_seeds and ref == refs[0]:
                    acc = [two_sample_accuracy(held, pool[idx], seed=k).accuracy for k in range(a.two_sample_seeds)]
                    row[f"two_sample{key}"] = round(float(np.mean(acc)), 4)
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
