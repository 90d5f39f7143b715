"""Numbers for the teacher's card, numpy only: ROC AUC, a reliability table with the expected calibration error.

Every function takes plain arrays, so the same code scores the torch model during training and the exported
ONNX bundle through the runtime.
"""

from __future__ import annotations

import numpy as np

__all__ = ["auc", "reliability", "label_accuracy"]


def auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """Area under the ROC curve of scores ``positive`` (should be high) vs ``negative``; ties count one half.

    The Mann-Whitney U statistic divided by ``len(positive) * len(negative)``: the probability that a random
    positive outscores a random negative. 1.0 separates perfectly, 0.5 is chance.
    """
    p = np.asarray(positive, np.float64).ravel()
    n = np.asarray(negative, np.float64).ravel()
    if len(p) == 0 or len(n) == 0:
        raise ValueError("auc needs at least one positive and one negative score")
    allv = np.concatenate([p, n])
    order = allv.argsort(kind="mergesort")
    ranks = np.empty(len(allv))
    sorted_v = allv[order]
    # average ranks over ties (1-based)
    _, first, counts = np.unique(sorted_v, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    u = ranks[: len(p)].sum() - len(p) * (len(p) + 1) / 2.0
    return float(u / (len(p) * len(n)))


def reliability(scores: np.ndarray, targets: np.ndarray, bins: int = 10) -> dict:
    """Reliability table over ``bins`` equal-width bins of predicted quality, and the expected calibration error.

    scores: (N,) in [0, 1]; targets: (N,) 0/1. Returns ``{"ece": float, "bins": [{"lo", "hi", "count",
    "mean_score", "positive_rate"}, ...]}`` (empty bins omitted). ECE = sum over bins of
    ``count / N * |positive_rate - mean_score|`` (Naeini et al. 2015).
    """
    s = np.asarray(scores, np.float64).ravel()
    t = np.asarray(targets, np.float64).ravel()
    which = np.minimum((s * bins).astype(np.int64), bins - 1)
    rows, ece = [], 0.0
    for b in range(bins):
        m = which == b
        if not m.any():
            continue
        mean_s, rate = float(s[m].mean()), float(t[m].mean())
        ece += m.sum() / len(s) * abs(rate - mean_s)
        rows.append(
            {
                "lo": b / bins,
                "hi": (b + 1) / bins,
                "count": int(m.sum()),
                "mean_score": round(mean_s, 4),
                "positive_rate": round(rate, 4),
            }
        )
    return {"ece": round(float(ece), 4), "bins": rows}


def label_accuracy(predicted: np.ndarray, labels: np.ndarray, names: tuple[str, ...]) -> dict:
    """Accuracy, balanced accuracy (mean per-label recall over labels present) and per-label counts."""
    per = {}
    for i, n in enumerate(names):
        m = labels == i
        if m.any():
            per[n] = {"accuracy": round(float((predicted[m] == i).mean()), 4), "count": int(m.sum())}
    return {
        "accuracy": round(float((predicted == labels).mean()), 4),
        "balanced_accuracy": round(float(np.mean([v["accuracy"] for v in per.values()])), 4),
        "per_label": per,
    }
