"""Inpainting with the Python client (``bridge.client``) against a real server with the tiny pixel models: the
request layer's repaintings byte for byte, every kind of mask, palette lock, temperature, previews and progress,
cancel between steps, and errors that name the field."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pixelsprite import api
from pixelsprite.imageio import encode_png
from pixelsprite.registry import Registry
from pixelsprite_bridge.client import Client, Progress, SyncClient, mask_arg
from pixelsprite_bridge.errors import RemoteError
from pixelsprite_bridge.server import BackgroundServer

from .pixel_fixtures import SIZE, pixel_registry, sprite, write_pixel_models


@pytest.fixture(scope="module")
def preg(tmp_path_factory: pytest.TempPathFactory, bundle_writer: Any) -> Registry:
    return pixel_registry(write_pixel_models(tmp_path_factory.mktemp("pixel-bridge"), bundle_writer))


@pytest.fixture(scope="module")
def pserver(preg: Registry) -> Iterator[BackgroundServer]:
    with BackgroundServer(registry=preg, workers=2, grace_s=2.0, preview_interval_s=0.0) as srv:
        yield srv


def _box(y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    mask = np.zeros((SIZE, SIZE), bool)
    mask[y0:y1, x0:x1] = True
    return mask


def test_the_catalog_lists_inpaint_and_the_sampler(pserver: BackgroundServer) -> None:
    with SyncClient(pserver.url) as c:
        assert "inpaint" in c.hello()["operations"]
        listed = {m["name"]: m for m in c.models()["models"]}
    pixel = listed["tpixel"]
    assert pixel["operations"] == ["generate", "variations", "inpaint"]
    assert set(pixel["parameters"]) == {"label", "steps", "solver", "guidance", "temperature"}
    assert pixel["solvers"] == ["random", "confidence"]
    assert [s["name"] for s in pixel["solver_details"]] == pixel["solvers"]
    assert pixel["steps"] == [1, 64]
    assert {k: pixel["defaults"][k] for k in ("solver", "steps", "guidance", "temperature")} == {
        "solver": "random",
        "steps": 4,
        "guidance": 2.0,
        "temperature": 1.0,
    }
    assert "label" not in listed["tpixel-u"]["parameters"]
    assert "inpaint" not in listed["tiny"]["operations"]


def test_inpaint_gives_the_request_layers_repaintings_and_keeps_the_rest(
    pserver: BackgroundServer, preg: Registry
) -> None:
    image, mask = sprite(1), _box(2, 6, 1, 5)
    options = {"label": "b", "steps": 6, "solver": "confidence", "guidance": 3.0, "temperature": 0.7}
    seen: list[tuple[int, int]] = []
    with SyncClient(pserver.url) as c:
        got = c.inpaint(
            image,
            mask,
            model="tpixel",
            count=5,
            seed=11,
            image_format="rgba",
            on_progress=lambda d, t: seen.append((d, t)),
            **options,
        )
    want = api.inpaint("tpixel", image, mask, 5, 11, registry=preg, **options)  # type: ignore[arg-type]
    np.testing.assert_array_equal(got.rgba, want.sprites)
    assert got.seeds == [11, 12, 13, 14, 15] and got.base_seed == 11 and got.model == "tpixel"
    assert got.message["op"] == "inpaint"
    assert (got.rgba[:, ~mask] == image[~mask]).all()  # every pixel outside the mask, exactly
    assert any((g[mask] != image[mask]).any() for g in got.rgba)  # and the masked ones were repainted
    assert seen and seen[-1][0] == seen[-1][1]  # progress per sampler step, up to the last
    with SyncClient(pserver.url) as c:  # a seed reproduces its repainting alone (PNG this time)
        one = c.inpaint(image, mask, model="tpixel", count=1, seed=13, **options)
    np.testing.assert_array_equal(one.rgba[0], want.sprites[2])


def test_masks_as_an_array_an_alpha_image_and_a_one_bit_png_agree(pserver: BackgroundServer, preg: Registry) -> None:
    image, mask = sprite(2), _box(0, 3, 3, 8)
    alpha = np.zeros((SIZE, SIZE, 4), np.uint8)  # the alpha of a second image: opaque = repaint
    alpha[mask] = (12, 34, 56, 255)
    one_bit = np.zeros((SIZE, SIZE, 4), np.uint8)  # no transparent pixel: white = repaint
    one_bit[..., 3] = 255
    one_bit[mask, :3] = 255
    want = api.inpaint("tpixel-u", image, mask, 3, 4, registry=preg).sprites
    for encoding in ("msgpack", "json"):
        with SyncClient(pserver.url, encoding=encoding) as c:  # type: ignore[arg-type]
            for m in (mask, mask.astype(np.uint8) * 7, alpha, one_bit, encode_png(one_bit), encode_png(alpha)):
                got = c.inpaint(encode_png(image), m, model="tpixel-u", count=3, seed=4, image_format="rgba")
                np.testing.assert_array_equal(got.rgba, want)
    # a 2-D mask travels as a 1-bit image: opaque white where it repaints, opaque black elsewhere
    wire = mask_arg(mask)
    assert isinstance(wire, dict) and (wire["width"], wire["height"]) == (SIZE, SIZE)
    sent = np.frombuffer(wire["rgba"], np.uint8).reshape(SIZE, SIZE, 4)
    assert (sent[..., 3] == 255).all() and (sent[mask, :3] == 255).all() and (sent[~mask, :3] == 0).all()
    with pytest.raises(ValueError):
        mask_arg(np.zeros((SIZE, SIZE, 3), np.uint8))


def test_an_empty_mask_returns_the_sprite_and_a_full_one_repaints_everything(pserver: BackgroundServer) -> None:
    image = sprite(3)
    with SyncClient(pserver.url) as c:
        kept = c.inpaint(image, np.zeros((SIZE, SIZE), bool), model="tpixel", count=2, seed=0, image_format="rgba")
        full = c.inpaint(image, np.ones((SIZE, SIZE), bool), model="tpixel", count=2, seed=0, image_format="rgba")
    assert (kept.rgba == image).all()
    assert (full.rgba != image).any(axis=-1).mean() > 0.5


def test_palette_locks_the_sampler_to_its_colours(pserver: BackgroundServer, preg: Registry) -> None:
    image, mask = sprite(4), np.ones((SIZE, SIZE), bool)
    palette = ["#ffffff", "#c82828"]
    with SyncClient(pserver.url) as c:
        got = c.inpaint(image, mask, model="tpixel", count=6, seed=2, palette=palette, image_format="rgba")
        named = c.inpaint(image, mask, model="tpixel", count=2, seed=2, palette="gameboy-dmg", image_format="rgba")
    want = api.inpaint("tpixel", image, mask, 6, 2, palette=palette, registry=preg).sprites  # type: ignore[arg-type]
    np.testing.assert_array_equal(got.rgba, want)
    drawn = {tuple(int(v) for v in p[:3]) for p in got.rgba.reshape(-1, 4) if p[3] == 255}
    assert drawn and drawn <= {(255, 255, 255), (200, 40, 40)}
    gameboy = {(15, 56, 15), (48, 98, 48), (139, 172, 15), (155, 188, 15)}
    assert {tuple(int(v) for v in p[:3]) for p in named.rgba.reshape(-1, 4) if p[3] == 255} <= gameboy


def test_temperature_changes_the_sprites_and_is_checked(pserver: BackgroundServer, preg: Registry) -> None:
    image, mask = sprite(5), np.ones((SIZE, SIZE), bool)
    with SyncClient(pserver.url) as c:
        cool = c.inpaint(image, mask, model="tpixel", count=4, seed=9, temperature=0.3, image_format="rgba")
        hot = c.inpaint(image, mask, model="tpixel", count=4, seed=9, temperature=2.0, image_format="rgba")
        sheet = c.generate(model="tpixel", count=3, seed=9, temperature=1.5, image_format="rgba")
    assert (cool.rgba != hot.rgba).any()
    np.testing.assert_array_equal(sheet.rgba, api.generate("tpixel", 3, 9, temperature=1.5, registry=preg).sprites)


def test_previews_and_progress_come_as_for_generate(pserver: BackgroundServer, preg: Registry) -> None:
    # steps are for a whole canvas: a mask of 36 of 64 pixels runs ceil(12 * 36 / 64) = 7 of them
    image, mask = sprite(6), _box(1, 7, 0, 6)
    updates: list[Progress] = []
    plain: list[tuple[int, int]] = []
    with SyncClient(pserver.url) as c:
        got = c.inpaint(
            image,
            mask,
            model="tpixel",
            count=3,
            seed=1,
            steps=12,
            preview=True,
            image_format="rgba",
            on_update=updates.append,
            on_progress=lambda d, t: plain.append((d, t)),
        )
    assert [(u.done, u.total, u.unit) for u in updates] == [(d, 7, "steps") for d in range(1, 8)]
    assert plain == [(d, 7) for d in range(1, 8)]
    previews = [u for u in updates if u.preview is not None]
    assert [u.done for u in previews] == [1, 2, 3, 4, 5, 6]  # never after the last step: the result follows
    for u in previews:
        assert u.preview is not None and u.preview.shape == (3, SIZE, SIZE, 4) and u.preview.dtype == np.uint8
    # previews never change the result
    np.testing.assert_array_equal(got.rgba, api.inpaint("tpixel", image, mask, 3, 1, steps=12, registry=preg).sprites)


def test_cancel_stops_an_inpaint_between_steps(pserver: BackgroundServer) -> None:
    image = sprite(7)

    async def go() -> None:
        async with await Client.connect(pserver.url) as c:
            progress = asyncio.Event()
            rid, future = await c.submit(
                "inpaint",
                model="tpixel",
                image={"rgba": image.tobytes(), "width": SIZE, "height": SIZE},
                mask=mask_arg(np.ones((SIZE, SIZE), bool)),
                count=1024,
                seed=0,
                steps=64,
                on_progress=lambda d, t: progress.set(),
            )
            await asyncio.wait_for(progress.wait(), 30)
            assert await c.cancel(rid) is True
            answer = await asyncio.wait_for(future, 30)
            assert (answer["type"], answer["code"]) == ("error", "cancelled")
            again = await asyncio.wait_for(
                c.inpaint(image, np.ones((SIZE, SIZE), bool), model="tpixel", count=1, seed=3), 30
            )
            assert again.seeds == [3]

    asyncio.run(go())


@pytest.mark.parametrize(
    "call,code,field",
    [
        ({"mask": np.ones((4, 4), bool)}, "invalid_image", "mask"),
        ({"image": np.zeros((4, 4, 4), np.uint8)}, "invalid_image", "image"),
        ({"temperature": 0}, "invalid_request", "temperature"),
        ({"temperature": 2.5}, "invalid_request", "temperature"),
        ({"label": "zebra"}, "invalid_request", "label"),
        ({"steps": 65}, "invalid_request", "steps"),
        ({"solver": "ddim"}, "invalid_request", "solver"),
        ({"model": "tiny"}, "unsupported_parameter", "model"),  # a VAE does not inpaint
        ({"model": "tpixel-u", "label": "a"}, "unsupported_parameter", "label"),
        ({"candidates": 2}, "invalid_request", "candidates"),  # inpaint takes no best-of-N
    ],
)
def test_errors_name_the_field(pserver: BackgroundServer, call: dict[str, Any], code: str, field: str) -> None:
    args: dict[str, Any] = {"model": "tpixel", "image": sprite(8), "mask": np.ones((SIZE, SIZE), bool), **call}
    with SyncClient(pserver.url) as c, pytest.raises(RemoteError) as e:
        c.inpaint(args.pop("image"), args.pop("mask"), count=1, seed=0, **args)
    assert (e.value.code, e.value.field) == (code, field), e.value.message


def test_temperature_needs_a_pixel_model_and_inpaint_needs_a_mask(pserver: BackgroundServer) -> None:
    with SyncClient(pserver.url) as c:
        with pytest.raises(RemoteError) as e:
            c.generate(model="tiny", count=1, temperature=1.0)
        assert (e.value.code, e.value.field) == ("unsupported_parameter", "temperature")
        with pytest.raises(RemoteError) as e:
            c.request("inpaint", model="tpixel", image={"rgba": sprite(0).tobytes(), "width": SIZE, "height": SIZE})
        assert (e.value.code, e.value.field) == ("invalid_request", "mask")


def test_the_example_in_the_docs_runs(pserver: BackgroundServer, tmp_path: Path) -> None:
    # docs/protocol.md, *Python client*: inpaint a generated sprite's middle
    with SyncClient(pserver.url) as c:
        sheet = c.generate(model="tpixel", count=1, seed=7)
        mask = np.zeros(sheet.rgba.shape[1:3], bool)
        mask[2:6, 2:6] = True
        fixed = c.inpaint(sheet.rgba[0], mask, model="tpixel", count=4, seed=1)
    assert fixed.rgba.shape == (4, SIZE, SIZE, 4)
    assert (fixed.rgba[:, ~mask] == sheet.rgba[0][~mask]).all()
