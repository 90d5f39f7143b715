"""Diffusion and flow models over the socket: sampler parameters, per-step progress, cancel between steps, previews."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from typing import Any

import msgpack
import numpy as np
import pytest

from pixelsprite import api
from pixelsprite.imageio import decode_image
from pixelsprite.registry import Registry
from pixelsprite_bridge.client import Client, SyncClient
from pixelsprite_bridge.errors import RemoteError
from pixelsprite_bridge.server import BackgroundServer


@pytest.fixture(scope="module")
def iterative_server(iterative_registry: Registry) -> Iterator[BackgroundServer]:
    with BackgroundServer(registry=iterative_registry, workers=2, grace_s=2.0) as srv:
        yield srv


def test_models_announce_sampler_parameters(iterative_server: BackgroundServer) -> None:
    with SyncClient(iterative_server.url) as c:
        listed = {m["name"]: m for m in c.models()["models"]}
    assert set(listed["tdiff"]["parameters"]) == {"label", "steps", "solver", "guidance"}
    assert listed["tflow"]["operations"] == ["generate", "variations", "interpolate"]


def test_generate_with_label_steps_solver_guidance_matches_the_request_layer(
    iterative_server: BackgroundServer, iterative_registry: Registry
) -> None:
    seen: list[tuple[int, int]] = []
    with SyncClient(iterative_server.url) as c:
        got = c.generate(
            model="tflow",
            count=3,
            seed=5,
            label="b",
            steps=4,
            solver="heun",
            guidance=2.0,
            image_format="rgba",
            on_progress=lambda d, t: seen.append((d, t)),
        )
    want = api.generate("tflow", 3, 5, label="b", steps=4, solver="heun", guidance=2.0, registry=iterative_registry)
    np.testing.assert_array_equal(got.rgba, want.sprites)
    assert seen and seen[-1][0] == seen[-1][1]  # per-step progress up to the last step


def test_sampler_errors_name_the_field(iterative_server: BackgroundServer) -> None:
    with SyncClient(iterative_server.url) as c:
        for params, field in (
            ({"label": "zebra"}, "label"),
            ({"solver": "rk45"}, "solver"),
            ({"steps": 100_000}, "steps"),
        ):
            with pytest.raises(RemoteError) as e:
                c.generate(model="tdiff", count=1, **params)
            assert e.value.field == field, params


def test_interpolate_takes_count_frames_and_sampler_steps(
    iterative_server: BackgroundServer, iterative_registry: Registry
) -> None:
    with SyncClient(iterative_server.url) as c:
        got = c.interpolate(1, 2, model="tdiff", count=5, steps=6, image_format="rgba")
    want = api.interpolate("tdiff", 1, 2, count=5, steps=6, registry=iterative_registry)
    np.testing.assert_array_equal(got.rgba, want.sprites)
    assert (
        api.handle(
            api.InterpolateRequest("tdiff", 1, 2, count=5, steps=6),  # the wire's names
            registry=iterative_registry,
        ).sprites.tobytes()
        == want.sprites.tobytes()
    )
    with SyncClient(iterative_server.url) as c, pytest.raises(RemoteError) as e:
        c.interpolate(1, 2, model="tdiff", count=3, steps=99)  # over the model's max_steps (40)
    assert e.value.field == "steps"


def test_cancel_stops_sampling_between_steps(iterative_server: BackgroundServer) -> None:
    async def go() -> None:
        async with await Client.connect(iterative_server.url) as c:
            progress = asyncio.Event()
            rid, future = await c.submit(
                "generate", model="tdiff", count=256, seed=0, solver="ddpm", on_progress=lambda d, t: progress.set()
            )
            await asyncio.wait_for(progress.wait(), 20)
            assert await c.cancel(rid) is True
            answer = await asyncio.wait_for(future, 20)
            assert (answer["type"], answer["code"]) == ("error", "cancelled")
            assert (await asyncio.wait_for(c.generate(model="tflow", count=1, seed=1, steps=2), 20)).seeds == [1]

    asyncio.run(go())


# ------------------------------------------------------------------------------------------------- previews
@pytest.fixture(scope="module")
def preview_server(iterative_registry: Registry) -> Iterator[BackgroundServer]:
    # no interval: a preview after every step but the last, so the counts are exact
    with BackgroundServer(registry=iterative_registry, workers=1, grace_s=2.0, preview_interval_s=0.0) as srv:
        yield srv


def _exchange(url: str, request: dict, encoding: str = "json") -> list[dict]:
    """Send one request on a fresh connection; every answer to it up to the final one, decoded."""
    import websockets.sync.client as ws_client

    out = []
    with ws_client.connect(url, max_size=None) as conn:
        conn.send(json.dumps(request) if encoding == "json" else msgpack.packb(request))
        while True:
            raw = conn.recv(timeout=60)
            msg = json.loads(raw) if isinstance(raw, str) else msgpack.unpackb(raw)
            out.append(msg)
            if msg["type"] != "progress":
                return out


def _raw(b: str | bytes) -> bytes:
    return base64.b64decode(b) if isinstance(b, str) else b


@pytest.mark.parametrize("model,solver", [("tflow", "heun"), ("tdiff", "ddpm"), ("tflow-lat", "euler")])
def test_previews_arrive_before_the_result_which_they_do_not_change(
    preview_server: BackgroundServer, iterative_registry: Registry, model: str, solver: str
) -> None:
    req = {
        "op": "generate",
        "model": model,
        "count": 3,
        "seed": 9,
        "steps": 4,
        "solver": solver,
        "image_format": "rgba",
    }
    answers = _exchange(preview_server.url, {"id": "p", **req, "preview": True})
    *progress, result = answers
    assert result["type"] == "result"
    assert [(p["done"], p["total"], p["unit"]) for p in progress] == [(d, 4, "steps") for d in (1, 2, 3, 4)]
    for p in progress[:3]:  # after every step but the last, in the request's image format
        assert (p["count"], p["size"], p["image_format"]) == (3, [8, 8], "rgba")
        assert [len(_raw(b)) for b in p["images"]] == [8 * 8 * 4] * 3
        alpha = np.frombuffer(b"".join(_raw(b) for b in p["images"]), np.uint8).reshape(3, 8, 8, 4)[..., 3]
        assert set(np.unique(alpha)) <= {0, 255}
    assert "images" not in progress[3]  # the result follows at once
    plain = _exchange(preview_server.url, {"id": "q", **req})
    assert all("images" not in p for p in plain[:-1])  # the default sends no images
    assert [_raw(b) for b in plain[-1]["images"]] == [_raw(b) for b in result["images"]]
    want = api.generate(model, 3, 9, steps=4, solver=solver, registry=iterative_registry)
    got = np.stack([np.frombuffer(_raw(b), np.uint8).reshape(8, 8, 4) for b in result["images"]])
    np.testing.assert_array_equal(got, want.sprites)


def test_previews_over_msgpack_are_png_like_the_results(preview_server: BackgroundServer) -> None:
    with SyncClient(preview_server.url) as c:
        image = c.generate(model="tflow", count=1, seed=2, steps=2).rgba[0]
    answers = _exchange(
        preview_server.url,
        {
            "id": "v",
            "op": "variations",
            "model": "tflow",
            "image": {"rgba": image.tobytes(), "width": 8, "height": 8},
            "count": 2,
            "strength": 1.0,
            "seed": 1,
            "steps": 3,
            "solver": "euler",
            "preview": True,
        },
        "msgpack",
    )
    with_images = [a for a in answers if a["type"] == "progress" and "images" in a]
    assert len(with_images) == 2 and answers[-1]["type"] == "result"
    for p in with_images:
        assert p["image_format"] == "png" and p["count"] == 2
        assert [decode_image(b).shape for b in p["images"]] == [(8, 8, 4)] * 2


def test_bad_preview_values_get_a_clear_error(preview_server: BackgroundServer) -> None:
    for bad in ("yes", 1, [True]):
        (answer,) = _exchange(preview_server.url, {"id": "b", "op": "generate", "model": "tflow", "preview": bad})
        assert (answer["type"], answer["code"], answer["field"]) == ("error", "invalid_request", "preview")
        assert "preview must be true or false" in answer["message"]


def test_default_interval_throttles_previews(iterative_registry: Registry) -> None:
    with BackgroundServer(registry=iterative_registry, workers=1, grace_s=2.0, preview_interval_s=3600.0) as srv:
        answers = _exchange(
            srv.url,
            {
                "id": "t",
                "op": "generate",
                "model": "tflow",
                "count": 1,
                "seed": 0,
                "steps": 6,
                "solver": "euler",
                "preview": True,
            },
        )
    assert [a["done"] for a in answers[:-1] if "images" in a] == [1]  # the first at once, the next an hour later


def test_python_client_hands_previews_to_on_update(
    preview_server: BackgroundServer, iterative_registry: Registry
) -> None:
    """``preview=True`` on the client: ``on_update`` gets every progress answer as a ``Progress`` with the decoded
    preview sprites; the plain ``on_progress(done, total)`` callers keep working beside it."""
    for image_format in ("rgba", "png"):
        updates: list[Any] = []
        plain: list[tuple[int, int]] = []
        with SyncClient(preview_server.url) as c:
            assert "preview" in c.hello()["features"]
            got = c.generate(
                model="tdiff",
                count=3,
                seed=4,
                steps=4,
                solver="ddim",
                image_format=image_format,
                preview=True,
                on_update=updates.append,
                on_progress=lambda d, t, seen=plain: seen.append((d, t)),
            )
        assert plain == [(d, 4) for d in (1, 2, 3, 4)]
        assert [(u.done, u.total, u.unit) for u in updates] == [(d, 4, "steps") for d in (1, 2, 3, 4)]
        for u in updates[:3]:
            assert isinstance(u.preview, np.ndarray) and u.preview.dtype == np.uint8
            assert u.preview.shape == (3, 8, 8, 4) and set(np.unique(u.preview[..., 3])) <= {0, 255}
            assert u.message["images"]  # the raw answer too
        assert updates[3].preview is None  # the result follows at once
        want = api.generate("tdiff", 3, 4, steps=4, solver="ddim", registry=iterative_registry)
        np.testing.assert_array_equal(got.rgba, want.sprites)  # previews do not change the result


def test_python_client_previews_for_variations_and_without_preview(preview_server: BackgroundServer) -> None:
    async def go() -> None:
        async with await Client.connect(preview_server.url) as c:
            image = (await c.generate(model="tflow", count=1, seed=2, steps=2, image_format="rgba")).rgba[0]
            updates: list[Any] = []
            got = await c.variations(
                image,
                model="tflow",
                count=2,
                strength=1.0,
                seed=1,
                steps=3,
                solver="euler",
                preview=True,
                on_update=updates.append,
            )
            assert len(got) == 2
            shapes = [u.preview.shape for u in updates if u.preview is not None]
            assert shapes == [(2, 8, 8, 4)] * 2 and [u.done for u in updates] == [1, 2, 3]
            quiet: list[Any] = []
            await c.generate(model="tflow", count=1, seed=2, steps=3, on_update=quiet.append)
            assert [u.done for u in quiet] == [1, 2, 3] and all(u.preview is None for u in quiet)
            with pytest.raises(TypeError):
                await c.generate(model="tflow", count=1, preview="yes")  # type: ignore[arg-type]

    asyncio.run(go())
