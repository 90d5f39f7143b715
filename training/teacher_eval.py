"""Held-out evaluation of a quality teacher: AUC of real vs each generator and vs each corruption, calibration,
class accuracy and expert use.

The held-out sets are fixed: real = the builders' held-out split of each size; corruptions = each kind applied to
those real sprites with seed :data:`EVAL_SEED` (keeping the ones it visibly changed); generated = each generator's
held-out seeds (``EVAL_SEED ..``).
The calibration set mirrors the training mix: every held-out real sprite, plus as many negatives, half generated
(split evenly over that size's generators) and half corrupted (evenly over the kinds).

``score_fn(images uint8 (N, S, S, 4), size) -> (quality (N,), predicted label (N,), gate (N, k))`` lets the same
code judge the torch model during training and the exported bundle through the runtime.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .teacher_data import EVAL_SEED, TEACHER_LABELS, Positives
from .teacher_metrics import auc, label_accuracy, reliability
from .teacher_negatives import CORRUPTIONS, changed, corrupt

ScoreFn = Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class HeldOut:
    """One size's held-out sets: real sprites and labels, corrupted copies per kind, generated per generator."""

    size: int
    real: np.ndarray
    labels: np.ndarray
    corrupted: dict[str, np.ndarray]
    generated: dict[str, np.ndarray]


def held_out_sets(pos: dict[int, Positives], eval_pools: dict[str, tuple[int, np.ndarray]]) -> dict[int, HeldOut]:
    """eval_pools: generator name -> (size, held-out generated sprites)."""
    out = {}
    for size, p in pos.items():
        real, labels = p.split(held_out=True)
        corrupted = {}
        for k in CORRUPTIONS:
            c = corrupt(real, k, EVAL_SEED)
            corrupted[k] = c[changed(real, c)]
        out[size] = HeldOut(size, real, labels, corrupted, {g: s for g, (sz, s) in eval_pools.items() if sz == size})
    return out


def _r(x: float) -> float:
    return round(float(x), 4)


def evaluate(score_fn: ScoreFn, sets: dict[int, HeldOut]) -> dict:
    """All held-out numbers for the card (JSON-ready)."""
    res: dict = {"per_size": {}, "auc_generated": {}, "auc_corruption": {}}
    calib_s, calib_t = [], []
    gates: dict[str, list[np.ndarray]] = {"real": [], "generated": [], "corrupted": []}
    for size, h in sets.items():
        q_real, pred, g_real = score_fn(h.real, size)
        gates["real"].append(g_real)
        row: dict = {
            "real_count": len(h.real),
            "real_mean_quality": _r(q_real.mean()),
            "labels": label_accuracy(pred, h.labels, TEACHER_LABELS),
            "generated": {},
            "corruption": {},
        }
        neg_gen, neg_cor = [], []
        for g, sprites in h.generated.items():
            q, _, gate = score_fn(sprites, size)
            gates["generated"].append(gate)
            row["generated"][g] = {"auc": _r(auc(q_real, q)), "count": len(q), "mean_quality": _r(q.mean())}
            res["auc_generated"][g] = row["generated"][g]["auc"]
            neg_gen.append(q)
        for k, sprites in h.corrupted.items():
            q, _, gate = score_fn(sprites, size)
            gates["corrupted"].append(gate)
            row["corruption"][k] = {"auc": _r(auc(q_real, q)), "count": len(q), "mean_quality": _r(q.mean())}
            neg_cor.append(q)
        rng = np.random.default_rng([EVAL_SEED, size])
        n = len(q_real)
        calib_s.append(q_real)
        calib_t.append(np.ones(n))
        for group, share in ((neg_gen, n // 2), (neg_cor, n - n // 2)):
            if not group:
                group, share = neg_cor, n  # no generator of this size: corruptions only
            per = max(1, share // len(group))
            for q in group:
                calib_s.append(rng.choice(q, min(per, len(q)), replace=False))
                calib_t.append(np.zeros(min(per, len(q))))
        res["per_size"][str(size)] = row
    for k in CORRUPTIONS:  # over both sizes: each corruption's AUC pooled over sizes
        res["auc_corruption"][k] = _r(np.mean([r["corruption"][k]["auc"] for r in res["per_size"].values()]))
    res["calibration"] = reliability(np.concatenate(calib_s), np.concatenate(calib_t))
    res["calibration"]["set"] = "held-out real + as many negatives (half generated, half corrupted), both sizes"
    use = {}
    for src, gs in gates.items():
        if gs:
            weights = np.concatenate(gs)  # (N, experts)
            k = weights.shape[1]
            use[src] = {
                "mean_gate": [_r(v) for v in weights.mean(0)],
                "top1_share": [_r(v) for v in np.bincount(weights.argmax(1), minlength=k) / len(weights)],
            }
    res["expert_use"] = use
    gen = list(res["auc_generated"].values())
    res["summary"] = {
        "auc_generated_min": min(gen) if gen else None,
        "auc_corruption_min": min(res["auc_corruption"].values()),
        "ece": res["calibration"]["ece"],
    }
    return res
