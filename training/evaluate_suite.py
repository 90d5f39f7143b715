"""``python -m training.evaluate`` / ``python -m training.evaluate_suite``: the evaluation suite from training.

The same code as ``pixelsprite evaluate`` (:mod:`pixelsprite.evaluation`, torch-free); this entry point adds
``--models-dir`` so bundles that are not installed yet (e.g. a fresh export in ``runs/``) can be evaluated too.

    python -m training.evaluate --data ../shared/datasets --out docs/evaluation.md
"""

from __future__ import annotations

import argparse

from pixelsprite.evaluation.command import add_arguments, run


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models-dir", action="append", default=[], metavar="DIR", help="extra folder of bundles")
    add_arguments(p)
    a = p.parse_args(argv)
    return run(a, a.models_dir)


if __name__ == "__main__":
    raise SystemExit(main())
