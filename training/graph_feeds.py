"""Feeding a pixel bundle's ``logits`` graph from training tools, whether or not it takes ``pick``.

A graph exported with ``pick`` (``pixelsprite.pixel``, ``PICK_INPUT``) returns the logits of the pixels it is asked
for, (B, 1 + K, P). Tools that want every pixel (distillation, quantisation calibration and drift, rebuilding a
network, timing) ask for all of them and get the canvas layout back, so one code path serves both kinds of graph.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from pixelsprite.pixel import PICK_INPUT


def every_pixel(feeds: dict[str, np.ndarray], input_names: Iterable[str]) -> dict[str, np.ndarray]:
    """``feeds`` (``tokens`` int64 (B, H, W), ...) plus ``pick`` = every pixel, int64 (B, H·W), when the graph's
    ``input_names`` include it; ``feeds`` unchanged otherwise."""
    if PICK_INPUT not in set(input_names) or PICK_INPUT in feeds:
        return feeds
    b, h, w = feeds["tokens"].shape
    return {**feeds, PICK_INPUT: np.tile(np.arange(h * w, dtype=np.int64), (b, 1))}


def canvas_logits(logits: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """A graph's output for every pixel, (B, C, H·W) or (B, C, H, W) float32 -> (B, C, H, W), H, W from
    ``tokens`` (B, H, W)."""
    b, h, w = tokens.shape
    return logits.reshape(b, -1, h, w)
