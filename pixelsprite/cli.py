"""The ``pixelsprite`` command line: a thin transport over :mod:`pixelsprite.api`.

Usage::

    pixelsprite [--models-dir DIR]... [--no-builtin-models] models [--json]
    pixelsprite generate [--model M] [-n 64] [--seed 7] [-o sheet.png] [--separate] [--scale K] [--columns C]
    pixelsprite generate --model diffusion16 --label potion [--steps 8] [--solver ddim] [--guidance 2]
    pixelsprite variations SPRITE.png [-n 8] [--strength 0.5] [--seed 1] [-o out.png]
    pixelsprite generate --model tiles16 --label floor -o floor.png --tiled-preview   # + floor.tiled.png
    pixelsprite interpolate A.png B.png [-n 8] [--method slerp] [-o strip.png]   # -n/--count: frames
    pixelsprite interpolate --seed-a 1 --seed-b 2 [-n 8] [--steps 10] [-o strip.png]  # --steps: sampler steps
    pixelsprite interpolate A.png B.png -o walk.gif|walk.webp|walk.tres [--duration 100] [--loop 0]  # animations
    pixelsprite generate -n 16 -o - > sheet.png                          # -o -: the PNG on stdout
    pixelsprite grid TL TR BL BR [--rows 4] [--cols 4] [-o grid.png]      # corners: a PNG or seed:N
    pixelsprite generate --palette db32|FILE.gpl|'#1a1c2c,#5d275d,...' [--dither none|bayer2|bayer4]
    pixelsprite generate --candidates 4 [--teacher teacher]  # each sprite: the teacher's pick of 4 seeds
    pixelsprite variations SPRITE.png --candidates 4 --keep-class
    pixelsprite score SPRITE.png... [--teacher teacher] [--embedding]      # JSON: quality, label, probability
    pixelsprite similar REF.png [FILES... | --model M -n 64 --seed 0] [--top 8] [-o ranked.png]
    pixelsprite palette list [--json]                          # the built-in palettes
    pixelsprite palette show NAME|FILE [--json]                # one palette's colours
    pixelsprite palette extract a.png b.png ... [-n 16] [--method kmeans|median_cut] [-o pal.hex] [--swatch s.png]
    pixelsprite palette apply SPRITE.png --palette db32 [--dither bayer4] [--outline darkest] [-o out.png]
    pixelsprite palette convert IN.gpl OUT.hex                 # formats by extension
    pixelsprite palette propose [--model vae16] [-n 64] [--seed 0] [--colors 16] [-o pal.gpl]  # from samples
    pixelsprite palettes [NAME|FILE [-o out.tres]]             # alias of palette list / show / convert
    pixelsprite serve [--host 127.0.0.1] [--port 8737] [--token T] [--allow-origin O]... [--preview-every N]
                      [--preview-interval S] [--max-connections N]                      # added by bridge.cli
    pixelsprite watch INBOX --out OUTBOX [--once] [--settle 0.5]   # added by bridge.cli (docs/watch-folder.md)
    pixelsprite evaluate --data ../shared/datasets [--models M...] [--count 512] [--out DIR]   # DIR/evaluation.md

Sprite commands write one sheet PNG (1-px transparent gutter) with its JSON description next to it (``sheet.json``,
the TexturePacker/Aseprite ``--data`` shape: frames with x, y, w, h; meta with size and scale) or, with
``--separate``, one PNG per sprite into the ``-o`` folder, named ``<model>-<seed>.png`` (``<model>-<op>-<index>.png``
for unseeded sprites), and print a one-line JSON summary to stdout (op, model, count, size, base_seed,
seed_range ``[first, last]``, seconds, path, and ``palette`` when one was applied). What is written follows the
``-o`` extension (or ``--format``): ``.png`` a sheet, ``.gif`` / ``.webp`` / ``.apng`` an animation of the sprites in
order (``--duration`` ms per frame, ``--loop`` plays, 0 forever), ``.tres`` a Godot ``SpriteFrames`` resource over a
sheet PNG of the same name; any other extension is refused. ``-o -`` writes the PNG (or animation) to stdout and
the summary to stderr. ``--tiled-preview`` (generate, variations, inpaint with a tile model: ``pixelsprite models``
marks them ``TILES yes``) also writes ``<output>.tiled.png`` next to the output (``floor.png`` ->
``floor.tiled.png``; a ``--separate`` folder ``tiles`` -> ``tiles.tiled.png`` beside it): every tile beside its
3x3 repeat, so a seam shows; the output itself stays the plain tiles for the game engine (docs/tiles.md).
Diffusion and flow work shows a progress bar on stderr when it is a terminal (``--quiet``: none). ``--palette``
takes a built-in name, a palette file (.gpl .hex .pal .act .png .tres) or comma-separated ``#rrggbb`` colours; it
works on every sprite command (generate, variations, interpolate, grid), with ``--alpha-threshold``, ``--despeckle`` and
``--outline`` (docs/palettes.md). ``palette extract|propose`` write the palette in the format named by the ``-o``
extension and print a JSON summary (colours as ``#rrggbb``); ``palette apply`` writes the mapped PNG. Errors print
``error: <message>`` to stderr and exit with 2.

This module is the runtime's part of the command line and never imports the bridge: the ``pixelsprite`` console
script and ``python -m pixelsprite`` run :func:`bridge.cli.main`, which adds ``serve`` and ``watch`` as
:class:`Command` s.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import api
from .animation import (
    ANIMATION_FORMATS,
    GODOT_IMPORT_SETTINGS,
    MAX_DURATION_MS,
    MIN_DURATION_MS,
    encode_animation,
    sprite_frames,
)
from .atomic import write_bytes_atomic
from .errors import InvalidRequest, PixelspriteError
from .imageio import (
    check_output_size,
    compose_sheet,
    compose_tiled_preview,
    encode_png,
    sheet_description,
    sheet_shape,
    tiled_preview_shape,
    upscale,
    write_png,
)
from .palettes import BUILTIN, DITHERS, FORMATS, METHODS, format_for_path, resolve_palette, write_palette
from .registry import Registry

__all__ = ["Command", "build_parser", "main"]

MAX_SCALE = 32
TILED_PREVIEW_SUFFIX = ".tiled.png"
EXIT_OK, EXIT_IO, EXIT_ERROR = 0, 1, 2
OUTPUT_FORMATS = ("png", *ANIMATION_FORMATS, "tres")
_EXTENSIONS = {"png": (".png",), "gif": (".gif",), "apng": (".png", ".apng"), "webp": (".webp",), "tres": (".tres",)}
_BY_EXTENSION = {".png": "png", ".gif": "gif", ".apng": "apng", ".webp": "webp", ".tres": "tres"}


@dataclass(frozen=True)
class Command:
    """A subcommand that a layer above the runtime adds to this command line.

    The runtime never imports the bridge; ``bridge.cli`` (the ``pixelsprite`` console script and
    ``python -m pixelsprite``) adds ``serve`` and ``watch`` this way. ``run`` gets the parsed arguments and the
    registry of ``--models-dir`` / ``--no-builtin-models`` and returns the exit code; a
    :class:`~pixelsprite.errors.PixelspriteError` or ``OSError`` it raises is reported like the runtime's own.
    """

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, Registry], int]


def _add_output(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", "-m", help="model name (default: vae16 if present, else the first built-in)")
    p.add_argument("--max-colors", type=int, default=None, help="per-sprite colour cap (default: the model's; 0: off)")
    p.add_argument(
        "-o",
        "--output",
        help="sheet PNG (+ its .json description), a .gif/.webp/.apng animation, a Godot .tres "
        "SpriteFrames, '-' for stdout, or a folder with --separate (default: <command>.png)",
    )
    p.add_argument("--separate", action="store_true", help="write one PNG per sprite into the -o folder")
    p.add_argument("--scale", type=int, default=1, help=f"nearest-neighbour upscale, 1..{MAX_SCALE} (default 1)")
    p.add_argument("--columns", type=int, default=None, help="sheet columns (default: square-ish)")
    _add_animation(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar on stderr")
    _add_palette(p)


def _add_animation(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--format",
        choices=OUTPUT_FORMATS,
        default=None,
        help="png: a sheet; gif, apng, webp: an animation of the sprites in order; tres: a Godot "
        "SpriteFrames over a sheet (default: from the -o extension)",
    )
    p.add_argument(
        "--duration",
        type=int,
        default=100,
        metavar="MS",
        help=f"animation frame time in ms, {MIN_DURATION_MS}..{MAX_DURATION_MS} (default 100; also each "
        "frame's duration in the sheet's .json)",
    )
    p.add_argument("--loop", type=int, default=0, metavar="N", help="animation plays N times; 0: forever (default)")


def _add_palette_file(p: argparse.ArgumentParser) -> None:
    p.add_argument("--method", choices=METHODS, default="kmeans", help="extraction (default kmeans)")
    p.add_argument("--name", default=None, help="palette name (default: the output file's stem)")
    p.add_argument(
        "-o",
        "--output",
        default="palette.gpl",
        help="palette file; the format comes from the extension (default palette.gpl)",
    )
    p.add_argument("--swatch", default=None, metavar="PNG", help="also write a swatch PNG here")


def _add_palette(p: argparse.ArgumentParser, required: bool = False) -> None:
    p.add_argument(
        "--palette",
        default=None,
        required=required,
        metavar="NAME|FILE|#hex,#hex...",
        help="map the sprites onto a palette: a built-in name (see `pixelsprite palettes`), a palette "
        "file (" + " ".join("." + f for f in FORMATS) + ") or comma-separated #rrggbb colours",
    )
    p.add_argument(
        "--dither",
        choices=DITHERS,
        default="none",
        help="ordered dithering while mapping onto --palette (default none)",
    )
    p.add_argument(
        "--alpha-threshold",
        type=int,
        default=127,
        metavar="0..255",
        help="input images are opaque where alpha > this (default 127)",
    )
    p.add_argument(
        "--despeckle", action="store_true", help="merge every lone pixel into its most common neighbour colour"
    )
    p.add_argument(
        "--outline",
        default=None,
        metavar="#rrggbb|darkest",
        help="1-pixel outline on transparent pixels next to opaque ones, inside the canvas",
    )


def _add_sampler(p: argparse.ArgumentParser) -> None:
    """Diffusion/flow options; None leaves the model's measured default (a VAE model rejects them)."""
    p.add_argument("--label", default=None, help="class label (diffusion/flow; see `pixelsprite models`)")
    p.add_argument(
        "--steps", type=int, default=None, help=f"sampler steps, 1..{api.MAX_SAMPLE_STEPS} (default: the model's)"
    )
    p.add_argument(
        "--solver",
        default=None,
        help="ddpm|ddim (diffusion), euler|midpoint|heun (flow), random|confidence (pixel); "
        "`pixelsprite models --json` lists each model's",
    )
    p.add_argument(
        "--guidance",
        type=float,
        default=None,
        help="classifier-free guidance: 0 unconditional, 1 conditional, >1 stronger (default: model's)",
    )
    p.add_argument(
        "--temperature",
        type=float,
        default=None,
        help="colour temperature of pixel models, (0, 2]; lower = fewer, safer colours (default: the model's)",
    )


