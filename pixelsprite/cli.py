"""The ``pixelsprite`` command line: a thin transport over :mod:`pixelsprite.api`.

Usage::

    pixelsprite [--models-dir DIR]... [--no-builtin-models] models [--json]
    pixelsprite generate [--model M] [-n 64] [--seed 7] [-o sheet.png] [--separate] [--scale K] [--columns C]
    pixelsprite generate --model diffusion16 --label potion [--steps 8] [--solver ddim] [--guidance 2]
    pixelsprite variations SPRITE.png [-n 8] [--strength 0.5] [--seed 1] [-o out.png]
    pixelsprite interpolate A.png B.png [-n 8] [--method slerp] [-o strip.png]   # -n/--count: frames
    pixelsprite interpolate --seed-a 1 --seed-b 2 [-n 8] [--steps 10] [-o strip.png]  # --steps: sampler steps
    pixelsprite grid TL TR BL BR [--rows 4] [--cols 4] [-o grid.png]      # corners: a PNG or seed:N
    pixelsprite generate --palette db32|FILE.gpl|'#1a1c2c,#5d275d,...' [--dither none|bayer2|bayer4]
    pixelsprite generate --candidates 4 [--teacher teacher]  # each sprite: the teacher's best of 4 seeds
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
                      [--preview-interval S]
    pixelsprite watch INBOX --out OUTBOX [--once] [--settle 0.5]   # job files -> sprites (docs/watch-folder.md)
    pixelsprite evaluate --data ../shared/datasets [--models M...] [--count 512]   # docs/evaluation.md

Sprite commands write one sheet PNG (1-px transparent gutter) or, with ``--separate``, one PNG per sprite
into the ``-o`` folder, named ``<model>-<seed>.png`` (``<model>-<op>-<index>.png`` for unseeded sprites),
and print a one-line JSON summary to stdout (op, model, count, size, base_seed,
seed_range ``[first, last]``, seconds, path, and ``palette`` when one was applied). ``--palette`` takes a built-in
name, a palette file (.gpl .hex .pal .act .png .tres) or comma-separated ``#rrggbb`` colours; it works on every
sprite command (generate, variations, interpolate, grid), with ``--alpha-threshold``, ``--despeckle`` and
``--outline`` (docs/palettes.md). ``palette extract|propose`` write the palette in the format named by the ``-o``
extension and print a JSON summary (colours as ``#rrggbb``); ``palette apply`` writes the mapped PNG. Errors print
``error: <message>`` to stderr and exit with 2.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import api
from .errors import InvalidRequest, PixelspriteError
from .imageio import compose_sheet, upscale, write_png
from .palettes import BUILTIN, DITHERS, FORMATS, METHODS, format_for_path, resolve_palette, write_palette
from .registry import Registry

__all__ = ["main", "build_parser"]

MAX_SCALE = 32
EXIT_OK, EXIT_IO, EXIT_ERROR = 0, 1, 2


def _add_output(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", "-m", help="model name (default: vae16 if present, else the first built-in)")
    p.add_argument(
        "--max-colors", type=int, default=None, help="per-sprite colour cap (default: the model's; 0: off)"
    )
    p.add_argument(
        "-o", "--output", help="sheet PNG path, or folder with --separate (default: <command>.png)"
    )
    p.add_argument("--separate", action="store_true", help="write one PNG per sprite into the -o folder")
    p.add_argument(
        "--scale", type=int, default=1, help=f"nearest-neighbour upscale, 1..{MAX_SCALE} (default 1)"
    )
    p.add_argument("--columns", type=int, default=None, help="sheet columns (default: square-ish)")
    _add_palette(p)


def _add_palette_file(p: argparse.ArgumentParser) -> None:
    p.add_argument("--method", choices=METHODS, default="kmeans", help="extraction (default kmeans)")
    p.add_argument("--name", default=None, help="palette name (default: the output file's stem)")
    p.add_argument("-o", "--output", default="palette.gpl",
                   help="palette file; the format comes from the extension (default palette.gpl)")
    p.add_argument("--swatch", default=None, metavar="PNG", help="also write a swatch PNG here")


def _add_palette(p: argparse.ArgumentParser, required: bool = False) -> None:
    p.add_argument("--palette", default=None, required=required, metavar="NAME|FILE|#hex,#hex...",
                   help="map the sprites onto a palette: a built-in name (see `pixelsprite palettes`), a palette "
                        "file (" + " ".join("." + f for f in FORMATS) + ") or comma-separated #rrggbb colours")
    p.add_argument("--dither", choices=DITHERS, default="none",
                   help="ordered dithering while mapping onto --palette (default none)")
    p.add_argument("--alpha-threshold", type=int, default=127, metavar="0..255",
                   help="input images are opaque where alpha > this (default 127)")
    p.add_argument("--despeckle", action="store_true",
                   help="merge every lone pixel into its most common neighbour colour")
    p.add_argument("--outline", default=None, metavar="#rrggbb|darkest",
                   help="1-pixel outline on transparent pixels next to opaque ones, inside the canvas")


def _add_sampler(p: argparse.ArgumentParser) -> None:
    """Diffusion/flow options; None leaves the model's measured default (a VAE model rejects them)."""
    p.add_argument("--label", default=None, help="class label (diffusion/flow; see `pixelsprite models`)")
    p.add_argument("--steps", type=int, default=None,
                   help=f"sampler steps, 1..{api.MAX_SAMPLE_STEPS} (default: the model's)")
    p.add_argument("--solver", default=None, help="ddpm|ddim (diffusion), euler|midpoint|heun (flow)")
    p.add_argument("--guidance", type=float, default=None,
                   help="classifier-free guidance: 0 unconditional, 1 conditional, >1 stronger (default: model's)")


