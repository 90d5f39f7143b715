"""The suite's command line, shared by ``pixelsprite evaluate`` and ``python -m training.evaluate``.

    pixelsprite evaluate --data ../shared/datasets [--models vae16 flow16] [--count 512] [--out docs/evaluation.md]

Writes ``--out`` (markdown), ``<out stem>/*.png`` sample sheets and ``<out stem>/<stem>.json``; prints the
headline table and one JSON summary line.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections.abc import Sequence

from ..errors import InvalidRequest
from ..registry import Registry
from .data import load_split
from .report import headline_table, write_report
from .suite import SuiteConfig, run_suite
from .teacher_scores import teacher_scorer

__all__ = ["add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="folder holding dcss-tiles/ and onebit-icons-16/ "
                                                 "(e.g. ../shared/datasets)")
    p.add_argument("--cache", default=".cache/datasets", help="dataset cache folder ('' for none)")
    p.add_argument("--models", nargs="+", default=None, metavar="NAME",
                   help="generators to evaluate (default: every vae/diffusion/flow bundle)")
    p.add_argument("--evaluator", default="evaluator", help="the evaluator bundle (default evaluator)")
    p.add_argument("--teacher", default="teacher", help="teacher bundle for quality scores, if installed ('' off)")
    p.add_argument("--count", type=int, default=SuiteConfig.count, help="generated sprites per model (default 512)")
    p.add_argument("--baseline-count", type=int, default=SuiteConfig.baseline_count,
                   help="training sprites in the real-vs-real baseline (default 512)")
    p.add_argument("--seed", type=int, default=SuiteConfig.seed, help="base seed (default 0)")
    p.add_argument("--out", default="docs/evaluation.md", help="markdown report (default docs/evaluation.md)")
    p.add_argument("--threads", type=int, default=1,
                   help="onnxruntime threads per session (default 1; 0 lets onnxruntime decide)")


def run(args: argparse.Namespace, dirs: Sequence[str] = (), builtin: bool = True) -> int:
    registry = Registry(dirs, builtin=builtin, threads=args.threads)
    cfg = SuiteConfig(count=args.count, baseline_count=args.baseline_count, seed=args.seed)
    scorer, note = teacher_scorer(registry, args.teacher) if args.teacher else (None, "teacher off")
    print(f"teacher: {note}", file=sys.stderr, flush=True)
    ev_metrics = registry.info(args.evaluator).manifest.metrics.get("held_out", {})
    card = ", ".join(f"held-out accuracy {100 * v['accuracy']:.1f}% on `{k}`" for k, v in ev_metrics.items()
                     if isinstance(v, dict) and "accuracy" in v)
    result = run_suite(registry, lambda builder, size: load_split(builder, args.data, args.cache or None, size),
                       names=args.models, evaluator=args.evaluator, cfg=cfg, scorer=scorer,
                       teacher=args.teacher if scorer else None,
                       log=lambda msg: print(msg, file=sys.stderr, flush=True))
    if not result.datasets:
        raise InvalidRequest("nothing to evaluate: " + ("; ".join(result.skipped) or "no generator bundles found"),
                             field="models")
    command = "pixelsprite evaluate --data DATA" + (f" --count {args.count}" if args.count != SuiteConfig.count
                                                     else "")
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    written = write_report(result, args.out, command=command, when=when,
                           evaluator_card=card or "see its card")
    print(headline_table(result))
    print(json.dumps({"op": "evaluate", "models": [r.name for d in result.datasets for r in d.rows
                                                   if r.kind == "generator"],
                      "skipped": list(result.skipped), "seconds": round(result.seconds, 1),
                      "files": [str(p) for p in written[:2]], "sheets": len(written) - 2}))
    return 0
