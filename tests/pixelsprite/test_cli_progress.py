"""The progress bar of diffusion and flow work (issue 18): drawn on stderr when stderr is a terminal, never when it is
not one or with ``--quiet``; stdout keeps only the JSON summary. ``python -m pixelsprite`` runs with its stderr on a
pseudo-terminal, as in a shell."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pixelsprite.iterative_bundles import write_iterative_models

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def flow_dir(tmp_path_factory: pytest.TempPathFactory, onnx_files: dict[str, Path]) -> Path:
    root = tmp_path_factory.mktemp("flow-models")
    write_iterative_models(root, onnx_files)
    return root


def _run(models: Path, *args: str, tty: bool) -> tuple[int, str, str]:
    """Run the CLI; stderr on a pseudo-terminal when ``tty`` (stdout always a pipe). Returns (code, stdout, stderr)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "pixelsprite", "--models-dir", str(models), "--no-builtin-models", *args]
    if not tty:
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
        return proc.returncode, proc.stdout, proc.stderr
    master, slave = pty.openpty()
    try:
        p = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=slave, text=True)
        os.close(slave)
        chunks = []
        while True:
            ready, _, _ = select.select([master], [], [], 60)
            if not ready:
                break
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed its end
                break
            if not data:
                break
            chunks.append(data)
        out = p.stdout.read() if p.stdout is not None else ""
        code = p.wait(timeout=60)
    finally:
        os.close(master)
    return code, out, b"".join(chunks).decode(errors="replace")


def test_a_terminal_gets_a_progress_bar_on_stderr(flow_dir: Path, tmp_path: Path) -> None:
    code, out, err = _run(
        flow_dir,
        "generate",
        "--model",
        "tflow",
        "-n",
        "3",
        "--seed",
        "1",
        "--steps",
        "6",
        "--solver",
        "euler",
        "-o",
        str(tmp_path / "s.png"),
        tty=True,
    )
    assert code == 0, err
    assert "generate [" in err and "6/6 steps" in err and "\r" in err, repr(err)
    assert err.rstrip("\r\n").endswith("s") and err.endswith("\n")  # the finished bar stays, on its own line
    assert json.loads(out)["count"] == 3  # stdout: the summary only


def test_interpolate_and_variations_show_it_too(flow_dir: Path, tmp_path: Path) -> None:
    code, _, err = _run(
        flow_dir,
        "interpolate",
        "--model",
        "tflow",
        "seed:1",
        "seed:2",
        "-n",
        "3",
        "--steps",
        "4",
        "-o",
        str(tmp_path / "i.png"),
        tty=True,
    )
    assert code == 0 and "interpolate [" in err and "/" in err, err


@pytest.mark.parametrize("tty", [True, False])
def test_no_bar_with_quiet_or_without_a_terminal(flow_dir: Path, tmp_path: Path, tty: bool) -> None:
    args = ["generate", "--model", "tflow", "-n", "2", "--seed", "1", "--steps", "4", "-o", str(tmp_path / "s.png")]
    code, out, err = _run(flow_dir, *args, *(["--quiet"] if tty else []), tty=tty)
    assert code == 0
    assert "steps" not in err and "[" not in err, repr(err)
    assert json.loads(out)["count"] == 2


def test_an_error_after_the_bar_starts_on_its_own_line(flow_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "o.png").mkdir()  # the sheet cannot be written: the error follows the finished bar
    code, _, err = _run(
        flow_dir,
        "generate",
        "--model",
        "tflow",
        "-n",
        "2",
        "--seed",
        "1",
        "--steps",
        "4",
        "-o",
        str(tmp_path / "o.png"),
        tty=True,
    )
    assert code == 1
    assert "\nerror: Is a directory: " in err.replace("\r\n", "\n"), repr(err)
