""":func:`handle`: run any request, the entry point of every transport."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import InvalidRequest
from ..iterative import CancelCheck, PreviewCallback, Previews, Progress
from ..registry import Registry
from . import catalog, latent_space, pipeline, teacher_ops
from .generators import Hooks
from .requests import (
    DecodeRequest,
    EncodeRequest,
    GenerateRequest,
    GridRequest,
    InpaintRequest,
    InterpolateRequest,
    ModelsRequest,
    PaletteRequest,
    Request,
    ScoreRequest,
    SimilarRequest,
    VariationsRequest,
)
from .resolve import default_registry
from .results import Result

__all__ = ["handle"]

_HOOKED: dict[type, Callable[..., Any]] = {  # take hooks (progress, cancel, preview)
    GenerateRequest: pipeline.generate,
    VariationsRequest: pipeline.variations,
    InpaintRequest: pipeline.inpaint,
    InterpolateRequest: pipeline.interpolate,
}
_PLAIN: dict[type, Callable[..., Any]] = {
    ModelsRequest: catalog.models,
    EncodeRequest: latent_space.encode,
    DecodeRequest: latent_space.decode,
    GridRequest: latent_space.grid,
    PaletteRequest: catalog.palette,
    ScoreRequest: teacher_ops.score,
    SimilarRequest: teacher_ops.similar,
}


def handle(
    request: Request,
    *,
    registry: Registry | None = None,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
    preview: Previews | PreviewCallback | None = None,
) -> Result:
    """Run one request. Transports call this (off their event loop: it blocks on onnxruntime).

    ``progress(done, total)`` is called after every sampler step and ``cancel()`` checked between steps
    (generate, variations, inpaint and interpolate on models that sample in steps; other requests ignore both).
    ``preview`` (see :mod:`pixelsprite.iterative`) is honoured by generate, variations and inpaint; interpolate and
    other requests ignore it.

    Raises:
        PixelspriteError subclasses only, for anything a caller can cause (Cancelled when ``cancel`` says so).
    """
    kind = type(request)
    result: Result
    if kind in _HOOKED:
        hooks = Hooks(progress, cancel, None if kind is InterpolateRequest else preview)
        result = _HOOKED[kind](request, registry or default_registry(), hooks)
    elif kind in _PLAIN:
        result = _PLAIN[kind](request, registry or default_registry())
    else:
        raise InvalidRequest(f"unsupported request type {kind.__name__}", field="op")
    return result
