"""Protocol v1 as pure functions: decoding, validation and encoding, without sockets."""

from __future__ import annotations

import base64
import json

import msgpack
import numpy as np
import pytest

from pixelsprite import api
from pixelsprite.errors import ImageError, InvalidRequest, UnknownModel
from pixelsprite.families import Capabilities
from pixelsprite.imageio import encode_png
from pixelsprite_bridge import protocol as proto
from pixelsprite_bridge.errors import MalformedFrame, UnknownOperation, UnsupportedParameter

VAE_OPS = ("generate", "variations", "interpolate", "grid", "encode", "decode")
TINY = proto.ModelCaps(
    "tiny", Capabilities("vae", VAE_OPS, labels=("a", "b")), 8, 8, latent_shape=(4, 2, 2), max_colors=6
)
DEC = proto.ModelCaps(
    "tiny-dec",
    Capabilities("vae", tuple(o for o in VAE_OPS if o not in ("variations", "encode"))),
    8,
    8,
    latent_shape=(4, 2, 2),
)
CATALOG = proto.Catalog({"tiny": TINY, "tiny-dec": DEC}, default="tiny")
PNG = encode_png(np.zeros((8, 8, 4), np.uint8))


def parse(obj: dict, encoding: proto.Encoding = "json") -> proto.Call:
    return proto.parse_request(obj, encoding, CATALOG)


# ---------------------------------------------------------------------------------------------------- frames
def test_text_frames_are_json_and_binary_frames_msgpack() -> None:
    assert proto.decode_frame('{"id": "a", "op": "models"}') == ({"id": "a", "op": "models"}, "json")
    assert proto.decode_frame(msgpack.packb({"id": "a", "op": "models"})) == ({"id": "a", "op": "models"}, "msgpack")


@pytest.mark.parametrize(
    "frame",
    [
        "",
        "{",
        "[1, 2]",
        '"id"',
        "NaN",
        '{"a": NaN}',
        '{"a": Infinity}',
        "[" * 100_000,
        b"",
        b"\xc1",
        msgpack.packb([1, 2]),
        msgpack.packb({"a": 1}) + b"\x00",
        msgpack.packb({1: 2}),
        msgpack.packb({"a": msgpack.ExtType(5, b"x")}),
        b"\x91" * 100_000,
    ],
)
def test_malformed_frames_raise_malformed_frame(frame: str | bytes) -> None:
    with pytest.raises(MalformedFrame) as e:
        proto.decode_frame(frame)
    assert e.value.code == "malformed_frame"


def test_encode_frame_puts_bytes_as_base64_in_json_and_bin_in_msgpack() -> None:
    msg = {"id": "x", "images": [b"\x00\x01"]}
    assert json.loads(proto.encode_frame(msg, "json"))["images"] == [base64.b64encode(b"\x00\x01").decode()]
    assert msgpack.unpackb(proto.encode_frame(msg, "msgpack"))["images"] == [b"\x00\x01"]


def test_request_id_is_recovered_only_when_valid() -> None:
    assert proto.request_id({"id": "abc"}) == "abc"
    assert proto.request_id({"id": 5}) is None
    assert proto.request_id({"id": "x" * 129}) is None
    assert proto.request_id([1]) is None


# ------------------------------------------------------------------------------------------------ validation
def test_generate_builds_the_request_layer_request() -> None:
    call = parse({"id": "g", "op": "generate", "count": 3, "seed": 7, "image_format": "rgba"})
    assert call.request == api.GenerateRequest("tiny", 3, 7, None)
    assert (call.image_format, call.encoding, call.model) == ("rgba", "json", TINY)
    assert call.batch_key == ("generate", "tiny", None)
    assert parse({"id": "g", "op": "generate", "seed": None}).request == api.GenerateRequest("tiny", 16, None)


