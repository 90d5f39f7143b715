"""The suite's command line, shared by ``pixelsprite evaluate`` and ``python -m training.evaluate``.

    pixelsprite evaluate --data ../shared/datasets [--models vae16 flow16] [--count 512] [--out DIR]

Writes ``DIR/evaluation.md`` (markdown), ``DIR/evaluation/*.png`` sample sheets and ``DIR/evaluation/evaluation.json``
into the folder the user names (default ``./pixelsprite-evaluation``, never the source tree's ``docs/``: the
published page is refreshed with ``--out docs``); ``--out FILE.md`` names the markdown file itself, with the sheets in
``FILE/`` beside it. Prints the headline table and one JSON summary line on stdout, and where the report went on
stderr. Bad numbers (``--count 0``) are an ``error:`` line naming the option and its limits (exit 2).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from ..api import MAX_SEED
from ..errors import InvalidRequest
from ..registry import Registry
from .data import load_split
from .report import headline_table, write_report
from .suite import SuiteConfig, run_suite
from .teacher_scores import teacher_scorer

__all__ = ["DEFAULT_OUT", "MAX_EVAL_COUNT", "add_arguments", "report_path", "run"]

DEFAULT_OUT = "pixelsprite-evaluation"
"""The output folder when ``--out`` is not given, relative to the current directory."""
MAX_EVAL_COUNT = 65536
"""The most sprites ``--count`` / ``--baseline-count`` may ask for (they are all held in memory)."""
MAX_THREADS = 1024
_MIN_COUNT = 2 * SuiteConfig.pr_k  # precision/recall needs more than k sprites in each equal-size subsample


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data", required=True, help="folder holding dcss-tiles/ and onebit-icons-16/ (e.g. ../shared/datasets)"
    )
    p.add_argument("--cache", default=".cache/datasets", help="dataset cache folder ('' for none)")
    p.add_argument(
        "--models",
        nargs="+",
        default=None,
        metavar="NAME",
        help="generators to evaluate (default: every vae/diffusion/flow bundle)",
    )
    p.add_argument("--evaluator", default="evaluator", help="the evaluator bundle (default evaluator)")
    p.add_argument("--teacher", default="teacher", help="teacher bundle for quality scores, if installed ('' off)")
    p.add_argument(
        "--count",
        type=int,
        default=SuiteConfig.count,
        help=f"generated sprites per model ({_MIN_COUNT}..{MAX_EVAL_COUNT}, default 512)",
    )
    p.add_argument(
        "--baseline-count",
        type=int,
        default=SuiteConfig.baseline_count,
        help=f"training sprites in the real-vs-real baseline ({_MIN_COUNT}..{MAX_EVAL_COUNT}, default 512)",
    )
    p.add_argument("--seed", type=int, default=SuiteConfig.seed, help="base seed (default 0)")
    p.add_argument(
        "--out",
        default=DEFAULT_OUT,
        metavar="DIR",
        help=f"output folder: DIR/evaluation.md, DIR/evaluation/ (sample sheets, evaluation.json); default "
        f"./{DEFAULT_OUT}; a path ending in .md names the markdown file itself",
    )
    p.add_argument(
        "--threads", type=int, default=1, help="onnxruntime threads per session (default 1; 0 lets onnxruntime decide)"
    )


def _check(value: int, option: str, field: str, lo: int, hi: int) -> None:
    if not lo <= value <= hi:
        raise InvalidRequest(f"{option} must be between {lo} and {hi}, got {value}", field=field)


def report_path(out: str) -> Path:
    """The markdown file ``--out`` names: ``out`` itself when it ends in ``.md``, else ``out/evaluation.md``."""
    path = Path(out)
    return path if path.suffix.lower() == ".md" else path / "evaluation.md"


def run(args: argparse.Namespace, dirs: Sequence[str] = (), builtin: bool = True) -> int:
    _check(args.count, "--count", "count", _MIN_COUNT, MAX_EVAL_COUNT)
    _check(args.baseline_count, "--baseline-count", "baseline_count", _MIN_COUNT, MAX_EVAL_COUNT)
    _check(args.seed, "--seed", "seed", 0, MAX_SEED - args.count)
    _check(args.threads, "--threads", "threads", 0, MAX_THREADS)
    if not str(args.out).strip():
        raise InvalidRequest("--out must name a folder (or a .md file)", field="out")
    md = report_path(args.out)
    if md.is_dir():
        raise InvalidRequest(f"--out: {str(md)!r} is a folder, where the report would go", field="out")
    if md.parent.exists() and not md.parent.is_dir():
        raise InvalidRequest(f"--out: {str(md.parent)!r} is a file, not a folder", field="out")
    registry = Registry(dirs, builtin=builtin, threads=args.threads)
    cfg = SuiteConfig(count=args.count, baseline_count=args.baseline_count, seed=args.seed)
    scorer, note = teacher_scorer(registry, args.teacher) if args.teacher else (None, "teacher off")
    print(f"teacher: {note}", file=sys.stderr, flush=True)
    ev_metrics = registry.info(args.evaluator).manifest.metrics.get("held_out", {})
    card = ", ".join(
        f"held-out accuracy {100 * v['accuracy']:.1f}% on `{k}`"
        for k, v in ev_metrics.items()
        if isinstance(v, dict) and "accuracy" in v
    )
    result = run_suite(
        registry,
        lambda builder, size: load_split(builder, args.data, args.cache or None, size),
        names=args.models,
        evaluator=args.evaluator,
        cfg=cfg,
        scorer=scorer,
        teacher=args.teacher if scorer else None,
        log=lambda msg: print(msg, file=sys.stderr, flush=True),
    )
    if not result.datasets:
        raise InvalidRequest(
            "nothing to evaluate: " + ("; ".join(result.skipped) or "no generator bundles found"), field="models"
        )
    command = (
        "pixelsprite evaluate --data DATA"
        + (f" --count {args.count}" if args.count != SuiteConfig.count else "")
        + f" --out {args.out}"
    )
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    written = write_report(result, md, command=command, when=when, evaluator_card=card or "see its card")
    print(headline_table(result))
    print(
        json.dumps(
            {
                "op": "evaluate",
                "models": [r.name for d in result.datasets for r in d.rows if r.kind == "generator"],
                "skipped": list(result.skipped),
                "seconds": round(result.seconds, 1),
                "files": [str(p) for p in written[:2]],
                "sheets": len(written) - 2,
            }
        )
    )
    print(
        f"report: {md.resolve()} (sample sheets and {written[1].name} in {written[1].parent.resolve()})",
        file=sys.stderr,
        flush=True,
    )
    return 0
