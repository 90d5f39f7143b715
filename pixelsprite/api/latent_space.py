"""The operations on a VAE's latent space: encode images, decode latents, and a grid spanned by four corners.

Latents are float32 ``(N, *latent_shape)``; sprites come back finished like every sprite operation's
(:mod:`.finishing`).
"""

from __future__ import annotations

import time

import numpy as np

from .. import latent as latent_ops
from ..errors import InvalidRequest
from ..registry import Registry
from . import resolve
from .finishing import finish, resolve_finishing
from .generators import VaeGenerator
from .requests import DecodeRequest, EncodeRequest, GridRequest
from .results import LatentResult, SpriteResult

__all__ = ["encode", "decode", "grid"]


def encode(req: EncodeRequest, registry: Registry) -> LatentResult:
    """Posterior means float32 ``(N, *latent_shape)`` of the request's images (read at the model's size)."""
    t0 = time.perf_counter()
    model = resolve.vae_model(registry, req.model, "encode")
    if not model.has_encoder:
        raise InvalidRequest(f"model {model.name!r} has no encoder, so images cannot be an image", field="images")
    images = np.stack([resolve.image(model, im, f"images[{i}]") for i, im in enumerate(req.images)])
    return LatentResult("encode", model.name, model.encode(images), time.perf_counter() - t0)


def decode(req: DecodeRequest, registry: Registry) -> SpriteResult:
    """Sprites from latents (converted to float32 here); unseeded."""
    t0 = time.perf_counter()
    model = resolve.vae_model(registry, req.model, "decode")
    finishing = resolve_finishing(req)
    z = np.asarray(req.latents).astype(np.float32)
    if z.shape[1:] != model.latent_shape:
        raise InvalidRequest(
            f"latents must have shape (N, {', '.join(map(str, model.latent_shape))}) "
            f"for model {model.name!r}, got {z.shape}",
            field="latents",
        )
    sprites = finish(model.decode(z, req.max_colors), finishing)
    return SpriteResult("decode", model.name, sprites, (None,) * len(sprites), None, time.perf_counter() - t0)


def grid(req: GridRequest, registry: Registry) -> SpriteResult:
    """``rows x cols`` sprites, row-major, bilinear (lerp/slerp) between the corners' latents."""
    t0 = time.perf_counter()
    gen = VaeGenerator(resolve.vae_model(registry, req.model, "grid"))
    finishing = resolve_finishing(req)
    corners = np.stack(
        [
            gen.latent(resolve.endpoint(gen.model, c, f"corners[{i}]", req.alpha_threshold))
            for i, c in enumerate(req.corners)
        ]
    )
    z = latent_ops.bilinear_grid(corners, req.rows, req.cols, req.method)
    z = z.reshape((req.rows * req.cols, *gen.model.latent_shape))
    sprites = finish(gen.model.decode(z, req.max_colors), finishing)
    layout = (req.rows, req.cols)
    return SpriteResult("grid", gen.name, sprites, (None,) * len(sprites), None, time.perf_counter() - t0, layout)
