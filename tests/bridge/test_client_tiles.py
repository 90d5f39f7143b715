"""Tiles with the Python client (issue 19) against a real server with a tiny tiling model: the catalog says which
models tile, :meth:`Sprites.repeat_3x3` and :meth:`Sprites.tiled_preview` show the tiles as the CLI and the watch
folder write them, and variations / inpaint of a tile keep what the runtime promises (the tile's colours, its 1-px
border), byte for byte the request layer's."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from pixelsprite import api
from pixelsprite.imageio import compose_tiled_preview
from pixelsprite.registry import Registry
from pixelsprite_bridge.client import SyncClient
from pixelsprite_bridge.server import BackgroundServer
from tests.pixelsprite.pixel_bundles import SIZE, write_pixel_model


@pytest.fixture(scope="module")
def treg(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    root = tmp_path_factory.mktemp("tile-bridge")
    write_pixel_model(root, "ttile", tiling=True)
    write_pixel_model(root, "tpixel")
    return Registry([root], builtin=False, env=False)


@pytest.fixture(scope="module")
def client(treg: Registry) -> Iterator[SyncClient]:
    with BackgroundServer(registry=treg, workers=1, grace_s=2.0) as srv, SyncClient(srv.url) as c:
        yield c


def test_the_models_answer_says_which_models_tile(client: SyncClient) -> None:
    listed = {m["name"]: m["tiling"] for m in client.models()["models"]}
    assert listed == {"ttile": True, "tpixel": False}


def test_tiles_repeated_and_the_preview_sheet(client: SyncClient, treg: Registry) -> None:
    tiles = client.generate(model="ttile", label="a", count=3, seed=5)
    want = api.generate("ttile", 3, 5, label="a", registry=treg).sprites
    assert (tiles.rgba == want).all()
    repeated = tiles.repeat_3x3()
    assert repeated.shape == (3, 3 * SIZE, 3 * SIZE, 4)
    for i in range(3):
        for j in range(3):
            assert (repeated[:, i * SIZE : (i + 1) * SIZE, j * SIZE : (j + 1) * SIZE] == want).all()
    assert (tiles.tiled_preview() == compose_tiled_preview(want)).all()
    sheet = tiles.tiled_preview(columns=1, gutter=0, scale=2)
    assert sheet.shape == (3 * 3 * SIZE * 2, 2 * 3 * SIZE * 2, 4)  # a pair per row: the tile, then its repeat
    assert (sheet[: 6 * SIZE, 6 * SIZE :] == np.repeat(np.repeat(repeated[0], 2, 0), 2, 1)).all()


def test_variations_and_inpaint_of_a_tile(client: SyncClient, treg: Registry) -> None:
    tile = api.generate("ttile", 1, 21, label="b", registry=treg).sprites[0]
    var = client.variations(tile, model="ttile", count=4, strength=0.6, seed=2)
    assert (var.rgba == api.variations("ttile", tile, 4, 0.6, 2, registry=treg).sprites).all()
    colours = {tuple(c) for c in tile.reshape(-1, 4)}
    assert {tuple(c) for c in var.rgba.reshape(-1, 4)} <= colours  # in the tile's own colours
    mask = np.ones((SIZE, SIZE), bool)  # ask for every pixel: the border is kept all the same
    fixed = client.inpaint(tile, mask, model="ttile", count=2, seed=3)
    assert (fixed.rgba[:, 0] == tile[0]).all() and (fixed.rgba[:, -1] == tile[-1]).all()
    assert (fixed.rgba[:, :, 0] == tile[:, 0]).all() and (fixed.rgba[:, :, -1] == tile[:, -1]).all()
