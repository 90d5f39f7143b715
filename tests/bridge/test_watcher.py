"""The watch folder with a real watchdog observer on temporary folders: batches, hostile jobs, slow writers, restarts.

Every wait polls a condition with a deadline; nothing sleeps blindly for long.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pixelsprite import api
from pixelsprite.families import Capabilities
from pixelsprite.imageio import decode_image, encode_png
from pixelsprite.registry import Registry
from pixelsprite_bridge import cli
from pixelsprite_bridge import protocol as proto
from pixelsprite_bridge.watcher import JOB_OPERATIONS, JOURNAL, STAGING, Watcher, WatchLimits, parse_job


def wait_for(cond: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def drop(inbox: Path, name: str, job: Any) -> Path:
    """Drop a job the documented way: write a dot-file, then rename it into place."""
    tmp = inbox / f".{name}.json.part"
    tmp.write_text(json.dumps(job))
    final = inbox / f"{name}.json"
    os.replace(tmp, final)
    return final


def done_names(inbox: Path) -> set[str]:
    return {p.stem for p in (inbox / "done").glob("*.json")}


def failed_names(inbox: Path) -> set[str]:
    return {p.name[: -len(".error.json")] for p in (inbox / "failed").glob("*.error.json")}


def error_of(inbox: Path, name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((inbox / "failed" / f"{name}.error.json").read_text())
    return doc


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    return inbox, out


@pytest.fixture
def watcher(folders: tuple[Path, Path], registry: Registry) -> Iterator[Watcher]:
    inbox, out = folders
    with Watcher(inbox, out, registry=registry, settle_s=0.05, limits=WatchLimits(max_sprites=300)) as w:
        yield w


def check_outputs(out: Path, name: str) -> dict[str, Any]:
    """The job's folder holds exactly the manifest's files, with the manifest's hashes."""
    folder = out / name
    manifest: dict[str, Any] = json.loads((folder / "manifest.json").read_text())
    listed = {f["path"]: f["sha256"] for r in manifest["requests"] for f in r["files"]}
    present = {p.name for p in folder.iterdir()} - {"manifest.json"}
    assert present == set(listed), (present, set(listed))
    for fname, sha in listed.items():
        assert hashlib.sha256((folder / fname).read_bytes()).hexdigest() == sha
    return manifest


# ------------------------------------------------------------------------------------------------- batches
def test_batch_with_observer_matches_request_layer(
    watcher: Watcher, folders: tuple[Path, Path], registry: Registry
) -> None:
    inbox, out = folders
    jobs = {f"job{i:02d}": {"op": "generate", "model": "tiny", "count": 3, "seed": 100 * i} for i in range(8)}
    jobs["sheet"] = {
        "requests": [
            {"op": "grid", "model": "tiny", "corners": [1, 2, 3, 4], "rows": 2, "cols": 3},
            {"op": "interpolate", "model": "tiny", "a": 5, "b": 6, "count": 4},
        ],
        "output": {"layout": "both", "name": "{op}-{request}-{index}", "gutter": 1, "scale": 2},
    }
    jobs["pal"] = {
        "op": "generate",
        "model": "tiny",
        "count": 2,
        "seed": 9,
        "palette": "pico8",
        "output": {"palette_formats": ["gpl", "hex"], "name": "s{seed}"},
    }
    for name, job in jobs.items():
        drop(inbox, name, job)
    wait_for(lambda: done_names(inbox) == set(jobs), what="all jobs done")
    assert not failed_names(inbox) and not list(inbox.glob("*.json"))

    for i in range(8):
        m = check_outputs(out, f"job{i:02d}")
        assert m["requests"][0]["seeds"] == [100 * i, 100 * i + 1, 100 * i + 2]
        assert m["models"]["tiny"]["graphs"]["decoder"]
        direct = api.generate("tiny", 3, 100 * i, registry=registry)
        for k in range(3):  # byte-identical to the request layer called directly with the same seeds
            assert (out / f"job{i:02d}" / f"job{i:02d}-0-{k}.png").read_bytes() == encode_png(direct.sprites[k])

    m = check_outputs(out, "sheet")
    sheet = decode_image((out / "sheet" / "sheet-0-sheet.png").read_bytes())
    desc = json.loads((out / "sheet" / "sheet-0-sheet.json").read_text())
    assert sheet.shape == (2 * (8 + 1) * 2 - 2, 3 * (8 + 1) * 2 - 2, 4)  # rows x cols of 8 px, gutter 1, x2
    assert desc["meta"]["size"] == {"w": sheet.shape[1], "h": sheet.shape[0]}
    assert [f["filename"] for f in desc["frames"]] == [f"grid-0-{k}" for k in range(6)]
    f4 = desc["frames"][4]["frame"]  # row 1, col 1
    assert (f4["x"], f4["y"], f4["w"], f4["h"]) == (18, 18, 16, 16)
    grid = api.grid("tiny", [1, 2, 3, 4], 2, 3, registry=registry)
    cell = sheet[f4["y"] : f4["y"] + 16 : 2, f4["x"] : f4["x"] + 16 : 2]
    assert np.array_equal(cell, grid.sprites[4])
    assert (out / "sheet" / "interpolate-1-3.png").is_file()
    assert [r["op"] for r in m["requests"]] == ["grid", "interpolate"]

    check_outputs(out, "pal")
    assert (out / "pal" / "s9.png").is_file() and (out / "pal" / "s10.png").is_file()
    gpl = (out / "pal" / "pal-0-palette.gpl").read_text()
    assert gpl.startswith("GIMP Palette") and len((out / "pal" / "pal-0-palette.hex").read_text().split()) == 16

    states = [(e["job"], e["state"]) for e in watcher.journal()]
    for name in jobs:
        assert states.count((name, "started")) == 1 and states.count((name, "done")) == 1
    assert not any((out / STAGING).iterdir())


