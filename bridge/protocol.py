"""Protocol v1 of the pixelsprite bridge, as pure functions (Sans-I/O): decode, validate, encode.

Nothing here touches a socket, a thread or the clock; the server (:mod:`bridge.server`) only moves frames and
calls these. The contract is ``docs/protocol.md``; in short:

* a text frame is JSON, a binary frame is msgpack; an answer uses the encoding of its request;
* a request is an object ``{"id": <string>, "op": <name>, ...parameters}``; answers are
  ``{"id", "type": "progress" | "result" | "error", ...}``;
* byte strings (PNG files, raw RGBA, latent data) are msgpack ``bin`` or, in JSON, base64 strings;
* unknown parameters are rejected (``invalid_request`` naming the field); parameters of the protocol that the
  chosen model cannot honour are rejected with ``unsupported_parameter`` naming the field; operations of the
  protocol that are not available yet answer ``unsupported_operation``;
* clients never send file paths: every image arrives as bytes and is handed to the request layer as bytes or
  an array, never as a string.

Validation is :func:`parse_request` against a :class:`Catalog` (model name -> family, size, ...; pure data the
server builds from the registry), producing a :class:`Call` that holds a frozen :mod:`pixelsprite.api` request.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import msgpack
import numpy as np

from pixelsprite import api
from pixelsprite.errors import ImageError, InvalidRequest, PixelspriteError, UnknownModel
from pixelsprite.families import Capabilities
from pixelsprite.imageio import encode_png
from pixelsprite.palettes.resolve import resolve_palette

from .errors import MalformedFrame, MessageTooLarge, UnknownOperation, UnsupportedOperation, UnsupportedParameter

__all__ = [
    "PROTOCOL_VERSION", "DEFAULT_PORT", "HARD_MESSAGE_FACTOR", "check_frame_size", "frame_bytes",
    "Encoding", "Limits", "ModelCaps", "Catalog", "Call",
    "OPERATIONS", "COMING_OPERATIONS", "FEATURES", "GENERATION_PARAMETERS", "IMAGE_FORMATS", "MAX_ID_LENGTH",
    "MAX_IMAGE_SIDE", "decode_frame", "encode_frame", "request_id", "parse_request",
    "result_message", "error_message", "progress_message", "encode_images", "hello_message", "models_message",
    "cancel_message",
]  # fmt: skip

PROTOCOL_VERSION = 1
DEFAULT_PORT = 8737
MAX_ID_LENGTH = 128
MAX_IMAGE_SIDE = 512
"""Largest width or height of an input image; checked from the PNG header before anything is decoded."""
MAX_LATENT_VALUES = api.MAX_COUNT * 4096
IMAGE_FORMATS = ("png", "rgba")

Encoding = Literal["json", "msgpack"]

GENERATION_PARAMETERS = (
    "model",
    "count",
    "seed",
    "label",
    "steps",
    "solver",
    "guidance",
    "candidates",
    "palette",
    "image_format",
)
"""Parameter spellings shared by the protocol, the CLI and job files."""

_FUTURE = ("label", "steps", "solver", "guidance", "temperature")
_CLEANUP = ("alpha_threshold", "despeckle", "outline")
_SPRITES = ("model", "max_colors", "image_format", "palette", "dither", *_CLEANUP, *_FUTURE)
_BEST = ("candidates", "teacher")
OPERATIONS: dict[str, tuple[str, ...]] = {
    "hello": ("client", "version", "protocol"),
    "models": (),
    "cancel": ("target",),
    "generate": ("count", "seed", *_SPRITES, *_BEST, "preview"),
    "variations": ("image", "count", "strength", "seed", *_SPRITES, *_BEST, "keep_class", "preview"),
    "interpolate": ("a", "b", "count", "method", *_SPRITES, *_BEST, "seed"),
    "inpaint": ("image", "mask", "count", "seed", *_SPRITES, "preview"),
    "grid": ("corners", "rows", "cols", "method", *_SPRITES),
    "encode": ("model", "images"),
    "decode": ("latents", "model", "max_colors", "image_format", "palette", "dither", *_CLEANUP),
    "palette": ("model", "count", "seed", "label", "colors", "method", "sprites", "format", "name"),
    "score": ("images", "teacher", "alpha_threshold", "embedding"),
    "similar": ("reference", "images", "model", "count", "seed", "top", "teacher", "alpha_threshold", "image_format"),
}
"""Each operation of protocol v1 and the parameters it takes (besides ``id`` and ``op``)."""
FEATURES = ("preview",)
"""Optional behaviours of this server that ``hello`` announces (additive within protocol 1)."""
COMING_OPERATIONS: dict[str, str] = {}
"""Operations of the protocol that answer ``unsupported_operation`` until their feature lands (none today)."""

_WHY_NOT = {
    "label": "it is unconditional; label needs a conditional model",
    "steps": "it samples in one pass; steps needs a model with a sampler",
    "solver": "it samples in one pass; solver needs a model with a sampler",
    "guidance": "it is unconditional; guidance needs a conditional model with a sampler",
    "temperature": "its sampler has no temperature; temperature needs a pixel model",
}


HARD_MESSAGE_FACTOR = 4  # frames up to this many times max_message_bytes get an error answer; larger: close 1009


def frame_bytes(frame: str | bytes | bytearray | memoryview) -> int:
    """A frame's size on the wire in bytes (a text frame's UTF-8 length)."""
    return len(frame.encode("utf-8")) if isinstance(frame, str) else len(frame)


def check_frame_size(frame: str | bytes | bytearray | memoryview, limits: Limits) -> None:
    """Raise :class:`~bridge.errors.MessageTooLarge` naming the limit when ``frame`` is over it."""
    if len(frame) <= limits.max_message_bytes // 4 and isinstance(frame, str):
        return  # even 4-byte UTF-8 characters cannot exceed the limit
    size = frame_bytes(frame)
    if size > limits.max_message_bytes:
        raise MessageTooLarge(
            f"message is {size} bytes; the limit is {limits.max_message_bytes} bytes "
            "(send fewer or smaller images per request)",
            field="message",
        )


# ------------------------------------------------------------------------------------------- data types
@dataclass(frozen=True)
class Limits:
    """The server's limits, announced by ``hello``.

    Attributes:
        max_message_bytes: largest request frame the server accepts; a larger one is answered with the error
            ``message_too_large`` (field ``message``), and one over ``HARD_MESSAGE_FACTOR`` times it closes
            the connection with 1009 (the websocket "message too big" code) without being read.
        max_inflight: requests one connection may have queued or running at once; more answer ``busy``.
        max_queue: requests waiting for a worker, all connections together; more answer ``busy``.
        max_count: sprites per request.
    """

    max_message_bytes: int = 4 * 2**20
    max_inflight: int = 8
    max_queue: int = 64
    max_count: int = api.MAX_COUNT

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_message_bytes": self.max_message_bytes,
            "max_inflight": self.max_inflight,
            "max_queue": self.max_queue,
            "max_count": self.max_count,
            "max_id_length": MAX_ID_LENGTH,
            "max_image_side": MAX_IMAGE_SIDE,
            "steps": [1, api.MAX_SAMPLE_STEPS],
            "interpolate_count": [api.MIN_FRAMES, api.MAX_FRAMES],
            "grid": [api.MIN_GRID, api.MAX_GRID],
            "max_strength": api.MAX_STRENGTH,
            "max_seed": api.MAX_SEED,
            "max_colors": api.MAX_COLORS,
        }


@dataclass(frozen=True)
class ModelCaps:
    """What the protocol needs to know about one model (from its manifest; nothing loaded): its family's
    declared :class:`~pixelsprite.families.Capabilities` plus size and listing facts."""

    name: str
    caps: Capabilities
    width: int
    height: int
    description: str = ""
    latent_shape: tuple[int, ...] | None = None
    max_colors: int | None = None
    builtin: bool = False

    @property
    def family(self) -> str:
        return self.caps.family

    @property
    def labels(self) -> tuple[str, ...]:
        return self.caps.labels

    @property
    def parameters(self) -> frozenset[str]:
        return frozenset(self.caps.parameters)

    @property
    def samples_in_steps(self) -> bool:
        """The model samples in steps (progress per step, previews, cancel between steps)."""
        return bool(self.caps.solvers)

    def operations(self) -> list[str]:
        return list(self.caps.operations)

    def to_dict(self, *, loaded: bool = False) -> dict[str, Any]:
        return {
            "name": self.name,
            "family": self.family,
            "size": [self.width, self.height],
            "labels": list(self.labels),
            "label_aliases": dict(self.caps.label_aliases),
            "description": self.description,
            "operations": self.operations(),
            "parameters": sorted(self.parameters),
            "solvers": [s.name for s in self.caps.solvers],
            "solver_details": [s.to_dict() for s in self.caps.solvers],
            "steps": list(self.caps.steps) if self.caps.steps is not None else None,
            "defaults": {"count": 16, "max_colors": self.max_colors, "image_format": "png", **dict(self.caps.defaults)},
            "latent_shape": list(self.latent_shape) if self.latent_shape is not None else None,
            "tiling": self.caps.tiling,
            "builtin": self.builtin,
            "loaded": loaded,
        }


@dataclass(frozen=True)
class Catalog:
    """The models a server offers: name -> :class:`ModelCaps`, the default name (for ``generate``), scan problems,
    and every name in default order (``ranked``: a request without a model gets the first whose family answers
    its operation, as :func:`pixelsprite.api.resolve.model_name` chooses)."""

    models: Mapping[str, ModelCaps] = field(default_factory=dict)
    default: str | None = None
    problems: tuple[str, ...] = ()
    ranked: tuple[str, ...] = ()

    def resolve(self, name: Any, op: str = "generate") -> ModelCaps:
        if name is None:
            for candidate in self.ranked:
                if op in self.models[candidate].operations():
                    return self.models[candidate]
            if self.default is None:
                raise UnknownModel("(default)", self.models)
            return self.models[self.default]
        if not isinstance(name, str) or not name:
            raise InvalidRequest(f"model must be a non-empty string or null, got {_show(name)}", field="model")
        if name not in self.models:
            raise UnknownModel(name, self.models)
        return self.models[name]


@dataclass(frozen=True, eq=False)
class Call:
    """A validated request.

    Attributes:
        id: the client's request id.
        op: the operation.
        encoding: the encoding of the request frame, used for every answer to it.
        request: the request-layer request for sprite / latent operations, else None.
        image_format: how sprites come back: ``"png"`` or ``"rgba"``.
        params: the parameters of ``hello`` and ``cancel``.
        model: the resolved model for model operations, else None.
        preview: the client asked for preview images in ``progress`` answers (generate, variations).
    """

    id: str
    op: str
    encoding: Encoding
    request: api.Request | None = None
    image_format: str = "png"
    params: Mapping[str, Any] = field(default_factory=dict)
    model: ModelCaps | None = None
    preview: bool = False

    @property
    def batch_key(self) -> tuple[Any, ...] | None:
        """Requests with equal keys can share one model call (micro-batching); None: never batched."""
        req = self.request
        one_pass = self.model is not None and self.model.caps.steps is None  # no sampler: no per-request progress
        if (
            one_pass
            and isinstance(req, api.GenerateRequest)
            and req.palette is None
            and not (req.despeckle or req.outline)
            and req.candidates == 1
        ):
            return ("generate", req.model, req.max_colors)
        return None


# ------------------------------------------------------------------------------------------------ frames
def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _reject_ext(code: int, data: bytes) -> Any:
    raise ValueError(f"msgpack extension type {code} is not used by this protocol")


def decode_frame(data: str | bytes | bytearray | memoryview) -> tuple[dict[str, Any], Encoding]:
    """A frame -> (the request object, its encoding): text frames are JSON, binary frames msgpack.

    Raises:
        MalformedFrame: undecodable, or not an object (map).
    """
    encoding: Encoding
    try:
        if isinstance(data, str):
            encoding = "json"
            obj = json.loads(data, parse_constant=_reject_constant)
        else:
            encoding = "msgpack"
            obj = msgpack.unpackb(bytes(data), raw=False, strict_map_key=True, ext_hook=_reject_ext, use_list=True)
    except RecursionError:
        raise MalformedFrame("the frame is nested too deeply") from None
    except Exception as e:  # json and msgpack raise a zoo of ValueError/TypeError/ExtraData/StackError/...
        kind = "JSON" if isinstance(data, str) else "msgpack"
        raise MalformedFrame(f"the frame is not valid {kind} ({type(e).__name__}: {_clip(str(e))})") from None
    if not isinstance(obj, dict):
        raise MalformedFrame(f"a request must be an object (map), got {type(obj).__name__}")
    return obj, encoding


def request_id(obj: Any) -> str | None:
    """The request's id if it is a valid one, else None (used to address error answers)."""
    if isinstance(obj, dict):
        rid = obj.get("id")
        if isinstance(rid, str) and 1 <= len(rid) <= MAX_ID_LENGTH:
            return rid
    return None


