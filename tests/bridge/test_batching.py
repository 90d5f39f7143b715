"""bridge/batching.py keeps every option of a generate request: a request without a seed, or one large enough to
run in chunks, is still constrained to its palette and cleaned up (it once dropped them and kept only the colour
cap: the browser playground found it)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable

import numpy as np

from pixelsprite import api
from pixelsprite.palettes.resolve import resolve_palette
from pixelsprite.registry import Registry
from pixelsprite_bridge.batching import generate_chunked, generate_many, with_seed
from pixelsprite_bridge.client import SyncClient
from pixelsprite_bridge.server import BackgroundServer

GAMEBOY = {tuple(c) for c in resolve_palette("gameboy-dmg").colors.tolist()}


def colours(sprites: np.ndarray) -> set[tuple[int, ...]]:
    px = sprites.reshape(-1, 4)
    return {tuple(c) for c in px[px[:, 3] > 0, :3].tolist()}


def test_with_seed_keeps_the_other_options() -> None:
    req = api.GenerateRequest(
        "tiny",
        4,
        None,
        5,
        palette="gameboy-dmg",
        dither="bayer2",
        despeckle=True,
        outline="darkest",
        candidates=2,
    )
    seeded = with_seed(req)
    assert seeded.seed is not None
    for f in dataclasses.fields(req):
        if f.name != "seed":
            assert getattr(seeded, f.name) == getattr(req, f.name), f.name


def test_chunks_equal_one_call_with_the_same_options(registry: Registry) -> None:
    req = api.GenerateRequest("tiny", 10, 3, palette="gameboy-dmg", outline="darkest")
    got = generate_chunked(req, registry, chunk=4, cancel=threading.Event())
    want = api.handle(req, registry=registry)
    assert isinstance(want, api.SpriteResult)
    np.testing.assert_array_equal(got.sprites, want.sprites)
    assert got.seeds == want.seeds and colours(got.sprites) <= GAMEBOY


def test_a_batch_is_the_request_layers_multi_request_generate(registry: Registry) -> None:
    reqs = [
        api.GenerateRequest("tiny", 3, None, palette="gameboy-dmg", outline="darkest"),
        api.GenerateRequest("tiny", 2, 9, despeckle=True),
    ]
    got = generate_many(reqs, registry)
    assert got[0].base_seed is not None and colours(got[0].sprites) <= GAMEBOY
    for req, res in zip(reqs, got, strict=True):
        want = api.handle(dataclasses.replace(req, seed=res.base_seed), registry=registry)
        assert isinstance(want, api.SpriteResult) and res.seeds == want.seeds
        np.testing.assert_array_equal(res.sprites, want.sprites)


def test_a_palette_without_a_seed_over_the_socket(
    make_server: Callable[..., BackgroundServer], registry: Registry
) -> None:
    srv = make_server(chunk_sprites=4)
    with SyncClient(srv.url) as c:
        for count in (3, 10):  # one call; chunks
            got = c.generate(count=count, palette="gameboy-dmg", image_format="rgba")
            assert colours(got.rgba) <= GAMEBOY
            want = api.generate("tiny", count, got.base_seed, palette="gameboy-dmg", registry=registry)
            np.testing.assert_array_equal(got.rgba, want.sprites)
