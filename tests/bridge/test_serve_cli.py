"""``pixelsprite serve``: prints its URL once listening, answers over the socket, stops in order on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bridge.client import SyncClient

REPO = Path(__file__).resolve().parents[2]


def test_serve_prints_its_url_serves_and_stops_on_sigterm(models_dir: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pixelsprite", "--models-dir", str(models_dir), "--no-builtin-models",
         "serve", "--port", "0", "--log-format", "json"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        startup = time.perf_counter() - t0
        url = json.loads(line)["url"]
        print(f"serve printed its URL after {startup:.2f} s")  # the target is 2 s; not asserted here
        assert url.startswith("ws://127.0.0.1:")
        with SyncClient(url) as c:
            assert c.hello()["default_model"] == "tiny"
            assert len(c.generate(count=4, seed=1)) == 4
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert proc.stderr is not None
        events = [json.loads(x).get("event") for x in proc.stderr.read().splitlines() if x.startswith("{")]
        assert {"listening", "connect", "request", "stopping", "stopped"} <= set(events), events
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
