"""A job file can inpaint with a pixel model: the repaintings keep every unmasked pixel of the source exactly."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np

from pixelsprite import api
from pixelsprite.imageio import encode_png, read_image
from pixelsprite.registry import Registry
from pixelsprite_bridge.watcher import Watcher
from tests.pixelsprite.pixel_bundles import SIZE, write_pixel_model


def test_an_inpaint_job_writes_the_repaintings(tmp_path: Path) -> None:
    write_pixel_model(tmp_path / "models")
    registry = Registry([tmp_path / "models"], builtin=False, env=False)
    image = api.generate("tpixel", 1, 11, label="a", registry=registry).sprites[0]
    mask = np.zeros((SIZE, SIZE, 4), np.uint8)
    mask[..., 3] = 255
    mask[SIZE // 2 :, :, :3] = 255  # white = repaint the bottom half
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    job = {
        "op": "inpaint",
        "model": "tpixel",
        "image": base64.b64encode(encode_png(image)).decode(),
        "mask": base64.b64encode(encode_png(mask)).decode(),
        "count": 3,
        "seed": 5,
        "label": "a",
        "output": {"layout": "sprites"},
    }
    (inbox / "fix.json").write_text(json.dumps(job))
    stats = Watcher(inbox, out, registry=registry, settle_s=0).run_once(timeout=20)
    assert stats.done == 1
    files = sorted((out / "fix").glob("*.png"))
    got = np.stack([read_image(p) for p in files])
    want = api.inpaint("tpixel", image, mask, 3, 5, label="a", registry=registry).sprites
    assert len(files) == 3 and (got == want).all()
    assert (got[:, : SIZE // 2] == image[: SIZE // 2]).all()