def _wire_json(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {k: _wire_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_wire_json(v) for v in value]
    return value


def encode_frame(message: Mapping[str, Any], encoding: Encoding) -> str | bytes:
    """A message -> a frame: JSON text (bytes as base64 strings) or msgpack binary (bytes as ``bin``)."""
    if encoding == "json":
        return json.dumps(_wire_json(message), separators=(",", ":"), allow_nan=False)
    packed: bytes = msgpack.packb(message, use_bin_type=True)
    return packed


# ------------------------------------------------------------------------------------------ validation
def _clip(text: str, n: int = 120) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


def _show(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    if isinstance(value, (dict, list)):
        return f"a {'map' if isinstance(value, dict) else 'list'}"
    return _clip(repr(value), 60)


def _int(value: Any, name: str, default: int | None = None) -> Any:
    """An integer parameter, type-checked only (the request layer checks the range and names the limit)."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f"{name} must be an integer, got {_show(value)}", field=name)
    return value


def _number(value: Any, name: str, default: float | None) -> Any:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidRequest(f"{name} must be a number, got {_show(value)}", field=name)
    if isinstance(value, int) and abs(value) > 2**53:
        raise InvalidRequest(f"{name} is out of range, got {value}", field=name)
    return float(value)


def _str(value: Any, name: str, default: str | None = None, max_len: int = 200) -> Any:
    if value is None:
        return default
    if not isinstance(value, str) or len(value) > max_len:
        raise InvalidRequest(f"{name} must be a string of at most {max_len} characters, got {_show(value)}", field=name)
    return value


def _bytes(value: Any, name: str) -> bytes:
    """bytes from msgpack ``bin`` or a base64 string (JSON)."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequest(
                f"{name} must be base64 (JSON) or bin (msgpack) bytes; it is not valid base64", field=name
            ) from None
    raise InvalidRequest(f"{name} must be bytes (base64 in JSON, bin in msgpack), got {_show(value)}", field=name)


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png(data: bytes, name: str) -> bytes:
    """Check the PNG signature and header size (no decoding): the request layer decodes it later."""
    if len(data) < 24 or not data.startswith(_PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise ImageError(f"{name} is not a PNG file (images travel as PNG or raw RGBA bytes)", field=name)
    w, h = struct.unpack(">II", data[16:24])
    if not (1 <= w <= MAX_IMAGE_SIDE and 1 <= h <= MAX_IMAGE_SIDE):
        raise ImageError(f"{name} is {w}x{h} pixels; images may be at most {MAX_IMAGE_SIDE} on a side", field=name)
    return data


def _image(value: Any, name: str) -> bytes | np.ndarray:
    """An image parameter -> PNG bytes or a uint8 (H, W, 4) array; never a string (no file paths)."""
    if isinstance(value, dict):
        keys = set(value)
        if keys == {"png"}:
            return _png(_bytes(value["png"], f"{name}.png"), name)
        if keys == {"rgba", "width", "height"}:
            w = _int(value["width"], f"{name}.width")
            h = _int(value["height"], f"{name}.height")
            for side, n in ((w, "width"), (h, "height")):
                if not 1 <= side <= MAX_IMAGE_SIDE:
                    raise ImageError(
                        f"{name}.{n} must be between 1 and {MAX_IMAGE_SIDE}, got {side}", field=f"{name}.{n}"
                    )
            data = _bytes(value["rgba"], f"{name}.rgba")
            if len(data) != w * h * 4:
                raise ImageError(
                    f"{name}.rgba has {len(data)} bytes; {w}x{h} RGBA needs {w * h * 4}", field=f"{name}.rgba"
                )
            return np.frombuffer(data, dtype=np.uint8).reshape(h, w, 4).copy()
        raise InvalidRequest(
            f'{name} must be PNG bytes, {{"png": bytes}} or {{"rgba": bytes, "width": w, "height": h}}; '
            f"got a map with keys {sorted(map(str, keys))[:6]}",
            field=name,
        )
    if isinstance(value, (bytes, bytearray, str)):
        return _png(_bytes(value, name), name)
    raise InvalidRequest(f"{name} must be an image (PNG bytes or an RGBA object), got {_show(value)}", field=name)


def _endpoint(value: Any, name: str) -> int | bytes | np.ndarray:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return _image(value, name)


def _latents(value: Any) -> np.ndarray:
    name = "latents"
    if isinstance(value, dict):
        if set(value) != {"shape", "dtype", "data"}:
            raise InvalidRequest('latents must be {"shape": [...], "dtype": "float32", "data": bytes}', field=name)
        if value["dtype"] != "float32":
            raise InvalidRequest(f"latents.dtype must be 'float32', got {_show(value['dtype'])}", field="latents.dtype")
        shape = value["shape"]
        if (
            not isinstance(shape, list)
            or not 2 <= len(shape) <= 8
            or not all(isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= MAX_LATENT_VALUES for d in shape)
            or math.prod(shape) > MAX_LATENT_VALUES
        ):
            raise InvalidRequest(
                f"latents.shape must be [N, ...] of positive ints with at most {MAX_LATENT_VALUES} values in all",
                field="latents.shape",
            )
        data = _bytes(value["data"], "latents.data")
        if len(data) != 4 * math.prod(shape):
            raise InvalidRequest(
                f"latents.data has {len(data)} bytes; float32 {shape} needs {4 * math.prod(shape)}",
                field="latents.data",
            )
        return np.frombuffer(data, dtype="<f4").reshape(shape).astype(np.float32)
    if isinstance(value, list):
        try:
            arr = np.asarray(value, dtype=np.float32)
        except (ValueError, TypeError, OverflowError):
            raise InvalidRequest("latents must be a rectangular nested list of numbers", field=name) from None
        if arr.size > MAX_LATENT_VALUES:
            raise InvalidRequest(f"latents may hold at most {MAX_LATENT_VALUES} values", field=name)
        return arr
    raise InvalidRequest(f"latents must be a tensor object or a nested list, got {_show(value)}", field=name)


def _check_parameters(obj: Mapping[str, Any], op: str, model: ModelCaps | None) -> None:
    allowed = OPERATIONS[op]
    for key in obj:
        if key not in ("id", "op") and key not in allowed:
            hint = f" ({op} does not take it)" if key in GENERATION_PARAMETERS else ""
            raise InvalidRequest(
                f"unknown parameter {_clip(str(key), 40)!r} for {op}{hint}; it takes: {', '.join(allowed) or 'none'}",
                field=_clip(str(key), MAX_ID_LENGTH),
            )
    if model is None:
        return
    for key in _FUTURE:
        if obj.get(key) is not None and key not in model.parameters:
            raise UnsupportedParameter(
                f"model {model.name!r} ({model.family}) does not support {key!r}: {_WHY_NOT[key]}"
                + ("; the number of frames is 'count'" if (op, key) == ("interpolate", "steps") else ""),
                field=key,
            )


def parse_request(obj: Mapping[str, Any], encoding: Encoding, catalog: Catalog) -> Call:
    """Validate a decoded request against the catalog and build a :class:`Call`.

    Raises:
        PixelspriteError subclasses naming the field: InvalidRequest, UnknownOperation, UnsupportedOperation,
        UnsupportedParameter, UnknownModel, ImageError.
    """
    rid = obj.get("id")
    if not isinstance(rid, str) or not 1 <= len(rid) <= MAX_ID_LENGTH:
        raise InvalidRequest(f"id must be a string of 1 to {MAX_ID_LENGTH} characters, got {_show(rid)}", field="id")
    op = obj.get("op")
    if not isinstance(op, str):
        raise InvalidRequest(f"op must be a string, got {_show(op)}", field="op")
    if op in COMING_OPERATIONS:
        raise UnsupportedOperation(
            f"{op} ({COMING_OPERATIONS[op]}) is not available in this server yet; it is coming in a later version",
            field="op",
        )
    if op not in OPERATIONS:
        raise UnknownOperation(f"unknown operation {_clip(op, 40)!r}; operations: {', '.join(OPERATIONS)}", field="op")
    if op in ("hello", "models", "cancel"):
        _check_parameters(obj, op, None)
        return _parse_control(rid, op, encoding, obj)
    if op == "palette":
        _check_parameters(obj, op, None)
        return _parse_palette(rid, encoding, obj, catalog)
    if op in ("score", "similar"):
        _check_parameters(obj, op, None)
        return _parse_teacher_op(rid, op, encoding, obj, catalog)
    model = catalog.resolve(obj.get("model"), op)
    _check_parameters(obj, op, model)
    if op not in model.operations():
        raise UnsupportedParameter(
            f"model {model.name!r} ({model.family}) does not support {op}; it supports: "
            f"{', '.join(model.operations()) or 'nothing (unknown family)'}",
            field="model",
        )
    image_format = _str(obj.get("image_format"), "image_format", "png")
    if image_format not in IMAGE_FORMATS:
        raise InvalidRequest(
            f"image_format must be one of {', '.join(IMAGE_FORMATS)}, got {_show(image_format)}", field="image_format"
        )
    name = model.name
    max_colors = _int(obj.get("max_colors"), "max_colors")
    # a palette is a built-in name, "#rrggbb,..." or a list of colours; never a file path from a client
    palette = None if obj.get("palette") is None else resolve_palette(obj["palette"], allow_paths=False)
    colours = {
        "palette": palette,
        "dither": _str(obj.get("dither"), "dither", "none"),
        "despeckle": False if obj.get("despeckle") is None else obj["despeckle"],
        "outline": _str(obj.get("outline"), "outline"),
    }
    # how input images are read: checked on every sprite operation, used by those that read images
    inputs = {"alpha_threshold": _int(obj.get("alpha_threshold"), "alpha_threshold", 127)}
    # sampler options of diffusion and flow models (a VAE was refused them in _check_parameters)
    sampler = {
        "label": _str(obj.get("label"), "label"),
        "steps": _int(obj.get("steps"), "steps"),
        "solver": _str(obj.get("solver"), "solver"),
        "guidance": _number(obj.get("guidance"), "guidance", None),
    }
    temperature = {"temperature": _number(obj.get("temperature"), "temperature", None)}
    req: api.Request
    # preview: a hint for progress answers (models that sample in steps; other models send no previews)
    preview = _bool(obj.get("preview"), "preview") if op in ("generate", "variations", "inpaint") else False
    best = {"candidates": _int(obj.get("candidates"), "candidates", 1), "teacher": _teacher(obj, catalog)}
    if op == "generate":
        req = api.GenerateRequest(
            name,
            _int(obj.get("count"), "count", 16),
            _int(obj.get("seed"), "seed"),
            max_colors,
            **colours,
            **sampler,
            **best,
            **temperature,
        )
    elif op == "variations":
        if "image" not in obj:
            raise InvalidRequest("variations needs an image", field="image")
        req = api.VariationsRequest(
            name,
            _image(obj["image"], "image"),
            _int(obj.get("count"), "count", 8),
            _number(obj.get("strength"), "strength", 0.5),
            _int(obj.get("seed"), "seed"),
            max_colors,
            **colours,
            **inputs,
            **sampler,
            **best,
            **temperature,
            keep_class=_bool(obj.get("keep_class"), "keep_class"),
        )
    elif op == "inpaint":
        for key in ("image", "mask"):
            if key not in obj:
                raise InvalidRequest(f"inpaint needs {key} (an image; mask: white or opaque = repaint)", field=key)
        req = api.InpaintRequest(
            name,
            _image(obj["image"], "image"),
            _image(obj["mask"], "mask"),
            _int(obj.get("count"), "count", 8),
            _int(obj.get("seed"), "seed"),
            max_colors,
            **colours,
            **inputs,
            **sampler,
            **temperature,
        )
    elif op == "interpolate":
        for end in ("a", "b"):
            if end not in obj:
                raise InvalidRequest(f"interpolate needs endpoint {end} (a seed or an image)", field=end)
        req = api.InterpolateRequest(
            name,
            _endpoint(obj["a"], "a"),
            _endpoint(obj["b"], "b"),
            _int(obj.get("count"), "count", 8),
            _str(obj.get("method"), "method", "slerp"),
            max_colors,
            **colours,
            **inputs,
            **sampler,
            **best,
            seed=_int(obj.get("seed"), "seed"),
        )
    elif op == "grid":
        corners = obj.get("corners")
        if not isinstance(corners, list) or len(corners) != 4:
            raise InvalidRequest("corners must be a list of 4 seeds or images (tl, tr, bl, br)", field="corners")
        ends = tuple(_endpoint(c, f"corners[{i}]") for i, c in enumerate(corners))
        req = api.GridRequest(
            name,
            ends,
            _int(obj.get("rows"), "rows", 4),
            _int(obj.get("cols"), "cols", 4),
            _str(obj.get("method"), "method", "slerp"),
            max_colors,
            **colours,
            **inputs,
        )
    elif op == "encode":
        images = obj.get("images")
        if not isinstance(images, list) or not 1 <= len(images) <= api.MAX_COUNT:
            raise InvalidRequest(f"images must be a list of 1 to {api.MAX_COUNT} images", field="images")
        req = api.EncodeRequest(name, tuple(_image(im, f"images[{i}]") for i, im in enumerate(images)))
    else:  # decode
        if "latents" not in obj:
            raise InvalidRequest("decode needs latents", field="latents")
        req = api.DecodeRequest(name, _latents(obj["latents"]), max_colors, **colours)
    return Call(rid, op, encoding, req, image_format, {}, model, preview)


def _bool(value: Any, name: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidRequest(f"{name} must be true or false, got {_show(value)}", field=name)
    return value


def _image_list(value: Any, name: str) -> tuple[bytes | np.ndarray, ...]:
    if not isinstance(value, list) or not 1 <= len(value) <= api.MAX_COUNT:
        raise InvalidRequest(f"{name} must be a list of 1 to {api.MAX_COUNT} images", field=name)
    return tuple(_image(im, f"{name}[{i}]") for i, im in enumerate(value))


def _teacher(obj: Mapping[str, Any], catalog: Catalog) -> str | None:
    """The ``teacher`` parameter; naming a model that is not a teacher is ``invalid_request`` on every operation (as
    the request layer answers it), not ``unsupported_parameter`` (which is about the model being asked)."""
    teacher = _str(obj.get("teacher"), "teacher")
    if teacher is not None and teacher in catalog.models and catalog.models[teacher].family != "teacher":
        raise InvalidRequest(
            f"model {teacher!r} is a {catalog.models[teacher].family!r} model, not a 'teacher'; "
            "candidates, score and similar need a teacher",
            field="teacher",
        )
    return teacher


def _parse_teacher_op(rid: str, op: str, encoding: Encoding, obj: Mapping[str, Any], catalog: Catalog) -> Call:
    """``score`` (given images) and ``similar`` (given images, or fresh samples of a generator ``model``)."""
    teacher = _teacher(obj, catalog)
    threshold = _int(obj.get("alpha_threshold"), "alpha_threshold", 127)
    if op == "score":
        if "images" not in obj:
            raise InvalidRequest("score needs images", field="images")
        req: api.Request = api.ScoreRequest(_image_list(obj["images"], "images"), teacher, threshold)
        return Call(rid, op, encoding, req, "png", {"embedding": _bool(obj.get("embedding"), "embedding")})
    if "reference" not in obj:
        raise InvalidRequest("similar needs a reference image", field="reference")
    image_format = _str(obj.get("image_format"), "image_format", "png")
    if image_format not in IMAGE_FORMATS:
        raise InvalidRequest(
            f"image_format must be one of {', '.join(IMAGE_FORMATS)}, got {_show(image_format)}", field="image_format"
        )
    model: ModelCaps | None = None
    images = None
    if obj.get("images") is not None:
        images = _image_list(obj["images"], "images")
    else:
        model = catalog.resolve(obj.get("model"))
        if "generate" not in model.operations():
            raise UnsupportedParameter(
                f"model {model.name!r} ({model.family}) cannot generate samples to rank", field="model"
            )
    req = api.SimilarRequest(
        _image(obj["reference"], "reference"),
        images,
        model.name if model is not None else _str(obj.get("model"), "model"),
        _int(obj.get("count"), "count", 16),
        _int(obj.get("seed"), "seed"),
        _int(obj.get("top"), "top"),
        teacher,
        threshold,
    )
    return Call(rid, op, encoding, req, image_format, {}, model)


def _parse_palette(rid: str, encoding: Encoding, obj: Mapping[str, Any], catalog: Catalog) -> Call:
    """``palette``: propose a palette from a model's samples, or from given ``sprites`` (images, never paths)."""
    sprites = obj.get("sprites")
    model: ModelCaps | None = None
    if sprites is not None:
        if not isinstance(sprites, list) or not 1 <= len(sprites) <= api.MAX_COUNT:
            raise InvalidRequest(f"sprites must be a list of 1 to {api.MAX_COUNT} images", field="sprites")
        images: tuple[Any, ...] | None = tuple(_image(im, f"sprites[{i}]") for i, im in enumerate(sprites))
    else:
        images = None
        model = catalog.resolve(obj.get("model"))
        if "generate" not in model.operations():
            raise UnsupportedParameter(
                f"model {model.name!r} ({model.family}) cannot generate samples for a palette", field="model"
            )
        if obj.get("label") is not None and "label" not in model.parameters:
            raise UnsupportedParameter(
                f"model {model.name!r} ({model.family}) does not support 'label': {_WHY_NOT['label']}", field="label"
            )
    req = api.PaletteRequest(
        model=model.name if model is not None else _str(obj.get("model"), "model"),
        count=_int(obj.get("count"), "count", 64),
        seed=_int(obj.get("seed"), "seed"),
        colors=_int(obj.get("colors"), "colors", 16),
        method=_str(obj.get("method"), "method", "kmeans"),
        sprites=images,
        label=_str(obj.get("label"), "label"),
        format=_str(obj.get("format"), "format", "gpl"),
        name=_str(obj.get("name"), "name", "proposed"),
    )
    return Call(rid, "palette", encoding, req, "png", {}, model)


def _parse_control(rid: str, op: str, encoding: Encoding, obj: Mapping[str, Any]) -> Call:
    params: dict[str, Any] = {}
    if op == "hello":
        params["client"] = _str(obj.get("client"), "client", "")
        params["version"] = _str(obj.get("version"), "version", "")
        params["protocol"] = _int(obj.get("protocol"), "protocol", PROTOCOL_VERSION)
    elif op == "cancel":
        target = obj.get("target")
        if not isinstance(target, str) or not 1 <= len(target) <= MAX_ID_LENGTH:
            raise InvalidRequest(f"target must be the id of a request, got {_show(target)}", field="target")
        params["target"] = target
    return Call(rid, op, encoding, None, "png", params)


# ------------------------------------------------------------------------------------------------ answers
def error_message(rid: str | None, error: PixelspriteError) -> dict[str, Any]:
    """``{"id", "type": "error", "code", "message", "field"}``."""
    return {"id": rid, "type": "error", **error.to_dict()}


def progress_message(
    rid: str,
    done: int,
    total: int,
    unit: str = "sprites",
    *,
    preview: np.ndarray | None = None,
    image_format: str = "png",
) -> dict[str, Any]:
    """``{"id", "type": "progress", "done", "total", "unit"}``; with ``preview`` (uint8 ``(N, H, W, 4)``) also
    ``images`` (encoded as ``image_format``, as results are), ``size`` ``[W, H]``, ``count`` and ``image_format``."""
    msg: dict[str, Any] = {"id": rid, "type": "progress", "done": done, "total": total, "unit": unit}
    if preview is not None:
        n, h, w = (int(d) for d in preview.shape[:3])
        msg.update(
            {"count": n, "size": [w, h], "image_format": image_format, "images": encode_images(preview, image_format)}
        )
    return msg


def encode_images(sprites: np.ndarray, image_format: str) -> list[bytes]:
    """Sprites uint8 ``(N, H, W, 4)`` -> one byte string each: raw RGBA rows (``"rgba"``) or PNG files."""
    if image_format == "rgba":
        return [np.ascontiguousarray(s).tobytes() for s in sprites]
    return [encode_png(s) for s in sprites]


def result_message(
    call: Call, result: api.Result, *, timing: Mapping[str, float] | None = None, batch: int = 1
) -> dict[str, Any]:
    """The result answer for a sprite or latent operation (images encoded as the call asks)."""
    msg: dict[str, Any] = {"id": call.id, "type": "result", "op": call.op}
    if isinstance(result, api.SpriteResult):
        n, h, w = (int(d) for d in result.sprites.shape[:3])
        msg.update(
            {
                "model": result.model,
                "count": n,
                "size": [w, h],
                "image_format": call.image_format,
                "images": encode_images(result.sprites, call.image_format),
                "seeds": list(result.seeds),
                "base_seed": result.base_seed,
                "layout": list(result.layout),
            }
        )
        rows = result.score_rows()
        if rows is not None:
            msg["scores"] = rows
        if isinstance(result, api.SimilarResult):
            summary = result.summary()
            msg.update({k: summary[k] for k in ("teacher", "similarity", "index", "reference")})
    elif isinstance(result, api.ScoreResult):
        msg.update(result.summary(embedding=bool(call.params.get("embedding"))))
        msg.pop("seconds", None)
    elif isinstance(result, api.PaletteResult):
        msg.update(
            {
                "model": result.model,
                "name": result.palette.name,
                "colors": list(result.palette.hex),
                "swatch": result.swatch_png,
                "format": result.format,
                "file": result.file,
                "base_seed": result.base_seed,
                "sample_count": result.sample_count,
            }
        )
    elif isinstance(result, api.LatentResult):
        z = np.ascontiguousarray(result.latents, dtype="<f4")
        msg.update(
            {
                "model": result.model,
                "count": int(z.shape[0]),
                "latents": {"shape": list(z.shape), "dtype": "float32", "data": z.tobytes()},
            }
        )
    else:
        raise TypeError(f"no wire form for {type(result).__name__}")
    if timing is not None:
        msg["timing"] = {k: round(v, 3) for k, v in timing.items()}
    msg["batch"] = batch
    return msg


def hello_message(call: Call, catalog: Catalog, limits: Limits, server_version: str) -> dict[str, Any]:
    return {
        "id": call.id,
        "type": "result",
        "op": "hello",
        "server": "pixelsprite",
        "version": server_version,
        "protocol": PROTOCOL_VERSION,
        "limits": limits.to_dict(),
        "operations": list(OPERATIONS),
        "coming": list(COMING_OPERATIONS),
        "features": list(FEATURES),
        "image_formats": list(IMAGE_FORMATS),
        "models": sorted(catalog.models),
        "default_model": catalog.default,
        "default_models": [n for n in catalog.ranked if "generate" in catalog.models[n].operations()],
    }


def models_message(call: Call, catalog: Catalog, loaded: Mapping[str, bool]) -> dict[str, Any]:
    return {
        "id": call.id,
        "type": "result",
        "op": "models",
        "default": catalog.default,
        "models": [catalog.models[n].to_dict(loaded=loaded.get(n, False)) for n in sorted(catalog.models)],
        "problems": list(catalog.problems),
    }


def cancel_message(call: Call, cancelled: bool) -> dict[str, Any]:
    return {"id": call.id, "type": "result", "op": "cancel", "target": call.params["target"], "cancelled": cancelled}
