"""Install the Godot plugin (plugins/godot/addons/pixelsprite) into a Godot project as res://addons/pixelsprite.

    python plugins/godot/tools/install_addon.py examples/godot-demo        # the demo: run once after cloning
    python plugins/godot/tools/install_addon.py path/to/your/project       # your own project (or an update)
    python plugins/godot/tools/install_addon.py examples/godot-demo --link # a symlink instead: edits show at once

The repository holds the plugin once; the demo project (``examples/godot-demo``) enables it but carries no copy
(``addons/pixelsprite`` is ignored by git there). A copy works on every OS and in any project; ``--link`` makes
``addons/pixelsprite`` a symbolic link to the plugin in this checkout (Linux and macOS; on Windows it needs
Developer Mode) for working on the plugin. The tests (``tests/plugins/test_godot.py``) install it the same way into
their copy of the demo.

Installing over an earlier copy updates it: files that the plugin no longer has are removed, and the files Godot
writes itself next to the scripts (``*.uid``, ``*.import``) are kept.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SOURCE = ROOT / "plugins" / "godot" / "addons" / "pixelsprite"
DEMO = ROOT / "examples" / "godot-demo"
# files Godot writes itself next to the scripts when the editor opens the project
GODOT_FILES = (".uid", ".import")


def _plugin_files(folder: Path) -> list[str]:
    return sorted(
        p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and not p.name.endswith(GODOT_FILES)
    )


def install(project: str | os.PathLike[str], link: bool = False, source: Path = SOURCE) -> Path:
    """Copy (or, with ``link``, symlink) the plugin to ``project/addons/pixelsprite``; returns that path.

    Raises ``FileNotFoundError`` when ``project`` has no ``project.godot`` and ``FileExistsError`` when ``--link``
    would replace a folder that is not an earlier copy of the plugin.
    """
    project = Path(project)
    if not (project / "project.godot").is_file():
        raise FileNotFoundError(f"{project} is not a Godot project (no project.godot)")
    dest = project / "addons" / "pixelsprite"
    dest.parent.mkdir(exist_ok=True)
    if link:
        if dest.is_symlink():
            dest.unlink()
        elif dest.exists():
            stray = [n for n in _plugin_files(dest) if not (source / n).is_file()]
            if stray:
                raise FileExistsError(f"{dest} holds files that are not the plugin's ({', '.join(stray)}); move it")
            shutil.rmtree(dest)
        dest.symlink_to(os.path.relpath(source, dest.parent), target_is_directory=True)
        return dest
    if dest.is_symlink():
        dest.unlink()
    dest.mkdir(exist_ok=True)
    for name in _plugin_files(dest):
        if not (source / name).is_file():
            (dest / name).unlink()  # no longer part of the plugin
    for name in _plugin_files(source):
        target = dest / name
        if not (target.is_file() and filecmp.cmp(source / name, target, shallow=False)):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / name, target)
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", nargs="?", default=str(DEMO), help="the Godot project folder (default: the demo)")
    parser.add_argument("--link", action="store_true", help="a symbolic link to this checkout's plugin, not a copy")
    args = parser.parse_args(argv)
    try:
        dest = install(args.project, link=args.link)
    except OSError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    how = "linked" if args.link else "copied"
    print(f"{how} {SOURCE} -> {dest}; enable it in Project > Project Settings > Plugins if it is not already")
    return 0


if __name__ == "__main__":
    sys.exit(main())
