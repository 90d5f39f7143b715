"""What the sprite commands write (issue 18): the output's extension decides (or is refused), ``-o -`` is stdout, a
sheet comes with its JSON description, animations (GIF, APNG, WebP) and Godot SpriteFrames, write errors name the
user's path, huge input images are refused from their header, and a non-image says so in words.

Each test runs the real entry point: ``pixelsprite.cli.main([...])`` or ``python -m pixelsprite`` in a subprocess.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixelsprite import api
from pixelsprite.cli import main
from pixelsprite.imageio import MAX_INPUT_SIDE, write_png
from pixelsprite.registry import Registry

SIZE = 8  # the tiny bundles of conftest.py
REPO = Path(__file__).resolve().parents[2]


def run(capsys: pytest.CaptureFixture[str], models_dir: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--models-dir", str(models_dir), "--no-builtin-models", *args])
    out, err = capsys.readouterr()
    return code, out, err


def python_m(
    models_dir: Path, *args: str, env: dict[str, str] | None = None, cwd: Path = REPO, timeout: float = 60
) -> subprocess.CompletedProcess[bytes]:
    base = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-m", "pixelsprite", "--models-dir", str(models_dir), "--no-builtin-models", *args],
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        timeout=timeout,
    )


# ------------------------------------------------------------------------------------------ -o names the kind
@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("sprite.jpg", "ends in .jpg"),
        ("noext", "has no extension"),
        ("sheet.PNG.bak", "ends in .bak"),
    ],
)
def test_an_output_name_pixelsprite_cannot_write_is_refused_before_any_work(
    capsys: pytest.CaptureFixture[str], models_dir: Path, tmp_path: Path, name: str, words: str
) -> None:
    code, out, err = run(capsys, models_dir, "generate", "-n", "2", "--seed", "1", "-o", str(tmp_path / name))
    assert code == 2 and out == ""
    assert err.startswith(f"error: output {words}") and ".png (a sheet)" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # nothing written under that name, nothing else either


def test_format_and_extension_must_agree(capsys: pytest.CaptureFixture[str], models_dir: Path, tmp_path: Path) -> None:
    code, _, err = run(capsys, models_dir, "generate", "-n", "2", "--format", "gif", "-o", str(tmp_path / "a.png"))
    assert code == 2 and "does not end in .gif, the extension of --format gif" in err
    code, _, err = run(
        capsys, models_dir, "generate", "-n", "2", "--separate", "--format", "gif", "-o", str(tmp_path / "d")
    )
    assert code == 2 and "--separate writes one PNG per sprite" in err
    code, _, err = run(
        capsys,
        models_dir,
        "palette",
        "apply",
        str(_sprite_png(tmp_path)),
        "--palette",
        "db32",
        "-o",
        str(tmp_path / "mapped.jpg"),
    )
    assert code == 2 and "does not end in .png: palette apply writes a PNG" in err
    assert not (tmp_path / "a.png").exists() and not (tmp_path / "mapped.jpg").exists()


def _sprite_png(tmp_path: Path) -> Path:
    rgba = np.zeros((SIZE, SIZE, 4), np.uint8)
    rgba[2:6, 2:6] = (200, 40, 40, 255)
    return write_png(tmp_path / "src.png", rgba)


def test_dash_writes_the_png_to_stdout_and_the_summary_to_stderr(models_dir: Path, tmp_path: Path) -> None:
    proc = python_m(models_dir, "generate", "-n", "4", "--seed", "3", "-o", "-", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert list(tmp_path.iterdir()) == []  # no file called '-'
    with Image.open(io.BytesIO(proc.stdout)) as im:
        assert im.format == "PNG" and im.mode == "RGBA" and im.size == ((SIZE + 1) * 2 - 1, (SIZE + 1) * 2 - 1)
    summary = json.loads(proc.stderr.decode().strip().splitlines()[-1])
    assert summary["path"] == "-" and summary["seed_range"] == [3, 6]
    # the same image as a file
    proc2 = python_m(models_dir, "generate", "-n", "4", "--seed", "3", "-o", str(tmp_path / "s.png"))
    assert proc2.returncode == 0 and (tmp_path / "s.png").read_bytes() == proc.stdout
    # palette apply and animations too
    proc3 = python_m(models_dir, "palette", "apply", str(_sprite_png(tmp_path)), "--palette", "db32", "-o", "-")
    assert proc3.returncode == 0 and proc3.stdout.startswith(b"\x89PNG")
    proc4 = python_m(models_dir, "interpolate", "seed:1", "seed:2", "-n", "3", "--format", "gif", "-o", "-")
    assert proc4.returncode == 0 and proc4.stdout.startswith(b"GIF89a")


def test_a_write_error_names_the_users_path_not_the_temp_file(
    capsys: pytest.CaptureFixture[str], models_dir: Path, tmp_path: Path
) -> None:
    """A folder where the file should go, so ``os.replace`` fails whoever runs it (root too); the message named
    ``.o.png.c85f443cf0c0.tmp`` before."""
    (tmp_path / "o.png").mkdir()
    code, _, err = run(capsys, models_dir, "generate", "-n", "2", "-o", str(tmp_path / "o.png"))
    assert code == 1 and err.strip() == f"error: Is a directory: {tmp_path / 'o.png'}", err
    assert ".tmp" not in err and [p.name for p in tmp_path.iterdir()] == ["o.png"]  # the temp file is gone


# ------------------------------------------------------------------------------------------- sheet description
def test_generate_writes_the_sheet_description_next_to_the_sheet(
    capsys: pytest.CaptureFixture[str], models_dir: Path, tmp_path: Path
) -> None:
    sheet = tmp_path / "sheet.png"
    code, out, err = run(capsys, models_dir, "generate", "-n", "5", "--seed", "7", "--scale", "2", "-o", str(sheet))
    assert code == 0, err
    summary = json.loads(out)
    assert summary["description"] == str(tmp_path / "sheet.json")
    doc = json.loads((tmp_path / "sheet.json").read_text())
    with Image.open(sheet) as im:
        size = im.size
        pixels = np.asarray(im)
    assert doc["meta"]["image"] == "sheet.png" and doc["meta"]["scale"] == "2"
    assert (doc["meta"]["size"]["w"], doc["meta"]["size"]["h"]) == size
    assert [f["filename"] for f in doc["frames"]] == [f"tiny-{s}" for s in range(7, 12)]
    # every frame rectangle holds exactly that sprite, upscaled 2x (3 columns: cells at 0, 18, 36)
    sprites = api.generate("tiny", 5, 7, registry=Registry([models_dir], builtin=False, env=False)).sprites
    for f, sprite in zip(doc["frames"], sprites, strict=True):
        r = f["frame"]
        assert (r["w"], r["h"]) == (2 * SIZE, 2 * SIZE) and r["x"] % 18 == 0 and r["y"] % 18 == 0
        cell = pixels[r["y"] : r["y"] + r["h"], r["x"] : r["x"] + r["w"]]
        np.testing.assert_array_equal(cell, np.repeat(np.repeat(sprite, 2, 0), 2, 1))


def test_the_watch_folder_and_the_cli_describe_sheets_with_one_function() -> None:
    import pixelsprite.cli as cli
    import pixelsprite_bridge.watcher as watcher
    from pixelsprite.imageio import sheet_description

    assert watcher.sheet_description is sheet_description and cli.sheet_description is sheet_description
    assert not hasattr(watcher, "_sheet_description")


# ---------------------------------------------------------------------------------------------- animations
@pytest.mark.parametrize(
    ("fmt", "name", "pil_format"),
    [("gif", "a.gif", "GIF"), ("apng", "a.png", "PNG"), ("apng", "a.apng", "PNG"), ("webp", "a.webp", "WEBP")],
)
def test_interpolation_as_an_animation(
    capsys: pytest.CaptureFixture[str], models_dir: Path, tmp_path: Path, fmt: str, name: str, pil_format: str
) -> None:
    out_file = tmp_path / name
    args = ["interpolate", "seed:1", "seed:2", "-n", "5", "--scale", "3", "--duration", "80", "-o", str(out_file)]
    if name == "a.png":
        args += ["--format", "apng"]
    code, out, err = run(capsys, models_dir, *args)
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["format"], summary["frames"], summary["frame_size"]) == (fmt, 5, [3 * SIZE, 3 * SIZE])
    want = api.interpolate("tiny", 1, 2, count=5, registry=Registry([models_dir], builtin=False, env=False)).sprites
    with Image.open(out_file) as im:
        assert im.format == pil_format and im.n_frames == 5 and im.size == (3 * SIZE, 3 * SIZE)
        assert im.info.get("loop", 0) == 0  # plays forever
        for i in range(5):
            im.seek(i)
            if fmt != "webp":  # Pillow reports WebP durations per frame only after decoding
                assert im.info["duration"] == 80
            frame = np.asarray(im.convert("RGBA"))
            np.testing.assert_array_equal(frame, np.repeat(np.repeat(want[i], 3, 0), 3, 1))


def test_variations_as_a_gif_that_plays_twice(
    capsys: pytest.CaptureFixture[str], models_dir: Path, tmp_path: Path
) -> None:
    code, out, err = run(
        capsys,
        models_dir,
        "variations",
        str(_sprite_png(tmp_path)),
        "-n",
        "4",
        "--seed",
        "2",
        "--loop",
        "2",
        "-o",
        str(tmp_path / "v.gif"),
    )
    assert code == 0, err
    with Image.open(tmp_path / "v.gif") as im:
        assert im.n_frames == 4 and im.info["loop"] == 1  # GIF counts repeats after the first play
    code, _, err = run(
        capsys, models_dir, "variations", str(_sprite_png(tmp_path)), "--duration", "5", "-o", str(tmp_path / "w.gif")
    )
    assert code == 2 and "duration must be between 10 and 60000 ms, got 5" in err


def test_godot_sprite_frames_from_the_cli(capsys: pytest.CaptureFixture[str], models_dir: Path, tmp_path: Path) -> None:
    tres = tmp_path / "walk.tres"
    code, out, err = run(
        capsys,
        models_dir,
        "interpolate",
        "seed:1",
        "seed:2",
        "-n",
        "4",
        "--scale",
        "2",
        "--duration",
        "125",
        "-o",
        str(tres),
    )
    assert code == 0, err
    summary = json.loads(out)
    assert summary["path"] == str(tres) and summary["sheet"] == str(tmp_path / "walk.png")
    text = tres.read_text()
    assert text.startswith('[gd_resource type="SpriteFrames" load_steps=6 format=3]')
    assert '[ext_resource type="Texture2D" path="walk.png" id="1_sheet"]' in text
    regions = [tuple(map(int, r.split(", "))) for r in __import__("re").findall(r"region = Rect2\((.*?)\)", text)]
    assert regions == [(0, 0, 16, 16), (18, 0, 16, 16), (36, 0, 16, 16), (54, 0, 16, 16)]  # a strip, gutter 1x2
    assert '"speed": 8.0' in text and '"loop": true' in text
    assert (tmp_path / "walk.png.import").read_text().count("process/fix_alpha_border=false") == 1
    with Image.open(tmp_path / "walk.png") as im:
        assert im.size == (70, 16)


# --------------------------------------------------------------------------------------------- input caps
def _huge_png(path: Path, side: int = 12000) -> Path:
    """A valid side x side RGBA PNG, written without holding the pixels (rows of zeros compress to almost nothing)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    raw = zlib.compressobj(9)
    row = b"\x00" * (1 + 4 * side)
    body = b"".join(raw.compress(row) for _ in range(side)) + raw.flush()
    header = side.to_bytes(4, "big") * 2 + bytes([8, 6, 0, 0, 0])
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize(
    "args",
    [
        ["variations", "{big}"],
        ["score", "{big}"],  # score and similar use the shipped teacher
        ["palette", "extract", "{big}", "-o", "{tmp}/p.gpl"],
        ["palette", "apply", "{big}", "--palette", "db32", "-o", "{tmp}/a.png"],
        ["similar", "{big}", "{small16}"],
        ["similar", "{small16}", "{big}"],
        ["interpolate", "{big}", "seed:1"],
    ],
)
def test_a_huge_image_is_refused_from_its_header_on_every_command(
    capsys: pytest.CaptureFixture[str], models_dir: Path, tmp_path: Path, args: list[str]
) -> None:
    big = _huge_png(tmp_path / "big.png")
    small16 = write_png(tmp_path / "s16.png", np.full((16, 16, 4), 255, np.uint8))
    argv = [a.format(big=big, small16=small16, tmp=tmp_path) for a in args]
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Pillow's DecompressionBombWarning would fail the test
        if argv[0] in ("score", "similar"):
            code = main(argv)
            out, err = capsys.readouterr()
        else:
            code, out, err = run(capsys, models_dir, *argv)
    elapsed = time.perf_counter() - t0
    assert code == 2 and out == "" and "Traceback" not in err, err
    assert f"{big} is 12000x12000 pixels" in err
    assert elapsed < 2.0, f"{elapsed:.1f} s: the image was decoded"  # decoding it took 20-28 s before
    assert not (tmp_path / "a.png").exists() and not (tmp_path / "p.gpl").exists()


