"""Palette files, read and written the way Aseprite, GIMP, Lospec and Godot 4 read them.

=======  ===========================  ==============================================================================
format   extension                    layout
=======  ===========================  ==============================================================================
gpl      ``.gpl`` (GIMP, Aseprite)    ``GIMP Palette`` line, optional ``Name:`` / ``Columns:`` / ``Channels: RGBA``
                                      headers and ``#`` comments, then one ``R G B [name]`` line per colour (0..255;
                                      ``R G B A [name]`` after ``Channels: RGBA``, as Aseprite writes it)
hex      ``.hex`` (Lospec)            one ``rrggbb`` per line (a leading ``#`` is accepted); blank lines skipped
pal      ``.pal`` (JASC, PaintShop)   ``JASC-PAL`` / ``0100`` / colour count, then ``R G B`` per line (CRLF written)
act      ``.act`` (Photoshop)         256 x RGB bytes (768), optionally followed by a big-endian uint16 colour count
                                      and a uint16 transparent index (772 bytes; written so, index 0xFFFF = none)
png      ``.png`` (swatch strip)      written as a 1-pixel-per-colour strip (Lospec's 1x PNG); read as the distinct
                                      opaque colours in row-major order of first appearance, so scaled swatches work
tres     ``.tres`` (Godot 4)          a ``ColorPalette`` text resource: ``[gd_resource type="ColorPalette" format=3]``,
                                      ``[resource]``, ``colors = PackedColorArray(r, g, b, a, ...)`` with flat floats
                                      in 0..1 (Godot's variant parser reads only plain numbers there)
=======  ===========================  ==============================================================================

Malformed files raise :class:`~pixelsprite.errors.PaletteError` naming the file and the 1-based line (text
formats) or the 0-based byte offset (``.act``, ``.png``, undecodable text). Alpha in a file is dropped: palettes
are opaque colours.
"""

from __future__ import annotations

import io
import math
import os
import re
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..atomic import write_bytes_atomic
from ..errors import PaletteError
from .model import MAX_PALETTE_COLORS, Palette

__all__ = [
    "FORMATS", "format_for_path", "encode_palette", "decode_palette", "read_palette", "write_palette",
    "swatch", "swatch_png",
]  # fmt: skip

FORMATS = ("gpl", "hex", "pal", "act", "png", "tres")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def format_for_path(path: str | os.PathLike[str]) -> str:
    """The format named by a file's extension; PaletteError for an unknown one."""
    ext = Path(path).suffix.lower().lstrip(".")
    if ext not in FORMATS:
        raise PaletteError(
            f"{path}: unknown palette format {('.' + ext) if ext else '(no extension)'}; "
            f"known: {', '.join('.' + f for f in FORMATS)}",
            path=str(path),
        )
    return ext


def _fail(label: str, message: str, *, line: int | None = None, byte: int | None = None) -> PaletteError:
    where = f" line {line}" if line is not None else f" byte {byte}" if byte is not None else ""
    return PaletteError(f"{label}{where}: {message}", path=label, line=line, byte=byte)


def _make(name: str, colors: list[tuple[int, int, int]], label: str, source: str) -> Palette:
    if not colors:
        raise _fail(label, "the palette has no colours")
    if len(colors) > MAX_PALETTE_COLORS:
        raise _fail(label, f"the palette has {len(colors)} colours; at most {MAX_PALETTE_COLORS} are supported")
    return Palette(name, np.array(colors, dtype=np.uint8), source)


def _text(data: bytes, label: str) -> list[str]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise _fail(label, f"not UTF-8 text ({e.reason})", byte=e.start) from None
    return text.splitlines()


def _ints(fields: list[str], n: int) -> list[int] | None:
    try:
        vals = [int(f) for f in fields[:n]]
    except ValueError:
        return None
    return vals if len(vals) == n and all(0 <= v <= 255 for v in vals) else None


