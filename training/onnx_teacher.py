"""A shipped ``pixel`` bundle as a frozen distillation teacher, run by onnxruntime.

Guidance distillation (:mod:`training.objectives_distill`) needs the teacher's raw output for a batch of masked
canvases. A shipped bundle keeps no torch checkpoint, only its exported ``logits`` graph, so this module wraps that
graph in a :class:`torch.nn.Module` with the :class:`training.models.token_unet.TokenUNet` call signature. The
bundle's manifest is the source of truth for its palette (``tokens.palette``) and labels, which the student must
share.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from pixelsprite.manifest import MANIFEST_NAME, load_manifest

from .graph_feeds import canvas_logits, every_pixel


def is_bundle(path: str | Path) -> bool:
    """True for a model bundle folder (it holds ``manifest.json``), False for a checkpoint file."""
    return (Path(path) / MANIFEST_NAME).is_file()


def bundle_palette_hex(bundle: str | Path) -> list[str]:
    """The bundle's palette, ``'#rrggbb'`` strings for tokens 1..K."""
    return list(load_manifest(bundle).extra["tokens"]["palette"])


class OnnxTeacher(nn.Module):
    """The bundle's ``logits`` graph as ``forward(tokens, t, label) -> (B, 1 + K, S, S) float32``.

    tokens: int64 (B, S, S) in 0..K + 1 (K + 1 = MASK); t: float32 (B,) mask ratio in [0, 1]; label: int64 (B,),
    ``len(labels)`` = no label. Runs on the CPU with ``threads`` intra-op threads; the output is moved to the
    inputs' device. Not trainable."""

    def __init__(self, bundle: str | Path, threads: int = 1) -> None:
        super().__init__()
        m = load_manifest(bundle)
        tokens = m.extra.get("tokens", {})
        if m.family != "pixel" or tokens.get("base"):
            raise SystemExit(f"--distill-from {bundle}: not a single-stage pixel bundle")
        self.labels: tuple[str, ...] = m.labels
        self.palette_size = len(tokens["palette"])
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        graph = str(Path(bundle) / m.graphs["logits"].file)
        self.session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]

    def forward(self, tokens: torch.Tensor, t: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        feeds: dict[str, np.ndarray] = {
            "tokens": tokens.detach().cpu().numpy().astype(np.int64),
            "t": t.detach().cpu().numpy().astype(np.float32),
            "label": label.detach().cpu().numpy().astype(np.int64),
        }
        (out,) = self.session.run(["logits"], every_pixel(feeds, self.input_names))
        return torch.from_numpy(canvas_logits(out, feeds["tokens"])).to(tokens.device)
