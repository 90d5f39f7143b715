"""Tiles in the playground (issue 19), in a real headless Chromium against a live server with a tiny tiling model:
with a tile model (``"tiling": true`` in the models answer) the results are drawn repeated 3x3, a toggle turns that
off and on, sprites of other models are drawn as before, and the repeat is display only (the requests, the PNGs
and the downloads are the single tiles, the request layer's byte for byte).

Needs Debian's ``chromium`` and the Python ``playwright`` package, as ``test_playground_inpaint.py``.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from pixelsprite import api
from pixelsprite.registry import Registry
from pixelsprite_bridge.server import BackgroundServer

from .test_playground_inpaint import dom_sprites, generate, sent, wait_until

CHROMIUM = os.environ.get("PIXELSPRITE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the Python playwright package is not installed")

pytestmark = pytest.mark.slow
TIMEOUT_MS = 30_000
SIZE = 8
SHOWN = 192  # a repeated 8x8 tile on screen: 3 x 8 pixels at 8 screen pixels each (1.5 x the lone sprite's 128)


@pytest.fixture(scope="module")
def treg(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    from tests.pixelsprite.pixel_bundles import write_pixel_model  # imports torch (skips without it)

    root = tmp_path_factory.mktemp("tile-playground")
    write_pixel_model(root, "ttile", tiling=True)
    write_pixel_model(root, "tpixel")
    return Registry([root], builtin=False, env=False)


@pytest.fixture(scope="module")
def server(treg: Registry) -> Iterator[BackgroundServer]:
    with BackgroundServer(registry=treg, workers=1, grace_s=2.0, preview_interval_s=0.0) as srv:
        yield srv


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, server: BackgroundServer) -> Iterator[tuple[Any, list[str]]]:
    """A ready page and its websocket frames; fails the test on a console or page error (CSP violations too)."""
    context = browser.new_context(viewport={"width": 1360, "height": 1000}, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []
    frames: list[str] = []

    def record(frame: str | bytes) -> None:
        frames.append(frame if isinstance(frame, str) else frame.decode())

    pg.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    pg.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    pg.on("websocket", lambda ws: (ws.on("framesent", record), ws.on("framereceived", record)))
    assert server.server is not None and server.server.site is not None
    pg.goto(server.server.site.origin + "/")
    pg.wait_for_selector("body[data-state=ready]")
    yield pg, frames
    context.close()
    assert not problems, problems


def repeats(pg: Any, where: str) -> np.ndarray:
    """The 3x3 canvases of ``where``'s tiles, read back pixel for pixel, once every one is drawn."""
    wait_until(pg, f"() => [...document.querySelectorAll('{where} .tile canvas.repeat')].every(c => c.dataset.drawn)")
    urls = pg.eval_on_selector_all(f"{where} .tile canvas.repeat", "cs => cs.map(c => c.toDataURL('image/png'))")
    return np.stack(
        [np.asarray(Image.open(io.BytesIO(base64.b64decode(u.split(",", 1)[1]))).convert("RGBA")) for u in urls]
    )


def visible(pg: Any, selector: str) -> list[bool]:
    return pg.eval_on_selector_all(selector, "els => els.map(e => e.getClientRects().length > 0)")  # type: ignore[no-any-return]


def test_the_toggle_shows_with_a_tile_model(page: tuple[Any, list[str]]) -> None:
    pg, _ = page
    options = pg.eval_on_selector_all("#model option", "os => os.map(o => [o.value, o.textContent])")
    assert options == [["tpixel", "tpixel · pixel"], ["ttile", "ttile · pixel · tiles"]]
    pg.select_option("#model", "ttile")
    assert pg.is_visible("#tiled-toggle") and pg.is_checked("#tiled")
    pg.select_option("#model", "tpixel")
    assert pg.is_hidden("#tiled-toggle")  # nothing tiled shown, and this model does not tile