@pytest.mark.parametrize(
    ("obj", "error", "field"),
    [
        ({"op": "models"}, InvalidRequest, "id"),
        ({"id": "", "op": "models"}, InvalidRequest, "id"),
        ({"id": "a"}, InvalidRequest, "op"),
        ({"id": "a", "op": "paint"}, UnknownOperation, "op"),
        ({"id": "a", "op": "score"}, InvalidRequest, "images"),
        ({"id": "a", "op": "similar"}, InvalidRequest, "reference"),
        ({"id": "a", "op": "score", "images": [], "teacher": "tiny"}, InvalidRequest, "teacher"),
        ({"id": "a", "op": "score", "images": []}, InvalidRequest, "images"),
        ({"id": "a", "op": "generate", "cuont": 3}, InvalidRequest, "cuont"),
        ({"id": "a", "op": "generate", "count": "3"}, InvalidRequest, "count"),
        ({"id": "a", "op": "generate", "count": True}, InvalidRequest, "count"),
        ({"id": "a", "op": "generate", "count": 0}, InvalidRequest, "count"),
        ({"id": "a", "op": "generate", "count": 1025}, InvalidRequest, "count"),
        ({"id": "a", "op": "generate", "seed": -1}, InvalidRequest, "seed"),
        ({"id": "a", "op": "generate", "seed": 2**64}, InvalidRequest, "seed"),
        ({"id": "a", "op": "generate", "model": "nope"}, UnknownModel, "model"),
        ({"id": "a", "op": "generate", "model": 3}, InvalidRequest, "model"),
        ({"id": "a", "op": "generate", "label": "a"}, UnsupportedParameter, "label"),
        ({"id": "a", "op": "generate", "steps": 20}, UnsupportedParameter, "steps"),
        ({"id": "a", "op": "generate", "solver": "euler"}, UnsupportedParameter, "solver"),
        ({"id": "a", "op": "generate", "guidance": 2.0}, UnsupportedParameter, "guidance"),
        ({"id": "a", "op": "generate", "candidates": 17}, InvalidRequest, "candidates"),
        ({"id": "a", "op": "grid", "corners": [1, 2, 3, 4], "candidates": 2}, InvalidRequest, "candidates"),
        (
            {"id": "a", "op": "variations", "image": {"rgba": bytes(256), "width": 8, "height": 8}, "keep_class": 1},
            InvalidRequest,
            "keep_class",
        ),
        ({"id": "a", "op": "generate", "palette": "no-such-palette"}, InvalidRequest, "palette"),
        ({"id": "a", "op": "generate", "palette": "/etc/passwd.gpl"}, InvalidRequest, "palette"),
        ({"id": "a", "op": "generate", "palette": "pico-8", "dither": "zigzag"}, InvalidRequest, "dither"),
        ({"id": "a", "op": "generate", "dither": "bayer4"}, InvalidRequest, "dither"),
        ({"id": "a", "op": "generate", "image_format": "jpeg"}, InvalidRequest, "image_format"),
        ({"id": "a", "op": "generate", "max_colors": 999}, InvalidRequest, "max_colors"),
        ({"id": "a", "op": "interpolate", "a": 1, "b": 2, "steps": 8}, UnsupportedParameter, "steps"),
        ({"id": "a", "op": "interpolate", "a": 1}, InvalidRequest, "b"),
        ({"id": "a", "op": "interpolate", "a": 1, "b": 2, "method": "cubic"}, InvalidRequest, "method"),
        ({"id": "a", "op": "grid", "corners": [1, 2, 3]}, InvalidRequest, "corners"),
        ({"id": "a", "op": "grid", "corners": [1, 2, 3, 4], "rows": 17}, InvalidRequest, "rows"),
        ({"id": "a", "op": "variations"}, InvalidRequest, "image"),
        ({"id": "a", "op": "variations", "image": PNG, "strength": 3}, InvalidRequest, "strength"),
        ({"id": "a", "op": "variations", "image": PNG, "model": "tiny-dec"}, UnsupportedParameter, "model"),
        ({"id": "a", "op": "variations", "image": "/etc/passwd"}, InvalidRequest, "image"),
        ({"id": "a", "op": "variations", "image": base64.b64encode(b"/etc/passwd").decode()}, ImageError, "image"),
        ({"id": "a", "op": "variations", "image": {"path": "/etc/passwd"}}, InvalidRequest, "image"),
        (
            {"id": "a", "op": "variations", "image": {"rgba": b"\x00" * 5, "width": 1, "height": 1}},
            ImageError,
            "image.rgba",
        ),
        ({"id": "a", "op": "variations", "image": {"rgba": b"", "width": 0, "height": 1}}, ImageError, "image.width"),
        ({"id": "a", "op": "encode", "images": []}, InvalidRequest, "images"),
        ({"id": "a", "op": "encode", "images": [PNG, 5]}, InvalidRequest, "images[1]"),
        ({"id": "a", "op": "decode"}, InvalidRequest, "latents"),
        ({"id": "a", "op": "decode", "latents": [[1, 2], [3]]}, InvalidRequest, "latents"),
        (
            {"id": "a", "op": "decode", "latents": {"shape": [1, 4], "dtype": "float64", "data": b""}},
            InvalidRequest,
            "latents.dtype",
        ),
        (
            {"id": "a", "op": "decode", "latents": {"shape": [1, 4], "dtype": "float32", "data": b"abc"}},
            InvalidRequest,
            "latents.data",
        ),
        ({"id": "a", "op": "cancel"}, InvalidRequest, "target"),
        ({"id": "a", "op": "hello", "client": 5}, InvalidRequest, "client"),
        ({"id": "a", "op": "models", "model": "tiny"}, InvalidRequest, "model"),
    ],
)
def test_invalid_requests_name_the_field(obj: dict, error: type, field: str) -> None:
    with pytest.raises(error) as e:
        parse(obj)
    assert e.value.field == field, e.value.message
    assert e.value.message