# ------------------------------------------------------------------------------------------------- GIMP .gpl
def _read_gpl(data: bytes, name: str, label: str) -> Palette:
    lines = _text(data, label)
    if not lines or lines[0].strip() != "GIMP Palette":
        raise _fail(label, f"expected 'GIMP Palette', got {(lines[0] if lines else '')[:40]!r}", line=1)
    channels = 3
    colors: list[tuple[int, int, int]] = []
    for no, raw in enumerate(lines[1:], start=2):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition(":")
        if sep and not colors and key.strip() in ("Name", "Columns", "Channels"):
            if key.strip() == "Name":
                name = value.strip() or name
            elif key.strip() == "Channels":
                if value.strip() not in ("RGB", "RGBA"):
                    raise _fail(label, f"Channels must be RGB or RGBA, got {value.strip()!r}", line=no)
                channels = len(value.strip())
            continue
        vals = _ints(line.split(), channels)
        if vals is None:
            want = "R G B A [name]" if channels == 4 else "R G B [name]"
            raise _fail(label, f"expected '{want}' with values 0..255, got {line[:40]!r}", line=no)
        colors.append((vals[0], vals[1], vals[2]))
    return _make(name, colors, label, label)


def _write_gpl(p: Palette) -> bytes:
    out = ["GIMP Palette", f"Name: {p.name}", f"Columns: {min(len(p), 16)}", "#"]
    if p.source:
        out.insert(3, f"# {p.source}")
    out += [f"{r:3d} {g:3d} {b:3d}\t{h}" for (r, g, b), h in zip(p.colors.tolist(), p.hex)]
    return ("\n".join(out) + "\n").encode()


# ----------------------------------------------------------------------------------------------- Lospec .hex
def _read_hex(data: bytes, name: str, label: str) -> Palette:
    colors: list[tuple[int, int, int]] = []
    for no, raw in enumerate(_text(data, label), start=1):
        line = raw.strip()
        if not line:
            continue
        m = re.fullmatch(r"#?([0-9a-fA-F]{6})", line)
        if m is None:
            raise _fail(label, f"expected a colour 'rrggbb', got {line[:40]!r}", line=no)
        v = int(m.group(1), 16)
        colors.append(((v >> 16) & 255, (v >> 8) & 255, v & 255))
    return _make(name, colors, label, label)


def _write_hex(p: Palette) -> bytes:
    return "".join(f"{h[1:]}\n" for h in p.hex).encode()


# -------------------------------------------------------------------------------------------------- JASC .pal
def _read_pal(data: bytes, name: str, label: str) -> Palette:
    if data.startswith(b"RIFF"):
        raise _fail(label, "a RIFF (Microsoft) palette; only JASC-PAL text .pal files are supported", byte=0)
    lines = _text(data, label)
    header = [ln.strip() for ln in lines[:3]]
    if not header or header[0] != "JASC-PAL":
        raise _fail(label, f"expected 'JASC-PAL', got {(header[0] if header else '')[:40]!r}", line=1)
    if len(header) < 2 or header[1] != "0100":
        raise _fail(label, f"expected version '0100', got {(header[1] if len(header) > 1 else '')[:40]!r}", line=2)
    if len(header) < 3 or not header[2].isdigit() or not 1 <= int(header[2]) <= MAX_PALETTE_COLORS:
        got = header[2] if len(header) > 2 else ""
        raise _fail(label, f"expected a colour count 1..{MAX_PALETTE_COLORS}, got {got[:40]!r}", line=3)
    count = int(header[2])
    colors: list[tuple[int, int, int]] = []
    for no, raw in enumerate(lines[3:], start=4):
        line = raw.strip()
        if not line:
            continue
        if len(colors) == count:
            raise _fail(label, f"more colours than the {count} the header announces", line=no)
        fields = line.split()
        vals = _ints(fields, 3) if len(fields) in (3, 4) else None
        if vals is None:
            raise _fail(label, f"expected 'R G B' with values 0..255, got {line[:40]!r}", line=no)
        colors.append((vals[0], vals[1], vals[2]))
    if len(colors) != count:
        raise _fail(label, f"the header announces {count} colours but the file has {len(colors)}", line=len(lines) + 1)
    return _make(name, colors, label, label)


def _write_pal(p: Palette) -> bytes:
    out = ["JASC-PAL", "0100", str(len(p))] + [f"{r} {g} {b}" for r, g, b in p.colors.tolist()]
    return ("\r\n".join(out) + "\r\n").encode()