def test_rerun_is_byte_identical(registry: Registry, tmp_path: Path) -> None:
    job = {
        "requests": [
            {"op": "generate", "model": "tiny", "count": 4, "seed": 77, "palette": "db32", "dither": "bayer4"}
        ],
        "output": {"layout": "both"},
    }
    outs = []
    for run in ("a", "b"):
        inbox = tmp_path / run / "in"
        inbox.mkdir(parents=True)
        drop(inbox, "same", job)
        stats = Watcher(inbox, tmp_path / run / "out", registry=registry, settle_s=0).run_once(timeout=10)
        assert stats.done == 1
        outs.append(tmp_path / run / "out" / "same")
    files = sorted(p.name for p in outs[0].iterdir() if p.suffix == ".png")
    assert len(files) == 5
    for fname in files:
        assert (outs[0] / fname).read_bytes() == (outs[1] / fname).read_bytes()


# --------------------------------------------------------------------------------------- malformed, hostile
def test_malformed_and_hostile_jobs_fail_clearly_and_watching_goes_on(
    watcher: Watcher, folders: tuple[Path, Path], tmp_path: Path
) -> None:
    inbox, out = folders
    bad: dict[str, tuple[Any, str | None, str]] = {  # name -> (job, field, words the message must hold)
        "too_many": ({"op": "generate", "model": "tiny", "count": 5000}, "count", "1024"),
        "job_limit": ({"requests": [{"model": "tiny", "count": 200}, {"model": "tiny", "count": 200}]}, "count", "300"),
        "unknown_param": ({"op": "generate", "model": "tiny", "colour": 3}, "colour", "unknown parameter"),
        "unknown_model": ({"op": "generate", "model": "nope"}, "model", "tiny"),
        "palette_path": ({"op": "generate", "model": "tiny", "palette": "/etc/passwd.gpl"}, "palette", ""),
        "dotdot": ({"op": "generate", "model": "tiny", "output": {"name": "../{index}"}}, "output.name", "no '../'"),
        "abs": (
            {"op": "generate", "model": "tiny", "count": 1, "output": {"name": "/tmp/x{index}"}},
            "output.name",
            "absolute",
        ),
        "placeholder": (
            {"op": "generate", "model": "tiny", "output": {"name": "{seed.__class__}"}},
            "output.name",
            "placeholder",
        ),
        "collide": (
            {"op": "generate", "model": "tiny", "count": 2, "output": {"name": "same"}},
            "output.name",
            "twice",
        ),
        "encode_op": ({"op": "encode", "model": "tiny", "images": []}, "op", "generate"),
        "has_id": ({"id": "x", "op": "generate", "model": "tiny"}, "id", "no id"),
        "list_top": ([1, 2], "job", "object"),
        "bad_layout": ({"op": "generate", "model": "tiny", "output": {"layout": "gif"}}, "output.layout", "sheet"),
        "bad_scale": ({"op": "generate", "model": "tiny", "output": {"scale": 99}}, "output.scale", "16"),
    }
    for name, (job, _, _) in bad.items():
        drop(inbox, name, job)
    (inbox / "not_json.json").write_text('{"op": "generate", ')
    (inbox / "bad name!.json").write_text("{}")
    target = tmp_path / "secret.json"
    target.write_text(json.dumps({"op": "generate", "model": "tiny"}))
    (inbox / "link.json").symlink_to(target)
    (inbox / "notes.txt").write_text("not a job")
    (inbox / "notes-link.txt").symlink_to(target)
    expected = set(bad) | {"not_json", "link"}
    wait_for(lambda: expected <= failed_names(inbox), what="every bad job failed")
    for name, (_, fld, words) in bad.items():
        err = error_of(inbox, name)
        assert err["field"] == fld, (name, err)
        assert words in err["message"], (name, err)
        assert (inbox / "failed" / f"{name}.json").is_file()
        assert not (out / name).exists()
    assert error_of(inbox, "too_many")["request"] == 0
    assert error_of(inbox, "job_limit")["request"] == 1
    assert error_of(inbox, "not_json")["field"] == "job"
    assert "symbolic link" in error_of(inbox, "link")["message"]
    assert target.is_file() and not (out / "link").exists() and not list(tmp_path.glob("x*"))
    assert (inbox / "notes.txt").is_file() and (inbox / "notes-link.txt").is_symlink()  # not job files: left alone
    wait_for(
        lambda: any(p.name.endswith(".error.json") and p.name.startswith("job-") for p in (inbox / "failed").iterdir()),
        what="the badly named job failed",
    )

    drop(inbox, "good", {"op": "generate", "model": "tiny", "count": 2, "seed": 1})  # the watcher goes on
    wait_for(lambda: "good" in done_names(inbox), what="a good job after the bad ones")
    check_outputs(out, "good")
    assert not any((out / STAGING).iterdir())


