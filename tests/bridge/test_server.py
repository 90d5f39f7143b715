"""The server over a real socket on 127.0.0.1 (ephemeral port): every operation, errors, limits, cancel, security."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable, Coroutine
from typing import Any

import msgpack
import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError, InvalidStatus

from pixelsprite import api
from pixelsprite.imageio import encode_png
from pixelsprite.palettes.resolve import resolve_palette
from pixelsprite.registry import Registry
from pixelsprite_bridge.client import Client, SyncClient
from pixelsprite_bridge.errors import RemoteError
from pixelsprite_bridge.server import BackgroundServer

T = Any


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, 30))


async def raw(url: str, frame: str | bytes, **kw: Any) -> Any:
    """Send one frame on a fresh connection; return the decoded answer."""
    async with connect(url, **kw) as ws:
        await ws.send(frame)
        answer = await ws.recv()
        return json.loads(answer) if isinstance(answer, str) else msgpack.unpackb(answer)


# -------------------------------------------------------------------------------------------------- operations
def test_hello_and_models(server: BackgroundServer) -> None:
    with SyncClient(server.url) as c:
        hello = c.hello()
        assert (hello["server"], hello["protocol"], hello["default_model"]) == ("pixelsprite", 1, "tiny")
        assert hello["models"] == ["tiny", "tiny-dec", "tiny-gmm"]
        assert "generate" in hello["operations"] and hello["coming"] == [] and "score" in hello["operations"]
        models = c.models()
        assert [m["name"] for m in models["models"]] == ["tiny", "tiny-dec", "tiny-gmm"]
        assert models["models"][0]["size"] == [8, 8]


@pytest.mark.parametrize("encoding", ["json", "msgpack"])
@pytest.mark.parametrize("image_format", ["png", "rgba"])
def test_generate_matches_the_request_layer(
    server: BackgroundServer, registry: Registry, encoding: str, image_format: str
) -> None:
    with SyncClient(server.url, encoding=encoding) as c:  # type: ignore[arg-type]
        got = c.generate(count=5, seed=11, image_format=image_format)
    want = api.generate("tiny", 5, 11, registry=registry)
    np.testing.assert_array_equal(got.rgba, want.sprites)
    assert (got.seeds, got.base_seed, got.model) == ([11, 12, 13, 14, 15], 11, "tiny")
    assert got.message["image_format"] == image_format
    assert set(got.message["timing"]) == {"queue_ms", "run_ms", "total_ms"}


def test_answers_use_the_encoding_of_their_request(server: BackgroundServer) -> None:
    text = run(raw(server.url, json.dumps({"id": "j", "op": "generate", "count": 1, "seed": 1})))
    binary = run(raw(server.url, msgpack.packb({"id": "m", "op": "generate", "count": 1, "seed": 1})))
    assert isinstance(text["images"][0], str) and isinstance(binary["images"][0], bytes)
    assert text["images"][0] == __import__("base64").b64encode(binary["images"][0]).decode()


def test_sprite_operations(server: BackgroundServer, registry: Registry) -> None:
    ref = api.generate("tiny", 4, 3, registry=registry).sprites
    with SyncClient(server.url) as c:
        var = c.variations(encode_png(ref[0]), count=3, seed=5, strength=0.3)
        np.testing.assert_array_equal(var.rgba, api.variations("tiny", ref[0], 3, 0.3, 5, registry=registry).sprites)
        var_rgba = c.variations(ref[0], count=3, seed=5, strength=0.3)
        np.testing.assert_array_equal(var_rgba.rgba, var.rgba)
        strip = c.interpolate(1, ref[1], count=5, method="lerp")
        np.testing.assert_array_equal(
            strip.rgba, api.interpolate("tiny", 1, ref[1], 5, "lerp", registry=registry).sprites
        )
        assert strip.message["layout"] == [1, 5]
        g = c.grid([1, 2, 3, 4], rows=2, cols=3)
        np.testing.assert_array_equal(g.rgba, api.grid("tiny", [1, 2, 3, 4], 2, 3, registry=registry).sprites)
        z = c.encode([ref[0], encode_png(ref[1])])
        np.testing.assert_allclose(z, api.encode("tiny", [ref[0], ref[1]], registry=registry).latents)
        dec = c.decode(z, image_format="rgba")
        np.testing.assert_array_equal(dec.rgba, api.decode("tiny", z, registry=registry).sprites)
        gmm = c.generate(model="tiny-gmm", count=2, seed=9)
        np.testing.assert_array_equal(gmm.rgba, api.generate("tiny-gmm", 2, 9, registry=registry).sprites)


def test_random_seed_is_reported_and_reproduces(server: BackgroundServer) -> None:
    with SyncClient(server.url) as c:
        first = c.generate(count=3)
        again = c.generate(count=1, seed=first.seeds[2])
    np.testing.assert_array_equal(again.rgba[0], first.rgba[2])


# ------------------------------------------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    ("request_", "code", "field"),
    [
        ({"op": "generate", "model": "nope"}, "unknown_model", "model"),
        ({"op": "generate", "count": 5000}, "invalid_request", "count"),
        ({"op": "generate", "count": "many"}, "invalid_request", "count"),
        ({"op": "generate", "label": "mon"}, "unsupported_parameter", "label"),
        ({"op": "generate", "steps": 30}, "unsupported_parameter", "steps"),
        ({"op": "generate", "shape": 30}, "invalid_request", "shape"),
        ({"op": "similar"}, "invalid_request", "reference"),
        ({"op": "score"}, "invalid_request", "images"),
        ({"op": "explode"}, "unknown_operation", "op"),
        ({"op": "variations", "image": "/etc/hostname"}, "invalid_request", "image"),
        ({"op": "variations", "image": {"rgba": b"\0" * 64, "width": 4, "height": 4}}, "invalid_image", "image"),
        (
            {"op": "variations", "model": "tiny-dec", "image": {"rgba": b"\0" * 256, "width": 8, "height": 8}},
            "unsupported_parameter",
            "model",
        ),
        ({"op": "decode", "latents": [[1.0, 2.0]]}, "invalid_request", "latents"),
        ({"op": "interpolate", "a": 1, "b": b"\x89PNG\r\n\x1a\n-not-a-png-at-all-really"}, "invalid_image", "b"),
    ],
)
def test_errors_name_code_and_field_and_leave_the_connection_usable(
    server: BackgroundServer, request_: dict, code: str, field: str
) -> None:
    async def go() -> None:
        async with await Client.connect(server.url) as c:
            with pytest.raises(RemoteError) as e:
                await c.request(**request_)
            assert (e.value.code, e.value.field) == (code, field), e.value.message
            assert (await c.generate(count=1, seed=1)).seeds == [1]

    run(go())


def test_malformed_frames_get_unaddressed_errors(server: BackgroundServer) -> None:
    assert run(raw(server.url, "{nope"))["code"] == "malformed_frame"
    answer = run(raw(server.url, b"\xc1"))
    assert (answer["id"], answer["type"], answer["code"]) == (None, "error", "malformed_frame")
    assert run(raw(server.url, '{"id": "x", "op": 5}')) == {
        "id": "x",
        "type": "error",
        "code": "invalid_request",
        "message": "op must be a string, got 5",
        "field": "op",
    }


def test_one_bad_request_does_not_disturb_concurrent_ones(server: BackgroundServer) -> None:
    async def go() -> None:
        async with await Client.connect(server.url, encoding="json") as c:
            good = [asyncio.create_task(c.generate(count=2, seed=s)) for s in range(6)]
            bad = [asyncio.create_task(c.request("generate", count=-1)) for _ in range(3)]
            await c.send_raw("garbage")
            results = await asyncio.gather(*good)
            assert [r.seeds for r in results] == [[s, s + 1] for s in range(6)]
            for b in bad:
                with pytest.raises(RemoteError, match="count"):
                    await b
            assert (await c.unaddressed.get())["code"] == "malformed_frame"

    run(go())


def test_duplicate_in_flight_id_is_rejected(make_server: Callable[..., BackgroundServer]) -> None:
    srv = make_server(workers=1, chunk_sprites=2)

    async def go() -> None:
        async with connect(srv.url) as ws:
            await ws.send(json.dumps({"id": "same", "op": "generate", "count": 1024, "seed": 0}))
            await ws.send(json.dumps({"id": "same", "op": "generate", "count": 1}))
            while (answer := json.loads(await ws.recv()))["type"] == "progress":
                pass
            assert (answer["type"], answer["field"]) == ("error", "id")

    run(go())


def test_preview_on_a_vae_model_is_accepted_and_sends_no_images(
    make_server: Callable[..., BackgroundServer], registry: Registry
) -> None:
    srv = make_server(workers=1, chunk_sprites=2)

    async def go() -> list[dict[str, Any]]:
        async with connect(srv.url) as ws:
            await ws.send(
                json.dumps(
                    {
                        "id": "v",
                        "op": "generate",
                        "model": "tiny",
                        "count": 5,
                        "seed": 3,
                        "image_format": "rgba",
                        "preview": True,
                    }
                )
            )
            answers = [json.loads(await ws.recv())]
            while answers[-1]["type"] == "progress":
                answers.append(json.loads(await ws.recv()))
            return answers

    *progress, result = run(go())
    assert [p["done"] for p in progress] == [2, 4, 5] and all("images" not in p for p in progress)  # chunks only
    want = api.generate("tiny", 5, 3, registry=registry).sprites
    assert result["images"] == [base64.b64encode(s.tobytes()).decode() for s in want]


def test_oversized_message_is_answered_then_far_oversized_closes_with_1009(
    make_server: Callable[..., BackgroundServer],
) -> None:
    from pixelsprite_bridge.protocol import Limits

    srv = make_server(limits=Limits(max_message_bytes=1000))

    async def go() -> None:
        async with connect(srv.url) as ws:
            # over the limit: an error naming the field and the limit, with the request's id; the socket stays open
            await ws.send(json.dumps({"id": "big", "op": "models", "pad": "x" * 1500}))
            answer = json.loads(await ws.recv())
            assert (answer["id"], answer["type"], answer["code"], answer["field"]) == (
                "big",
                "error",
                "message_too_large",
                "message",
            )
            assert "1000 bytes" in answer["message"]
            await ws.send(json.dumps({"id": "é", "op": "models", "pad": "é" * 600}))  # 600 chars, 1,200 bytes
            assert json.loads(await ws.recv())["code"] == "message_too_large"
            await ws.send(json.dumps({"id": "ok", "op": "models"}))
            assert json.loads(await ws.recv())["type"] == "result"
            # far over it (more than 4x): closed with 1009 without being read
            await ws.send("x" * 4001)
            with pytest.raises(ConnectionClosedError) as e:
                await ws.recv()
            assert e.value.rcvd is not None and e.value.rcvd.code == 1009
        async with await Client.connect(srv.url) as c:  # the server itself is fine
            assert (await c.generate(count=1, seed=0)).seeds == [0]

    run(go())


# ------------------------------------------------------------------------------------------------------ limits
def test_per_connection_limit_answers_busy(make_server: Callable[..., BackgroundServer]) -> None:
    from pixelsprite_bridge.protocol import Limits

    srv = make_server(workers=1, chunk_sprites=2, limits=Limits(max_inflight=2))

    async def go() -> None:
        async with await Client.connect(srv.url) as c:
            ids = [(await c.submit("generate", count=600, seed=i))[1] for i in range(4)]
            answers = await asyncio.gather(*ids)
            codes = [a.get("code", a["type"]) for a in answers]
            assert codes.count("busy") == 2 and codes.count("result") == 2, codes

    run(go())


def test_micro_batching_merges_compatible_requests(
    make_server: Callable[..., BackgroundServer], registry: Registry
) -> None:
    srv = make_server(workers=1, chunk_sprites=4, batching=True)

    async def go() -> list[Any]:
        async with await Client.connect(srv.url) as blocker, await Client.connect(srv.url) as c:
            slow = asyncio.create_task(blocker.generate(count=400, seed=0))  # occupies the only worker
            await asyncio.sleep(0.05)
            small = [asyncio.create_task(c.generate(count=3, seed=100 * i)) for i in range(6)]
            other = asyncio.create_task(c.generate(count=3, seed=5, max_colors=0))  # a different batch key
            results = await asyncio.gather(*small, other)
            await slow
            return results

    results = run(go())
    for i, r in enumerate(results[:6]):
        np.testing.assert_array_equal(r.rgba, api.generate("tiny", 3, 100 * i, registry=registry).sprites)
    assert max(r.message["batch"] for r in results[:6]) > 1
    assert results[6].message["batch"] == 1
    np.testing.assert_array_equal(results[6].rgba, api.generate("tiny", 3, 5, max_colors=0, registry=registry).sprites)
    assert srv.server is not None and srv.server.stats["batches"] >= 1


# ----------------------------------------------------------------------------------------- progress and cancel
def test_progress_then_result(make_server: Callable[..., BackgroundServer], registry: Registry) -> None:
    srv = make_server(chunk_sprites=16)
    seen: list[tuple[int, int]] = []

    async def go() -> Any:
        async with await Client.connect(srv.url) as c:
            return await c.generate(count=50, seed=2, on_progress=lambda d, t: seen.append((d, t)))

    got = run(go())
    assert seen == [(16, 50), (32, 50), (48, 50), (50, 50)]
    np.testing.assert_array_equal(got.rgba, api.generate("tiny", 50, 2, registry=registry).sprites)


def test_cancel_stops_a_running_generate(make_server: Callable[..., BackgroundServer]) -> None:
    srv = make_server(workers=1, chunk_sprites=1)

    async def go() -> None:
        async with await Client.connect(srv.url) as c:
            progress = asyncio.Event()
            rid, future = await c.submit("generate", count=1024, seed=0, on_progress=lambda d, t: progress.set())
            await progress.wait()
            assert await c.cancel(rid) is True
            answer = await future
            assert (answer["type"], answer["code"]) == ("error", "cancelled")
            assert await c.cancel(rid) is False  # already answered
            assert await c.cancel("never-sent") is False
            # the worker stops between chunks, so it is soon free again
            assert (await asyncio.wait_for(c.generate(count=1, seed=1), 5)).seeds == [1]

    run(go())


def test_a_client_that_leaves_frees_its_worker(make_server: Callable[..., BackgroundServer]) -> None:
    """The session drops the queued jobs of a closed connection and stops its running one (the driver's cancel flag
    ends it between chunks), so the next client is served at once, not after 4 x 1,024 sprites. (The queue limit and
    cancelling a queued request are tested without sockets, in test_session.py.)"""
    srv = make_server(workers=1, chunk_sprites=1, batching=False)

    async def go() -> None:
        leaver = await Client.connect(srv.url)
        progress = asyncio.Event()
        for seed in range(4):  # one running, three queued
            await leaver.submit("generate", count=1024, seed=seed, on_progress=lambda d, t: progress.set())
        await progress.wait()
        await leaver.close()
        async with await Client.connect(srv.url) as c:
            # about 0.01 s here; without the stop, the rest of the running job takes over a second
            assert (await asyncio.wait_for(c.generate(count=1, seed=1), 0.75)).seeds == [1]
        assert srv.server is not None and srv.server.session.idle

    run(go())


# ---------------------------------------------------------------------------------------------------- security
def test_origin_check_at_the_handshake(make_server: Callable[..., BackgroundServer]) -> None:
    srv = make_server(allow_origins=["http://localhost:5173"])

    async def go() -> None:
        for bad in ("https://evil.example", "null", "http://localhost:5174"):
            with pytest.raises(InvalidStatus) as e:
                await Client.connect(srv.url, origin=bad)
            assert e.value.response.status_code == 403
        for ok in (None, "http://localhost:5173"):
            async with await Client.connect(srv.url, origin=ok) as c:
                assert (await c.hello())["protocol"] == 1

    run(go())


def test_token(make_server: Callable[..., BackgroundServer]) -> None:
    srv = make_server(token="s3cret")

    async def go() -> None:
        for token in (None, "wrong"):
            with pytest.raises(InvalidStatus) as e:
                await Client.connect(srv.url, token=token)
            assert e.value.response.status_code == 401
        async with await Client.connect(srv.url, token="s3cret") as c:
            assert (await c.hello())["protocol"] == 1
        async with connect(srv.url, additional_headers={"Authorization": "Bearer s3cret"}) as ws:
            await ws.send('{"id": "h", "op": "hello"}')
            assert json.loads(await ws.recv())["type"] == "result"

    run(go())


def test_binds_loopback_by_default(registry: Registry) -> None:
    from pixelsprite_bridge.server import Server

    assert Server(registry=registry).host == "127.0.0.1"


# ---------------------------------------------------------------------------------------------------- shutdown
def test_shutdown_finishes_in_flight_work_then_closes(registry: Registry) -> None:
    srv = BackgroundServer(registry=registry, workers=1, chunk_sprites=64, grace_s=5.0).start()

    async def go() -> None:
        async with await Client.connect(srv.url) as c:
            _, pending = await c.submit("generate", count=256, seed=0)
            await asyncio.sleep(0.02)
            stopping = asyncio.get_running_loop().run_in_executor(None, srv.stop)
            answer = await pending
            assert answer["type"] == "result" and answer["count"] == 256
            await stopping
            await asyncio.wait_for(c.ws.wait_closed(), 5)
            assert c.ws.close_code == 1001
        with pytest.raises(OSError):
            await Client.connect(srv.url, open_timeout=2)

    run(go())


def test_shutdown_cancels_work_beyond_the_grace_period(registry: Registry) -> None:
    srv = BackgroundServer(registry=registry, workers=1, chunk_sprites=1, grace_s=0.1).start()

    async def go() -> None:
        async with await Client.connect(srv.url) as c:
            progress = asyncio.Event()
            _, pending = await c.submit("generate", count=1024, seed=0, on_progress=lambda d, t: progress.set())
            await progress.wait()
            await asyncio.get_running_loop().run_in_executor(None, srv.stop)
            assert (await pending)["code"] == "shutting_down"

    run(go())


def test_generate_with_a_palette_over_the_socket(server: BackgroundServer, registry: Registry) -> None:
    with SyncClient(server.url) as c:
        got = c.generate(count=4, seed=3, palette="gameboy-dmg", image_format="rgba")
        with pytest.raises(RemoteError) as e:
            c.generate(count=1, palette="../secret.gpl")
    want = api.generate("tiny", 4, 3, palette="gameboy-dmg", registry=registry)
    np.testing.assert_array_equal(got.rgba, want.sprites)
    opaque = got.rgba[got.rgba[..., 3] > 0][:, :3]
    allowed = {tuple(c) for c in resolve_palette("gameboy-dmg").colors.tolist()}
    assert opaque.size and {tuple(p) for p in opaque.tolist()} <= allowed
    assert e.value.code == "invalid_request" and e.value.field == "palette"


def test_palette_operation_over_the_socket(server: BackgroundServer, registry: Registry) -> None:
    with SyncClient(server.url) as c:
        msg = c.request("palette", count=16, seed=4, colors=3, format="gpl")
    want = api.palette("tiny", count=16, seed=4, colors=3, format="gpl", registry=registry)
    assert msg["colors"] == list(want.palette.hex) and len(msg["colors"]) == 3
    assert msg["file"].startswith(b"GIMP Palette") and msg["swatch"].startswith(b"\x89PNG")
