"""No telemetry files (issue 18): onnxruntime writes a device id and a growing ``onnxruntime.db`` under
``~/.cache/Microsoft/DeveloperTools/`` when it is imported, unless its telemetry is off before that. ``generate`` and
``serve`` run here in a fresh ``$HOME`` (the user never set ``ORT_DISABLE_TELEMETRY``) and must leave it empty."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from pixelsprite_bridge.client import SyncClient

REPO = Path(__file__).resolve().parents[1]


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ORT_DISABLE_TELEMETRY", "XDG_CACHE_HOME")}
    env.update(HOME=str(home), PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    return env


def _files(home: Path) -> list[str]:
    return sorted(str(p.relative_to(home)) for p in home.rglob("*"))


def test_generate_leaves_no_telemetry_files(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pixelsprite",
            "generate",
            "--model",
            "vae16",
            "-n",
            "4",
            "--seed",
            "1",
            "-o",
            str(tmp_path / "s.png"),
        ],
        cwd=tmp_path,
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert _files(home) == [], _files(home)  # before: .cache/Microsoft/DeveloperTools/.onnxruntime/deviceid, ...


def test_serve_leaves_no_telemetry_files(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pixelsprite", "serve", "--port", "0"],
        cwd=tmp_path,
        env=_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = json.loads(proc.stdout.readline())["url"]
        with SyncClient(url) as c:
            assert len(c.generate(model="vae16", count=2, seed=1)) == 2  # a session was made and run
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert _files(home) == [], _files(home)


def test_the_control_onnxruntime_alone_does_write_them(tmp_path: Path) -> None:
    """The check above can see the files: a bare ``import onnxruntime`` in a fresh home makes them (this
    onnxruntime has telemetry on by default on Linux)."""
    home = tmp_path / "home"
    home.mkdir()
    subprocess.run([sys.executable, "-c", "import onnxruntime"], env=_env(home), check=True, timeout=60)
    made = _files(home)
    if not made:  # an onnxruntime built without telemetry: nothing to control against
        import pytest

        pytest.skip("this onnxruntime writes no telemetry files even when allowed")
    assert any("DeveloperTools" in f for f in made), made