def _add_candidates(p: argparse.ArgumentParser) -> None:
    p.add_argument("--candidates", type=int, default=1, metavar=f"1..{api.MAX_CANDIDATES}",
                   help="make this many per sprite and keep the teacher's best (default 1: no teacher)")
    p.add_argument("--teacher", default=None, help="teacher model that scores candidates (default: teacher)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pixelsprite", description="Pixel-art sprites from small ONNX models."
    )
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
    p.add_argument(
        "-n", "--count", type=int, default=16, help=f"number of sprites, 1..{api.MAX_COUNT} (default 16)"
    )
    p.add_argument("--seed", type=int, default=None, help="base seed; sprite i gets seed+i (default: random)")
    _add_output(p)
    _add_sampler(p)
    _add_candidates(p)

    p = sub.add_parser("variations", help="variations of one sprite")
    p.add_argument("sprite", help="the sprite PNG (the model's size)")
    p.add_argument("-n", "--count", type=int, default=8, help="number of variations (default 8)")
    p.add_argument(
        "--strength", type=float, default=0.5, help=f"noise scale 0..{api.MAX_STRENGTH} (default 0.5)"
    )
    p.add_argument(
        "--seed", type=int, default=None, help="base seed; variation i gets seed+i (default: random)"
    )
    _add_output(p)
    _add_sampler(p)
    _add_candidates(p)
    p.add_argument("--keep-class", action="store_true",
                   help="keep only candidates of the source sprite's teacher class (needs --candidates >= 2)")

    p = sub.add_parser("interpolate", help="a strip from sprite/seed A to sprite/seed B")
    p.add_argument("a", nargs="?", help="first endpoint: a PNG or seed:N")
    p.add_argument("b", nargs="?", help="last endpoint: a PNG or seed:N")
    p.add_argument("--seed-a", type=int, default=None, help="use this seed as endpoint A")
    p.add_argument("--seed-b", type=int, default=None, help="use this seed as endpoint B")
    p.add_argument(
        "-n", "--count", type=int, default=8,
        help=f"frames incl. endpoints, {api.MIN_FRAMES}..{api.MAX_FRAMES} (default 8)"
    )
    p.add_argument("--method", choices=api.METHODS, default="slerp", help="interpolation (default slerp)")
    _add_output(p)
    _add_sampler(p)
    _add_candidates(p)
    p.add_argument("--seed", type=int, default=None, help="seed of the candidates' jitter (default: random)")

    p = sub.add_parser("grid", help="a grid spanned by four corner sprites/seeds")
    p.add_argument("corners", nargs=4, metavar="CORNER", help="top-left top-right bottom-left bottom-right")
    p.add_argument(
        "--rows", type=int, default=4, help=f"grid rows, {api.MIN_GRID}..{api.MAX_GRID} (default 4)"
    )
    p.add_argument(
        "--cols", type=int, default=4, help=f"grid columns, {api.MIN_GRID}..{api.MAX_GRID} (default 4)"
    )
    p.add_argument("--method", choices=api.METHODS, default="slerp", help="interpolation (default slerp)")
    _add_output(p)

    p = sub.add_parser("score", help="score sprites with the teacher (JSON: quality, class, probability)")
    p.add_argument("sprites", nargs="+", metavar="SPRITE", help="16x16 or 40x40 PNG files")
    p.add_argument("--teacher", default=None, help="teacher model (default: teacher)")
    p.add_argument("--embedding", action="store_true", help="include each sprite's 64-d embedding")
    p.add_argument("--alpha-threshold", type=int, default=127, metavar="0..255",
                   help="input images are opaque where alpha > this (default 127)")

    p = sub.add_parser("similar", help="rank sprites (or fresh samples) by similarity to a reference sprite")
    p.add_argument("reference", metavar="REF", help="the reference sprite PNG (16x16 or 40x40)")
    p.add_argument("sprites", nargs="*", metavar="FILE", help="sprites to rank (default: fresh samples of --model)")
    p.add_argument("-n", "--count", type=int, default=64, help="fresh samples to rank (default 64)")
    p.add_argument("--seed", type=int, default=None, help="base seed of the samples (default: random)")
    p.add_argument("--top", type=int, default=None, help="keep only the TOP most similar")
    p.add_argument("--teacher", default=None, help="teacher model (default: teacher)")
    p.add_argument("--model", "-m", help="generator to sample when no FILE is given (default: the default model)")
    p.add_argument("-o", "--output", help="ranked sheet PNG, or folder with --separate (default: similar.png)")
    p.add_argument("--separate", action="store_true", help="write one PNG per sprite into the -o folder")
    p.add_argument("--scale", type=int, default=1, help=f"nearest-neighbour upscale, 1..{MAX_SCALE} (default 1)")
    p.add_argument("--columns", type=int, default=None, help="sheet columns (default: square-ish)")
    p.add_argument("--alpha-threshold", type=int, default=127, metavar="0..255",
                   help="input images are opaque where alpha > this (default 127)")

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
    q.add_argument("-o", "--output", default=None, help="output PNG (default: SPRITE-PALETTE.png next to SPRITE)")
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
    p.add_argument("palette", nargs="?", default=None, metavar="NAME|FILE",
                   help="show this palette's colours (a built-in name, a palette file or #hex,#hex...)")
    p.add_argument("-o", "--output", default=None, help="write the shown palette to this file (format by extension)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    p = sub.add_parser("serve", help="run the websocket bridge for editors (see docs/protocol.md)")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1, loopback only)")
    p.add_argument("--port", type=int, default=8737, help="TCP port (default 8737; 0 picks a free one)")
    p.add_argument("--token", default=os.environ.get("PIXELSPRITE_TOKEN"),
                   help="require this shared token (default: $PIXELSPRITE_TOKEN, else none)")
    p.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                   help="browser origin allowed to connect, e.g. http://localhost:5173 (repeatable)")
    p.add_argument("--log-format", choices=("text", "json"), default="text", help="log lines on stderr")
    p.add_argument("--preview-every", type=_at_least_one, default=1, metavar="N",
                   help="with \"preview\": true, a diffusion/flow preview at most every N sampler steps (default 1)")
    p.add_argument("--preview-interval", type=_non_negative_seconds, default=0.25, metavar="S",
                   help="... and at most one preview per S seconds per request (default 0.25; 0: no limit)")

    p = sub.add_parser("watch", help="run job files dropped into INBOX, outputs to --out (docs/watch-folder.md)")
    p.add_argument("inbox", help="folder job files (*.json) are dropped into; done/ and failed/ are made inside it")
    p.add_argument("--out", required=True, help="folder for one output folder per job and journal.jsonl")
    p.add_argument("--once", action="store_true", help="process the backlog and exit (2 if a job failed)")
    p.add_argument("--settle", type=float, default=0.5, metavar="S",
                   help="seconds a job file must be unchanged before it is read (default 0.5)")
    p.add_argument("--max-sprites", type=int, default=4096, help="sprites per job, all requests (default 4096)")
    p.add_argument("--log-format", choices=("text", "json"), default="text", help="log lines on stderr")

    p = sub.add_parser("evaluate", help="evaluate the generators on held-out data (docs/evaluation.md)")
    from .evaluation.command import add_arguments as _evaluate_arguments

    _evaluate_arguments(p)
    return parser


