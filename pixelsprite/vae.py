"""The "vae" model family: prior sampling, encoding and decoding with a loaded bundle.

Graphs (see ``docs/bundle-format.md``):
    * ``decoder`` (required): ``z`` float32 ``(batch, *latent.shape)`` -> image float32 ``(batch, 4, H, W)``
      in ``image.value_range``;
    * ``encoder`` (optional; needed by encode/variations and image endpoints): image float32
      ``(batch, 4, H, W)`` -> ``(mean, logvar)``, each ``(batch, *latent.shape)``; the first output is the
      posterior mean;
    * ``prior`` (only with ``latent.prior == "gaussian_mixture"``): an int64 input ``(batch,)`` (component)
      and a float32 input ``(batch, D)`` (``D = prod(latent.shape)``, standard normal noise) -> z
      ``(batch, *latent.shape)``; e.g. ``z = means[k] + chol[k] @ eps``.

Sampling the latent of the sprite with seed ``s`` (one seed reproduces one sprite exactly, whatever batch it
was generated in):
    * ``standard_normal``: ``np.random.default_rng(s).standard_normal(latent.shape, dtype=np.float32)``;
    * ``gaussian_mixture``: ``rng = np.random.default_rng(s)``; ``u = rng.random()``; component
      ``k = searchsorted(cumsum(w) / sum(w), u, side="right")`` (clipped to K - 1); then
      ``eps = rng.standard_normal(D, dtype=np.float32)``; ``z = prior(k, eps)``.
Variation noise is always ``np.random.default_rng(s).standard_normal(latent.shape, dtype=np.float32)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .errors import BundleError
from .imageio import to_model
from .manifest import Manifest, TensorSpec
from .postprocess import finish
from .registry import Bundle

__all__ = ["FAMILY", "CHUNK", "PRIORS", "VaeModel", "check_manifest"]

FAMILY = "vae"
PRIORS = ("standard_normal", "gaussian_mixture")
CHUNK = 256
"""Sprites per onnxruntime call; bounds peak memory for large counts."""


def _dims_match(spec: TensorSpec, want: tuple[int, ...]) -> bool:
    rest = spec.shape[1:]
    return len(rest) == len(want) and all(isinstance(d, int) and d == w for d, w in zip(rest, want, strict=True))


def check_manifest(m: Manifest, where: str) -> None:
    """Check that a manifest describes a usable VAE; BundleError naming ``where`` (the bundle path) if not."""
    if m.latent is None:
        raise BundleError(f"{where}: a 'vae' bundle needs a 'latent' section in its manifest")
    if m.latent.prior not in PRIORS:
        raise BundleError(f"{where}: latent.prior {m.latent.prior!r} is not supported (one of: {', '.join(PRIORS)})")
    if m.latent.prior == "gaussian_mixture":
        _check_mixture_prior(m, where)
    if "decoder" not in m.graphs:
        raise BundleError(f"{where}: a 'vae' bundle needs a 'decoder' graph (it has: {', '.join(sorted(m.graphs))})")
    image = m.image.nchw
    latent = ", ".join(map(str, m.latent.shape))
    dec = m.graphs["decoder"]
    if len(dec.inputs) != 1 or not _dims_match(dec.inputs[0], m.latent.shape):
        raise BundleError(f"{where}: the decoder must take one input of shape [batch, {latent}]")
    if not _dims_match(dec.outputs[0], image):
        raise BundleError(f"{where}: the decoder's first output must have shape [batch, {', '.join(map(str, image))}]")
    enc = m.graphs.get("encoder")
    if enc is not None:
        if len(enc.inputs) != 1 or not _dims_match(enc.inputs[0], image):
            raise BundleError(
                f"{where}: the encoder must take one input of shape [batch, {', '.join(map(str, image))}]"
            )
        if not _dims_match(enc.outputs[0], m.latent.shape):
            raise BundleError(f"{where}: the encoder's first output (the mean) must have shape [batch, {latent}]")


def _check_mixture_prior(m: Manifest, where: str) -> None:
    assert m.latent is not None
    if "prior" not in m.graphs:
        raise BundleError(f"{where}: latent.prior 'gaussian_mixture' needs a 'prior' graph")
    g = m.graphs["prior"]
    d = math.prod(m.latent.shape)
    dtypes = sorted(t.dtype for t in g.inputs)
    eps = [t for t in g.inputs if t.dtype == "float32"]
    comp = [t for t in g.inputs if t.dtype == "int64"]
    if dtypes != ["float32", "int64"] or not _dims_match(eps[0], (d,)) or len(comp[0].shape) != 1:
        raise BundleError(
            f"{where}: the prior graph must take a float32 input [batch, {d}] (noise) and an int64 input "
            "[batch] (component)"
        )
    if not _dims_match(g.outputs[0], m.latent.shape):
        latent = ", ".join(map(str, m.latent.shape))
        raise BundleError(f"{where}: the prior graph's first output must have shape [batch, {latent}]")


@dataclass(frozen=True)
class VaeModel:
    """A loaded VAE bundle with numpy-in, numpy-out operations. Stateless; safe to share between threads."""

    bundle: Bundle

    def __post_init__(self) -> None:
        check_manifest(self.bundle.manifest, str(self.bundle.info.path))

    @property
    def manifest(self) -> Manifest:
        return self.bundle.manifest

    @property
    def name(self) -> str:
        return self.bundle.name

    @property
    def latent_shape(self) -> tuple[int, ...]:
        assert self.manifest.latent is not None  # checked in __post_init__
        return self.manifest.latent.shape

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` of a sprite."""
        return (self.manifest.image.width, self.manifest.image.height)

    @property
    def has_encoder(self) -> bool:
        return "encoder" in self.manifest.graphs

    def sample_latents(self, seeds: Sequence[int]) -> np.ndarray:
        """Prior latents float32 ``(len(seeds), *latent_shape)``; row i depends on seed i only."""
        latent = self.manifest.latent
        assert latent is not None  # checked in __post_init__
        if latent.prior == "standard_normal":
            return np.stack([np.random.default_rng(s).standard_normal(latent.shape, dtype=np.float32) for s in seeds])
        assert latent.mixture_weights is not None  # checked by the manifest parser
        cdf = np.cumsum(np.asarray(latent.mixture_weights, dtype=np.float64))
        cdf /= cdf[-1]
        d = math.prod(latent.shape)
        component = np.empty(len(seeds), dtype=np.int64)
        eps = np.empty((len(seeds), d), dtype=np.float32)
        for i, s in enumerate(seeds):
            rng = np.random.default_rng(s)
            component[i] = min(int(np.searchsorted(cdf, rng.random(), side="right")), len(cdf) - 1)
            eps[i] = rng.standard_normal(d, dtype=np.float32)
        spec = self.manifest.graph("prior")
        feeds_by_dtype: dict[str, np.ndarray] = {"int64": component, "float32": eps}
        out = []
        for i in range(0, len(seeds), CHUNK):
            feeds = {t.name: feeds_by_dtype[t.dtype][i : i + CHUNK] for t in spec.inputs}
            res = self.bundle.run("prior", feeds)
            out.append(res[spec.outputs[0].name].astype(np.float32, copy=False).reshape(-1, *latent.shape))
        return np.concatenate(out)

    def prior(self, seed: int) -> np.ndarray:
        """The prior latent for ``seed``: float32 ``latent_shape``."""
        return self.sample_latents([seed])[0]

    def noise(self, seed: int) -> np.ndarray:
        """Variation noise for ``seed``: float32 ``latent_shape`` drawn from N(0, I)."""
        return np.random.default_rng(seed).standard_normal(self.latent_shape, dtype=np.float32)

    def encode(self, rgba: npt.ArrayLike) -> np.ndarray:
        """uint8 ``(N, H, W, 4)`` with hard alpha -> posterior means float32 ``(N, *latent_shape)``."""
        spec = self.manifest.graph("encoder")
        arr = np.asarray(rgba)
        out = []
        for i in range(0, arr.shape[0], CHUNK):
            x = to_model(arr[i : i + CHUNK], self.manifest.image.value_range)
            res = self.bundle.run("encoder", {spec.inputs[0].name: x})
            out.append(res[spec.outputs[0].name].astype(np.float32, copy=False))
        return np.concatenate(out)

    def decode_raw(self, z: npt.ArrayLike) -> np.ndarray:
        """Latents float32 ``(N, *latent_shape)`` -> raw decoder output float32 ``(N, 4, H, W)``."""
        spec = self.manifest.graph("decoder")
        zz = np.asarray(z, dtype=np.float32)
        out = []
        for i in range(0, zz.shape[0], CHUNK):
            res = self.bundle.run("decoder", {spec.inputs[0].name: np.ascontiguousarray(zz[i : i + CHUNK])})
            out.append(res[spec.outputs[0].name].astype(np.float32, copy=False))
        return np.concatenate(out)

    def decode(self, z: npt.ArrayLike, max_colors: int | None = None) -> np.ndarray:
        """Latents ``(N, *latent_shape)`` -> sprites uint8 ``(N, H, W, 4)``.

        Decoder -> :func:`~pixelsprite.postprocess.finish` with the manifest's ``postprocess`` settings: hard
        alpha, the fewest colours within ``color_tolerance`` up to ``max_colors`` (None: the manifest's cap;
        0: no colour reduction), then despeckling. Chunked by :data:`CHUNK`.
        """
        pp = self.manifest.postprocess
        k = pp.max_colors if max_colors is None else max_colors
        zz = np.asarray(z, dtype=np.float32)
        out = []
        for i in range(0, zz.shape[0], CHUNK):
            x = self.decode_raw(zz[i : i + CHUNK])
            out.append(
                finish(
                    x,
                    self.manifest.image.value_range,
                    alpha_threshold=pp.alpha_threshold,
                    max_colors=k,
                    color_tolerance=pp.color_tolerance,
                    despeckle_distance=pp.despeckle,
                )
            )
        return np.concatenate(out)
