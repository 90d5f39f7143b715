"""Palettes through the request layer and the CLI: validation naming the field, palettes on every sprite operation,
the palette operation (from a model's samples or given sprites), and `pixelsprite palette(s)`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pixelsprite import api
from pixelsprite.api.finishing import resolve_finishing
from pixelsprite.cli import main
from pixelsprite.errors import InvalidRequest, PaletteError
from pixelsprite.imageio import decode_image, write_png
from pixelsprite.palettes import BUILTIN, Palette, read_palette
from pixelsprite.registry import Registry

FIXTURES = Path(__file__).parent / "fixtures" / "palettes"


def _colours(sprites: np.ndarray) -> set[tuple[int, ...]]:
    return {tuple(c) for c in sprites[..., :3][sprites[..., 3] > 0].tolist()}


def _allowed(pal: Palette) -> set[tuple[int, ...]]:
    return {tuple(c) for c in pal.colors.tolist()}


# ------------------------------------------------------------------------------------------------- validation
def test_palette_arguments_resolve_when_the_request_runs(tmp_path: Path) -> None:
    def resolved(spec: object) -> Palette | None:
        return resolve_finishing(api.GenerateRequest(palette=spec)).palette  # type: ignore[arg-type]

    assert resolved("PICO-8") is BUILTIN["pico-8"]
    pal = resolved(["#000000", (255, 255, 255)])
    assert isinstance(pal, Palette) and pal.hex == ("#000000", "#ffffff")
    assert resolved("#102030,#405060").hex == ("#102030", "#405060")  # type: ignore[union-attr]
    assert resolved(str(FIXTURES / "tiny.gpl")).name == "Tiny Three"  # type: ignore[union-attr]
    assert resolved(FIXTURES / "tiny.tres").hex[1] == "#ef7d57"  # type: ignore[union-attr]
    assert hash(api.GenerateRequest(palette="db16")) == hash(api.GenerateRequest(palette="db16"))
    # building a request reads no file and rewrites no field: the spec is kept as given
    later = tmp_path / "later.gpl"
    req = api.GenerateRequest(palette=str(later))
    assert req.palette == str(later)
    later.write_text((FIXTURES / "tiny.gpl").read_text())
    assert resolved(str(later)).name == "Tiny Three"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"palette": "db64"}, "palette", "built-in palettes: pico-8, db16, db32"),
        ({"palette": ["#12345"]}, "palette", "palette[0]"),
        ({"palette": [(1, 2, 300)]}, "palette", "0..255"),
        ({"palette": []}, "palette", "1 to 256 colours"),
        ({"palette": 7}, "palette", "built-in name"),
        ({"dither": "bayer4"}, "dither", "needs a palette"),
        ({"palette": "db16", "dither": "bayer8"}, "dither", "none, bayer2, bayer4"),
    ],
)
def test_bad_palette_options_name_the_field(kwargs: dict, field: str, words: str) -> None:
    for make in (
        lambda: api.GenerateRequest(**kwargs),
        lambda: api.GridRequest(None, (1, 2, 3, 4), **kwargs),
        lambda: api.InterpolateRequest(None, 1, 2, **kwargs),
        lambda: api.VariationsRequest(None, b"png", **kwargs),
    ):
        with pytest.raises(InvalidRequest) as info:
            make()
        assert info.value.field == field and words in info.value.message


def test_palette_files_are_read_when_the_request_runs(registry: Registry) -> None:
    with pytest.raises(InvalidRequest) as missing:
        api.handle(api.GenerateRequest("tiny", 1, 0, palette="missing/colours.gpl"), registry=registry)
    assert missing.value.field == "palette" and "no palette file" in missing.value.message
    with pytest.raises(PaletteError) as info:
        api.generate("tiny", 1, 0, palette=str(FIXTURES / "bad_value.gpl"), registry=registry)
    assert info.value.field == "palette" and info.value.line == 5 and "line 5" in info.value.message


def test_palette_request_validation() -> None:
    for kwargs, field in (
        ({"colors": 0}, "colors"),
        ({"colors": 257}, "colors"),
        ({"method": "octree"}, "method"),
        ({"format": "aco"}, "format"),
        ({"count": 0}, "count"),
        ({"name": ""}, "name"),
        ({"sprites": [b"x"], "model": "tiny"}, "model"),
        ({"sprites": []}, "sprites"),
    ):
        with pytest.raises(InvalidRequest) as info:
            api.PaletteRequest(**kwargs)
        assert info.value.field == field, kwargs
    assert api.PaletteRequest(format=".TRES").file_format == "tres"


# ---------------------------------------------------------------------------------------------- operations
def test_every_sprite_operation_applies_the_palette(registry: Registry) -> None:
    db16 = BUILTIN["db16"]
    plain = api.generate("tiny", 8, seed=3, registry=registry)
    res = api.generate("tiny", 8, seed=3, palette="db16", registry=registry)
    assert _colours(res.sprites) <= _allowed(db16)
    assert np.array_equal(res.sprites[..., 3], plain.sprites[..., 3])  # silhouettes unchanged
    again = api.generate("tiny", 8, seed=3, palette="db16", dither="bayer4", registry=registry)
    assert np.array_equal(
        again.sprites, api.generate("tiny", 8, seed=3, palette="db16", dither="bayer4", registry=registry).sprites
    )
    assert _colours(again.sprites) <= _allowed(db16)
    image = plain.sprites[0]
    for result in (
        api.variations("tiny", image, 3, seed=1, palette=db16, registry=registry),
        api.interpolate("tiny", 1, 2, count=3, palette="db16", dither="bayer2", registry=registry),
        api.grid("tiny", [1, 2, 3, 4], 2, 2, palette=["#140c1c", "#deeed6"], registry=registry),
        api.decode("tiny", np.zeros((2, 4, 2, 2), np.float32), palette="db16", registry=registry),
    ):
        allowed = _allowed(db16) if result.op != "grid" else {(20, 12, 28), (222, 238, 214)}
        assert _colours(result.sprites) <= allowed, result.op
    via_handle = api.handle(api.GenerateRequest("tiny", 8, 3, palette="db16"), registry=registry)
    assert np.array_equal(via_handle.sprites, res.sprites)  # type: ignore[union-attr]


def test_palette_op_from_model_samples(registry: Registry) -> None:
    res = api.palette("tiny", 16, seed=0, colors=4, format="hex", registry=registry)
    assert res.op == "palette" and res.model == "tiny" and res.base_seed == 0 and res.sample_count == 16
    assert 1 <= len(res.palette) <= 4 and res.colors.dtype == np.uint8
    assert res.file.decode().split() == [h[1:] for h in res.palette.hex]
    swatch = decode_image(res.swatch_png)
    assert swatch.shape == (8, 8 * len(res.palette), 4)
    samples = api.generate("tiny", 16, seed=0, registry=registry).sprites
    assert res.palette.hex == api.palette(sprites=list(samples), colors=4, format="hex", registry=registry).palette.hex
    summary = res.summary()
    assert summary["colors"] == list(res.palette.hex) and summary["format"] == "hex"
    same = api.handle(api.PaletteRequest("tiny", 16, 0, colors=4, format="hex"), registry=registry)
    assert same.palette == res.palette  # type: ignore[union-attr]


def test_palette_op_from_given_sprites(tmp_path: Path) -> None:
    art = np.zeros((4, 6, 4), np.uint8)
    art[:2, :, :] = (200, 30, 30, 255)
    art[2:, :3, :] = (30, 30, 200, 255)
    path = write_png(tmp_path / "art.png", art)
    res = api.palette(sprites=[path, art[:2]], colors=8, format="tres", name="mine")
    assert res.palette.hex == ("#c81e1e", "#1e1ec8") and res.model is None and res.base_seed is None
    assert res.palette.name == "mine" and res.file.startswith(b'[gd_resource type="ColorPalette"')


# ---------------------------------------------------------------------------------------------------- CLI
def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_palettes_list_show_convert(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "palettes")
    assert code == 0 and out.splitlines()[0].startswith("NAME") and len(out.splitlines()) == 1 + len(BUILTIN)
    code, out, _ = run(capsys, "palettes", "--json")
    assert [p["name"] for p in json.loads(out)["palettes"]] == list(BUILTIN)
    code, out, _ = run(capsys, "palettes", "sweetie16")
    assert code == 0 and "#1a1c2c" in out
    code, out, _ = run(capsys, "palettes", str(FIXTURES / "tiny.pal"), "-o", str(tmp_path / "tiny.tres"))
    assert code == 0 and read_palette(tmp_path / "tiny.tres").hex == ("#1a1c2c", "#ef7d57", "#f4f4f4")
    code, _, err = run(capsys, "palettes", "nope")
    assert code == 2 and "built-in palettes" in err


def test_cli_palette_from_model_and_sprites(
    capsys: pytest.CaptureFixture[str], models_dir: Path, tmp_path: Path
) -> None:
    out_path = tmp_path / "pal.gpl"
    code, out, err = run(
        capsys,
        "--models-dir",
        str(models_dir),
        "palette",
        "propose",
        "--model",
        "tiny",
        "-n",
        "8",
        "--seed",
        "0",
        "--colors",
        "4",
        "-o",
        str(out_path),
        "--swatch",
        str(tmp_path / "sw.png"),
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["path"] == str(out_path) and doc["format"] == "gpl" and doc["samples"] == 8
    assert list(read_palette(out_path).hex) == doc["colors"] and (tmp_path / "sw.png").exists()
    sprite = np.zeros((2, 2, 4), np.uint8)
    sprite[0] = (255, 0, 0, 255)
    write_png(tmp_path / "a.png", sprite)
    code, out, err = run(capsys, "palette", "extract", str(tmp_path / "a.png"), "-o", str(tmp_path / "a.hex"))
    assert code == 0, err
    assert (tmp_path / "a.hex").read_text() == "ff0000\n"
    code, _, err = run(capsys, "palette", "extract", str(tmp_path / "a.png"), "-o", str(tmp_path / "a.aco"))
    assert code == 2 and "unknown palette format .aco" in err


def test_cli_palette_list_show_convert_apply(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "palette", "list")
    assert code == 0 and out.splitlines()[0].startswith("NAME") and len(out.splitlines()) == 1 + len(BUILTIN)
    code, out, _ = run(capsys, "palette", "list", "--json")
    assert [p["name"] for p in json.loads(out)["palettes"]] == list(BUILTIN)
    code, out, _ = run(capsys, "palette", "show", "db32", "--json")
    assert code == 0 and json.loads(out)["size"] == 32
    code, out, err = run(capsys, "palette", "convert", str(FIXTURES / "tiny.gpl"), str(tmp_path / "t.hex"))
    assert code == 0, err
    assert (tmp_path / "t.hex").read_text() == "1a1c2c\nef7d57\nf4f4f4\n"
    sprite = np.zeros((3, 4, 4), np.uint8)
    sprite[1, 1:3] = (250, 250, 250, 255)
    sprite[1, 0] = (30, 20, 40, 100)  # below the threshold: transparent
    write_png(tmp_path / "s.png", sprite)
    code, out, err = run(
        capsys,
        "palette",
        "apply",
        str(tmp_path / "s.png"),
        "--palette",
        str(FIXTURES / "tiny.gpl"),
        "--outline",
        "darkest",
    )
    assert code == 0, err
    doc = json.loads(out)
    img = decode_image(Path(doc["path"]).read_bytes())
    assert doc["path"].endswith("s-Tiny Three.png") and doc["colors"] == 2
    assert img[1, 1].tolist() == [244, 244, 244, 255] and img[1, 0].tolist() == [26, 28, 44, 255]
    assert np.array_equal(img, api.apply(tmp_path / "s.png", str(FIXTURES / "tiny.gpl"), outline="darkest"))
    code, _, err = run(capsys, "palette", "apply", str(tmp_path / "s.png"))
    assert code == 2 and "--palette" in err
    code, _, err = run(capsys, "palette", "apply", str(tmp_path / "s.png"), "--palette", "db16", "--outline", "x")
    assert code == 2 and "outline" in err


def test_cli_generate_with_palette_and_dither(
    capsys: pytest.CaptureFixture[str], models_dir: Path, tmp_path: Path
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
        "4",
        "--seed",
        "1",
        "--palette",
        "gameboy",
        "--dither",
        "bayer2",
        "-o",
        str(sheet),
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["palette"] == "gameboy" and doc["dither"] == "bayer2"
    img = decode_image(sheet.read_bytes())
    assert _colours(img) <= _allowed(BUILTIN["gameboy-dmg"])
    code, _, err = run(
        capsys,
        "--models-dir",
        str(models_dir),
        "grid",
        "seed:1",
        "seed:2",
        "seed:3",
        "seed:4",
        "--model",
        "tiny",
        "--palette",
        "#000000,#ffffff",
        "-o",
        str(tmp_path / "grid.png"),
    )
    assert code == 0, err
    code, _, err = run(
        capsys,
        "--models-dir",
        str(models_dir),
        "generate",
        "--model",
        "tiny",
        "--dither",
        "bayer4",
        "-o",
        str(tmp_path / "x.png"),
    )
    assert code == 2 and "needs a palette" in err
