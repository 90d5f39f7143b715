"""Manifest parsing, validation and exact round-trips."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from pixelsprite.errors import BundleError
from pixelsprite.manifest import (
    GraphSpec,
    ImageSpec,
    LabelPolicy,
    LatentSpec,
    Manifest,
    PostprocessSpec,
    TensorSpec,
    load_manifest,
    save_manifest,
)

HEX = "ab" * 32

EXAMPLE: dict[str, Any] = {
    "format": "pixelsprite-bundle",
    "format_version": 1,
    "name": "vae16",
    "family": "vae",
    "description": "Convolutional residual VAE, 16x16 RGBA pixel art",
    "image": {
        "width": 16,
        "height": 16,
        "channels": ["R", "G", "B", "A"],
        "layout": "NCHW",
        "dtype": "float32",
        "value_range": [-1.0, 1.0],
    },
    "latent": {"shape": [8, 4, 4], "prior": "standard_normal"},
    "labels": ["dngn", "item", "mon"],
    "postprocess": {"alpha_threshold": 0.0, "max_colors": 12, "color_tolerance": 0.01, "despeckle": 0.1},
    "graphs": {
        "encoder": {
            "file": "encoder.onnx",
            "sha256": HEX,
            "opset": 17,
            "inputs": [{"name": "image", "dtype": "float32", "shape": ["batch", 4, 16, 16]}],
            "outputs": [
                {"name": "mean", "dtype": "float32", "shape": ["batch", 8, 4, 4]},
                {"name": "logvar", "dtype": "float32", "shape": ["batch", 8, 4, 4]},
            ],
        },
        "decoder": {
            "file": "decoder.onnx",
            "sha256": HEX,
            "opset": 17,
            "inputs": [{"name": "z", "dtype": "float32", "shape": ["batch", 8, 4, 4]}],
            "outputs": [{"name": "image", "dtype": "float32", "shape": ["batch", 4, 16, 16]}],
        },
    },
    "training": {
        "data": [{"name": "Dungeon Crawl Stone Soup tiles", "license": "CC0-1.0", "source": "crawl/tiles"}],
        "recipe": {"lr": 0.001},
        "seconds": 12.5,
        "epochs": 3,
        "framework": "torch 2.13.0",
    },
    "metrics": {"fd": 1.5},
    "card": "card.md",
    "samples": "samples.png",
}


def test_round_trip_is_exact() -> None:
    m = Manifest.from_dict(EXAMPLE)
    assert m.to_dict() == EXAMPLE
    assert json.dumps(m.to_dict()) == json.dumps(EXAMPLE)  # key order too
    assert Manifest.from_dict(m.to_dict()) == m


def test_parsed_values() -> None:
    m = Manifest.from_dict(EXAMPLE)
    assert m.image.nchw == (4, 16, 16)
    assert m.image.value_range == (-1.0, 1.0)
    assert m.latent == LatentSpec((8, 4, 4))
    assert m.labels == ("dngn", "item", "mon")
    assert m.postprocess == PostprocessSpec(0.0, 12, 0.01, 0.1)
    assert m.graph("decoder").inputs[0] == TensorSpec("z", "float32", ("batch", 8, 4, 4))


def test_construct_from_python_with_lists() -> None:
    lat = ["batch", 8, 4, 4]
    m = Manifest(
        name="vae16",
        family="vae",
        description=EXAMPLE["description"],
        image=ImageSpec(16, 16),
        latent=LatentSpec([8, 4, 4]),
        labels=["dngn", "item", "mon"],
        postprocess=PostprocessSpec(0.0, 12, 0.01, 0.1),
        graphs={
            "encoder": GraphSpec(
                "encoder.onnx",
                HEX,
                inputs=[TensorSpec("image", "float32", ["batch", 4, 16, 16])],
                outputs=[TensorSpec("mean", "float32", lat), TensorSpec("logvar", "float32", lat)],
                opset=17,
            ),
            "decoder": GraphSpec(
                "decoder.onnx",
                HEX,
                inputs=[TensorSpec("z", "float32", lat)],
                outputs=[TensorSpec("image", "float32", ["batch", 4, 16, 16])],
            ),
        },
        training=EXAMPLE["training"],
        metrics={"fd": 1.5},
    )
    assert m.to_dict() == EXAMPLE
    assert m == Manifest.from_dict(EXAMPLE)


def test_unknown_top_level_keys_are_kept() -> None:
    d = copy.deepcopy(EXAMPLE)
    d["schedule"] = {"kind": "cosine", "steps": 1000}
    m = Manifest.from_dict(d)
    assert m.extra == {"schedule": {"kind": "cosine", "steps": 1000}}
    assert m.to_dict() == d


def _broken(path: str, value: Any) -> dict[str, Any]:
    d = copy.deepcopy(EXAMPLE)
    *parents, last = path.split(".")
    target = d
    for p in parents:
        target = target[p]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return d


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "needle"),
    [
        ("format", "other", "'format'"),
        ("format_version", 2, "format_version 2 is newer"),
        ("name", _DELETE, "'name' is missing"),
        ("name", "bad name/", "'name'"),
        ("image.width", "16", "'image.width'"),
        ("image.width", 0, "'image.width'"),
        ("image.channels", ["R", "G", "B"], "'image.channels'"),
        ("image.value_range", [1.0, -1.0], "'image.value_range'"),
        ("image.extra_key", 1, "image.extra_key"),
        ("latent.shape", [8, 0, 4], "'latent.shape[1]'"),
        ("graphs.decoder.sha256", "xyz", "'graphs.decoder.sha256'"),
        ("graphs.decoder.file", "../decoder.onnx", "'graphs.decoder.file'"),
        ("graphs.decoder.inputs", [], "'graphs.decoder.inputs'"),
        ("graphs.decoder.opset", "17", "'graphs.decoder.opset'"),
        ("postprocess.max_colors", -1, "'postprocess.max_colors'"),
        ("postprocess.despeckle", -0.5, "'postprocess.despeckle'"),
        ("graphs", {}, "'graphs'"),
    ],
)
def test_validation_names_the_key(path: str, value: Any, needle: str) -> None:
    with pytest.raises(BundleError) as e:
        Manifest.from_dict(_broken(path, value), src="bundle/manifest.json")
    assert needle in e.value.message
    assert e.value.message.startswith("bundle/manifest.json: ")
    assert e.value.code == "bundle_error"


def test_tensor_dtype_is_checked() -> None:
    d = copy.deepcopy(EXAMPLE)
    d["graphs"]["decoder"]["inputs"][0]["dtype"] = "float64"
    with pytest.raises(BundleError, match=r"graphs\.decoder\.inputs\[0\]\.dtype"):
        Manifest.from_dict(d)


def test_missing_graph_role_lists_roles() -> None:
    m = Manifest.from_dict(EXAMPLE)
    with pytest.raises(BundleError, match="no 'sampler' graph .*decoder, encoder"):
        m.graph("sampler")


def test_load_and_save(tmp_path: Path) -> None:
    m = Manifest.from_dict(EXAMPLE)
    written = save_manifest(m, tmp_path)
    assert written == tmp_path / "manifest.json"
    assert json.loads(written.read_text()) == EXAMPLE
    assert load_manifest(tmp_path) == m
    assert load_manifest(written) == m
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]  # no temp files left


def test_load_errors_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="manifest file is missing") as e:
        load_manifest(tmp_path)
    assert str(tmp_path) in e.value.message
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        load_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("[]")
    with pytest.raises(BundleError, match="must be an object"):
        load_manifest(tmp_path)


def test_per_label_colour_policy_round_trips_and_resolves() -> None:
    d = copy.deepcopy(EXAMPLE)
    d["postprocess"]["per_label"] = {"item": {"color_tolerance": 0.03, "despeckle": 0.0}}
    m = Manifest.from_dict(d)
    assert m.postprocess.per_label == (LabelPolicy("item", 0.03, 0.0),)
    assert m.postprocess.for_label("item") == PostprocessSpec(0.0, 12, 0.03, 0.0)
    assert m.postprocess.for_label("mon") is m.postprocess and m.postprocess.for_label(None) is m.postprocess
    assert Manifest.from_dict(json.loads(json.dumps(m.to_dict()))) == m
    assert "per_label" not in Manifest.from_dict(EXAMPLE).to_dict()["postprocess"]  # absent stays absent


@pytest.mark.parametrize(
    ("per_label", "match"),
    [
        ({"dragon": {"color_tolerance": 0.03, "despeckle": 0.0}}, r"per_label' names \['dragon'\]"),
        ({"item": {"color_tolerance": 0.03}}, r"postprocess\.per_label\.item\.despeckle' is missing"),
        ({"item": {"color_tolerance": -1, "despeckle": 0.0}}, r"item\.color_tolerance' must be >= 0"),
        ({"item": 0.03}, r"postprocess\.per_label\.item' must be an object"),
    ],
)
def test_per_label_policy_errors_name_the_key(per_label: dict, match: str) -> None:
    d = copy.deepcopy(EXAMPLE)
    d["postprocess"]["per_label"] = per_label
    with pytest.raises(BundleError, match=match):
        Manifest.from_dict(d)


def test_label_aliases_round_trip_and_absent_stays_absent() -> None:
    d = copy.deepcopy(EXAMPLE)
    d["label_aliases"] = {"monster": "mon"}
    m = Manifest.from_dict(d)
    assert m.label_aliases == {"monster": "mon"}
    assert Manifest.from_dict(json.loads(json.dumps(m.to_dict()))) == m
    assert "label_aliases" not in Manifest.from_dict(EXAMPLE).to_dict()


@pytest.mark.parametrize(
    ("aliases", "match"),
    [
        ({"monster": "dragon"}, r"'label_aliases\.monster' must map a name that is not a label"),  # no such label
        ({"mon": "item"}, r"'label_aliases\.mon' must map a name that is not a label"),  # shadows a label
        ({"monster": 3}, r"'label_aliases\.monster' must be a non-empty string"),
        (["monster"], r"'label_aliases' must be an object"),
    ],
)
def test_label_alias_errors_name_the_key(aliases: object, match: str) -> None:
    d = copy.deepcopy(EXAMPLE)
    d["label_aliases"] = aliases
    with pytest.raises(BundleError, match=match):
        Manifest.from_dict(d)
