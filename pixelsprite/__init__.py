"""pixelsprite: native-resolution pixel-art sprites from small ONNX generators (onnxruntime + numpy + pillow).

The runtime never imports torch. Start with :func:`generate`::

    import pixelsprite
    result = pixelsprite.generate("vae16", count=16, seed=7)   # result.sprites: uint8 (16, 16, 16, 4)
    pixelsprite.write_png("sheet.png", pixelsprite.compose_sheet(result.sprites, scale=4))
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .api import (
    DecodeRequest,
    EncodeRequest,
    GenerateRequest,
    GridRequest,
    InterpolateRequest,
    LatentResult,
    ModelInfo,
    ModelsRequest,
    ModelsResult,
    PaletteRequest,
    PaletteResult,
    Sprite,
    SpriteResult,
    VariationsRequest,
    decode,
    default_registry,
    encode,
    generate,
    grid,
    handle,
    interpolate,
    models,
    palette,
    variations,
)
from .errors import (
    BundleError,
    Cancelled,
    ImageError,
    InvalidRequest,
    PaletteError,
    PixelspriteError,
    UnknownModel,
)
from .imageio import compose_sheet, read_image, upscale, write_png
from .manifest import GraphSpec, ImageSpec, LatentSpec, Manifest, PostprocessSpec, TensorSpec, load_manifest
from .palettes import Palette, builtin_names, read_palette, write_palette
from .registry import Bundle, BundleInfo, Registry

try:
    __version__ = version("pixelsprite")
except PackageNotFoundError:  # running from a source checkout that is not installed
    __version__ = "0+unknown"

__all__ = [
    "__version__",
    # requests and results
    "ModelsRequest", "GenerateRequest", "EncodeRequest", "DecodeRequest", "VariationsRequest",
    "InterpolateRequest", "GridRequest", "PaletteRequest",
    "Sprite", "SpriteResult", "LatentResult", "ModelInfo", "ModelsResult", "PaletteResult",
    # operations
    "handle", "models", "generate", "encode", "decode", "variations", "interpolate", "grid", "palette",
    "default_registry",
    # palettes
    "Palette", "builtin_names", "read_palette", "write_palette",
    # errors
    "PixelspriteError", "InvalidRequest", "UnknownModel", "ImageError", "BundleError", "PaletteError",
    "Cancelled",
    # bundles
    "Manifest", "TensorSpec", "GraphSpec", "ImageSpec", "LatentSpec", "PostprocessSpec", "load_manifest",
    "Registry", "Bundle", "BundleInfo",
    # images
    "read_image", "write_png", "compose_sheet", "upscale",
]  # fmt: skip