def _at_least_one(text: str) -> int:
    """argparse type: an int >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative_seconds(text: str) -> float:
    """argparse type: a finite number of seconds >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds >= 0, got {text!r}")
    return value


def _endpoint(text: str | None, seed: int | None, field: str) -> api.Endpoint:
    if text is not None and seed is not None:
        raise InvalidRequest(f"give endpoint {field} as a file or as --seed-{field}, not both", field=field)
    if seed is not None:
        return seed
    if text is None:
        raise InvalidRequest(
            f"endpoint {field} is missing: give a PNG, seed:N, or --seed-{field}", field=field
        )
    if text.startswith("seed:"):
        try:
            return int(text[5:])
        except ValueError:
            raise InvalidRequest(f"{field} must be a PNG path or seed:N, got {text!r}", field=field) from None
    return text


def _write(result: api.SpriteResult, args: argparse.Namespace) -> dict[str, object]:
    if not 1 <= args.scale <= MAX_SCALE:
        raise InvalidRequest(f"scale must be between 1 and {MAX_SCALE}, got {args.scale}", field="scale")
    if args.columns is not None and args.columns < 1:
        raise InvalidRequest(f"columns must be at least 1, got {args.columns}", field="columns")
    if args.separate:
        folder = Path(args.output or result.op)
        folder.mkdir(parents=True, exist_ok=True)
        files = []
        for i, sprite in enumerate(result):
            stem = (
                f"{result.model}-{sprite.seed}"
                if sprite.seed is not None
                else f"{result.model}-{result.op}-{i:03d}"
            )
            files.append(write_png(folder / f"{stem}.png", upscale(sprite.rgba, args.scale)).name)
        return {"path": str(folder), "files": files}
    path = Path(args.output or f"{result.op}.png")
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = args.columns or (result.layout[1] if result.layout != (0, 0) else None)
    sheet = compose_sheet(result.sprites, columns=columns, scale=args.scale)
    write_png(path, sheet)
    return {"path": str(path), "sheet_size": [int(sheet.shape[1]), int(sheet.shape[0])]}


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
    rows = [("NAME", "FAMILY", "SIZE", "SOURCE", "LABELS", "DESCRIPTION")]
    for m in res.models:
        name = m.name + (" *" if m.name == res.default else "")
        source = "built-in" if m.builtin else m.path
        rows.append((name, m.family, f"{m.width}x{m.height}", source, ",".join(m.labels), m.description))
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
    pal = resolve_palette(args.palette, field="palette")
    sprite = api.apply(src, pal, dither=args.dither, alpha_threshold=args.alpha_threshold,
                       despeckle=args.despeckle, outline=args.outline)
    out = Path(args.output) if args.output else src.with_name(f"{src.stem}-{pal.name}.png")
    out.parent.mkdir(parents=True, exist_ok=True)
    write_png(out, sprite)
    colours = np.unique(sprite[..., :3][sprite[..., 3] > 0].reshape(-1, 3), axis=0)
    print(json.dumps({"op": "apply", "palette": pal.name, "dither": args.dither, "size": [sprite.shape[1],
                      sprite.shape[0]], "colors": int(len(colours)), "path": str(out)}))


