"""Diffusion and flow models over the socket: sampler parameters, per-step progress, cancel between steps."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import numpy as np
import pytest

from bridge.client import Client, SyncClient
from bridge.errors import RemoteError
from bridge.server import BackgroundServer
from pixelsprite import api
from pixelsprite.registry import Registry


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
        iterative_server: BackgroundServer, iterative_registry: Registry) -> None:
    seen: list[tuple[int, int]] = []
    with SyncClient(iterative_server.url) as c:
        got = c.generate(model="tflow", count=3, seed=5, label="b", steps=4, solver="heun", guidance=2.0,
                         image_format="rgba", on_progress=lambda d, t: seen.append((d, t)))
    want = api.generate("tflow", 3, 5, label="b", steps=4, solver="heun", guidance=2.0, registry=iterative_registry)
    np.testing.assert_array_equal(got.rgba, want.sprites)
    assert seen and seen[-1][0] == seen[-1][1]  # per-step progress up to the last step


def test_sampler_errors_name_the_field(iterative_server: BackgroundServer) -> None:
    with SyncClient(iterative_server.url) as c:
        for params, field in (({"label": "zebra"}, "label"), ({"solver": "rk45"}, "solver"),
                              ({"steps": 100_000}, "steps")):
            with pytest.raises(RemoteError) as e:
                c.generate(model="tdiff", count=1, **params)
            assert e.value.field == field, params


def test_interpolate_takes_count_frames_and_sampler_steps(iterative_server: BackgroundServer,
                                                          iterative_registry: Registry) -> None:
    with SyncClient(iterative_server.url) as c:
        got = c.interpolate(1, 2, model="tdiff", count=5, steps=6, image_format="rgba")
    want = api.interpolate("tdiff", 1, 2, steps=5, sample_steps=6, registry=iterative_registry)
    np.testing.assert_array_equal(got.rgba, want.sprites)


def test_cancel_stops_sampling_between_steps(iterative_server: BackgroundServer) -> None:
    async def go() -> None:
        async with await Client.connect(iterative_server.url) as c:
            progress = asyncio.Event()
            rid, future = await c.submit("generate", model="tdiff", count=256, seed=0, solver="ddpm",
                                         on_progress=lambda d, t: progress.set())
            await asyncio.wait_for(progress.wait(), 20)
            assert await c.cancel(rid) is True
            answer = await asyncio.wait_for(future, 20)
            assert (answer["type"], answer["code"]) == ("error", "cancelled")
            assert (await asyncio.wait_for(c.generate(model="tflow", count=1, seed=1, steps=2), 20)).seeds == [1]

    asyncio.run(go())