def test_label_error_says_why() -> None:
    with pytest.raises(UnsupportedParameter, match="unconditional") as e:
        parse({"id": "a", "op": "generate", "label": "mon"})
    assert e.value.code == "unsupported_parameter"


def test_null_future_parameters_count_as_absent() -> None:
    assert parse({"id": "a", "op": "generate", "label": None, "steps": None}).request == api.GenerateRequest("tiny")


def test_png_header_size_is_checked_before_decoding() -> None:
    huge = bytearray(PNG)
    huge[16:24] = (100_000).to_bytes(4, "big") * 2
    with pytest.raises(ImageError, match="at most 512"):
        parse({"id": "a", "op": "variations", "image": bytes(huge)})


def test_images_never_reach_the_request_layer_as_strings() -> None:
    rgba = np.arange(8 * 8 * 4, dtype=np.uint8).reshape(8, 8, 4)
    raw = {"rgba": rgba.tobytes(), "width": 8, "height": 8}
    for image in (PNG, base64.b64encode(PNG).decode(), {"png": PNG}, raw):
        req = parse({"id": "a", "op": "variations", "image": image}).request
        assert isinstance(req, api.VariationsRequest)
        assert isinstance(req.image, (bytes, np.ndarray))
    req = parse({"id": "a", "op": "variations", "image": raw}).request
    assert isinstance(req, api.VariationsRequest) and np.array_equal(req.image, rgba)


def test_endpoints_are_seeds_or_images() -> None:
    req = parse({"id": "a", "op": "interpolate", "a": 3, "b": {"png": PNG}, "count": 5}).request
    assert isinstance(req, api.InterpolateRequest)
    assert (req.a, req.b, req.count, req.steps) == (3, PNG, 5, None)
    with pytest.raises(InvalidRequest):
        parse({"id": "a", "op": "interpolate", "a": True, "b": 2})
    # the frame count is "count" on the wire, in the request and in its errors
    with pytest.raises(InvalidRequest) as e:
        parse({"id": "a", "op": "interpolate", "a": 1, "b": 2, "count": 100})
    assert e.value.field == "count" and e.value.message.startswith("count must be between 2 and 64")


def test_latents_as_tensor_or_nested_list() -> None:
    z = np.arange(16, dtype=np.float32).reshape(1, 4, 2, 2)
    tensor = {"shape": [1, 4, 2, 2], "dtype": "float32", "data": z.tobytes()}
    for value in (tensor, z.tolist()):
        req = parse({"id": "a", "op": "decode", "latents": value}).request
        assert isinstance(req, api.DecodeRequest)
        np.testing.assert_array_equal(req.latents, z)


def test_control_operations() -> None:
    assert parse({"id": "h", "op": "hello", "client": "godot", "version": "4.6"}).params == {
        "client": "godot",
        "version": "4.6",
        "protocol": 1,
    }
    assert parse({"id": "c", "op": "cancel", "target": "g1"}).params == {"target": "g1"}


