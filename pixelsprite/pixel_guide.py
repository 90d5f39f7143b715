"""A renderer's first stage: a latent generator whose blurred drawing the ``pixel`` network redraws crisp.

A *renderer* bundle (``tokens.guide`` in its manifest) carries a latent generator's graphs beside its ``logits``
graph: ``denoiser`` (or ``velocity``), ``encoder`` and ``decoder``, and that generator's ``sampling`` section and
labels. The generator draws the sprite (its shapes, colours and pose: what it is good at) as a latent, the VAE
decoder turns it into a blurred RGBA image, the *guide*, and the ``logits`` graph, which also takes the guide as
its fourth input (float32 ``(batch, 4, H, W)`` in the image's value range), fills a canvas of palette tokens
given it (``docs/pixel.md``, "pixel40: a renderer over diffusion40"). Images a request brings (variations,
inpainting) become guides through the encoder and decoder: the sprite as the VAE redraws it.

    tokens.guide = {"family": "diffusion" | "flow", "bundle": the generator's name when exported}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .diffusion import DiffusionModel
from .errors import BundleError
from .flow import FlowModel
from .iterative import CancelCheck, IterativeModel, Progress, Settings, make_hook
from .registry import Bundle

__all__ = ["GUIDE_FAMILIES", "guide_stage", "stage_settings", "drawn_guides", "sprite_guides"]

GUIDE_FAMILIES: dict[str, type[IterativeModel]] = {"diffusion": DiffusionModel, "flow": FlowModel}
"""The latent generator families a renderer's first stage may be, by ``tokens.guide.family``."""


def guide_stage(bundle: Bundle, section: Mapping[str, Any], where: str) -> IterativeModel:
    """The first stage of the renderer bundle ``bundle`` (its ``tokens.guide`` ``section``): the latent generator
    over the same bundle's graphs. BundleError when the family is unknown or the graphs to encode and decode are
    missing."""
    family = section.get("family")
    cls = GUIDE_FAMILIES.get(family) if isinstance(family, str) else None
    if cls is None:
        raise BundleError(
            f"{where}: manifest key 'tokens.guide.family' must be one of {sorted(GUIDE_FAMILIES)}, got {family!r}"
        )
    stage = cls(bundle)
    if stage.spec.space != "latent" or not {"encoder", "decoder"} <= set(bundle.manifest.graphs):
        raise BundleError(f"{where}: a renderer's first stage must be a latent generator with encoder and decoder")
    return stage


def stage_settings(stage: IterativeModel, label: int) -> Settings:
    """The first stage's settings for a request: its measured defaults, the request's label index."""
    d = stage.settings(None, None, None, None)
    return Settings(d.solver, d.steps, d.guidance, label)


def drawn_guides(
    stage: IterativeModel,
    seeds: Sequence[int],
    s: Settings,
    *,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
    total: int = 0,
) -> np.ndarray:
    """New guides float32 (N, 4, H, W): the generator's latents for ``seeds`` with settings ``s``
    (:func:`stage_settings`), decoded. Guide i depends on ``seeds[i]`` and ``s`` only (the generator's own
    seeding). ``progress`` counts its ``s.steps`` out of ``total`` (the whole request's; 0: its own)."""
    hook = make_hook(progress, cancel, total or s.steps)(0)
    x, rngs = stage.start_noise(seeds)
    latents = stage._sample(x, s, rngs, 1.0, hook)  # the family's sampler, without its colour policy
    return stage.decode_raw(latents)


def sprite_guides(stage: IterativeModel, rgba: np.ndarray, count: int) -> np.ndarray:
    """A sprite uint8 (H, W, 4) as the VAE redraws it (encoder mean, decoder), ``count`` times: float32 (count, 4,
    H, W)."""
    guide = stage.decode_raw(stage.to_space(np.asarray(rgba, np.uint8)[None]))
    return np.repeat(guide, count, axis=0)