def test_tiles_are_shown_repeated_3x3_and_the_toggle_turns_it_off(
    page: tuple[Any, list[str]], treg: Registry, tmp_path: Path
) -> None:
    pg, frames = page
    generate(pg, "ttile", 3, 5)
    want = api.generate("ttile", 3, 5, registry=treg).sprites
    np.testing.assert_array_equal(dom_sprites(pg, "#sprites"), want)  # the PNGs are the single tiles
    np.testing.assert_array_equal(repeats(pg, "#sprites"), np.tile(want, (1, 3, 3, 1)))
    assert visible(pg, "#sprites .tile canvas.repeat") == [True] * 3
    assert visible(pg, "#sprites .tile img") == [False] * 3
    box = pg.locator("#sprites .tile canvas.repeat").first.bounding_box()
    assert (box["width"], box["height"]) == (SHOWN, SHOWN)
    assert "tiled" not in sent(frames, "generate")[-1]  # display only: nothing extra is asked of the server
    # off: the lone tiles as for any sprite; on again: repeated; the picks and the grid stay as they were
    pg.check("#sprites .tile input.pick >> nth=0")
    pg.uncheck("#tiled")
    assert visible(pg, "#sprites .tile canvas.repeat") == [False] * 3
    assert visible(pg, "#sprites .tile img") == [True] * 3
    pg.check("#tiled")
    assert visible(pg, "#sprites .tile canvas.repeat") == [True] * 3
    assert pg.is_checked("#sprites .tile input.pick >> nth=0")
    # the sheet download is the single tiles, as for any sprites
    with pg.expect_download() as d:
        pg.click("#download-sheet")
    path = tmp_path / "sheet.png"
    d.value.save_as(path)
    sheet = np.asarray(Image.open(path).convert("RGBA"))
    assert sheet.shape == (2 * SIZE, 2 * SIZE, 4)
    np.testing.assert_array_equal(sheet[:SIZE, :SIZE], want[0])
    np.testing.assert_array_equal(sheet[:SIZE, SIZE:], want[1])
    np.testing.assert_array_equal(sheet[SIZE:, :SIZE], want[2])


def test_sprites_of_a_model_that_does_not_tile_are_drawn_alone(page: tuple[Any, list[str]]) -> None:
    pg, _ = page
    generate(pg, "tpixel", 2, 1)
    assert pg.locator("#sprites .tile canvas.repeat").count() == 0
    assert visible(pg, "#sprites .tile img") == [True, True]
    assert pg.is_hidden("#tiled-toggle")
    pg.select_option("#model", "ttile")  # the toggle follows the chosen model; the shown sprites stay alone
    assert pg.is_visible("#tiled-toggle") and pg.locator("#sprites .tile canvas.repeat").count() == 0


def test_repainting_a_tile_keeps_its_border_and_shows_the_repaintings_repeated(
    page: tuple[Any, list[str]], treg: Registry
) -> None:
    pg, frames = page
    generate(pg, "ttile", 2, 7)
    source = dom_sprites(pg, "#sprites")[0]
    pg.locator("#sprites .tile button.sprite").first.click()
    pg.wait_for_selector("#repaint-section:not([hidden])")
    assert "keeps the tile's 1-pixel border" in pg.inner_text("#repaint-hint")
    pg.click("#mask-invert")  # ask for every pixel: the border is kept all the same
    pg.fill("#repaint-count", "2")
    pg.fill("#seed", "3")
    pg.click("#repaint")
    wait_until(pg, "() => document.querySelector('#progress-text').textContent.startsWith('2 repaintings')")
    want = api.inpaint("ttile", source, np.ones((SIZE, SIZE), bool), 2, 3, registry=treg).sprites
    np.testing.assert_array_equal(dom_sprites(pg, "#repaints"), want)
    np.testing.assert_array_equal(repeats(pg, "#repaints"), np.tile(want, (1, 3, 3, 1)))
    ring = np.ones((SIZE, SIZE), bool)
    ring[1:-1, 1:-1] = False
    assert (want[:, ring] == source[ring]).all()
    assert sent(frames, "inpaint")[-1]["model"] == "ttile"