def _add_tiled_preview(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--tiled-preview",
        action="store_true",
        help="tile models only: also write <output>.tiled.png next to the output, each tile beside its 3x3 "
        "repeat (a seam shows only when a tile is repeated); the output stays the plain tiles",
    )


def _add_candidates(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--candidates",
        type=int,
        default=1,
        metavar=f"1..{api.MAX_CANDIDATES}",
        help="make this many per sprite and keep the teacher's anchored pick (default 1: no teacher)",
    )
    p.add_argument("--teacher", default=None, help="teacher model that scores candidates (default: teacher)")


def build_parser(commands: Sequence[Command] = ()) -> argparse.ArgumentParser:
    """The parser of the runtime's commands, plus ``commands`` (before ``evaluate``, in the order given)."""
    parser = argparse.ArgumentParser(prog="pixelsprite", description="Pixel-art sprites from small ONNX models.")
    parser.add_argument(
        "--models-dir",
        action="append",
        default=[],
        metavar="DIR",
        help="extra folder of model bundles (repeatable; overrides built-ins and $PIXELSPRITE_MODELS)",
    )
    parser.add_argument(
        "--no-builtin-models",
        action="store_true",
        help="ignore the models shipped inside the package (use only --models-dir and $PIXELSPRITE_MODELS)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("models", help="list the model bundles")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    p = sub.add_parser("generate", help="new sprites from random seeds")
    p.add_argument("-n", "--count", type=int, default=16, help=f"number of sprites, 1..{api.MAX_COUNT} (default 16)")
    p.add_argument("--seed", type=int, default=None, help="base seed; sprite i gets seed+i (default: random)")
    _add_output(p)
    _add_tiled_preview(p)
    _add_sampler(p)
    _add_candidates(p)

    p = sub.add_parser("variations", help="variations of one sprite")
    p.add_argument("sprite", help="the sprite PNG (the model's size)")
    p.add_argument("-n", "--count", type=int, default=8, help="number of variations (default 8)")
    p.add_argument("--strength", type=float, default=0.5, help=f"noise scale 0..{api.MAX_STRENGTH} (default 0.5)")
    p.add_argument("--seed", type=int, default=None, help="base seed; variation i gets seed+i (default: random)")
    _add_output(p)
    _add_tiled_preview(p)
    _add_sampler(p)
    _add_candidates(p)
    p.add_argument(
        "--keep-class",
        action="store_true",
        help="keep only candidates of the source sprite's teacher class (needs --candidates >= 2)",
    )

    p = sub.add_parser("inpaint", help="repaint the masked pixels of a sprite, keep the rest (pixel models)")
    p.add_argument("sprite", help="the sprite PNG (the model's size)")
    p.add_argument(
        "mask",
        help="mask PNG of the same size: opaque pixels (if it has transparency) or white "
        "pixels (a 1-bit/grey mask) are repainted",
    )
    p.add_argument("-n", "--count", type=int, default=8, help="number of repaintings (default 8)")
    p.add_argument("--seed", type=int, default=None, help="base seed; repainting i gets seed+i (default: random)")
    _add_output(p)
    _add_tiled_preview(p)
    _add_sampler(p)

    p = sub.add_parser("interpolate", help="a strip from sprite/seed A to sprite/seed B")
    p.add_argument("a", nargs="?", help="first endpoint: a PNG or seed:N")
    p.add_argument("b", nargs="?", help="last endpoint: a PNG or seed:N")
    p.add_argument("--seed-a", type=int, default=None, help="use this seed as endpoint A")
    p.add_argument("--seed-b", type=int, default=None, help="use this seed as endpoint B")
    p.add_argument(
        "-n",
        "--count",
        type=int,
        default=8,
        help=f"frames incl. endpoints, {api.MIN_FRAMES}..{api.MAX_FRAMES} (default 8)",
    )
    p.add_argument("--method", choices=api.METHODS, default="slerp", help="interpolation (default slerp)")
    _add_output(p)
    _add_sampler(p)
    _add_candidates(p)
    p.add_argument("--seed", type=int, default=None, help="seed of the candidates' jitter (default: random)")

    p = sub.add_parser("grid", help="a grid spanned by four corner sprites/seeds")
    p.add_argument("corners", nargs=4, metavar="CORNER", help="top-left top-right bottom-left bottom-right")
    p.add_argument("--rows", type=int, default=4, help=f"grid rows, {api.MIN_GRID}..{api.MAX_GRID} (default 4)")
    p.add_argument("--cols", type=int, default=4, help=f"grid columns, {api.MIN_GRID}..{api.MAX_GRID} (default 4)")
    p.add_argument("--method", choices=api.METHODS, default="slerp", help="interpolation (default slerp)")
    _add_output(p)

    p = sub.add_parser("score", help="score sprites with the teacher (JSON: quality, class, probability)")
    p.add_argument("sprites", nargs="+", metavar="SPRITE", help="16x16 or 40x40 PNG files")
    p.add_argument("--teacher", default=None, help="teacher model (default: teacher)")
    p.add_argument("--embedding", action="store_true", help="include each sprite's 64-d embedding")
    p.add_argument(
        "--alpha-threshold",
        type=int,
        default=127,
        metavar="0..255",
        help="input images are opaque where alpha > this (default 127)",
    )

    p = sub.add_parser("similar", help="rank sprites (or fresh samples) by similarity to a reference sprite")
    p.add_argument("reference", metavar="REF", help="the reference sprite PNG (16x16 or 40x40)")
    p.add_argument("sprites", nargs="*", metavar="FILE", help="sprites to rank (default: fresh samples of --model)")
    p.add_argument("-n", "--count", type=int, default=64, help="fresh samples to rank (default 64)")
    p.add_argument("--seed", type=int, default=None, help="base seed of the samples (default: random)")
    p.add_argument("--top", type=int, default=None, help="keep only the TOP most similar")
    p.add_argument("--teacher", default=None, help="teacher model (default: teacher)")
    p.add_argument("--model", "-m", help="generator to sample when no FILE is given (default: the default model)")
    p.add_argument(
        "-o",
        "--output",
        help="ranked sheet PNG (+ .json), '-' for stdout, or a folder with --separate (default: similar.png)",
    )
    p.add_argument("--separate", action="store_true", help="write one PNG per sprite into the -o folder")
    p.add_argument("--scale", type=int, default=1, help=f"nearest-neighbour upscale, 1..{MAX_SCALE} (default 1)")
    p.add_argument("--columns", type=int, default=None, help="sheet columns (default: square-ish)")
    p.add_argument(
        "--alpha-threshold",
        type=int,
        default=127,
        metavar="0..255",
        help="input images are opaque where alpha > this (default 127)",
    )

    p = sub.add_parser("palette", help="palettes: list, show, extract, apply, convert, propose")
    psub = p.add_subparsers(dest="palette_command", metavar="ACTION", required=True)
    q = psub.add_parser("list", help="list the built-in palettes")
    q.add_argument("--json", action="store_true", help="print JSON instead of a table")
    q = psub.add_parser("show", help="show one palette's colours")
    q.add_argument("palette", metavar="NAME|FILE", help="a built-in name, a palette file or #hex,#hex...")
    q.add_argument("--json", action="store_true", help="print JSON instead of a line of colours")
    q = psub.add_parser("extract", help="extract a palette from sprites")
    q.add_argument("sprites", nargs="+", metavar="SPRITE", help="PNG images (transparent pixels are ignored)")
    q.add_argument("-n", "--colors", "-k", type=int, default=16, help="colours in the palette, 1..256 (default 16)")
    _add_palette_file(q)
    q = psub.add_parser("apply", help="map one image onto a palette (with the sprite commands' clean-up)")
    q.add_argument("sprite", metavar="SPRITE", help="a PNG image of any size")
    q.add_argument(
        "-o", "--output", default=None, help="output PNG, '-' for stdout (default: SPRITE-PALETTE.png next to SPRITE)"
    )
    _add_palette(q, required=True)
    q = psub.add_parser("convert", help="convert a palette file (formats by extension)")
    q.add_argument("input", metavar="IN", help="a palette file, a built-in name or #hex,#hex...")
    q.add_argument("output", metavar="OUT", help="the file to write (.gpl .hex .pal .act .png .tres)")
    q = psub.add_parser("propose", help="propose a palette from a model's samples")
    q.add_argument("--model", "-m", help="model to sample (default: the default model)")
    q.add_argument("-n", "--count", type=int, default=64, help=f"samples, 1..{api.MAX_COUNT} (default 64)")
    q.add_argument("--seed", type=int, default=None, help="base seed of the samples (default: random)")
    q.add_argument("--label", default=None, help="class label to sample (diffusion/flow)")
    q.add_argument("--colors", "-k", type=int, default=16, help="colours in the palette, 1..256 (default 16)")
    _add_palette_file(q)

    p = sub.add_parser("palettes", help="alias: `palettes` = `palette list`, `palettes NAME [-o OUT]` = show/convert")
    p.add_argument(
        "palette",
        nargs="?",
        default=None,
        metavar="NAME|FILE",
        help="show this palette's colours (a built-in name, a palette file or #hex,#hex...)",
    )
    p.add_argument("-o", "--output", default=None, help="write the shown palette to this file (format by extension)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    for command in commands:  # serve and watch, added by bridge.cli (the runtime never imports the bridge)
        command.add_arguments(sub.add_parser(command.name, help=command.help))

    p = sub.add_parser("evaluate", help="evaluate the generators on held-out data (a report in --out DIR)")
    from .evaluation.command import add_arguments as _evaluate_arguments

    _evaluate_arguments(p)
    return parser


def _endpoint(text: str | None, seed: int | None, field: str) -> api.Endpoint:
    if text is not None and seed is not None:
        raise InvalidRequest(f"give endpoint {field} as a file or as --seed-{field}, not both", field=field)
    if seed is not None:
        return seed
    if text is None:
        raise InvalidRequest(f"endpoint {field} is missing: give a PNG, seed:N, or --seed-{field}", field=field)
    if text.startswith("seed:"):
        try:
            return int(text[5:])
        except ValueError:
            raise InvalidRequest(f"{field} must be a PNG path or seed:N, got {text!r}", field=field) from None
    return text


@dataclass(frozen=True)
class _Output:
    """Where and how a sprite command writes: ``format`` (png, gif, apng, webp, tres), ``path`` (None: stdout)."""

    format: str
    path: Path | None
    separate: bool = False


def _plan_output(args: argparse.Namespace, op: str) -> _Output:
    """Check -o / --format / --separate before any work is done; InvalidRequest naming the field otherwise."""
    fmt: str | None = getattr(args, "format", None)
    out: str | None = args.output
    if args.separate:
        if fmt not in (None, "png"):
            raise InvalidRequest(
                f"--separate writes one PNG per sprite; --format {fmt} writes one file: choose one", field="format"
            )
        if out == "-":
            raise InvalidRequest("--separate writes files into a folder, not to stdout (-o -)", field="output")
        return _Output("png", Path(out or op), separate=True)
    if out == "-":
        if fmt == "tres":
            raise InvalidRequest(
                "a SpriteFrames .tres refers to a sheet PNG next to it: give -o NAME.tres, not -", field="output"
            )
        return _Output(fmt or "png", None)
    if out is None:
        fmt = fmt or "png"
        return _Output(fmt, Path(op + _EXTENSIONS[fmt][0]))
    path = Path(out)
    ext = path.suffix.lower()
    if fmt is None:
        fmt = _BY_EXTENSION.get(ext)
        if fmt is None:
            what = f"has no extension ({out!r})" if not ext else f"ends in {ext} ({out!r})"
            raise InvalidRequest(
                f"output {what}: pixelsprite writes .png (a sheet), .gif, .webp or .apng (an animation) and .tres "
                "(a Godot SpriteFrames); name the file so, or use --separate to write into a folder",
                field="output",
            )
    elif ext not in _EXTENSIONS[fmt]:
        raise InvalidRequest(
            f"output {out!r} does not end in {' or '.join(_EXTENSIONS[fmt])}, the extension of --format {fmt}",
            field="output",
        )
    return _Output(fmt, path)


def _tiled_preview_path(plan: _Output) -> Path:
    """Where ``--tiled-preview`` writes: the output with ``.tiled.png`` for its extension (``floor.png`` ->
    ``floor.tiled.png``, ``water.gif`` -> ``water.tiled.png``), or beside a ``--separate`` folder (``tiles`` ->
    ``tiles.tiled.png``), never inside it (the folder holds only the tiles)."""
    assert plan.path is not None
    if plan.separate:
        folder = plan.path if plan.path.name not in ("", ".", "..") else plan.path.resolve()
        return folder.with_name(folder.name + TILED_PREVIEW_SUFFIX)
    return plan.path.with_suffix(TILED_PREVIEW_SUFFIX)


def _plan_tiled_preview(args: argparse.Namespace, plan: _Output, registry: Registry) -> Path | None:
    """The ``--tiled-preview`` file, checked before any work: the output must be a file (not stdout), the model a
    tile model (its capabilities say ``tiling``), the sheet within the output size limit; InvalidRequest naming
    ``tiled_preview`` (or ``scale``) otherwise. None without the flag."""
    if not getattr(args, "tiled_preview", False):
        return None
    if plan.path is None:
        raise InvalidRequest(
            "--tiled-preview writes <output>.tiled.png next to the output file; give -o FILE, not -o -",
            field="tiled_preview",
        )
    name = args.model or registry.default_model()
    infos = {m.name: m for m in api.models(registry=registry).models}
    info = infos.get(name)
    if info is not None:  # an unknown name: the request layer says so, with the names it knows
        if not info.tiling:
            tilers = [m.name for m in infos.values() if m.tiling]
            which = f"tile models here: {', '.join(tilers)}" if tilers else "no model here makes tiles"
            raise InvalidRequest(
                f"--tiled-preview shows tiles repeated 3x3, and model {name!r} ({info.family}) does not make "
                f"tiles that repeat seamlessly; {which} (see `pixelsprite models`, column TILES)",
                field="tiled_preview",
            )
        _, h, w = tiled_preview_shape(args.count, info.height, info.width, columns=args.columns, scale=args.scale)
        check_output_size(w, h, what="the tiled preview", advice="lower --scale or --count")
    return _tiled_preview_path(plan)


def _write_tiled_preview(result: api.SpriteResult, args: argparse.Namespace, path: Path) -> str:
    n, h, w = len(result), int(result.sprites.shape[1]), int(result.sprites.shape[2])
    _, sheet_h, sheet_w = tiled_preview_shape(n, h, w, columns=args.columns, scale=args.scale)
    check_output_size(sheet_w, sheet_h, what="the tiled preview", advice="lower --scale or --count")
    return _emit(encode_png(compose_tiled_preview(result.sprites, columns=args.columns, scale=args.scale)), path)


def _frame_name(result: api.SpriteResult, i: int) -> str:
    seed = result.seeds[i]
    return f"{result.model}-{seed}" if seed is not None else f"{result.model}-{result.op}-{i:03d}"


def _emit(data: bytes, path: Path | None) -> str:
    """Write ``data`` to ``path`` atomically (its folder made if missing), or to stdout when ``path`` is None."""
    if path is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return "-"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, data)
    return str(path)


def _write(result: api.SpriteResult, args: argparse.Namespace, plan: _Output) -> dict[str, object]:
    scale = args.scale
    n, h, w = len(result), int(result.sprites.shape[1]), int(result.sprites.shape[2])
    if plan.separate:
        check_output_size(w * scale, h * scale, what="each sprite", advice="lower --scale")
        folder = plan.path
        assert folder is not None
        folder.mkdir(parents=True, exist_ok=True)
        files = []
        for i, sprite in enumerate(result):
            files.append(write_png(folder / f"{_frame_name(result, i)}.png", upscale(sprite.rgba, scale)).name)
        return {"path": str(folder), "files": files}
    duration = getattr(args, "duration", 100)
    loop = getattr(args, "loop", 0)
    if plan.format in ANIMATION_FORMATS:
        check_output_size(
            w * scale,
            h * scale * n,
            what=f"the animation ({n} frames of {w * scale}x{h * scale})",
            advice="lower --scale or --count",
        )
        data = encode_animation(upscale(result.sprites, scale), plan.format, duration_ms=duration, loop=loop)
        return {
            "path": _emit(data, plan.path),
            "format": plan.format,
            "frames": n,
            "frame_size": [w * scale, h * scale],
            "duration_ms": duration,
            "loop": loop,
        }
    columns = args.columns or (result.layout[1] if result.layout != (0, 0) else None)
    cols, sheet_h, sheet_w = sheet_shape(n, h, w, columns=columns, scale=scale)
    check_output_size(sheet_w, sheet_h)
    sheet = compose_sheet(result.sprites, columns=cols, scale=scale)
    summary: dict[str, object] = {"sheet_size": [int(sheet.shape[1]), int(sheet.shape[0])]}
    if plan.path is None:
        summary["path"] = _emit(encode_png(sheet), None)
        return summary
    png = plan.path if plan.format == "png" else plan.path.with_suffix(".png")
    names = [_frame_name(result, i) for i in range(n)]
    desc = sheet_description(names, png.name, (w, h), columns=cols, scale=scale, duration_ms=duration)
    summary["path"] = _emit(encode_png(sheet), png)
    summary["description"] = _emit((json.dumps(desc, indent=2) + "\n").encode(), png.with_suffix(".json"))
    if plan.format == "tres":
        regions = [(f["frame"]["x"], f["frame"]["y"], f["frame"]["w"], f["frame"]["h"]) for f in desc["frames"]]
        tres = sprite_frames(png.name, regions, duration_ms=duration, loop=loop)
        summary["sheet"] = summary["path"]
        summary["path"] = _emit(tres.encode(), plan.path)
        imported = png.with_name(png.name + ".import")
        if not imported.exists():  # the user's own import settings win
            _emit(GODOT_IMPORT_SETTINGS.encode(), imported)
    return summary


def _check_layout(args: argparse.Namespace) -> None:
    if not 1 <= args.scale <= MAX_SCALE:
        raise InvalidRequest(f"scale must be between 1 and {MAX_SCALE}, got {args.scale}", field="scale")
    if args.columns is not None and args.columns < 1:
        raise InvalidRequest(f"columns must be at least 1, got {args.columns}", field="columns")
    duration = getattr(args, "duration", 100)
    if not MIN_DURATION_MS <= duration <= MAX_DURATION_MS:
        raise InvalidRequest(
            f"duration must be between {MIN_DURATION_MS} and {MAX_DURATION_MS} ms, got {duration}", field="duration"
        )
    if not 0 <= getattr(args, "loop", 0) <= 65535:
        raise InvalidRequest(f"loop must be between 0 (forever) and 65535 plays, got {args.loop}", field="loop")


class _ProgressBar:
    """``progress(done, total)`` drawn as one self-overwriting line on a terminal (at most 10 redraws a second)."""

    WIDTH = 28

    def __init__(self, stream: Any, label: str) -> None:
        self.stream, self.label = stream, label
        self.started = time.monotonic()
        self.last = -1.0
        self.drawn = False
        self.state = (0, 0)

    def __call__(self, done: int, total: int) -> None:
        self.state = (done, total)
        now = time.monotonic()
        if done < total and now - self.last < 0.1:
            return
        self.last = now
        self._draw()

    def _draw(self) -> None:
        done, total = self.state
        filled = self.WIDTH * done // total if total else 0
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        elapsed = time.monotonic() - self.started
        self.stream.write(f"\r{self.label} [{bar}] {done}/{total} steps {elapsed:.1f}s")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()


def _progress_bar(args: argparse.Namespace, label: str) -> _ProgressBar | None:
    """A bar on stderr when it is a terminal and --quiet is not given, else None (nothing is drawn)."""
    if getattr(args, "quiet", False):
        return None
    try:
        tty = sys.stderr.isatty()
    except (AttributeError, ValueError):
        tty = False
    return _ProgressBar(sys.stderr, label) if tty else None


def _models(registry: Registry, as_json: bool) -> None:
    res = api.models(registry=registry)
    for problem in res.problems:
        print(f"warning: {problem}", file=sys.stderr)
    if as_json:
        doc = {
            "default": res.default,
            "models": [m.to_dict() for m in res.models],
            "problems": list(res.problems),
        }
        print(json.dumps(doc))
        return
    if not res.models:
        print("no model bundles found (search path: " + ", ".join(map(str, registry.search_path)) + ")")
        return
    rows = [("NAME", "FAMILY", "SIZE", "TILES", "SOURCE", "LABELS", "DESCRIPTION")]
    for m in res.models:
        name = m.name + (" *" if m.name == res.default else "")
        source = "built-in" if m.builtin else m.path
        tiles = "yes" if m.tiling else "-"
        rows.append((name, m.family, f"{m.width}x{m.height}", tiles, source, ",".join(m.labels), m.description))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1])


