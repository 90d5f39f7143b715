"""Screenshot of the pixelsprite dock in the real Godot editor, in a window (not ``--headless``), under Xvfb.

    sudo python plugins/godot/tools/dock_screenshot.py [-o docs/godot-dock.png] [--size 1600x900] [--keep DIR]

Needs the chroot of ``provision_godot.sh`` with ``xvfb`` and Mesa's software OpenGL inside it (this script installs them
into the chroot on first use: ``apt-get install xvfb libgl1-mesa-dri libglx-mesa0``). It copies ``examples/godot-demo``
to a temporary folder, installs the plugin into it (``install_addon.py``), adds the driver plugin ``tools/shot`` (which
brings the dock to the front, connects, generates and saves the editor window), imports the project, starts a
pixelsprite server on a free port on this machine (the chroot shares its network), runs ``Xvfb`` and ``godot --editor
--rendering-driver opengl3`` inside the chroot, and copies the window's image to ``-o``. Prints a JSON report (window
size, where the dock is, the preview's icon size, the dock's status line).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from install_addon import install as install_addon  # this folder; run as a script, or with it on sys.path

ROOT = Path(__file__).resolve().parents[3]
DEMO = ROOT / "examples" / "godot-demo"
SHOT = Path(__file__).resolve().parent / "shot"
GODOT_ROOT = Path(os.environ.get("PIXELSPRITE_GODOT_ROOT", "/opt/pixelsprite-godot"))
PACKAGES = ("xvfb", "xauth", "libgl1-mesa-dri", "libglx-mesa0", "libegl-mesa0", "fonts-dejavu-core")

# Inside a private mount namespace: /proc and the project mounted, Xvfb started, Godot run in a window on it.
INNER = r"""
set -e
root="$1"; project="$2"; size="$3"; shift 3
mount -t proc proc "$root/proc"
mkdir -p "$root/project"
mount --bind "$project" "$root/project"
exec chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/bin:/bin LANG=C.UTF-8 SIZE="$size" /bin/sh -c '
  mkdir -p /tmp/.X11-unix /tmp/xdg && chmod 1777 /tmp/.X11-unix && chmod 700 /tmp/xdg
  Xvfb :77 -screen 0 ${SIZE}x24 -nolisten tcp >/tmp/xvfb.log 2>&1 &
  xvfb=$!
  for i in $(seq 50); do [ -e /tmp/.X11-unix/X77 ] && break; sleep 0.1; done
  DISPLAY=:77 XDG_RUNTIME_DIR=/tmp/xdg LIBGL_ALWAYS_SOFTWARE=1 timeout 240 godot --path /project \
    --rendering-driver opengl3 --resolution "$SIZE" --position 0,0 "$@"
  status=$?
  kill $xvfb 2>/dev/null || true
  exit $status
' sh "$@"
"""


def _chroot_has(binary: str) -> bool:
    return (GODOT_ROOT / "usr" / "bin" / binary).exists()


def _install_packages() -> None:
    script = (
        "apt-get -qq -o Acquire::Check-Valid-Until=false update && "
        f"apt-get -qq -y --no-install-recommends install {' '.join(PACKAGES)} >/dev/null && apt-get clean"
    )
    subprocess.run(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "--",
            "/bin/sh",
            "-c",
            f'mount -t proc proc "{GODOT_ROOT}/proc" && chroot "{GODOT_ROOT}" /usr/bin/env -i '
            f'PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive sh -c "{script}"',
        ],
        check=True,
    )


def _prepare(project: Path) -> None:
    shutil.copytree(DEMO, project, ignore=shutil.ignore_patterns(".godot"))
    install_addon(project)  # the demo carries no copy of the plugin
    shutil.copytree(SHOT, project / "addons" / "pixelsprite_shot")
    (project / "addons" / "pixelsprite_shot" / "plugin.cfg").write_text(
        '[plugin]\n\nname="pixelsprite screenshot"\ndescription="Screenshot driver (not shipped)"\n'
        'author="pixelsprite"\nversion="1"\nscript="shot.gd"\n'
    )
    cfg = project / "project.godot"
    text = cfg.read_text()
    text = text.replace(
        '"res://addons/pixelsprite/plugin.cfg")',
        '"res://addons/pixelsprite/plugin.cfg", "res://addons/pixelsprite_shot/plugin.cfg")',
    )
    cfg.write_text(text)


def run_in_window(
    project: Path, args: Sequence[str], *, size: str = "1600x900", timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Runs the chroot's Godot on ``project`` in a window (not ``--headless``) on a private Xvfb screen of ``size``,
    with Mesa's software OpenGL: ``godot --path /project --rendering-driver opengl3 --resolution SIZE ARGS...``.
    Needs the chroot's Xvfb (``_chroot_has("Xvfb")``) and root."""
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", INNER, "sh"]
        + [str(GODOT_ROOT), str(project), size, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-o", "--output", default=str(ROOT / "docs" / "godot-dock.png"))
    ap.add_argument("--size", default="1600x900", help="window (and screen) size")
    ap.add_argument("--model", default="vae16")
    ap.add_argument("--count", type=int, default=24)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--select", type=int, default=3, help="select the first N sprites in the preview")
    ap.add_argument("--keep", default=None, help="keep the project copy in this folder (to look at the logs)")
    ap.add_argument("--no-install", action="store_true", help="exit 4 instead of installing Xvfb into the chroot")
    args = ap.parse_args(argv)
    if not (GODOT_ROOT / ".pixelsprite-godot-ready").is_file():
        print(f"no provisioned Godot at {GODOT_ROOT}: run plugins/godot/tools/provision_godot.sh", file=sys.stderr)
        return 3
    if not _chroot_has("Xvfb"):
        if args.no_install:
            print(f"no Xvfb in {GODOT_ROOT}", file=sys.stderr)
            return 4
        _install_packages()
    sys.path.insert(0, str(ROOT))
    from pixelsprite.registry import Registry
    from pixelsprite_bridge.server import BackgroundServer

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="pixelsprite-shot-"))
    project = work / "demo"
    if project.exists():
        shutil.rmtree(project)
    runner = ROOT / "plugins" / "godot" / "tools" / "godot_chroot.sh"
    with BackgroundServer(registry=Registry(env=False), workers=2, grace_s=1.0) as server:
        _prepare(project)
        settings = json.dumps({"model": args.model, "count": args.count, "seed": args.seed, "select": args.select})
        imp = subprocess.run(
            [str(runner), str(project), "--headless", "--import"], capture_output=True, text=True, timeout=300
        )
        (work / "import.log").write_text(imp.stdout + imp.stderr)
        run = run_in_window(project, ["--editor", "--", server.url, settings], size=args.size)
    (work / "editor.log").write_text(run.stdout + run.stderr)
    shots = [line for line in run.stdout.splitlines() if line.startswith("shot: ")]
    print("\n".join(shots), file=sys.stderr)
    if run.returncode != 0 or not (project / "shot.png").is_file():
        print(f"the editor run failed (exit {run.returncode}); logs in {work}", file=sys.stderr)
        print((run.stdout + run.stderr)[-4000:], file=sys.stderr)
        return 1
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(project / "shot.png", out)
    report = json.loads((project / "shot_report.json").read_text())
    report["output"] = str(out)
    print(json.dumps(report))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
