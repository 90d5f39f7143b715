"""Tiles in the watch folder (issue 19): ``"output": {"tiled_preview": true}`` also writes each request's tiles beside
their 3x3 repeats as ``JOB-REQUEST-tiled.png`` (listed in the manifest, committed with the job's other outputs), and
leaves every other output as it is without it. Validation names the field: a request whose model does not tile,
a ``tiled_preview`` that is not a boolean or that sits in a request, a preview over the size limit.

Models: the tiny ``pixel`` bundles ``ttile`` (8x8, tiling, labels a/b) and ``tpixel`` (not tiling).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pixelsprite import api
from pixelsprite.evaluation.seams import seam_distance
from pixelsprite.imageio import compose_tiled_preview, encode_png, read_image
from pixelsprite.registry import Registry
from pixelsprite_bridge.watcher import JOURNAL, STAGING, Watcher, WatchLimits
from tests.pixelsprite.pixel_bundles import SIZE, write_pixel_model


@pytest.fixture(scope="module")
def reg(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    root = tmp_path_factory.mktemp("tile-models")
    write_pixel_model(root, "ttile", tiling=True)
    write_pixel_model(root, "tpixel")
    return Registry([root], builtin=False, env=False)


def run_jobs(tmp: Path, reg: Registry, jobs: dict[str, Any], **limits: Any) -> tuple[Path, Path]:
    inbox, out = tmp / "inbox", tmp / "out"
    inbox.mkdir(parents=True)
    for name, job in jobs.items():
        (inbox / f"{name}.json").write_text(json.dumps(job))
    Watcher(inbox, out, registry=reg, settle_s=0, limits=WatchLimits(**limits)).run_once(timeout=30)
    return inbox, out


def error_of(inbox: Path, name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((inbox / "failed" / f"{name}.error.json").read_text())
    return doc


def b64(rgba: np.ndarray) -> str:
    return base64.b64encode(encode_png(rgba)).decode()


def test_a_tile_job_writes_the_preview_next_to_the_outputs(tmp_path: Path, reg: Registry) -> None:
    tile = api.generate("ttile", 1, 9, label="b", registry=reg).sprites[0]
    mask = np.zeros((SIZE, SIZE), bool)
    mask[2:6, 2:6] = True
    mask_rgba = np.zeros((SIZE, SIZE, 4), np.uint8)
    mask_rgba[..., 3] = 255
    mask_rgba[mask, :3] = 255
    requests = [
        {"op": "generate", "model": "ttile", "label": "a", "count": 5, "seed": 1},
        {"op": "variations", "model": "ttile", "image": b64(tile), "count": 3, "strength": 0.4, "seed": 2},
        {"op": "inpaint", "model": "ttile", "image": b64(tile), "mask": b64(mask_rgba), "count": 2, "seed": 3},
        {"op": "palette", "model": "ttile", "count": 8, "seed": 4, "colors": 4},  # no sprites: no preview
    ]
    output = {"layout": "both", "columns": 2, "gutter": 1, "scale": 2}
    _, out = run_jobs(
        tmp_path,
        reg,
        {"tiles": {"requests": requests, "output": {**output, "tiled_preview": True}}, "plain": {
            "requests": requests, "output": output}},
    )  # fmt: skip
    manifest = json.loads((out / "tiles" / "manifest.json").read_text())
    assert manifest["output"]["tiled_preview"] is True
    assert "tiled_preview" not in json.loads((out / "plain" / "manifest.json").read_text())["output"]
    wanted = [
        api.generate("ttile", 5, 1, label="a", registry=reg).sprites,
        api.variations("ttile", tile, 3, 0.4, 2, registry=reg).sprites,
        api.inpaint("ttile", tile, mask_rgba, 2, 3, registry=reg).sprites,
    ]
    for i, want in enumerate(wanted):
        entry = manifest["requests"][i]
        previews = [f for f in entry["files"] if f["kind"] == "tiled_preview"]
        assert [f["path"] for f in previews] == [f"tiles-{i}-tiled.png"]
        got = read_image(out / "tiles" / f"tiles-{i}-tiled.png")
        assert (got == compose_tiled_preview(want, columns=2, gutter=1, scale=2)).all()
        # every other file is what the job makes without the flag (the sheet's description names the job)
        rest = [f["path"] for f in entry["files"] if f not in previews]
        plain = json.loads((out / "plain" / "manifest.json").read_text())["requests"][i]["files"]
        assert rest == [f["path"].replace("plain-", "tiles-", 1) for f in plain]
        for name in rest:
            want_bytes = (out / "plain" / name.replace("tiles-", "plain-", 1)).read_bytes()
            assert (out / "tiles" / name).read_bytes() == want_bytes.replace(b"plain-", b"tiles-")
    assert not any(f["kind"] == "tiled_preview" for f in manifest["requests"][3]["files"])
    assert not (out / STAGING).exists() or not any((out / STAGING).iterdir())


def test_a_model_that_does_not_tile_fails_the_job_naming_the_field(tmp_path: Path, reg: Registry) -> None:
    job = {
        "requests": [
            {"op": "generate", "model": "ttile", "count": 2, "seed": 1},
            {"op": "generate", "model": "tpixel", "count": 2, "seed": 1},
        ],
        "output": {"tiled_preview": True},
    }
    inbox, out = run_jobs(tmp_path, reg, {"mixed": job})
    err = error_of(inbox, "mixed")
    assert (err["code"], err["field"], err["request"]) == ("invalid_job", "output.tiled_preview", 1)
    assert "'tpixel' (pixel) does not make tiles" in err["message"]
    assert not (out / "mixed").exists()  # refused before anything ran
    journal = [json.loads(line) for line in (out / JOURNAL).read_text().splitlines()]
    assert [e["state"] for e in journal] == ["started", "failed"]


@pytest.mark.parametrize(
    ("job", "field", "words"),
    [
        (
            {"op": "generate", "model": "ttile", "output": {"tiled_preview": "yes"}},
            "output.tiled_preview",
            "must be true or false, got 'yes'",
        ),
        (
            {"op": "generate", "model": "ttile", "output": {"tiled_preview": 1}},
            "output.tiled_preview",
            "must be true or false, got 1",
        ),
        (
            {"op": "generate", "model": "ttile", "tiled_preview": True},
            "tiled_preview",
            'put it in the job\'s "output" object',
        ),
        (
            {"requests": [{"op": "generate", "model": "ttile", "tiled_preview": True}]},
            "tiled_preview",
            "is an output option",
        ),
    ],
    ids=["string", "number", "in-the-request", "in-a-request-list"],
)
def test_tiled_preview_errors_name_the_field(
    tmp_path: Path, reg: Registry, job: dict[str, Any], field: str, words: str
) -> None:
    inbox, _ = run_jobs(tmp_path, reg, {"bad": job})
    err = error_of(inbox, "bad")
    assert err["field"] == field and words in err["message"], err


def test_the_preview_counts_towards_the_size_limits(tmp_path: Path, reg: Registry) -> None:
    big = {"op": "generate", "model": "ttile", "count": 64, "output": {"scale": 16, "tiled_preview": True}}
    # 64 sprites of 8x8 at scale 16: 1 Mi pixels; the preview adds 8 x 8 pairs of 24x24 cells: 18.9 Mi pixels
    inbox, _ = run_jobs(tmp_path, reg, {"big": big}, max_output_pixels=4 * 2**20)
    err = error_of(inbox, "big")
    assert err["field"] == "output.scale" and err["request"] == 0
    inbox, _ = run_jobs(tmp_path / "2", reg, {"big": {**big, "output": {"scale": 16}}}, max_output_pixels=4 * 2**20)
    assert (inbox / "done" / "big.json").is_file()  # without the preview the same job fits


def test_the_example_job_validates_against_tile_models() -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "jobs" / "tiles.json"
    doc = json.loads(example.read_text())
    assert doc["output"]["tiled_preview"] is True
    assert {r["model"] for r in doc["requests"]} == {"tiles16"}
    assert {r.get("label") for r in doc["requests"]} == {"floor", "wall", "water"}
    # the variations request's own tile (bricks) repeats without a seam: its edges step like its interior, closer
    # than the real 16x16 training tiles do on average (0.15, docs/tiles.md)
    image = read_image(next(base64.b64decode(r["image"]) for r in doc["requests"] if r["op"] == "variations"))
    assert image.shape == (16, 16, 4) and (image[..., 3] == 255).all()
    assert seam_distance(image[None]) < 0.1
