"""A renderer's first stage: a latent generator whose blurred drawing the ``pixel`` network redraws crisp.

A *renderer* bundle (``tokens.guide`` in its manifest) carries a latent generator's graphs beside its ``logits``
graph: ``denoiser`` (or ``velocity``), ``encoder`` and ``decoder``, and that generator's ``sampling`` section and
labels. The generator draws the sprite (its shapes, colours and pose: what it is good at) as a latent, the VAE
decoder turns it into a blurred RGBA image, the *guide*, and the ``logits`` graph, which also takes the guide as
its fourth input (float32 ``(batch, 4, H, W)`` in the image's value range), fills a canvas of palette tokens
given it (``docs/pixel.md``, "pixel40: a renderer over diffusion40"). A sprite a request brings for variations
becomes a guide through the encoder and decoder (the sprite as the VAE redraws it); for inpainting the generator
first redraws the latent cells under the mask, keeping the others (:func:`inpainted_guides`), so the renderer
draws something new there rather than what was there.

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
from .samplers import per_sprite_normal

__all__ = [
    "GUIDE_FAMILIES", "INPAINT_LEVELS", "guide_stage", "stage_settings", "drawn_guides", "sprite_guides",
    "latent_mask", "inpaint_evaluations", "inpainted_guides",
]  # fmt: skip

GUIDE_FAMILIES: dict[str, type[IterativeModel]] = {"diffusion": DiffusionModel, "flow": FlowModel}
"""The latent generator families a renderer's first stage may be, by ``tokens.guide.family``."""

INPAINT_LEVELS = (1.0, 0.8, 0.6, 0.4, 0.2)
"""The noise levels (as variation strengths, 1 = pure noise) of the first stage's inpainting rounds
(:func:`inpainted_guides`). Five rounds from 1 down to 0.2 cost 20 evaluations at a 6-step default and joined
the new part to the kept one where one round at 1 (plain replacement) or three (1, 0.6, 0.3) often broke the
silhouette (docs/pixel.md, "Inpainting a renderer")."""


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


def latent_mask(mask: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """bool (H, W) pixel mask -> bool (h, w) for a latent of spatial ``shape`` (h, w): the cells any of whose
    pixels is masked (cell (i, j) covers rows floor(i H / h) .. ceil((i + 1) H / h) - 1, columns likewise)."""
    m = np.asarray(mask, bool)
    (hh, ww), (h, w) = m.shape, (int(shape[0]), int(shape[1]))
    rows = [m[(i * hh) // h : -((-(i + 1) * hh) // h)] for i in range(h)]
    return np.array([[r[:, (j * ww) // w : -((-(j + 1) * ww) // w)].any() for j in range(w)] for r in rows])


def inpaint_evaluations(stage: IterativeModel, s: Settings) -> int:
    """The first stage's steps in :func:`inpainted_guides` with settings ``s`` (its progress count)."""
    return sum(stage.phase_steps(s, level) for level in INPAINT_LEVELS)


def inpainted_guides(
    stage: IterativeModel,
    rgba: np.ndarray,
    mask: np.ndarray,
    seeds: Sequence[int],
    s: Settings,
    *,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
    total: int = 0,
) -> np.ndarray:
    """Guides float32 (N, 4, H, W) for inpainting the sprite uint8 (H, W, 4) where ``mask`` bool (H, W) is True:
    the generator redraws the latent cells the mask touches (:func:`latent_mask`) and keeps the sprite's
    encoding (the encoder's mean) in the others, then the VAE decodes it.

    Rounds at :data:`INPAINT_LEVELS`: the kept cells are set to the sprite's latent noised to the round's level,
    the generator samples the whole latent from that level to clean (its own sampler and settings ``s``,
    :func:`stage_settings`), and the result is noised to the next round's level; each round lets the kept part
    pull the new one into a drawing that fits it. The kept cells end exactly as the sprite's latent. Guide i
    depends on ``seeds[i]``, the sprite, the mask and ``s`` only. ``progress`` counts the rounds' steps
    (:func:`inpaint_evaluations`) out of ``total`` (the whole request's; 0: their own)."""
    z0 = stage.to_space(np.asarray(rgba, np.uint8)[None])
    shape = z0.shape[1:]
    keep = (~latent_mask(mask, shape[-2:]))[None, None].astype(np.float32)
    x, rngs = stage.start_noise(seeds)
    hooks = make_hook(progress, cancel, total or inpaint_evaluations(stage, s))
    done = 0
    for k, level in enumerate(INPAINT_LEVELS):
        known = stage._noised(z0, per_sprite_normal(rngs, shape), s, level)
        x = (keep * known + (1.0 - keep) * x).astype(np.float32)
        x = stage._sample(x, s, rngs, level, hooks(done))
        done += stage.phase_steps(s, level)
        if k + 1 < len(INPAINT_LEVELS):
            x = stage._noised(x, per_sprite_normal(rngs, shape), s, INPAINT_LEVELS[k + 1])
    return stage.decode_raw((keep * z0 + (1.0 - keep) * x).astype(np.float32))
