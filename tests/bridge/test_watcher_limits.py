"""The watch folder's guards (issue 18): failures of same-named jobs are all kept, a job interrupted on every run is
set aside after ``max_attempts``, a job's output size is bounded before it runs, the job-size error gives the file's
size, job files are opened with O_NOFOLLOW, and ``pixelsprite watch`` checks its arguments before making anything."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pixelsprite.registry import Registry
from pixelsprite_bridge import cli
from pixelsprite_bridge.watcher import JOURNAL, Watcher, WatchLimits

REPO = Path(__file__).resolve().parents[2]


def drop(inbox: Path, name: str, job: Any) -> Path:
    tmp = inbox / f".{name}.json.part"
    tmp.write_text(json.dumps(job))
    os.replace(tmp, inbox / f"{name}.json")
    return inbox / f"{name}.json"


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    return inbox, out


def test_a_second_bad_job_with_the_same_name_keeps_the_first_failure(
    registry: Registry, folders: tuple[Path, Path]
) -> None:
    inbox, out = folders
    w = Watcher(inbox, out, registry=registry, settle_s=0)
    drop(inbox, "x", {"op": "generate", "model": "tiny", "count": 0})
    w.run_once(timeout=10)
    drop(inbox, "x", {"op": "generate", "model": "nope"})
    w.run_once(timeout=10)
    drop(inbox, "x", {"op": "generate", "model": "tiny", "colour": 1})
    w.run_once(timeout=10)
    failed = inbox / "failed"
    assert sorted(p.name for p in failed.iterdir()) == [
        "x-2.error.json",
        "x-2.json",
        "x-3.error.json",
        "x-3.json",
        "x.error.json",
        "x.json",
    ]
    assert json.loads((failed / "x.json").read_text())["count"] == 0
    assert json.loads((failed / "x.error.json").read_text())["field"] == "count"
    assert json.loads((failed / "x-2.json").read_text())["model"] == "nope"
    err2 = json.loads((failed / "x-2.error.json").read_text())
    assert (err2["code"], err2["field"], err2["job"]) == ("unknown_model", "model", "x.json")
    assert json.loads((failed / "x-3.error.json").read_text())["field"] == "colour"


def _started(out: Path, name: str, sha: str, times: int) -> None:
    """The journal of ``times`` runs that each died in the middle of the job."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / JOURNAL, "a") as f:
        for _ in range(times):
            f.write(json.dumps({"ts": 0, "job": name, "sha256": sha, "state": "started"}) + "\n")


def test_a_job_interrupted_on_every_run_is_set_aside_after_max_attempts(
    registry: Registry, folders: tuple[Path, Path]
) -> None:
    import hashlib

    inbox, out = folders
    poison = drop(inbox, "poison", {"op": "generate", "model": "tiny", "count": 2, "seed": 1})
    sha = hashlib.sha256(poison.read_bytes()).hexdigest()
    retry = drop(inbox, "retry", {"op": "generate", "model": "tiny", "count": 2, "seed": 2})
    _started(out, "poison", sha, 3)  # died three times in it
    _started(out, "retry", hashlib.sha256(retry.read_bytes()).hexdigest(), 2)  # twice: it gets its third try
    w = Watcher(inbox, out, registry=registry, settle_s=0, limits=WatchLimits(max_attempts=3))
    stats = w.run_once(timeout=10)
    assert (stats.done, stats.failed) == (1, 1)
    err = json.loads((inbox / "failed" / "poison.error.json").read_text())
    assert err["code"] == "too_many_attempts" and "started 3 times and never finished" in err["message"]
    assert not (out / "poison").exists() and (out / "retry").is_dir()
    states = [(e["job"], e["state"], e.get("attempt")) for e in w.journal()]
    assert ("retry", "started", 3) in states and ("poison", "failed", None) in states
    assert ("poison", "started", 4) not in states  # never started a fourth time
    # dropped again once fixed (same bytes): the failure settled the count, so it runs
    os.replace(inbox / "failed" / "poison.json", inbox / "poison.json")
    assert w.run_once(timeout=10).done == 2 and (out / "poison").is_dir()