# ---------------------------------------------------------------------------------------------------- answers
def test_result_message_carries_images_seeds_and_layout() -> None:
    sprites = np.zeros((2, 8, 6, 4), np.uint8)
    sprites[1, 0, 0] = 255
    result = api.SpriteResult("generate", "tiny", sprites, (7, 8), 7, 0.01)
    call = parse({"id": "g", "op": "generate", "count": 2, "seed": 7, "image_format": "rgba"})
    msg = proto.result_message(call, result, timing={"total_ms": 1.23456})
    assert msg["images"] == [s.tobytes() for s in sprites]
    assert (msg["size"], msg["seeds"], msg["base_seed"], msg["count"]) == ([6, 8], [7, 8], 7, 2)
    assert msg["timing"] == {"total_ms": 1.235}
    call = parse({"id": "g", "op": "generate", "count": 2, "seed": 7})
    png = proto.result_message(call, result)["images"]
    assert all(p.startswith(b"\x89PNG") for p in png)
    json.loads(proto.encode_frame(proto.result_message(call, result), "json"))


def test_preview_is_a_bool_on_generate_and_variations_only() -> None:
    assert parse({"id": "g", "op": "generate"}).preview is False
    assert parse({"id": "g", "op": "generate", "preview": None}).preview is False  # null counts as absent
    assert parse({"id": "g", "op": "generate", "preview": True}).preview is True
    assert parse({"id": "v", "op": "variations", "image": PNG, "preview": True}).preview is True
    for bad in (1, 0, "true", [], {}):
        with pytest.raises(InvalidRequest) as e:
            parse({"id": "g", "op": "generate", "preview": bad})
        assert e.value.field == "preview" and "preview must be true or false" in e.value.message
    for op in ({"op": "interpolate", "a": 1, "b": 2}, {"op": "grid", "corners": [1, 2, 3, 4]}):
        with pytest.raises(InvalidRequest) as e:
            parse({"id": "x", **op, "preview": True})
        assert e.value.field == "preview"


def test_progress_message_carries_preview_images_in_the_call_encoding() -> None:
    assert proto.progress_message("g", 1, 4, "steps") == {
        "id": "g",
        "type": "progress",
        "done": 1,
        "total": 4,
        "unit": "steps",
    }
    sprites = np.zeros((3, 8, 6, 4), np.uint8)
    sprites[2, 1, 1] = 255
    msg = proto.progress_message("g", 1, 4, "steps", preview=sprites, image_format="rgba")
    assert (msg["count"], msg["size"], msg["image_format"]) == (3, [6, 8], "rgba")
    assert msg["images"] == [s.tobytes() for s in sprites]
    png = proto.progress_message("g", 1, 4, "steps", preview=sprites)
    assert png["image_format"] == "png" and all(p.startswith(b"\x89PNG") for p in png["images"])
    wire = json.loads(proto.encode_frame(msg, "json"))
    assert base64.b64decode(wire["images"][2]) == sprites[2].tobytes()


def test_error_message_shape() -> None:
    msg = proto.error_message("x", InvalidRequest("count must be ...", field="count"))
    assert msg == {
        "id": "x",
        "type": "error",
        "code": "invalid_request",
        "message": "count must be ...",
        "field": "count",
    }


def test_hello_and_models_messages() -> None:
    call = parse({"id": "h", "op": "hello"})
    msg = proto.hello_message(call, CATALOG, proto.Limits(), "0.1.0")
    assert msg["protocol"] == proto.PROTOCOL_VERSION == 1
    assert msg["coming"] == [] and {"score", "similar"} <= set(msg["operations"])
    assert msg["features"] == ["preview"]
    assert msg["limits"]["max_count"] == api.MAX_COUNT
    # the ranges clients clamp their fields to: "steps" is the sampler's, as everywhere on the wire
    assert msg["limits"]["steps"] == [1, api.MAX_SAMPLE_STEPS]
    assert msg["limits"]["interpolate_count"] == [api.MIN_FRAMES, api.MAX_FRAMES]
    models = proto.models_message(parse({"id": "m", "op": "models"}), CATALOG, {"tiny": True})
    tiny = models["models"][0]
    assert (tiny["name"], tiny["loaded"], tiny["size"], tiny["labels"]) == ("tiny", True, [8, 8], ["a", "b"])
    assert "variations" in tiny["operations"] and "variations" not in models["models"][1]["operations"]
    json.dumps(models)