# --------------------------------------------------------------------------------------------- Photoshop .act
def _read_act(data: bytes, name: str, label: str) -> Palette:
    if len(data) not in (768, 772):
        raise _fail(label, f"an .act file is 768 or 772 bytes long, this one is {len(data)}", byte=min(len(data), 768))
    count = 256
    if len(data) == 772:
        count = int.from_bytes(data[768:770], "big")
        if not 1 <= count <= 256:
            raise _fail(label, f"colour count must be 1..256, got {count}", byte=768)
    rgb = np.frombuffer(data[: 3 * count], dtype=np.uint8).reshape(count, 3)
    return Palette(name, rgb, label)


def _write_act(p: Palette) -> bytes:
    table = np.zeros((256, 3), dtype=np.uint8)
    table[: len(p)] = p.colors
    return table.tobytes() + len(p).to_bytes(2, "big") + b"\xff\xff"


# -------------------------------------------------------------------------------------------- PNG swatch strip
def swatch(palette: Palette, *, scale: int = 1, columns: int | None = None) -> np.ndarray:
    """A swatch image: uint8 RGBA, colours in row-major cells of ``scale x scale`` pixels, unused cells clear."""
    k = len(palette)
    cols = max(1, min(columns or k, k))
    rows = math.ceil(k / cols)
    img = np.zeros((rows, cols, 4), dtype=np.uint8)
    flat = img.reshape(-1, 4)
    flat[:k, :3] = palette.colors
    flat[:k, 3] = 255
    return np.repeat(np.repeat(img, scale, axis=0), scale, axis=1)


def swatch_png(palette: Palette, *, scale: int = 8, columns: int | None = 16) -> bytes:
    """:func:`swatch` encoded as PNG bytes (default: 8x8-pixel cells, 16 per row)."""
    buf = io.BytesIO()
    Image.fromarray(swatch(palette, scale=scale, columns=columns), mode="RGBA").save(buf, format="PNG")
    return buf.getvalue()


