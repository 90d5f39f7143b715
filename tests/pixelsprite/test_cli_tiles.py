"""Tiles on the command line (issue 19): ``pixelsprite models`` says which models tile, ``--tiled-preview`` on
generate / variations / inpaint writes ``<output>.tiled.png`` (each tile beside its 3x3 repeat) next to an output
that stays the plain tiles, and refuses, naming the flag, a model that does not tile or an output on stdout.

The models are the tiny ``pixel`` bundles of ``pixel_bundles.py``: ``ttile`` (8x8, tiling) and ``tpixel`` (not).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pixelsprite import api
from pixelsprite.cli import main
from pixelsprite.imageio import compose_tiled_preview, read_image, tile_pairs, tiled_preview_shape, write_png
from pixelsprite.registry import Registry

from .pixel_bundles import SIZE, write_pixel_model

CELL = 3 * SIZE  # one cell of the preview: a tile centred on a 3x3-tile canvas, or its 3x3 repeat


@pytest.fixture(scope="module")
def tiles_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tile-models")
    write_pixel_model(root, "ttile", tiling=True)
    write_pixel_model(root, "tpixel")
    return root


@pytest.fixture(scope="module")
def reg(tiles_dir: Path) -> Registry:
    return Registry([tiles_dir], builtin=False, env=False)


def run(capsys: pytest.CaptureFixture[str], models_dir: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--models-dir", str(models_dir), "--no-builtin-models", *args])
    out, err = capsys.readouterr()
    return code, out, err


def cells(preview: np.ndarray, n: int, columns: int) -> np.ndarray:
    """The preview's 2n cells (tile, repeat, tile, repeat, ...) cut out at gutter 1, scale 1."""
    out = []
    for i in range(2 * n):
        r, c = divmod(i, 2 * columns)
        y, x = r * (CELL + 1), c * (CELL + 1)
        out.append(preview[y : y + CELL, x : x + CELL])
    return np.stack(out)


# ------------------------------------------------------------------------------------------- the sheet itself
def test_each_tile_sits_beside_its_3x3_repeat() -> None:
    rng = np.random.default_rng(0)
    tiles = rng.integers(0, 256, (3, 4, 5, 4), dtype=np.uint8)
    pairs = tile_pairs(tiles)
    assert pairs.shape == (6, 12, 15, 4)
    for k in range(3):
        alone, repeat = pairs[2 * k], pairs[2 * k + 1]
        assert (alone[4:8, 5:10] == tiles[k]).all() and alone.sum() == tiles[k].sum()  # centred, nothing else
        for i in range(3):
            for j in range(3):
                assert (repeat[4 * i : 4 * i + 4, 5 * j : 5 * j + 5] == tiles[k]).all()
    sheet = compose_tiled_preview(tiles, columns=2, scale=2)
    # 2 tiles (4 cells) per row, 2 rows, a 1-px gutter, then doubled
    assert sheet.shape == (((12 + 1) * 2 - 1) * 2, ((15 + 1) * 4 - 1) * 2, 4)
    assert tiled_preview_shape(3, 4, 5, columns=2, scale=2) == (2, sheet.shape[0], sheet.shape[1])
    assert tiled_preview_shape(5, 4, 5)[0] == 3  # square-ish by default: ceil(sqrt(5)) tiles per row


# ------------------------------------------------------------------------------------------------ models
def test_models_say_which_tile(capsys: pytest.CaptureFixture[str], tiles_dir: Path) -> None:
    code, out, _ = run(capsys, tiles_dir, "models", "--json")
    assert code == 0
    assert {m["name"]: m["tiling"] for m in json.loads(out)["models"]} == {"tpixel": False, "ttile": True}
    code, out, _ = run(capsys, tiles_dir, "models")
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:4] == ["NAME", "FAMILY", "SIZE", "TILES"]
    row = {line.split()[0]: line.replace(" *", "").split() for line in lines[1:]}  # " *": the default model
    assert row["ttile"][3] == "yes" and row["tpixel"][3] == "-"


# ------------------------------------------------------------------------------------------ --tiled-preview
def test_generate_writes_the_preview_beside_the_plain_sheet(
    capsys: pytest.CaptureFixture[str], tiles_dir: Path, reg: Registry, tmp_path: Path
) -> None:
    plain = tmp_path / "plain" / "floor.png"
    code, _, err = run(capsys, tiles_dir, "generate", "-m", "ttile", "--label", "a", "-n", "3", "--seed", "4",
                       "-o", str(plain))  # fmt: skip
    assert code == 0, err
    out_png = tmp_path / "floor.png"
    code, out, err = run(capsys, tiles_dir, "generate", "-m", "ttile", "--label", "a", "-n", "3", "--seed", "4",
                         "-o", str(out_png), "--tiled-preview")  # fmt: skip
    assert code == 0, err
    summary = json.loads(out)
    preview = tmp_path / "floor.tiled.png"
    assert summary["tiled_preview"] == str(preview) and summary["path"] == str(out_png)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["floor.json", "floor.png", "floor.tiled.png", "plain"]
    # the output is what it is without the flag: the plain tiles and their description, for the engine
    assert out_png.read_bytes() == plain.read_bytes()
    assert (tmp_path / "floor.json").read_text() == plain.with_suffix(".json").read_text().replace("plain/", "")
    tiles = api.generate("ttile", 3, 4, label="a", registry=reg).sprites
    got = read_image(preview)
    assert got.shape == (2 * (CELL + 1) - 1, 4 * (CELL + 1) - 1, 4)  # 2 tiles per row (square-ish), 2 rows
    c = cells(got, 3, 2)
    for k in range(3):
        assert (c[2 * k][SIZE : 2 * SIZE, SIZE : 2 * SIZE] == tiles[k]).all()
        assert (c[2 * k + 1] == np.tile(tiles[k], (3, 3, 1))).all()