def test_palette_and_dither_reach_the_request_layer() -> None:
    call = parse({"id": "p", "op": "generate", "count": 4, "seed": 1, "palette": "pico-8", "dither": "bayer2"})
    assert isinstance(call.request, api.GenerateRequest)
    assert call.request.palette is not None and call.request.palette.colors.shape == (16, 3)
    assert call.request.dither == "bayer2"
    assert call.batch_key is None  # palette requests run on their own
    listed = parse({"id": "q", "op": "generate", "palette": ["#000000", [255, 255, 255]]})
    assert listed.request.palette is not None and listed.request.palette.colors.tolist() == [[0, 0, 0], [255, 255, 255]]
    grid = parse({"id": "g", "op": "grid", "corners": [1, 2, 3, 4], "palette": "#112233,#445566"})
    assert grid.request.palette is not None and len(grid.request.palette.colors) == 2


def test_cleanup_options_reach_the_request_layer() -> None:
    call = parse({"id": "c", "op": "generate", "alpha_threshold": 10, "despeckle": True, "outline": "darkest"})
    assert isinstance(call.request, api.GenerateRequest)  # alpha_threshold is checked; generate reads no image
    assert (call.request.despeckle, call.request.outline) == (True, "darkest")
    assert call.batch_key is None  # clean-up runs in the request layer, so these run on their own
    grid = parse({"id": "t", "op": "grid", "corners": [1, 2, 3, 4], "alpha_threshold": 10})
    assert isinstance(grid.request, api.GridRequest) and grid.request.alpha_threshold == 10
    plain = parse({"id": "d", "op": "generate"})
    assert isinstance(plain.request, api.GenerateRequest) and not plain.request.despeckle
    dec = parse({"id": "e", "op": "decode", "latents": [[[[0.0] * 2] * 2] * 4], "outline": "#000000"})
    assert isinstance(dec.request, api.DecodeRequest) and dec.request.outline == "#000000"
    for bad, field in (
        ({"outline": "red"}, "outline"),
        ({"despeckle": "yes"}, "despeckle"),
        ({"alpha_threshold": 300}, "alpha_threshold"),
        ({"alpha_threshold": "x"}, "alpha_threshold"),
    ):
        with pytest.raises(InvalidRequest) as info:
            parse({"id": "f", "op": "grid", "corners": [1, 2, 3, 4], **bad})
        assert info.value.field == field


def test_palette_operation_parses_model_or_sprites() -> None:
    call = parse({"id": "p", "op": "palette", "count": 8, "seed": 2, "colors": 4, "format": "hex"})
    assert isinstance(call.request, api.PaletteRequest)
    assert (call.request.model, call.request.colors, call.request.format) == ("tiny", 4, "hex")
    png = encode_png(np.full((2, 2, 4), 255, np.uint8))
    given = parse({"id": "q", "op": "palette", "sprites": [png], "colors": 2})
    assert given.request.sprites is not None and given.request.model is None
    with pytest.raises(InvalidRequest) as e:
        parse({"id": "r", "op": "palette", "sprites": "a/b.png"})
    assert e.value.field == "sprites"


def test_a_request_without_model_gets_the_first_ranked_model_that_answers_its_operation() -> None:
    pixel = proto.ModelCaps("px", Capabilities("pixel", ("generate", "variations", "inpaint"), labels=("a",)), 8, 8)
    catalog = proto.Catalog({"tiny": TINY, "px": pixel}, default="px", ranked=("px", "tiny"))
    assert proto.parse_request({"id": "g", "op": "generate"}, "json", catalog).model.name == "px"
    inter = {"id": "i", "op": "interpolate", "a": 1, "b": 2}
    assert proto.parse_request(inter, "json", catalog).model.name == "tiny"  # px has no latent space
    hello = proto.hello_message(
        proto.parse_request({"id": "h", "op": "hello"}, "json", catalog), catalog, proto.Limits(), "0"
    )
    assert hello["default_model"] == "px" and hello["default_models"] == ["px", "tiny"]