def _palettes(args: argparse.Namespace) -> None:
    if args.palette is None:
        if args.output:
            raise InvalidRequest("-o needs a palette to write: pixelsprite palettes NAME|FILE -o OUT", field="output")
        if args.json:
            print(json.dumps({"palettes": [p.to_dict() for p in BUILTIN.values()]}))
            return
        rows = [("NAME", "SIZE", "SOURCE")] + [(p.name, str(len(p)), p.source) for p in BUILTIN.values()]
        widths = [max(len(r[i]) for r in rows) for i in range(2)]
        for r in rows:
            print(f"{r[0].ljust(widths[0])}  {r[1].rjust(widths[1])}  {r[2]}")
        return
    pal = resolve_palette(args.palette, field="palette")
    doc: dict[str, Any] = pal.to_dict()
    if args.output:
        format_for_path(args.output)
        doc["path"] = str(write_palette(pal, args.output))
    if args.json or args.output:
        print(json.dumps(doc))
    else:
        print(f"{pal.name}: {len(pal)} colours ({pal.source})")
        print(" ".join(pal.hex))


def _palette_command(args: argparse.Namespace, registry: Registry) -> None:
    action = args.palette_command
    if action in ("list", "show", "convert"):
        if action == "convert":
            args.palette, args.output, args.json = args.input, args.output, False
        else:
            args.palette, args.output = getattr(args, "palette", None), None
        _palettes(args)
    elif action == "apply":
        _apply(args)
    else:  # extract, propose
        _palette(args, registry)


