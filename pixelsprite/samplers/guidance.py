"""Classifier-free guidance (Ho & Salimans 2022, "Classifier-Free Diffusion Guidance", eq. 6).

One network trained with label dropout predicts both the conditional output f(x, t, c) and the unconditional
f(x, t, ∅) (∅ = the null label, index ``num_labels``). With guidance scale w:

    f̂ = f(x, t, ∅) + w · (f(x, t, c) - f(x, t, ∅))

so w = 0 is the unconditional prediction, w = 1 the conditional one (no guidance), w > 1 pushes towards the
label. The combination is linear, so it applies alike to ε, v and velocity predictions. When both passes are
needed they run as one batch of 2B (conditional rows first), i.e. one onnxruntime call per step.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["Network", "guided"]

Network = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
"""The raw network: ``(x (B, ...), t (B,) float32, label (B,) int64) -> (B, ...)`` float32."""


def guided(
    network: Network, labels: np.ndarray, null_label: int, scale: float
) -> Callable[[np.ndarray, float], np.ndarray]:
    """The guided prediction ``(x, t) -> f̂`` for a batch whose rows have ``labels`` (int64 (B,)).

    Rows whose label is already ``null_label`` need no guidance; w = 1 (or an all-null batch) runs the
    conditional pass only, w = 0 the unconditional pass only; otherwise one call on the stacked 2B batch.
    """
    labels = np.asarray(labels, dtype=np.int64)
    nulls = np.full_like(labels, null_label)
    if scale == 1.0 or np.all(labels == null_label):
        mode = "cond"
    elif scale == 0.0:
        mode = "uncond"
    else:
        mode = "both"

    def predict(x: np.ndarray, t: float) -> np.ndarray:
        b = x.shape[0]
        if mode == "cond":
            return network(x, np.full(b, t, np.float32), labels)
        if mode == "uncond":
            return network(x, np.full(b, t, np.float32), nulls)
        out = network(np.concatenate([x, x]), np.full(2 * b, t, np.float32), np.concatenate([labels, nulls]))
        cond, uncond = out[:b], out[b:]
        return (uncond + np.float32(scale) * (cond - uncond)).astype(np.float32)

    return predict