# ------------------------------------------------------------------------------------------- slow writers
def test_slow_writer_and_part_files_are_not_read_early(registry: Registry, folders: tuple[Path, Path]) -> None:
    inbox, out = folders
    with Watcher(inbox, out, registry=registry, settle_s=0.4) as w:
        text = json.dumps({"op": "generate", "model": "tiny", "count": 2, "seed": 3})
        part = inbox / "renamed.json.part"
        part.write_text(text[:10])
        with open(inbox / "slow.json", "w") as f:  # a plain slow writer: pauses shorter than the settle time
            for k in range(0, len(text), 8):
                f.write(text[k : k + 8])
                f.flush()
                time.sleep(0.05)
        wait_for(lambda: "slow" in done_names(inbox), what="the slow job")
        assert not failed_names(inbox)
        assert part.is_file() and not (out / "renamed").exists()  # .part files are never read
        part.write_text(text)
        os.replace(part, inbox / "renamed.json")
        wait_for(lambda: "renamed" in done_names(inbox), what="the renamed job")
        wait_for(lambda: w.stats.done == 2, what="the counts (the job file moves just before they change)")
        assert w.stats.failed == 0


# ------------------------------------------------------------------------------------------- exactly once
def test_restart_after_commit_does_not_run_again(registry: Registry, folders: tuple[Path, Path]) -> None:
    inbox, out = folders
    job = {"op": "generate", "model": "tiny", "count": 2, "seed": 4}
    drop(inbox, "j", job)
    Watcher(inbox, out, registry=registry, settle_s=0).run_once(timeout=10)
    before = {p.name: p.stat().st_mtime_ns for p in (out / "j").iterdir()}
    # a crash after the output folder was committed but before the job file moved: put the file back
    os.replace(inbox / "done" / "j.json", inbox / "j.json")
    (out / STAGING / "j.dead").mkdir(parents=True)  # and a crash mid-job left a staging folder
    (out / STAGING / "j.dead" / "j-0-0.png").write_bytes(b"partial")
    progress = io.StringIO()
    w = Watcher(inbox, out, registry=registry, settle_s=0, progress=progress)
    assert not (out / STAGING / "j.dead").exists()
    stats = w.run_once(timeout=10)
    assert (stats.done, stats.skipped, stats.failed) == (0, 1, 0)
    assert {p.name: p.stat().st_mtime_ns for p in (out / "j").iterdir()} == before
    assert "j" in done_names(inbox)
    # another job under the same name with different content is refused, never mixed into the first's folder
    drop(inbox, "j", {**job, "seed": 5})
    stats = w.run_once(timeout=10)
    assert stats.failed == 1 and error_of(inbox, "j")["field"] == "job"
    assert "failed" in progress.getvalue()
    assert [e["state"] for e in w.journal() if e["job"] == "j"] == ["started", "done", "done", "failed"]


def test_cli_once_exit_codes(models_dir: Path, folders: tuple[Path, Path]) -> None:
    inbox, out = folders
    base = [
        "--models-dir",
        str(models_dir),
        "--no-builtin-models",
        "watch",
        str(inbox),
        "--out",
        str(out),
        "--once",
        "--settle",
        "0",
    ]
    drop(inbox, "ok", {"op": "generate", "model": "tiny", "count": 1, "seed": 1})
    assert cli.main(base) == 0
    drop(inbox, "bad", {"op": "generate", "model": "tiny", "count": 0})
    assert cli.main(base) == 2
    assert done_names(inbox) == {"ok"} and error_of(inbox, "bad")["field"] == "count"
    assert (out / JOURNAL).is_file()