def _apply(args: argparse.Namespace) -> None:
    src = Path(args.sprite)
    if args.output not in (None, "-") and Path(args.output).suffix.lower() != ".png":
        raise InvalidRequest(f"output {args.output!r} does not end in .png: palette apply writes a PNG", field="output")
    pal = resolve_palette(args.palette, field="palette")
    sprite = api.apply(
        src,
        pal,
        dither=args.dither,
        alpha_threshold=args.alpha_threshold,
        despeckle=args.despeckle,
        outline=args.outline,
    )
    out = (
        None
        if args.output == "-"
        else Path(args.output)
        if args.output
        else src.with_name(f"{src.stem}-{pal.name}.png")
    )
    path = _emit(encode_png(sprite), out)
    colours = np.unique(sprite[..., :3][sprite[..., 3] > 0].reshape(-1, 3), axis=0)
    print(
        json.dumps(
            {
                "op": "apply",
                "palette": pal.name,
                "dither": args.dither,
                "size": [sprite.shape[1], sprite.shape[0]],
                "colors": int(len(colours)),
                "path": path,
            }
        ),
        file=sys.stderr if out is None else sys.stdout,
    )


def _palette(args: argparse.Namespace, registry: Registry) -> None:
    out = Path(args.output)
    fmt = format_for_path(out)
    sprites = getattr(args, "sprites", None)
    res = api.palette(
        getattr(args, "model", None),
        getattr(args, "count", 64),
        getattr(args, "seed", None),
        colors=args.colors,
        method=args.method,
        sprites=sprites,
        label=getattr(args, "label", None),
        format=fmt,
        name=args.name or out.stem,
        registry=registry,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    write_palette(res.palette, out)
    summary = res.summary()
    summary["path"] = str(out)
    if args.swatch:
        Path(args.swatch).write_bytes(res.swatch_png)
        summary["swatch"] = args.swatch
    print(json.dumps(summary))


def _score(args: argparse.Namespace, registry: Registry) -> None:
    res = api.score(args.sprites, teacher=args.teacher, alpha_threshold=args.alpha_threshold, registry=registry)
    doc = res.summary(embedding=args.embedding)
    for row, path in zip(doc["scores"], args.sprites, strict=True):
        row["file"] = path
    print(json.dumps(doc))


def _similar(args: argparse.Namespace, registry: Registry) -> api.SimilarResult:
    if args.sprites:
        if args.seed is not None:
            raise InvalidRequest("give sprite files or --model/--seed to sample, not both", field="seed")
        res = api.similar(
            args.reference,
            args.sprites,
            top=args.top,
            teacher=args.teacher,
            alpha_threshold=args.alpha_threshold,
            registry=registry,
        )
    else:
        res = api.similar(
            args.reference,
            model=args.model,
            count=args.count,
            seed=args.seed,
            top=args.top,
            teacher=args.teacher,
            alpha_threshold=args.alpha_threshold,
            registry=registry,
        )
    return res


def _run(args: argparse.Namespace, commands: Sequence[Command] = ()) -> int:
    registry = Registry(args.models_dir, builtin=not args.no_builtin_models)
    if args.command == "models":
        _models(registry, args.json)
        return EXIT_OK
    if args.command == "palettes":
        _palettes(args)
        return EXIT_OK
    if args.command == "palette":
        _palette_command(args, registry)
        return EXIT_OK
    if args.command == "score":
        _score(args, registry)
        return EXIT_OK
    if args.command == "similar":
        _check_layout(args)
        plan = _plan_output(args, "similar")
        res = _similar(args, registry)
        summary = res.summary()
        if args.sprites:
            summary["ranked_files"] = [args.sprites[i] for i in summary["index"]]
        summary.update(_write(res, args, plan))
        _print_summary(summary, plan)
        return EXIT_OK
    if args.command == "evaluate":
        from .evaluation.command import run as evaluate

        return evaluate(args, args.models_dir, builtin=not args.no_builtin_models)
    for command in commands:
        if args.command == command.name:
            return command.run(args, registry)
    common: dict[str, Any] = {
        "max_colors": args.max_colors,
        "registry": registry,
        "palette": args.palette,
        "dither": args.dither,
        "alpha_threshold": args.alpha_threshold,
        "despeckle": args.despeckle,
        "outline": args.outline,
    }
    result: api.SpriteResult
    sampler: dict[str, Any] = {
        "label": getattr(args, "label", None),
        "solver": getattr(args, "solver", None),
        "guidance": getattr(args, "guidance", None),
    }
    if getattr(args, "temperature", None) is not None:  # only pixel models take it; others name the field
        if args.command == "interpolate":
            raise InvalidRequest(
                "interpolate takes no temperature (pixel models do not interpolate)", field="temperature"
            )
        sampler["temperature"] = args.temperature
    best: dict[str, Any] = {"candidates": getattr(args, "candidates", 1), "teacher": getattr(args, "teacher", None)}
    _check_layout(args)
    plan = _plan_output(args, args.command)
    tiled = _plan_tiled_preview(args, plan, registry)
    bar = (
        _progress_bar(args, args.command)
        if args.command in ("generate", "variations", "interpolate", "inpaint")
        else None
    )
    hooks: dict[str, Any] = {"progress": bar} if bar is not None else {}
    try:
        if args.command == "generate":
            generated = {k: v for k, v in common.items() if k != "alpha_threshold"}  # generate reads no image
            result = api.generate(
                args.model, args.count, args.seed, steps=args.steps, **sampler, **generated, **best, **hooks
            )
        elif args.command == "variations":
            result = api.variations(
                args.model,
                args.sprite,
                args.count,
                args.strength,
                args.seed,
                steps=args.steps,
                keep_class=args.keep_class,
                **sampler,
                **common,
                **best,
                **hooks,
            )
        elif args.command == "inpaint":
            result = api.inpaint(
                args.model,
                args.sprite,
                args.mask,
                args.count,
                args.seed,
                steps=args.steps,
                **sampler,
                **common,
                **hooks,
            )
        elif args.command == "interpolate":
            a = _endpoint(args.a, args.seed_a, "a")
            b = _endpoint(args.b, args.seed_b, "b")
            result = api.interpolate(
                args.model,
                a,
                b,
                args.count,
                args.method,
                steps=args.steps,
                seed=args.seed,
                **sampler,
                **common,
                **best,
                **hooks,
            )

        elif args.command == "grid":
            corners = [_endpoint(c, None, f"corners[{i}]") for i, c in enumerate(args.corners)]
            result = api.grid(args.model, corners, args.rows, args.cols, args.method, **common)
        else:  # pragma: no cover - argparse rejects unknown commands
            raise InvalidRequest(f"unknown command {args.command!r}", field="command")
    finally:
        if bar is not None:
            bar.close()
    summary = result.summary()
    if result.scores is None:
        seeds = summary.pop("seeds")  # contiguous: sprite i has seed base_seed + i
        summary["seed_range"] = [seeds[0], seeds[-1]] if result.base_seed is not None else None
    # with candidates (or for similar) the seeds are the winners' and stay listed, one per sprite
    if args.palette is not None:
        summary["palette"] = args.palette
        summary["dither"] = args.dither
    summary.update(_write(result, args, plan))
    if tiled is not None:
        summary["tiled_preview"] = _write_tiled_preview(result, args, tiled)
    _print_summary(summary, plan)
    return EXIT_OK


def _print_summary(summary: dict[str, Any], plan: _Output) -> None:
    """The one-line JSON summary: on stdout, or on stderr when stdout carries the image (-o -)."""
    print(json.dumps(summary), file=sys.stderr if plan.path is None else sys.stdout)


def main(argv: Sequence[str] | None = None, commands: Sequence[Command] = ()) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 file-system error, 2 bad request/model/usage).

    ``commands`` are the subcommands a layer above adds (:func:`bridge.cli.main`, the ``pixelsprite`` console script,
    passes ``serve`` and ``watch``); their errors are reported like the runtime's own.
    """
    parser = build_parser(commands)
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse exits 2 on usage errors, 0 on --help
        return e.code if isinstance(e.code, int) else EXIT_ERROR
    try:
        return _run(args, commands)
    except PixelspriteError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as e:
        print(f"error: {e.strerror or e}: {e.filename or ''}".rstrip(": "), file=sys.stderr)
        return EXIT_IO
