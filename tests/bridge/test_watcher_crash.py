"""Crash test: SIGKILL the watcher process in the middle of a batch, restart it, and check every job completed
exactly once with no partial or duplicate outputs (and images identical to an uninterrupted run)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pixelsprite.registry import Registry
from pixelsprite_bridge.watcher import STAGING, Watcher
from tests.bridge.test_watcher import check_outputs, done_names, drop, wait_for

ROOT = Path(__file__).resolve().parents[2]
JOBS = 24


def _job(i: int) -> dict[str, object]:
    return {
        "requests": [
            {"op": "generate", "model": "tiny", "count": 150, "seed": 1000 * i},
            {"op": "grid", "model": "tiny", "corners": [i, i + 1, i + 2, i + 3], "rows": 4, "cols": 4},
        ],
        "output": {"layout": "both"},
    }


def _images(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir() if p.suffix == ".png"}


def test_sigkill_mid_batch_then_restart_completes_each_job_exactly_once(
    models_dir: Path, registry: Registry, tmp_path: Path
) -> None:
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    names = [f"job{i:02d}" for i in range(JOBS)]
    for i, name in enumerate(names):
        drop(inbox, name, _job(i))
    env = {k: v for k, v in os.environ.items() if k != "PIXELSPRITE_MODELS"}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [
        sys.executable,
        "-m",
        "pixelsprite",
        "--models-dir",
        str(models_dir),
        "--no-builtin-models",
        "watch",
        str(inbox),
        "--out",
        str(out),
        "--settle",
        "0",
        "--log-format",
        "json",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: len(done_names(inbox)) >= 3, timeout=20, what="a few jobs done before the kill")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    finished_before = done_names(inbox)
    assert 3 <= len(finished_before) < JOBS, "the kill should land in the middle of the batch"

    # restart (the same command with --once) and let it finish the backlog
    rc = subprocess.run([*cmd, "--once"], cwd=ROOT, env=env, capture_output=True, timeout=60).returncode
    assert rc == 0
    assert done_names(inbox) == set(names)
    assert not list((inbox / "failed").iterdir()) and not list(inbox.glob("*.json"))
    assert sorted(p.name for p in out.iterdir() if p.is_dir() and p.name != STAGING) == names
    assert not any((out / STAGING).iterdir())

    entries = [json.loads(line) for line in (out / "journal.jsonl").read_text().splitlines() if line.strip()]
    for name in names:
        check_outputs(out, name)  # exactly the manifest's files, each with its hash: nothing partial or extra
        runs = [e for e in entries if e["job"] == name and e["state"] == "done" and "note" not in e]
        assert len(runs) <= 1, (name, runs)  # committed by at most one run; a second run only notes it
        assert any(e["job"] == name and e["state"] == "done" for e in entries)

    # the interrupted batch's images are byte-identical to an uninterrupted run's
    ref_in, ref_out = tmp_path / "ref-in", tmp_path / "ref-out"
    ref_in.mkdir()
    for i in (0, JOBS - 1):
        drop(ref_in, names[i], _job(i))
    t0 = time.monotonic()
    Watcher(ref_in, ref_out, registry=registry, settle_s=0).run_once(timeout=30)
    assert time.monotonic() - t0 < 30
    for i in (0, JOBS - 1):
        assert _images(out / names[i]) == _images(ref_out / names[i])


def test_sigterm_stops_the_watcher_cleanly(models_dir: Path, tmp_path: Path) -> None:
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PIXELSPRITE_MODELS"}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [
        sys.executable,
        "-m",
        "pixelsprite",
        "--models-dir",
        str(models_dir),
        "--no-builtin-models",
        "watch",
        str(inbox),
        "--out",
        str(out),
        "--settle",
        "0.1",
        "--log-format",
        "json",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(out.is_dir, timeout=20, what="the watcher started")
        drop(inbox, "live", {"op": "generate", "model": "tiny", "count": 2, "seed": 8})  # picked up by the observer
        wait_for(lambda: "live" in done_names(inbox), timeout=20, what="the dropped job")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.stderr is not None
    events = [json.loads(line) for line in proc.stderr.read().decode().splitlines() if line.startswith("{")]
    assert any(e.get("event") == "job" and e.get("job") == "live" and e.get("outcome") == "done" for e in events)
    check_outputs(out, "live")