# ------------------------------------------------------------------------------------------------ examples
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "jobs"


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.stem)
def test_example_jobs_are_valid(path: Path) -> None:
    vae = Capabilities("vae", ("generate", "variations", "interpolate", "grid", "encode", "decode"))
    caps = {
        n: proto.ModelCaps(name=n, caps=vae, width=s, height=s, latent_shape=(16,))
        for n, s in (("vae16", 16), ("vae40", 40))
    }
    caps["pixel16"] = proto.ModelCaps(
        name="pixel16",
        width=16,
        height=16,
        caps=Capabilities(
            "pixel",
            ("generate", "variations", "inpaint"),
            ("label", "steps", "solver", "guidance", "temperature"),
            ("potion", "ring"),
        ),
    )
    caps["tiles16"] = proto.ModelCaps(
        name="tiles16",
        width=16,
        height=16,
        caps=Capabilities(
            "pixel",
            ("generate", "variations", "inpaint"),
            ("label", "steps", "solver", "guidance", "temperature"),
            ("floor", "wall", "water"),
            tiling=True,
        ),
    )
    job = parse_job(path.stem, path.read_bytes(), proto.Catalog(caps, "vae16"), WatchLimits())
    assert job.calls and all(call.op in JOB_OPERATIONS for _, call in job.calls)


def test_every_job_operation_has_an_example() -> None:
    ops = set()
    for path in EXAMPLES.glob("*.json"):
        doc = json.loads(path.read_text())
        ops |= {r.get("op", "generate") for r in doc.get("requests", [doc])}
    assert ops == set(JOB_OPERATIONS)


def test_toml_job(registry: Registry, folders: tuple[Path, Path]) -> None:
    pytest.importorskip("tomllib")
    inbox, out = folders
    (inbox / "t.toml").write_text(
        '[[requests]]\nop = "generate"\nmodel = "tiny"\ncount = 2\nseed = 3\n\n[output]\nlayout = "sheet"\n'
    )
    (inbox / "broken.toml").write_text("[[requests]\nop = ")
    stats = Watcher(inbox, out, registry=registry, settle_s=0).run_once(timeout=10)
    assert (stats.done, stats.failed) == (1, 1)
    assert (inbox / "done" / "t.toml").is_file() and (out / "t" / "t-0-sheet.png").is_file()
    assert check_outputs(out, "t")["requests"][0]["seeds"] == [3, 4]
    err = error_of(inbox, "broken")
    assert err["field"] == "job" and "TOML" in err["message"] and (inbox / "failed" / "broken.toml").is_file()


def test_unexpected_error_fails_the_job_and_the_next_runs(
    registry: Registry, folders: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, out = folders
    real = api.handle

    def flaky(request: Any, **kw: Any) -> Any:
        if getattr(request, "seed", None) == 13:
            raise RuntimeError("boom")
        return real(request, **kw)

    monkeypatch.setattr(api, "handle", flaky)
    drop(inbox, "a_boom", {"op": "generate", "model": "tiny", "count": 1, "seed": 13})
    drop(inbox, "b_fine", {"op": "generate", "model": "tiny", "count": 1, "seed": 14})
    stats = Watcher(inbox, out, registry=registry, settle_s=0).run_once(timeout=10)
    assert (stats.done, stats.failed) == (1, 1)
    err = error_of(inbox, "a_boom")
    assert err["code"] == "internal" and "RuntimeError: boom" in err["message"]
    assert not (out / "a_boom").exists() and not any((out / STAGING).iterdir())


def test_watcher_imports_without_torch() -> None:
    code = (
        "import importlib.abc, sys\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'torch' or name.startswith('torch.'):\n"
        "            raise ImportError('torch is blocked')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import pixelsprite_bridge.watcher, pixelsprite_bridge.cli, pixelsprite.cli\n"
        "assert 'torch' not in sys.modules\n"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True, timeout=60)


def test_palette_job(registry: Registry, folders: tuple[Path, Path]) -> None:
    inbox, out = folders
    drop(
        inbox,
        "pal",
        {
            "requests": [{"op": "palette", "model": "tiny", "count": 16, "seed": 2, "colors": 4, "format": "hex"}],
            "output": {"palette_formats": ["gpl", "hex"]},
        },
    )
    stats = Watcher(inbox, out, registry=registry, settle_s=0).run_once(timeout=10)
    assert (stats.done, stats.failed) == (1, 0)
    m = check_outputs(out, "pal")
    direct = api.palette(model="tiny", count=16, seed=2, colors=4, format="hex", registry=registry)
    assert (out / "pal" / "pal-0-palette.hex").read_bytes() == direct.file
    assert (out / "pal" / "pal-0-swatch.png").read_bytes() == direct.swatch_png
    assert (out / "pal" / "pal-0-palette.gpl").read_text().startswith("GIMP Palette")
    assert m["requests"][0]["colors"] == ["#" + bytes(int(v) for v in c).hex() for c in direct.colors]