def _read_png(data: bytes, name: str, label: str) -> Palette:
    if not data.startswith(_PNG_SIGNATURE):
        bad = next((i for i, (a, b) in enumerate(zip(data, _PNG_SIGNATURE)) if a != b), len(data))
        raise _fail(label, "not a PNG file (bad signature)", byte=bad)
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            rgba = np.asarray(im.convert("RGBA"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise _fail(label, f"not a readable PNG ({type(e).__name__}: {e})", byte=8) from None
    px = rgba.reshape(-1, 4)
    px = px[px[:, 3] > 0].astype(np.int64)
    keys = (px[:, 0] << 16) | (px[:, 1] << 8) | px[:, 2]
    _, first = np.unique(keys, return_index=True)
    ordered = keys[np.sort(first)]
    colors = [((int(v) >> 16) & 255, (int(v) >> 8) & 255, int(v) & 255) for v in ordered]
    return _make(name, colors, label, label)


def _write_png(p: Palette) -> bytes:
    return swatch_png(p, scale=1, columns=None)


# ----------------------------------------------------------------------------------- Godot 4 ColorPalette .tres
_NUMBER = re.compile(r"-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")


def _read_tres(data: bytes, name: str, label: str) -> Palette:
    lines = _text(data, label)
    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if first is None or not lines[first].lstrip().startswith("[gd_resource"):
        raise _fail(label, "expected a Godot text resource starting with '[gd_resource'", line=(first or 0) + 1)
    if 'type="ColorPalette"' not in lines[first]:
        raise _fail(label, 'expected a resource of type="ColorPalette"', line=first + 1)
    in_resource = False
    start = None
    for i, ln in enumerate(lines):
        s = ln.strip()
        if s.startswith("["):
            in_resource = s == "[resource]"
        elif in_resource and re.match(r"colors\s*=", s):
            start = i
            break
    if start is None:
        raise _fail(
            label, "no 'colors = PackedColorArray(...)' property in the [resource] section", line=len(lines) + 1
        )
    text = lines[start].split("=", 1)[1].lstrip()
    if not text.startswith("PackedColorArray("):
        hint = " (PoolColorArray is Godot 3; save the palette from Godot 4)" if "PoolColorArray" in text else ""
        raise _fail(label, f"expected 'PackedColorArray(', got {text[:40]!r}{hint}", line=start + 1)
    # Tokens with their line numbers, until the closing parenthesis (the array may span lines).
    tokens: list[tuple[str, int]] = []
    rest, no, closed = text[len("PackedColorArray(") :], start, False
    while True:
        body, paren, _ = rest.partition(")")
        tokens += [(t.strip(), no + 1) for t in body.split(",")]
        if paren:
            closed = True
            break
        no += 1
        if no >= len(lines):
            break
        rest = lines[no]
    if not closed:
        raise _fail(label, "PackedColorArray( is not closed with ')'", line=len(lines))
    values: list[tuple[float, int]] = []
    for tok, tok_line in tokens:
        if not tok:
            continue
        if not _NUMBER.fullmatch(tok):
            raise _fail(label, f"expected a number in PackedColorArray, got {tok[:40]!r}", line=tok_line)
        v = float(tok)
        if not 0.0 <= v <= 1.0:
            raise _fail(label, f"colour components must be between 0 and 1, got {tok}", line=tok_line)
        values.append((v, tok_line))
    if len(values) % 4:
        raise _fail(
            label, f"PackedColorArray holds {len(values)} numbers, not a multiple of 4 (r, g, b, a)", line=no + 1
        )
    colors = [tuple(int(round(values[i + j][0] * 255.0)) for j in range(3)) for i in range(0, len(values), 4)]
    return _make(name, colors, label, label)  # type: ignore[arg-type]


def _godot_float(v: float) -> str:
    return np.format_float_positional(np.float32(v), trim="-")


def _write_tres(p: Palette) -> bytes:
    nums = []
    for r, g, b in p.colors.tolist():
        nums += [_godot_float(r / 255.0), _godot_float(g / 255.0), _godot_float(b / 255.0), "1"]
    body = f'[gd_resource type="ColorPalette" format=3]\n\n[resource]\ncolors = PackedColorArray({", ".join(nums)})\n'
    return body.encode()


# ------------------------------------------------------------------------------------------------- dispatch
_READERS = {
    "gpl": _read_gpl,
    "hex": _read_hex,
    "pal": _read_pal,
    "act": _read_act,
    "png": _read_png,
    "tres": _read_tres,
}
_WRITERS = {
    "gpl": _write_gpl,
    "hex": _write_hex,
    "pal": _write_pal,
    "act": _write_act,
    "png": _write_png,
    "tres": _write_tres,
}


def _check_format(fmt: str) -> str:
    f = fmt.lower().lstrip(".")
    if f not in FORMATS:
        raise PaletteError(f"unknown palette format {fmt!r}; known: {', '.join(FORMATS)}", field="format")
    return f


def encode_palette(palette: Palette, fmt: str) -> bytes:
    """The palette as the bytes of a ``fmt`` file (one of :data:`FORMATS`)."""
    return _WRITERS[_check_format(fmt)](palette)


def decode_palette(data: bytes, fmt: str, *, name: str = "palette", label: str | None = None) -> Palette:
    """A palette from the bytes of a ``fmt`` file; ``label`` names it in errors (default: ``<name>.<fmt>``)."""
    f = _check_format(fmt)
    return _READERS[f](bytes(data), name, label or f"{name}.{f}")


def read_palette(path: str | os.PathLike[str]) -> Palette:
    """Read a palette file; the format comes from the extension, the name from the stem (or a GPL ``Name:``)."""
    p = Path(path)
    fmt = format_for_path(p)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise PaletteError(f"{p}: cannot read file ({e.strerror or e})", path=str(p)) from None
    return decode_palette(data, fmt, name=p.stem, label=str(p))


def write_palette(palette: Palette, path: str | os.PathLike[str]) -> Path:
    """Write ``palette`` in the format its extension names, atomically (temp file, then ``os.replace``)."""
    p = Path(path)
    data = encode_palette(palette, format_for_path(p))
    return write_bytes_atomic(p, data)
