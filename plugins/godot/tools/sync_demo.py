"""Copy the Godot plugin (plugins/godot/addons/pixelsprite) into the demo project (examples/godot-demo/addons/).

The demo carries a real copy, not a symlink, so it opens in a clean clone on any OS and can be bind-mounted or copied
into the Godot chroot on its own; tests/plugins/test_godot.py fails when the copy differs from the original.

    python plugins/godot/tools/sync_demo.py            # copy
    python plugins/godot/tools/sync_demo.py --check    # exit 1 and list differences if out of date
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SOURCE = ROOT / "plugins" / "godot" / "addons" / "pixelsprite"
COPY = ROOT / "examples" / "godot-demo" / "addons" / "pixelsprite"
# files Godot writes itself when the editor opens the project
IGNORED_SUFFIXES = (".uid", ".import")


def _files(folder: Path) -> dict[str, bytes]:
    if not folder.is_dir():
        return {}
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.endswith(IGNORED_SUFFIXES)
    }


def differences(source: Path = SOURCE, copy: Path = COPY) -> list[str]:
    """What differs between the plugin and the demo's copy, one line per file (empty: in sync)."""
    a, b = _files(source), _files(copy)
    out = [f"missing in the demo: {n}" for n in sorted(a.keys() - b.keys())]
    out += [f"only in the demo: {n}" for n in sorted(b.keys() - a.keys())]
    out += [f"differs: {n}" for n in sorted(a.keys() & b.keys()) if a[n] != b[n]]
    return out


def sync(source: Path = SOURCE, copy: Path = COPY) -> None:
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns(*(f"*{s}" for s in IGNORED_SUFFIXES)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report differences")
    args = parser.parse_args(argv)
    if args.check:
        diff = differences()
        for line in diff:
            print(line, file=sys.stderr)
        return 1 if diff else 0
    sync()
    print(f"copied {SOURCE.relative_to(ROOT)} -> {COPY.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
