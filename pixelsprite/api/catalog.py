"""The ``models`` and ``palette`` operations: what is registered, and a palette proposed from sprites."""

from __future__ import annotations

import time

import numpy as np

from .. import families
from ..errors import InvalidRequest, PixelspriteError
from ..palettes import encode_palette, extract, swatch_png
from ..registry import Registry
from . import resolve
from .pipeline import generate
from .requests import GenerateRequest, ModelsRequest, PaletteRequest
from .results import ModelInfo, ModelsResult, PaletteResult

__all__ = ["models", "palette"]


def models(req: ModelsRequest, registry: Registry) -> ModelsResult:
    """The registered bundles (manifests only: nothing is loaded), the default, and the problems met scanning."""
    t0 = time.perf_counter()
    infos = []
    for b in registry.bundles():
        m = b.manifest
        infos.append(
            ModelInfo(
                name=b.name,
                family=m.family,
                width=m.image.width,
                height=m.image.height,
                labels=m.labels,
                description=m.description,
                latent_shape=m.latent.shape if m.latent is not None else None,
                builtin=b.builtin,
                path=str(b.path),
                tiling=families.capabilities(m).tiling,
            )
        )
    try:
        default: str | None = resolve.model_name(registry, None, "generate")
    except PixelspriteError:
        default = None
    return ModelsResult(tuple(infos), default, registry.problems, time.perf_counter() - t0)


def palette(req: PaletteRequest, registry: Registry) -> PaletteResult:
    """A ``req.colors``-colour palette extracted from the given sprites, or from ``req.count`` samples."""
    t0 = time.perf_counter()
    model: str | None = None
    base: int | None = None
    if req.sprites is not None:
        sprites: list[np.ndarray] | np.ndarray = [
            resolve.sprite(im, f"sprites[{i}]") for i, im in enumerate(req.sprites)
        ]
    else:
        res = generate(GenerateRequest(req.model, req.count, req.seed, label=req.label), registry)
        sprites, model, base = res.sprites, res.model, res.base_seed
    where = f"{req.count} samples of model {model!r} from seed {base}" if model else f"{len(sprites)} sprites"
    try:
        pal = extract(sprites, req.colors, method=req.method, name=req.name)
    except InvalidRequest as e:
        raise InvalidRequest(f"{e.message} ({where})", field=e.field) from None
    pal = pal.renamed(req.name, f"proposed by pixelsprite: {req.method} over {where}")
    fmt = req.file_format
    file = encode_palette(pal, fmt)
    return PaletteResult(
        "palette", model, pal, swatch_png(pal), fmt, file, base, len(sprites), time.perf_counter() - t0
    )