def test_the_cap_lets_a_big_sheet_through(capsys: pytest.CaptureFixture[str], models_dir: Path, tmp_path: Path) -> None:
    sheet = np.zeros((MAX_INPUT_SIDE, 64, 4), np.uint8)
    sheet[::7, ::3] = (10, 200, 30, 255)
    write_png(tmp_path / "tall.png", sheet)
    code, out, err = run(
        capsys, models_dir, "palette", "extract", str(tmp_path / "tall.png"), "-o", str(tmp_path / "p.hex")
    )
    assert code == 0, err and json.loads(out)["colors"] == ["#0ac81e"]


def test_a_sheet_over_the_output_limit_is_refused_before_it_is_made(
    capsys: pytest.CaptureFixture[str], models_dir: Path, tmp_path: Path
) -> None:
    code, _, err = run(capsys, models_dir, "generate", "-n", "1024", "--scale", "32", "-o", str(tmp_path / "s.png"))
    assert code == 2 and "the sheet would be 9184x9184 pixels; the limit is 16384 on a side and 64 megapixels" in err
    assert not (tmp_path / "s.png").exists()


def test_a_text_file_given_as_a_sprite_is_named_in_words(
    capsys: pytest.CaptureFixture[str], models_dir: Path, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.png"
    notes.write_text("these are not pixels")
    for argv in (
        ["variations", str(notes)],
        ["score", str(notes)],
        ["palette", "apply", str(notes), "--palette", "db32"],
    ):
        if argv[0] == "score":  # the shipped teacher
            code, err = main(argv), capsys.readouterr().err
        else:
            code, _, err = run(capsys, models_dir, *argv)
        assert code == 2
        assert (
            err.strip() == f"error: {notes} is not a readable image (not a PNG, nor another image format Pillow reads)"
        ), err
        assert "BytesIO" not in err and "object at 0x" not in err