def _palette(args: argparse.Namespace, registry: Registry) -> None:
    out = Path(args.output)
    fmt = format_for_path(out)
    sprites = getattr(args, "sprites", None)
    res = api.palette(getattr(args, "model", None), getattr(args, "count", 64), getattr(args, "seed", None),
                      colors=args.colors, method=args.method, sprites=sprites, label=getattr(args, "label", None),
                      format=fmt, name=args.name or out.stem, registry=registry)
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
        res = api.similar(args.reference, args.sprites, top=args.top, teacher=args.teacher,
                          alpha_threshold=args.alpha_threshold, registry=registry)
    else:
        res = api.similar(args.reference, model=args.model, count=args.count, seed=args.seed, top=args.top,
                          teacher=args.teacher, alpha_threshold=args.alpha_threshold, registry=registry)
    return res


def _run(args: argparse.Namespace) -> int:
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
        res = _similar(args, registry)
        summary = res.summary()
        if args.sprites:
            summary["ranked_files"] = [args.sprites[i] for i in summary["index"]]
        summary.update(_write(res, args))
        print(json.dumps(summary))
        return EXIT_OK
    if args.command == "evaluate":
        from .evaluation.command import run as evaluate

        return evaluate(args, args.models_dir, builtin=not args.no_builtin_models)
    if args.command == "watch":
        from bridge.watcher import watch_main

        return watch_main(args.inbox, args.out, registry=registry, once=args.once, settle_s=args.settle,
                          log_format=args.log_format, max_sprites=args.max_sprites)
    if args.command == "serve":
        from bridge.server import serve_forever  # the bridge imports pixelsprite; import it only when serving

        return serve_forever(registry=registry, host=args.host, port=args.port, token=args.token,
                             allow_origins=args.allow_origin, log_format=args.log_format,
                             preview_every=args.preview_every, preview_interval_s=args.preview_interval)
    common: dict[str, Any] = {"max_colors": args.max_colors, "registry": registry, "palette": args.palette,
                              "dither": args.dither, "alpha_threshold": args.alpha_threshold,
                              "despeckle": args.despeckle, "outline": args.outline}
    result: api.SpriteResult
    sampler: dict[str, Any] = {"label": getattr(args, "label", None), "solver": getattr(args, "solver", None),
               "guidance": getattr(args, "guidance", None)}
    best: dict[str, Any] = {"candidates": getattr(args, "candidates", 1), "teacher": getattr(args, "teacher", None)}
    if args.command == "generate":
        result = api.generate(args.model, args.count, args.seed, steps=args.steps, **sampler, **common, **best)
    elif args.command == "variations":
        result = api.variations(args.model, args.sprite, args.count, args.strength, args.seed,
                                steps=args.steps, keep_class=args.keep_class, **sampler, **common, **best)
    elif args.command == "interpolate":
        a = _endpoint(args.a, args.seed_a, "a")
        b = _endpoint(args.b, args.seed_b, "b")
        result = api.interpolate(args.model, a, b, args.count, args.method, steps=args.steps,
                                 seed=args.seed, **sampler, **common, **best)

    elif args.command == "grid":
        corners = [_endpoint(c, None, f"corners[{i}]") for i, c in enumerate(args.corners)]
        result = api.grid(args.model, corners, args.rows, args.cols, args.method, **common)
    else:  # pragma: no cover - argparse rejects unknown commands
        raise InvalidRequest(f"unknown command {args.command!r}", field="command")
    summary = result.summary()
    if result.scores is None:
        seeds = summary.pop("seeds")  # contiguous: sprite i has seed base_seed + i
        summary["seed_range"] = [seeds[0], seeds[-1]] if result.base_seed is not None else None
    # with candidates (or for similar) the seeds are the winners' and stay listed, one per sprite
    if args.palette is not None:
        summary["palette"] = args.palette
        summary["dither"] = args.dither
    summary.update(_write(result, args))
    print(json.dumps(summary))
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 file-system error, 2 bad request/model/usage)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse exits 2 on usage errors, 0 on --help
        return e.code if isinstance(e.code, int) else EXIT_ERROR
    try:
        return _run(args)
    except PixelspriteError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as e:
        print(f"error: {e.strerror or e}: {e.filename or ''}".rstrip(": "), file=sys.stderr)
        return EXIT_IO
