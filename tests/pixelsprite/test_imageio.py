"""Array <-> tensor conversion, image reading in every mode, atomic PNG writing, sheets."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixelsprite.errors import ImageError
from pixelsprite.imageio import (
    compose_sheet,
    decode_image,
    encode_png,
    from_model,
    read_image,
    to_model,
    upscale,
    write_png,
)


def test_to_model_and_back() -> None:
    rgba = np.array([[[[0, 51, 255, 0], [255, 255, 255, 255]]]], np.uint8)  # (1, 1, 2, 4)
    x = to_model(rgba, (-1.0, 1.0))
    assert x.shape == (1, 4, 1, 2) and x.dtype == np.float32 and x.flags.c_contiguous
    np.testing.assert_allclose(x[0, :, 0, 0], [-1.0, -0.6, 1.0, -1.0], atol=1e-6)
    np.testing.assert_array_equal(from_model(x, (-1.0, 1.0)), rgba)
    np.testing.assert_array_equal(from_model(to_model(rgba, (0.0, 1.0)), (0.0, 1.0)), rgba)
    np.testing.assert_array_equal(from_model(np.full((1, 4, 1, 1), 3.0), (-1.0, 1.0))[0, 0, 0], [255] * 4)


def _png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def test_read_modes_give_hard_alpha() -> None:
    rgba = Image.new("RGBA", (2, 1))
    rgba.putdata([(10, 20, 30, 200), (40, 50, 60, 100)])
    np.testing.assert_array_equal(decode_image(_png(rgba))[0], [[10, 20, 30, 255], [0, 0, 0, 0]])

    rgb = Image.new("RGB", (1, 1), (1, 2, 3))
    np.testing.assert_array_equal(decode_image(_png(rgb))[0, 0], [1, 2, 3, 255])

    gray = Image.new("L", (1, 1), 77)
    np.testing.assert_array_equal(decode_image(_png(gray))[0, 0], [77, 77, 77, 255])

    la = Image.new("LA", (2, 1))
    la.putdata([(5, 255), (6, 3)])
    np.testing.assert_array_equal(decode_image(_png(la))[0], [[5, 5, 5, 255], [0, 0, 0, 0]])

    pal = Image.new("P", (2, 1))
    pal.putpalette([0, 0, 0, 200, 100, 50] + [0] * 762)
    pal.putdata([0, 1])
    pal.info["transparency"] = 0
    np.testing.assert_array_equal(decode_image(_png(pal))[0], [[0, 0, 0, 0], [200, 100, 50, 255]])


def test_read_file_and_size_check(tmp_path: Path) -> None:
    p = tmp_path / "s.png"
    write_png(p, np.full((4, 6, 4), 255, np.uint8))
    assert read_image(p, size=(6, 4)).shape == (4, 6, 4)
    with pytest.raises(ImageError) as e:
        read_image(p, size=(8, 8))
    assert e.value.message == f"{p} is 6x4 pixels, expected 8x8"
    assert e.value.code == "invalid_image"


def test_not_an_image(tmp_path: Path) -> None:
    p = tmp_path / "notes.png"
    p.write_text("hello")
    with pytest.raises(ImageError, match=rf"{p} is not a readable image"):
        read_image(p)
    with pytest.raises(ImageError, match="cannot read file"):
        read_image(tmp_path / "missing.png")
    with pytest.raises(ImageError, match="field-x is not a readable image"):
        read_image(b"\x89PNG broken", name="field-x")


def test_write_png_is_atomic_and_round_trips(tmp_path: Path) -> None:
    rgba = np.random.default_rng(0).integers(0, 256, (5, 3, 4), dtype=np.uint8)
    p = write_png(tmp_path / "a.png", rgba)
    assert [q.name for q in tmp_path.iterdir()] == ["a.png"]
    with Image.open(p) as im:
        assert im.mode == "RGBA"
        np.testing.assert_array_equal(np.asarray(im), rgba)
    write_png(p, rgba[::-1])  # overwrite in place
    assert [q.name for q in tmp_path.iterdir()] == ["a.png"]
    assert encode_png(rgba).startswith(b"\x89PNG")


def test_upscale() -> None:
    s = np.arange(2 * 2 * 4, dtype=np.uint8).reshape(2, 2, 4)
    up = upscale(s, 3)
    assert up.shape == (6, 6, 4)
    np.testing.assert_array_equal(up[::3, ::3], s)
    np.testing.assert_array_equal(up[2, 5], s[0, 1])
    assert upscale(s[None], 2).shape == (1, 4, 4, 4)


def test_compose_sheet_layout() -> None:
    sprites = np.zeros((5, 2, 3, 4), np.uint8)
    for i in range(5):
        sprites[i] = (i + 1) * 10
    sheet = compose_sheet(sprites)  # 3 columns, 2 rows, 1-px gutter
    assert sheet.shape == (2 * 3 - 1, 3 * 4 - 1, 4)
    np.testing.assert_array_equal(sheet[0, 0], [10] * 4)
    np.testing.assert_array_equal(sheet[0, 4], [20] * 4)
    np.testing.assert_array_equal(sheet[3, 4], [50] * 4)
    assert (sheet[2] == 0).all() and (sheet[:, 3] == 0).all()  # gutters are transparent
    assert (sheet[3:, 8:] == 0).all()  # the unused cell
    assert compose_sheet(sprites, columns=5, gutter=0).shape == (2, 15, 4)
    assert compose_sheet(sprites, columns=1, scale=2).shape == ((5 * 3 - 1) * 2, 6, 4)