def test_a_job_whose_outputs_would_be_huge_fails_before_it_runs(registry: Registry, folders: tuple[Path, Path]) -> None:
    inbox, out = folders
    # the job (122 bytes that made 3 GB with vae40): count 1024, scale 16, gutter 16, sheet and sprites
    drop(
        inbox,
        "huge",
        {"op": "generate", "model": "tiny", "count": 1024, "output": {"layout": "both", "scale": 16, "gutter": 16}},
    )
    # four requests of 1024 8x8 sprites at scale 16: 16.8 megapixels each, over a 40-megapixel budget at the third
    drop(
        inbox,
        "many",
        {
            "requests": [{"op": "generate", "model": "tiny", "count": 1024}] * 4,
            "output": {"layout": "sprites", "scale": 16},
        },
    )
    w = Watcher(
        inbox, out, registry=registry, settle_s=0, limits=WatchLimits(max_sprites=8192, max_output_pixels=40_000_000)
    )
    stats = w.run_once(timeout=10)
    assert (stats.failed, stats.done, stats.sprites) == (2, 0, 0)
    huge = json.loads((inbox / "failed" / "huge.error.json").read_text())
    assert (huge["field"], huge["request"]) == ("output.scale", 0)
    assert huge["message"].startswith(
        "requests[0]'s sheet would be 12032x12032 pixels; the limit is 16384 on a side and 64 megapixels in all"
    ), huge
    many = json.loads((inbox / "failed" / "many.error.json").read_text())
    assert (many["field"], many["request"]) == ("output.scale", 2)
    assert many["message"].startswith("the job's images would hold 50331648 pixels so far (up to requests[2]")
    assert not (out / "huge").exists() and not (out / "many").exists()
    assert [e["state"] for e in w.journal()] == ["started", "failed", "started", "failed"]  # nothing ran


def test_the_job_size_error_gives_the_files_size(registry: Registry, folders: tuple[Path, Path]) -> None:
    inbox, out = folders
    big = inbox / "big.json"
    big.write_text(json.dumps({"op": "generate", "model": "tiny", "pad": "x" * 5_000_000}))
    size = big.stat().st_size
    Watcher(inbox, out, registry=registry, settle_s=0).run_once(timeout=10)
    err = json.loads((inbox / "failed" / "big.error.json").read_text())
    assert err["message"] == f"the job file has {size} bytes; the limit is {4 * 2**20}" and err["field"] == "job"
    assert err["sha256"] is None  # not the hash of a 4 MiB prefix


def test_a_symlink_swapped_in_after_the_check_is_still_refused(
    registry: Registry, folders: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The old ``is_symlink()`` check before ``open()`` was a race: the file could become a link in between. Make
    every such check say "not a link" (the race lost), and the link is still refused, its target never read."""
    inbox, out = folders
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({"op": "generate", "model": "tiny", "count": 1}))
    (inbox / "sneaky.json").symlink_to(secret)
    monkeypatch.setattr(Path, "is_symlink", lambda self: False)
    stats = Watcher(inbox, out, registry=registry, settle_s=0).run_once(timeout=10)
    assert stats.failed == 1 and not (out / "sneaky").exists()
    assert "symbolic link" in json.loads((inbox / "failed" / "sneaky.error.json").read_text())["message"]
    assert secret.is_file()


def test_a_fifo_named_like_a_job_never_blocks_the_watcher(registry: Registry, folders: tuple[Path, Path]) -> None:
    inbox, out = folders
    os.mkfifo(inbox / "pipe.json")  # opening it for reading would wait for a writer for ever
    stats = Watcher(inbox, out, registry=registry, settle_s=0).run_once(timeout=10)
    assert stats.failed + stats.done == 0 and (inbox / "pipe.json").exists()  # not a job file: left alone


# ------------------------------------------------------------------------------------------ the CLI's checks
def _watch(models_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-m", "pixelsprite", "--models-dir", str(models_dir), "--no-builtin-models", "watch", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_watch_with_a_missing_inbox_exits_2_and_creates_nothing(models_dir: Path, tmp_path: Path) -> None:
    inbox = tmp_path / "nonexistent" / "inbox"
    run = _watch(models_dir, str(inbox), "--out", str(tmp_path / "out"), "--once")
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip().splitlines()[-1].startswith(f"error: inbox {str(inbox)!r} does not exist")
    assert list(tmp_path.iterdir()) == []  # neither the inbox, nor done/ failed/, nor the outbox


def test_watch_with_a_file_as_inbox_says_so(models_dir: Path, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.write_text("not a folder")
    run = _watch(models_dir, str(inbox), "--out", str(tmp_path / "out"), "--once")
    assert run.returncode == 2
    assert f"error: inbox {str(inbox)!r} is not a folder" in run.stderr and "File exists" not in run.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("settle", ["-1", "nan", "inf", "soon"])
def test_watch_settle_must_be_seconds(
    capsys: pytest.CaptureFixture[str], models_dir: Path, tmp_path: Path, settle: str
) -> None:
    (tmp_path / "inbox").mkdir()
    code = cli.main(
        [
            "--models-dir",
            str(models_dir),
            "--no-builtin-models",
            "watch",
            str(tmp_path / "inbox"),
            "--out",
            str(tmp_path / "out"),
            "--once",
            "--settle",
            settle,
        ]
    )
    assert code == 2
    assert "argument --settle: must be a number of seconds" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
