"""A frozen VAE first stage for training diffusion / flow models in latent space (Rombach et al. 2022, §3).

It wraps a *shipped VAE bundle* (its ONNX ``encoder`` and ``decoder``, run by onnxruntime through the
runtime's registry): training encodes each augmented batch to the encoder's posterior mean, normalised per
channel to zero mean and unit variance over the training set; sampling decodes ``z = x * std + mean``.
The export copies the bundle's two graphs into the generator's bundle and writes ``mean``/``std`` into the
manifest (``sampling.latent``), so the runtime decodes exactly as training did.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pixelsprite.manifest import load_manifest
from pixelsprite.registry import Bundle, Registry

from .augment import to_model_range


@dataclass(frozen=True)
class FirstStage:
    bundle: Bundle
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def load(
        cls,
        folder: str | Path,
        train_images: np.ndarray | None = None,
        mean: tuple[float, ...] | None = None,
        std: tuple[float, ...] | None = None,
    ) -> FirstStage:
        """The VAE bundle in ``folder``; normalisation from ``train_images`` (uint8 NHWC) or given mean/std."""
        folder = Path(folder).resolve()
        if not (folder / "manifest.json").is_file():
            raise FileNotFoundError(
                f"first stage {folder} is not a bundle folder (no manifest.json): train and export "
                "the VAE first (training.train_vae), or pass --first-stage '' for pixel space"
            )
        name = load_manifest(folder).name
        bundle = Registry([folder.parent], builtin=False, env=False).load(name)
        if bundle.manifest.family != "vae" or "encoder" not in bundle.manifest.graphs:
            raise ValueError(f"{folder}: a first stage must be a 'vae' bundle with an encoder")
        if mean is None or std is None:
            if train_images is None:
                raise ValueError("give train_images or mean and std")
            z = np.concatenate(
                [
                    cls._encode_raw(bundle, to_model_range(torch.from_numpy(train_images[i : i + 256])).numpy())
                    for i in range(0, len(train_images), 256)
                ]
            )
            mean = tuple(float(v) for v in z.mean(axis=(0, 2, 3)))
            std = tuple(float(v) for v in z.std(axis=(0, 2, 3)) + 1e-6)
        return cls(bundle, tuple(mean), tuple(std))

    @property
    def folder(self) -> Path:
        return self.bundle.info.path

    @property
    def latent_shape(self) -> tuple[int, ...]:
        latent = self.bundle.manifest.latent
        assert latent is not None
        return latent.shape

    @staticmethod
    def _encode_raw(bundle: Bundle, x: np.ndarray) -> np.ndarray:
        spec = bundle.manifest.graphs["encoder"]
        return bundle.run("encoder", {spec.inputs[0].name: np.ascontiguousarray(x, np.float32)})[spec.outputs[0].name]

    def _stats(self) -> tuple[np.ndarray, np.ndarray]:
        return (
            np.asarray(self.mean, np.float32)[None, :, None, None],
            np.asarray(self.std, np.float32)[None, :, None, None],
        )

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, 4, S, S) in [-1, 1] -> normalised latents (B, *latent_shape) on x's device."""
        mean, std = self._stats()
        z = self._encode_raw(self.bundle, x.detach().float().cpu().numpy())
        return torch.from_numpy((z - mean) / std).to(x.device)

    def decode(self, x: np.ndarray) -> np.ndarray:
        """Normalised latents (B, *latent_shape) -> raw images float32 (B, 4, S, S)."""
        mean, std = self._stats()
        z = (np.asarray(x, np.float32) * std + mean).astype(np.float32)
        spec = self.bundle.manifest.graphs["decoder"]
        return self.bundle.run("decoder", {spec.inputs[0].name: z})[spec.outputs[0].name]

    def to_dict(self) -> dict:
        return {"bundle": str(self.folder), "name": self.bundle.name, "mean": list(self.mean), "std": list(self.std)}
