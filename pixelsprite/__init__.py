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
    variations,
)
from .errors import BundleError, ImageError, InvalidRequest, PixelspriteError, UnknownModel
from .imageio import compose_sheet, read_image, upscale, write_png
from .manifest import GraphSpec, ImageSpec, LatentSpec, Manifest, PostprocessSpec, TensorSpec, load_manifest
from .registry import Bundle, BundleInfo, Registry

try:
    __version__ = version("pixelsprite")
except PackageNotFoundError:  # running from a source checkout that is not installed
    __version__ = "0+unknown"

__all__ = [
    "__version__",
    # requests and results
    "ModelsRequest", "GenerateRequest", "EncodeRequest", "DecodeRequest", "VariationsRequest",
    "InterpolateRequest", "GridRequest",
    "Sprite", "SpriteResult", "LatentResult", "ModelInfo", "ModelsResult",
    # operations
    "handle", "models", "generate", "encode", "decode", "variations", "interpolate", "grid",
    "default_registry",
    # errors
    "PixelspriteError", "InvalidRequest", "UnknownModel", "ImageError", "BundleError",
    # bundles
    "Manifest", "TensorSpec", "GraphSpec", "ImageSpec", "LatentSpec", "PostprocessSpec", "load_manifest",
    "Registry", "Bundle", "BundleInfo",
    # images
    "read_image", "write_png", "compose_sheet", "upscale",
]  # fmt: skip
