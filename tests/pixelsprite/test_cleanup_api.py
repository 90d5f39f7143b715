"""Clean-up options (alpha_threshold, despeckle, outline) through the request layer and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pixelsprite import api
from pixelsprite.cleanup import outline, remove_isolated
from pixelsprite.cli import main
from pixelsprite.errors import InvalidRequest
from pixelsprite.imageio import decode_image
from pixelsprite.palettes import BUILTIN, enforce
from pixelsprite.registry import Registry


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"alpha_threshold": 256}, "alpha_threshold", "alpha_threshold"),
        ({"alpha_threshold": -1}, "alpha_threshold", "alpha_threshold"),
        ({"alpha_threshold": 1.5}, "alpha_threshold", "alpha_threshold"),
        ({"despeckle": 1}, "despeckle", "true or false"),
        ({"outline": "#12345"}, "outline", '"#rrggbb", "darkest"'),
        ({"outline": "black"}, "outline", "outline"),
    ],
)
def test_bad_cleanup_options_name_the_field(kwargs: dict, field: str, words: str) -> None:
    makers = [
        lambda: api.GridRequest(None, (1, 2, 3, 4), **kwargs),
        lambda: api.InterpolateRequest(None, 1, 2, **kwargs),
        lambda: api.VariationsRequest(None, b"png", **kwargs),
        lambda: api.InpaintRequest(None, b"png", b"png", **kwargs),
    ]
    if "alpha_threshold" not in kwargs:  # requests that read no image take no alpha_threshold
        makers += [
            lambda: api.GenerateRequest(**kwargs),
            lambda: api.DecodeRequest(None, np.zeros((1, 4, 2, 2), np.float32), **kwargs),
        ]
    for make in makers:
        with pytest.raises(InvalidRequest) as info:
            make()
        assert info.value.field == field and words in info.value.message


def test_requests_that_read_no_image_take_no_alpha_threshold() -> None:
    for make in (
        lambda: api.GenerateRequest(alpha_threshold=10),  # type: ignore[call-arg]
        lambda: api.DecodeRequest(None, np.zeros((1, 4, 2, 2), np.float32), alpha_threshold=10),  # type: ignore[call-arg]
    ):
        with pytest.raises(TypeError, match="alpha_threshold"):
            make()


def test_cleanup_order_despeckle_palette_outline(registry: Registry) -> None:
    plain = api.generate("tiny", 6, seed=5, registry=registry).sprites
    res = api.generate("tiny", 6, seed=5, despeckle=True, palette="db16", outline="darkest", registry=registry)
    want = outline(enforce(remove_isolated(plain), BUILTIN["db16"]), "darkest", BUILTIN["db16"].colors)
    assert np.array_equal(res.sprites, want)
    res = api.decode("tiny", np.zeros((2, 4, 2, 2), np.float32), outline="#010203", registry=registry)
    base = api.decode("tiny", np.zeros((2, 4, 2, 2), np.float32), registry=registry).sprites
    assert np.array_equal(res.sprites, outline(base, (1, 2, 3)))
    for result in (
        api.variations("tiny", plain[0], 2, seed=1, despeckle=True, registry=registry),
        api.interpolate("tiny", 1, 2, count=3, outline="darkest", registry=registry),
        api.grid("tiny", [1, 2, 3, 4], 2, 2, despeckle=True, outline="#000000", registry=registry),
    ):
        assert result.sprites.dtype == np.uint8, result.op


def test_alpha_threshold_applies_to_input_images(registry: Registry) -> None:
    image = api.generate("tiny", 1, seed=2, registry=registry).sprites[0].copy()
    image[..., 3] = np.where(image[..., 3] > 0, 100, 0)  # half-transparent input
    low = api.variations("tiny", image, 1, strength=0.0, seed=0, alpha_threshold=50, registry=registry)
    high = api.variations("tiny", image, 1, strength=0.0, seed=0, alpha_threshold=200, registry=registry)
    default = api.variations("tiny", image, 1, strength=0.0, seed=0, registry=registry)
    assert np.array_equal(high.sprites, default.sprites)  # 100 <= 127: transparent either way
    assert (image[..., 3] == 100).any() and not np.array_equal(low.sprites, high.sprites)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_cleanup_flags(
    capsys: pytest.CaptureFixture[str], models_dir: Path, tmp_path: Path, registry: Registry
) -> None:
    sheet = tmp_path / "g.png"
    code, out, err = run(
        capsys,
        "--models-dir",
        str(models_dir),
        "generate",
        "--model",
        "tiny",
        "-n",
        "1",
        "--seed",
        "4",
        "--despeckle",
        "--outline",
        "#102030",
        "--alpha-threshold",
        "10",
        "-o",
        str(sheet),
    )
    assert code == 0, err
    assert json.loads(out)["count"] == 1
    want = api.generate("tiny", 1, seed=4, despeckle=True, outline="#102030", registry=registry).sprites[0]
    assert np.array_equal(decode_image(sheet.read_bytes()), want)
    code, _, err = run(
        capsys,
        "--models-dir",
        str(models_dir),
        "generate",
        "--model",
        "tiny",
        "--outline",
        "red",
        "-o",
        str(tmp_path / "x.png"),
    )
    assert code == 2 and "outline" in err
