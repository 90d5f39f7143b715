"""Palette files: hand-written fixtures of every format, round trips, and malformed files naming the line/byte."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pixelsprite.errors import PaletteError
from pixelsprite.palettes import (
    BUILTIN,
    FORMATS,
    Palette,
    decode_palette,
    encode_palette,
    format_for_path,
    read_palette,
    swatch,
    write_palette,
)

FIXTURES = Path(__file__).parent / "fixtures" / "palettes"
TINY = [(26, 28, 44), (239, 125, 87), (244, 244, 244)]


@pytest.mark.parametrize(
    "name", ["tiny.gpl", "tiny.hex", "tiny.pal", "tiny.act", "tiny.tres", "tiny_swatch.png", "aseprite_rgba.gpl"]
)
def test_fixture_reads_exact_colours(name: str) -> None:
    pal = read_palette(FIXTURES / name)
    assert pal.colors.tolist() == [list(c) for c in TINY]
    assert pal.hex == ("#1a1c2c", "#ef7d57", "#f4f4f4")


def test_gpl_name_header_and_stem_names() -> None:
    assert read_palette(FIXTURES / "tiny.gpl").name == "Tiny Three"
    assert read_palette(FIXTURES / "tiny.hex").name == "tiny"


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", list(BUILTIN))
def test_round_trip_every_builtin_every_format(fmt: str, name: str) -> None:
    pal = BUILTIN[name]
    back = decode_palette(encode_palette(pal, fmt), fmt, name=name)
    assert np.array_equal(back.colors, pal.colors)


def test_round_trip_through_files(tmp_path: Path) -> None:
    pal = Palette.from_colors("mine", ["#000000", "#ff0000", "#00ff00", "#0000ff", "#ffffff"])
    for fmt in FORMATS:
        path = write_palette(pal, tmp_path / f"mine.{fmt}")
        assert np.array_equal(read_palette(path).colors, pal.colors), fmt


def test_written_bytes_are_what_editors_expect() -> None:
    gb = BUILTIN["gameboy-dmg"]
    assert encode_palette(gb, "hex") == b"0f380f\n306230\n8bac0f\n9bbc0f\n"
    assert encode_palette(gb, "pal") == b"JASC-PAL\r\n0100\r\n4\r\n15 56 15\r\n48 98 48\r\n139 172 15\r\n155 188 15\r\n"
    gpl = encode_palette(gb, "gpl").decode().splitlines()
    assert gpl[0] == "GIMP Palette" and gpl[1] == "Name: gameboy-dmg" and gpl[-1] == "155 188  15\t#9bbc0f"
    act = encode_palette(gb, "act")
    assert len(act) == 772 and act[:6] == bytes([15, 56, 15, 48, 98, 48]) and act[768:] == b"\x00\x04\xff\xff"
    assert encode_palette(gb, "tres").decode() == (
        '[gd_resource type="ColorPalette" format=3]\n\n[resource]\n'
        "colors = PackedColorArray(0.05882353, 0.21960784, 0.05882353, 1, 0.1882353, 0.38431373, 0.1882353, 1, "
        "0.54509807, 0.6745098, 0.05882353, 1, 0.60784316, 0.7372549, 0.05882353, 1)\n"
    )
    strip = decode_palette(encode_palette(gb, "png"), "png")
    assert np.array_equal(strip.colors, gb.colors)


def test_swatch_layout() -> None:
    img = swatch(BUILTIN["gameboy-dmg"], scale=2, columns=3)
    assert img.shape == (4, 6, 4)
    assert img[0, 0].tolist() == [15, 56, 15, 255] and img[3, 0].tolist() == [155, 188, 15, 255]
    assert img[3, 5].tolist() == [0, 0, 0, 0]  # the unused cell is clear


@pytest.mark.parametrize(
    ("name", "where", "words"),
    [
        ("bad_value.gpl", {"line": 5}, "line 5"),
        ("bad_digits.hex", {"line": 2}, "line 2"),
        ("short.pal", {"line": 6}, "announces 3 colours but the file has 2"),
        ("bad_length.act", {"byte": 700}, "768 or 772 bytes"),
        ("bad_count.act", {"byte": 768}, "byte 768"),
        ("bad_number.tres", {"line": 5}, "'half'"),
        ("not_palette.tres", {"line": 1}, 'type="ColorPalette"'),
        ("not_png.png", {"byte": 0}, "not a PNG"),
    ],
)
def test_malformed_files_name_the_line_or_byte(name: str, where: dict[str, int], words: str) -> None:
    with pytest.raises(PaletteError) as info:
        read_palette(FIXTURES / name)
    err = info.value
    assert err.code == "invalid_palette"
    for key, value in where.items():
        assert getattr(err, key) == value
    assert words in err.message and name in err.message


def test_more_malformed_inputs() -> None:
    with pytest.raises(PaletteError, match="line 1: expected 'GIMP Palette'"):
        decode_palette(b"GIMP Pallet\n0 0 0\n", "gpl")
    with pytest.raises(PaletteError, match="line 5: more colours than the 1"):
        decode_palette(b"JASC-PAL\n0100\n1\n0 0 0\n1 1 1\n", "pal")
    with pytest.raises(PaletteError, match="byte 1: not UTF-8"):
        decode_palette(b"0\xff0000\n", "hex")
    with pytest.raises(PaletteError, match="no colours"):
        decode_palette(b"\n\n", "hex")
    with pytest.raises(PaletteError, match="RIFF"):
        decode_palette(b"RIFF\x00\x00\x00\x00PAL data", "pal")
    head = b'[gd_resource type="ColorPalette" format=3]\n[resource]\n'
    with pytest.raises(PaletteError, match="line 3: colour components must be between 0 and 1"):
        decode_palette(head + b"colors = PackedColorArray(2, 0, 0, 1)\n", "tres")
    with pytest.raises(PaletteError, match="not a multiple of 4"):
        decode_palette(head + b"colors = PackedColorArray(1, 0, 0)\n", "tres")
    with pytest.raises(PaletteError, match="PoolColorArray is Godot 3"):
        decode_palette(head + b"colors = PoolColorArray(1, 0, 0, 1)\n", "tres")
    with pytest.raises(PaletteError, match="unknown palette format .txt"):
        format_for_path("colours.txt")
    with pytest.raises(PaletteError, match="cannot read file"):
        read_palette(FIXTURES / "missing.gpl")
