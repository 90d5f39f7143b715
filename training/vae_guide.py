"""Guide images for a renderer (``TokenUNetConfig.guide``): a sprite as a latent generator's VAE draws it.

A latent generator (``diffusion40``) decodes its latents through a VAE decoder that blurs (docs/pixel.md). A renderer
learns to draw the crisp palette sprite that such a blurred image stands for. Its training pairs are made on the fly
from the training sprites themselves: sprite -> the bundle's ``encoder`` -> a posterior sample z = mean + exp(logvar
/ 2)·ε -> its ``decoder`` -> the guide. Sampling the posterior (rather than taking its mean) shows the renderer the
neighbourhood of each encoding that a generator's latents land in (as ``training.train_gan_decoder`` does).
The graphs run in onnxruntime: a shipped bundle keeps no torch weights.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from pixelsprite.manifest import load_manifest


class VaeGuide:
    """``__call__(rgba) -> guide``: rgba float32 (B, 4, S, S) in [-1, 1] (alpha -1 transparent, 1 opaque) ->
    (B, 4, S, S) float32 in [-1, 1], the bundle's decoder applied to a posterior sample of its encoder.

    ``bundle``: a folder whose manifest has ``encoder`` and ``decoder`` graphs for S×S RGBA (``vae40``, or a latent
    generator such as ``diffusion40`` that carries them). Runs on the CPU with ``threads`` intra-op threads; the
    result is on the input's device. ``noise`` scales ε (0: the posterior mean)."""

    def __init__(self, bundle: str | Path, threads: int = 1, noise: float = 1.0) -> None:
        m = load_manifest(bundle)
        if "encoder" not in m.graphs or "decoder" not in m.graphs:
            raise SystemExit(f"--guide-from {bundle}: the bundle has no encoder and decoder graphs")
        self.size = (m.image.height, m.image.width)
        self.noise = noise
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads

        def session(role: str) -> ort.InferenceSession:
            path = str(Path(bundle) / m.graphs[role].file)
            return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])

        self.encoder, self.decoder = session("encoder"), session("decoder")
        self.rng = np.random.default_rng(0)

    def __call__(self, rgba: torch.Tensor) -> torch.Tensor:
        if tuple(rgba.shape[2:]) != self.size:
            raise ValueError(f"guide images are {self.size}, got sprites of {tuple(rgba.shape[2:])}")
        x = rgba.detach().cpu().float().numpy()
        mean, logvar = self.encoder.run(["mean", "logvar"], {"image": np.ascontiguousarray(x)})
        eps = self.rng.standard_normal(mean.shape).astype(np.float32)
        z = mean + self.noise * np.exp(0.5 * logvar) * eps
        (image,) = self.decoder.run(["image"], {"z": z.astype(np.float32)})
        return torch.from_numpy(np.clip(image, -1.0, 1.0)).to(rgba.device)
