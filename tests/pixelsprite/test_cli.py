"""The CLI end to end through ``main([...])``: exit codes, PNGs written, JSON summaries, clean errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixelsprite.cli import main
from pixelsprite.imageio import write_png

SIZE = 8  # the tiny bundle of conftest.py


def run(capsys: pytest.CaptureFixture[str], models_dir: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--models-dir", str(models_dir), "--no-builtin-models", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _size(path: Path) -> tuple[int, int]:
    with Image.open(path) as im:
        assert im.mode == "RGBA"
        return im.size


def test_models_json_and_table(capsys: pytest.CaptureFixture[str], models_dir: Path) -> None:
    code, out, _ = run(capsys, models_dir, "models", "--json")
    assert code == 0
    doc = json.loads(out)
    assert [m["name"] for m in doc["models"]] == ["tiny", "tiny-dec", "tiny-gmm"]
    assert doc["models"][0]["size"] == [SIZE, SIZE] and doc["models"][0]["labels"] == ["a", "b"]
    code, out, _ = run(capsys, models_dir, "models")
    assert code == 0 and out.splitlines()[0].startswith("NAME") and "tiny *" in out


def test_generate_sheet(capsys: pytest.CaptureFixture[str], models_dir: Path, tmp_path: Path) -> None:
    out_png = tmp_path / "sheet.png"
    code, out, err = run(capsys, models_dir, "generate", "-n", "6", "--seed", "7", "-o", str(out_png), "--scale", "2")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["seed_range"] == [7, 12] and summary["base_seed"] == 7 and summary["path"] == str(out_png)
    assert summary["model"] == "tiny" and "seconds" in summary
    assert _size(out_png) == (((SIZE + 1) * 3 - 1) * 2, ((SIZE + 1) * 2 - 1) * 2)  # 3 columns x 2 rows
    assert len(out.strip().splitlines()) == 1


def test_generate_separate_matches_sheet(capsys: pytest.CaptureFixture[str], models_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "sprites"
    code, out, _ = run(
        capsys,
        models_dir,
        "generate",
        "--model",
        "tiny",
        "-n",
        "3",
        "--seed",
        "5",
        "--separate",
        "-o",
        str(folder),
    )
    assert code == 0
    assert json.loads(out)["files"] == ["tiny-5.png", "tiny-6.png", "tiny-7.png"]
    single = tmp_path / "one.png"
    assert run(capsys, models_dir, "generate", "-n", "1", "--seed", "6", "--columns", "1", "-o", str(single))[0] == 0
    with Image.open(folder / "tiny-6.png") as a, Image.open(single) as b:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_variations_interpolate_grid(capsys: pytest.CaptureFixture[str], models_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "src.png"
    write_png(src, np.full((SIZE, SIZE, 4), 200, np.uint8))
    code, out, err = run(
        capsys,
        models_dir,
        "variations",
        str(src),
        "-n",
        "4",
        "--strength",
        "0.5",
        "--seed",
        "1",
        "-o",
        str(tmp_path / "v.png"),
    )
    assert code == 0, err
    assert json.loads(out)["seed_range"] == [1, 4]

    strip = tmp_path / "strip.png"
    code, out, err = run(
        capsys,
        models_dir,
        "interpolate",
        "--seed-a",
        "1",
        "--seed-b",
        "2",
        "--count",
        "5",
        "--method",
        "lerp",
        "-o",
        str(strip),
    )
    assert code == 0, err
    assert _size(strip) == ((SIZE + 1) * 5 - 1, SIZE)  # one row
    code, _, err = run(capsys, models_dir, "interpolate", str(src), "seed:3", "-n", "3", "-o", str(strip))
    assert code == 0, err

    g = tmp_path / "grid.png"
    code, out, err = run(
        capsys,
        models_dir,
        "grid",
        "seed:1",
        "seed:2",
        str(src),
        "seed:4",
        "--rows",
        "2",
        "--cols",
        "3",
        "-o",
        str(g),
    )
    assert code == 0, err
    assert _size(g) == ((SIZE + 1) * 3 - 1, (SIZE + 1) * 2 - 1)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["generate", "-n", "0"], "error: count must be between 1 and 1024, got 0"),
        (["generate", "-n", "2000"], "error: count must be between 1 and 1024, got 2000"),
        (["generate", "--model", "nope"], "error: unknown model 'nope'; available models: tiny, tiny-dec, tiny-gmm"),
        (["generate", "--scale", "0"], "error: scale must be between 1 and 32, got 0"),
        (["interpolate", "--seed-a", "1"], "error: endpoint b is missing"),
        (["interpolate", "--count", "1", "seed:1", "seed:2"], "error: count must be between 2 and 64, got 1"),
        (
            ["interpolate", "--steps", "4", "seed:1", "seed:2"],
            "error: model 'tiny' is a 'vae' model: it has no sampler (steps); the number of frames is 'count'",
        ),
    ],
)
def test_errors_exit_2_without_traceback(
    capsys: pytest.CaptureFixture[str], models_dir: Path, tmp_path: Path, args: list[str], needle: str
) -> None:
    code, out, err = run(capsys, models_dir, *args, "-o", str(tmp_path / "x.png"))
    assert code == 2
    assert err.strip() == needle or err.startswith(needle)
    assert "Traceback" not in err and out == ""
    assert not (tmp_path / "x.png").exists()


def test_image_errors(capsys: pytest.CaptureFixture[str], models_dir: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes.png"
    notes.write_text("hello")
    code, _, err = run(capsys, models_dir, "variations", str(notes), "-o", str(tmp_path / "v.png"))
    assert code == 2 and err.startswith(f"error: {notes} is not a readable image")
    big = write_png(tmp_path / "big.png", np.zeros((32, 32, 4), np.uint8))
    code, _, err = run(capsys, models_dir, "variations", str(big))
    assert code == 2 and err.strip() == f"error: {big} is 32x32 pixels, expected 8x8 for model 'tiny'"


def test_bad_models_dir_and_usage(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["--models-dir", str(tmp_path / "nope"), "models"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["generate", "--count", "many"]) == 2  # argparse usage error
    assert "invalid int value" in capsys.readouterr().err
    assert main(["--help"]) == 0


def test_interpolate_count_is_an_alias_for_frames(
    capsys: pytest.CaptureFixture[str], models_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "strip.png"
    args = ("interpolate", "--seed-a", "1", "--seed-b", "2", "-n", "3", "-o", str(out))
    code, stdout, _ = run(capsys, models_dir, *args)
    assert code == 0 and json.loads(stdout)["count"] == 3
