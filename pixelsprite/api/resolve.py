"""Stage 1 of the pipeline: a checked request -> what the model call needs.

Everything here may read: the registry (model bundles), image files and bytes, palette files. Errors name the
request field. The model is looked up by name and operation through the family registry
(:mod:`pixelsprite.families`), never by naming families here.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from .. import families
from ..errors import ImageError, InvalidRequest, UnknownModel
from ..imageio import read_image
from ..postprocess import hard_alpha
from ..registry import Registry
from ..teacher import DEFAULT_TEACHER, TeacherModel
from ..teacher import FAMILY as TEACHER_FAMILY
from ..vae import FAMILY as VAE_FAMILY
from ..vae import VaeModel
from .requests import Endpoint, ImageInput

__all__ = [
    "default_registry", "random_seed", "seeds", "model", "vae_model", "teacher_model", "image", "sprite", "source",
    "endpoint", "mask",
]  # fmt: skip

_default_registry: Registry | None = None
_default_lock = threading.Lock()


def default_registry() -> Registry:
    """The process-wide registry (built-ins + ``$PIXELSPRITE_MODELS``), created on first use."""
    global _default_registry
    with _default_lock:
        if _default_registry is None:
            _default_registry = Registry()
        return _default_registry


def random_seed() -> int:
    """A fresh base seed from ``os.urandom``: 0 .. 2**32 - 1."""
    return int.from_bytes(os.urandom(4), "little")


def seeds(seed: int | None, n: int) -> tuple[int, tuple[int, ...]]:
    """The base seed (``seed``, or a random one) and the ``n`` consecutive seeds from it."""
    base = seed if seed is not None else random_seed()
    return base, tuple(range(base, base + n))


def model(registry: Registry, name: str | None, op: str) -> Any:
    """The runtime model ``name`` (default: the registry's default for ``op``) when its family answers ``op``;
    otherwise an InvalidRequest naming ``model`` and the families that do. The family's declared operations decide."""
    name = model_name(registry, name, op)
    bundle = registry.load(name)
    family = families.FAMILIES.get(bundle.manifest.family)
    if family is None or op not in family.operations or family.model is None:
        raise InvalidRequest(
            f"model {name!r} is a {bundle.manifest.family!r} model; {op} supports the families: "
            f"{', '.join(families.families_with(op))}",
            field="model",
        )
    return families.load(bundle)


def model_name(registry: Registry, name: str | None, op: str) -> str:
    """``name``, or the registry's default among the models whose family answers ``op``."""
    return name or registry.default_model(lambda b: _does(b.manifest.family, op))


def _does(family_name: str, op: str) -> bool:
    family = families.FAMILIES.get(family_name)
    return family is not None and family.model is not None and op in family.operations


def vae_model(registry: Registry, name: str | None, op: str) -> VaeModel:
    """:func:`model` for the operations on a VAE's latent space (encode, decode, grid)."""
    found = model(registry, name, op)
    if not isinstance(found, VaeModel):
        raise InvalidRequest(
            f"model {found.name!r} is a {found.FAMILY!r} model; {op} supports the families: "
            f"{', '.join(f for f in families.families_with(op) if f == VAE_FAMILY)}",
            field="model",
        )
    return found


def teacher_model(registry: Registry, name: str | None) -> TeacherModel:
    """The teacher bundle ``name`` (default ``teacher``); errors name the field ``teacher``."""
    name = name or DEFAULT_TEACHER
    try:
        bundle = registry.load(name)
    except UnknownModel:
        raise UnknownModel(name, registry.names(), field="teacher") from None
    if bundle.manifest.family != TEACHER_FAMILY:
        raise InvalidRequest(
            f"model {name!r} is a {bundle.manifest.family!r} model, not a {TEACHER_FAMILY!r}; "
            "candidates, score and similar need a teacher",
            field="teacher",
        )
    return TeacherModel(bundle)


def image(found: Any, value: ImageInput, field: str, threshold: int = 127) -> np.ndarray:
    """An image input -> uint8 ``(H, W, 4)`` with hard alpha (opaque where alpha > ``threshold``) at the model's
    size; ImageError naming ``field``."""
    w, h = found.size
    if isinstance(value, np.ndarray):
        if value.shape != (h, w, 4):
            raise ImageError(
                f"{field} is {value.shape[1]}x{value.shape[0]} pixels, expected {w}x{h} for model {found.name!r}",
                field=field,
            )
        return hard_alpha(value, threshold)
    try:
        name = field if isinstance(value, bytes) else str(Path(value))
        return read_image(value, size=(w, h), name=name, alpha_threshold=threshold)
    except ImageError as e:
        raise ImageError(
            f"{e.message} for model {found.name!r}" if "expected" in e.message else e.message, field=field
        ) from None


def sprite(value: ImageInput, field: str, threshold: int = 127) -> np.ndarray:
    """An image input of any size -> uint8 ``(H, W, 4)`` with hard alpha; ImageError naming ``field``."""
    if isinstance(value, np.ndarray):
        return hard_alpha(value, threshold)
    try:
        name = field if isinstance(value, bytes) else str(Path(value))
        return read_image(value, name=name, alpha_threshold=threshold)
    except ImageError as e:
        raise ImageError(e.message, field=field) from None


def source(found: Any, value: ImageInput, field: str, threshold: int) -> np.ndarray:
    """A source image for a model that reads images through its encoder (``has_encoder``; models without the
    attribute read pixels directly): InvalidRequest naming ``field`` when it has none."""
    if not getattr(found, "has_encoder", True):
        raise InvalidRequest(f"model {found.name!r} has no encoder, so {field} cannot be an image", field=field)
    return image(found, value, field, threshold)


def endpoint(found: Any, value: Endpoint, field: str, threshold: int) -> int | np.ndarray:
    """An interpolation endpoint or grid corner -> an int seed, or a uint8 ``(H, W, 4)`` image (see
    :func:`source`). Bools were refused when the request was built."""
    if isinstance(value, (int, np.integer)):
        return int(value)
    return source(found, value, field, threshold)


def mask(found: Any, value: Any, img: np.ndarray) -> np.ndarray:
    """A request's ``mask`` -> bool ``(H, W)``: True where the sprite is repainted (see ``InpaintRequest``)."""
    h, w = img.shape[:2]
    if isinstance(value, np.ndarray) and value.ndim == 2:
        if value.shape != (h, w):
            raise ImageError(
                f"mask is {value.shape[1]}x{value.shape[0]} pixels, expected {w}x{h} for model {found.name!r}",
                field="mask",
            )
        return value.astype(bool)
    rgba = image(found, value, "mask", threshold=127)  # alpha > 127 is opaque, for arrays and files alike
    if rgba.shape != (h, w, 4):
        raise ImageError(
            f"mask is {rgba.shape[1]}x{rgba.shape[0]} pixels, expected {w}x{h} for model {found.name!r}", field="mask"
        )
    alpha = rgba[..., 3]
    if (alpha < 128).any():
        return alpha >= 128
    luminance = rgba[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    return luminance > 127