def test_columns_and_scale_apply_to_the_preview(
    capsys: pytest.CaptureFixture[str], tiles_dir: Path, reg: Registry, tmp_path: Path
) -> None:
    code, _, err = run(capsys, tiles_dir, "generate", "-m", "ttile", "-n", "2", "--seed", "1", "--columns", "1",
                       "--scale", "3", "-o", str(tmp_path / "w.png"), "--tiled-preview")  # fmt: skip
    assert code == 0, err
    tiles = api.generate("ttile", 2, 1, registry=reg).sprites
    want = compose_tiled_preview(tiles, columns=1, scale=3)
    assert want.shape[:2] == ((2 * (CELL + 1) - 1) * 3, (2 * (CELL + 1) - 1) * 3)
    assert (read_image(tmp_path / "w.tiled.png") == want).all()


def test_animations_and_separate_folders_get_the_preview_beside_them(
    capsys: pytest.CaptureFixture[str], tiles_dir: Path, reg: Registry, tmp_path: Path
) -> None:
    code, out, err = run(capsys, tiles_dir, "generate", "-m", "ttile", "-n", "2", "--seed", "2",
                         "-o", str(tmp_path / "water.gif"), "--tiled-preview")  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["tiled_preview"] == str(tmp_path / "water.tiled.png")
    folder = tmp_path / "tiles"
    code, out, err = run(capsys, tiles_dir, "generate", "-m", "ttile", "-n", "2", "--seed", "2", "--separate",
                         "-o", str(folder), "--tiled-preview")  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["tiled_preview"] == str(tmp_path / "tiles.tiled.png")
    assert sorted(p.name for p in folder.iterdir()) == ["ttile-2.png", "ttile-3.png"]  # only the tiles inside
    tiles = api.generate("ttile", 2, 2, registry=reg).sprites
    assert (read_image(tmp_path / "tiles.tiled.png") == compose_tiled_preview(tiles)).all()
    assert (read_image(tmp_path / "water.tiled.png") == compose_tiled_preview(tiles)).all()


def test_variations_and_inpaint_write_the_preview(
    capsys: pytest.CaptureFixture[str], tiles_dir: Path, reg: Registry, tmp_path: Path
) -> None:
    tile = api.generate("ttile", 1, 9, label="b", registry=reg).sprites[0]
    src = write_png(tmp_path / "tile.png", tile)
    mask = np.zeros((SIZE, SIZE, 4), np.uint8)
    mask[..., 3] = 255
    mask[2:6, 2:6, :3] = 255
    mask_png = write_png(tmp_path / "mask.png", mask)
    code, out, err = run(capsys, tiles_dir, "variations", str(src), "-m", "ttile", "-n", "2", "--strength", "0.5",
                         "--seed", "3", "-o", str(tmp_path / "var.png"), "--tiled-preview")  # fmt: skip
    assert code == 0, err
    want = api.variations("ttile", tile, 2, 0.5, 3, registry=reg).sprites
    assert (read_image(tmp_path / "var.tiled.png") == compose_tiled_preview(want)).all()
    code, out, err = run(capsys, tiles_dir, "inpaint", str(src), str(mask_png), "-m", "ttile", "-n", "2",
                         "--seed", "3", "-o", str(tmp_path / "fix.png"), "--tiled-preview")  # fmt: skip
    assert code == 0, err
    want = api.inpaint("ttile", tile, mask, 2, 3, registry=reg).sprites
    assert (read_image(tmp_path / "fix.tiled.png") == compose_tiled_preview(want)).all()
    assert json.loads(out)["tiled_preview"] == str(tmp_path / "fix.tiled.png")


def test_a_model_that_does_not_tile_is_refused_naming_the_flag(
    capsys: pytest.CaptureFixture[str], tiles_dir: Path, tmp_path: Path
) -> None:
    out_dir = tmp_path / "out"
    code, out, err = run(capsys, tiles_dir, "generate", "-m", "tpixel", "-n", "2", "-o", str(out_dir / "s.png"),
                         "--tiled-preview")  # fmt: skip
    assert code == 2 and out == ""
    assert err.startswith("error: --tiled-preview shows tiles repeated 3x3, and model 'tpixel' (pixel) does not")
    assert "tile models here: ttile" in err and "Traceback" not in err
    assert not out_dir.exists()  # refused before any work: nothing written


def test_a_preview_needs_an_output_file(capsys: pytest.CaptureFixture[str], tiles_dir: Path) -> None:
    code, out, err = run(capsys, tiles_dir, "generate", "-m", "ttile", "-n", "1", "-o", "-", "--tiled-preview")
    assert code == 2 and out == "" and "--tiled-preview writes <output>.tiled.png" in err and "not -o -" in err


def test_a_preview_over_the_size_limit_is_refused_before_any_work(
    capsys: pytest.CaptureFixture[str], tiles_dir: Path, tmp_path: Path
) -> None:
    code, _, err = run(capsys, tiles_dir, "generate", "-m", "ttile", "-n", "400", "--scale", "32",
                       "-o", str(tmp_path / "big.png"), "--tiled-preview")  # fmt: skip
    assert code == 2 and err.startswith("error: the tiled preview would be") and list(tmp_path.iterdir()) == []


def test_only_the_tile_operations_take_the_flag(capsys: pytest.CaptureFixture[str], tiles_dir: Path) -> None:
    code, _, err = run(capsys, tiles_dir, "grid", "1", "2", "3", "4", "-m", "ttile", "--tiled-preview")
    assert code == 2 and "unrecognized arguments: --tiled-preview" in err
