"""Repainting in the playground (GET / of ``pixelsprite serve``) in a real headless Chromium, against a live server with
the tiny pixel models: with a model that offers ``inpaint``, a click on a sprite opens a zoomed mask editor (brush,
erase, brush size, clear, invert), Repaint sends the sprite and a 1-bit mask, draws the previews, and shows
repaintings that are the request layer's byte for byte; the sampler's temperature and solver come from the form.

Needs Debian's ``chromium`` and the Python ``playwright`` package (no browser download), as
``test_playground_browser.py``; without either, the module skips and says why.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from pixelsprite import api
from pixelsprite.registry import Registry
from pixelsprite_bridge.server import BackgroundServer

from .pixel_fixtures import SIZE, pixel_registry, write_pixel_models

CHROMIUM = os.environ.get("PIXELSPRITE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip(
        "Debian's chromium is not installed (apt-get install chromium): the playground's browser tests "
        "need a real browser",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="the Python playwright package is not installed (pip install playwright; no browser download needed)",
)

pytestmark = pytest.mark.slow
TIMEOUT_MS = 30_000
CELL = 40  # the editor draws an 8x8 sprite at 40 screen pixels a pixel (320 / 8)


@pytest.fixture(scope="module")
def preg(tmp_path_factory: pytest.TempPathFactory, bundle_writer: Any) -> Registry:
    return pixel_registry(write_pixel_models(tmp_path_factory.mktemp("pixel-playground"), bundle_writer))


@pytest.fixture(scope="module")
def server(preg: Registry) -> Iterator[BackgroundServer]:
    with BackgroundServer(registry=preg, workers=1, grace_s=2.0, preview_interval_s=0.0) as srv:
        yield srv


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, server: BackgroundServer) -> Iterator[tuple[Any, list[str]]]:
    """A page on the playground, connected and ready, and every websocket frame it sends or receives; fails the test
    on any console error or page error (a CSP violation shows up as a console error)."""
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


def wait_until(pg: Any, js: str, arg: Any = None, timeout_s: float = TIMEOUT_MS / 1000) -> None:
    """Poll ``js`` in the page (not ``wait_for_function``, which the page's Content-Security-Policy forbids)."""
    deadline = time.monotonic() + timeout_s
    while not pg.evaluate(js, arg):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {js}")
        time.sleep(0.02)


def dom_sprites(pg: Any, where: str) -> np.ndarray:
    srcs = pg.eval_on_selector_all(f"{where} .tile img", "els => els.map(e => e.src)")
    return np.stack(
        [np.asarray(Image.open(io.BytesIO(base64.b64decode(s.split(",", 1)[1]))).convert("RGBA")) for s in srcs]
    )


def generate(pg: Any, model: str, count: int, seed: int) -> None:
    pg.select_option("#model", model)
    pg.fill("#count", str(count))
    pg.fill("#seed", str(seed))
    pg.click("#generate")
    wait_until(pg, f"() => document.querySelector('#progress-text').textContent.startsWith('{count} sprites from')")
    wait_until(pg, "() => [...document.querySelectorAll('#sprites .tile img')].every(i => i.complete)")


def brush(pg: Any, cells: list[tuple[int, int]]) -> None:
    """One stroke of the mouse through the centres of these sprite pixels (x, y) on the editor's canvas."""
    box = pg.locator("#mask-canvas").bounding_box()
    points = [(box["x"] + (x + 0.5) * CELL, box["y"] + (y + 0.5) * CELL) for x, y in cells]
    pg.mouse.move(*points[0])
    pg.mouse.down()
    for p in points[1:]:
        pg.mouse.move(*p, steps=4)
    pg.mouse.up()


def sent(frames: list[str], op: str) -> list[dict[str, Any]]:
    return [json.loads(f) for f in frames if f'"op":"{op}"' in f and '"type"' not in f]


WATCH_PREVIEWS = """() => {
  window.previewsSeen = [];
  const grid = document.querySelector('#repaints');
  new MutationObserver(() => {
    const tiles = [...grid.querySelectorAll('.tile.preview')];
    if (tiles.length) window.previewsSeen.push({n: tiles.length, buttons: grid.querySelectorAll('button').length,
      caption: tiles[0].textContent});
  }).observe(grid, {childList: true, subtree: true});
}"""


# ----------------------------------------------------------------------------------------------------- tests
def test_a_pixel_model_brings_temperature_solver_and_repainting(page: tuple[Any, list[str]]) -> None:
    pg, _ = page
    pg.select_option("#model", "tpixel")
    for field in ("#label", "#steps", "#guidance", "#solver", "#temperature"):
        assert pg.is_enabled(field), field
    assert pg.eval_on_selector_all("#solver option", "os => os.map(o => o.value)") == ["", "random", "confidence"]
    assert pg.inner_text("#solver option") == "(default: random)"
    assert pg.get_attribute("#temperature", "placeholder") == "default 1"
    assert pg.get_attribute("#steps", "placeholder") == "default 4"
    assert (pg.get_attribute("#steps", "min"), pg.get_attribute("#steps", "max")) == ("1", "64")
    assert "brush the pixels to repaint" in pg.inner_text("#sprites-hint")
    pg.select_option("#model", "tiny")  # a VAE: no sampler, no inpainting
    for field in ("#solver", "#temperature", "#steps"):
        assert pg.is_disabled(field), field
    assert "download it as a PNG" in pg.inner_text("#sprites-hint")
    assert pg.is_hidden("#repaint-section")


def test_brush_a_mask_and_repaint(page: tuple[Any, list[str]], preg: Registry) -> None:
    pg, frames = page
    generate(pg, "tpixel", 4, 3)
    source = dom_sprites(pg, "#sprites")[1]
    assert pg.get_attribute("#sprites .tile button.sprite >> nth=1", "title") == "Repaint part of tpixel-4"
    pg.locator("#sprites .tile button.sprite").nth(1).click()
    pg.wait_for_selector("#repaint-section:not([hidden])")
    assert pg.eval_on_selector("#mask-canvas", "c => [c.width, c.height]") == [SIZE * CELL, SIZE * CELL]
    assert pg.is_disabled("#repaint")  # nothing to repaint yet
    brush(pg, [(1, 2), (2, 2), (3, 2), (4, 2)])  # a stroke along row 2
    pg.select_option("#brush-size", "2")
    brush(pg, [(6, 6)])  # a 2x2 dab: (6..7, 6..7)
    pg.check("#tool-erase")
    pg.select_option("#brush-size", "1")
    brush(pg, [(2, 2)])  # erase one pixel of the stroke
    assert pg.inner_text("#mask-count") == "7 of 64 pixels to repaint"
    mask = np.zeros((SIZE, SIZE), bool)
    mask[2, [1, 3, 4]] = True
    mask[6:8, 6:8] = True
    pg.select_option("#label", "b")
    pg.fill("#steps", "12")
    pg.fill("#temperature", "0.8")
    pg.select_option("#solver", "confidence")
    pg.fill("#seed", "11")
    pg.fill("#repaint-count", "3")
    pg.evaluate(WATCH_PREVIEWS)
    pg.click("#repaint")
    wait_until(pg, "() => document.querySelector('#progress-text').textContent.startsWith('3 repaintings of 7 pixels')")
    (request,) = sent(frames, "inpaint")
    assert {
        k: request[k] for k in ("model", "label", "steps", "temperature", "solver", "seed", "count", "preview")
    } == {
        "model": "tpixel",
        "label": "b",
        "steps": 12,
        "temperature": 0.8,
        "solver": "confidence",
        "seed": 11,
        "count": 3,
        "preview": True,
    }
    image = np.asarray(Image.open(io.BytesIO(base64.b64decode(request["image"]["png"]))).convert("RGBA"))
    np.testing.assert_array_equal(image, source)  # the clicked sprite, as the page has it
    wire = np.frombuffer(base64.b64decode(request["mask"]["rgba"]), np.uint8).reshape(SIZE, SIZE, 4)
    assert (request["mask"]["width"], request["mask"]["height"]) == (SIZE, SIZE)
    assert (wire[..., 3] == 255).all() and (wire[mask, :3] == 255).all() and (wire[~mask, :3] == 0).all()
    want = api.inpaint(
        "tpixel", source, mask, 3, 11, label="b", steps=12, temperature=0.8, solver="confidence", registry=preg
    ).sprites
    got = dom_sprites(pg, "#repaints")
    np.testing.assert_array_equal(got, want)  # the request layer's repaintings, byte for byte
    assert (got[:, ~mask] == source[~mask]).all()
    captions = pg.eval_on_selector_all("#repaints .tile figcaption", "els => els.map(e => e.textContent.trim())")
    assert captions == ["seed 11", "seed 12", "seed 13"]
    previews = [json.loads(f) for f in frames if '"type":"progress"' in f and '"images"' in f]
    assert previews  # ceil(12 * 7 / 64) = 2 steps: a preview after the first
    seen = pg.evaluate("() => window.previewsSeen")
    assert seen and all(s["n"] == 3 and s["buttons"] == 0 for s in seen) and "preview" in seen[0]["caption"]
    assert pg.locator("#repaints .tile.preview").count() == 0
    # a repainting opens in the editor with the same mask, to repaint again; its seed is not a generate seed
    pg.locator("#repaints .tile button.sprite").nth(2).click()
    wait_until(pg, "() => document.querySelector('#mask-count').textContent === '7 of 64 pixels to repaint'")
    pg.click("#repaint")
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while sum('"type":"result"' in f and '"op":"inpaint"' in f for f in frames) < 2:
        assert time.monotonic() < deadline, "no answer to the second repaint"
        pg.wait_for_timeout(20)  # lets playwright deliver the frame events (time.sleep would not)
    second = sent(frames, "inpaint")[-1]
    image = np.asarray(Image.open(io.BytesIO(base64.b64decode(second["image"]["png"]))).convert("RGBA"))
    np.testing.assert_array_equal(image, want[2])
    assert not pg.is_visible("#error")


def test_clear_invert_palette_lock_and_close(page: tuple[Any, list[str]], preg: Registry, tmp_path: Path) -> None:
    pg, frames = page
    generate(pg, "tpixel-u", 2, 5)
    source = dom_sprites(pg, "#sprites")[0]
    pg.locator("#sprites .tile button.sprite").first.click()
    pg.wait_for_selector("#repaint-section:not([hidden])")
    brush(pg, [(0, 0), (1, 0)])
    pg.click("#mask-clear")
    assert pg.inner_text("#mask-count") == "0 of 64 pixels to repaint" and pg.is_disabled("#repaint")
    pg.click("#mask-invert")  # everything
    assert pg.inner_text("#mask-count") == "64 of 64 pixels to repaint"
    pg.fill("#palette", "#ffffff,#c82828")
    pg.fill("#repaint-count", "2")
    pg.fill("#seed", "1")
    pg.click("#repaint")
    wait_until(pg, "() => document.querySelector('#progress-text').textContent.startsWith('2 repaintings')")
    got = dom_sprites(pg, "#repaints")
    want = api.inpaint(
        "tpixel-u", source, np.ones((SIZE, SIZE), bool), 2, 1, palette=["#ffffff", "#c82828"], registry=preg
    ).sprites  # type: ignore[arg-type]
    np.testing.assert_array_equal(got, want)
    drawn = {tuple(int(v) for v in p[:3]) for p in got.reshape(-1, 4) if p[3] == 255}
    assert drawn <= {(255, 255, 255), (200, 40, 40)}  # the palette locks the sampler
    with pg.expect_download() as d:
        pg.click("#download-source")
    assert d.value.suggested_filename == "tpixel-u-5.png"
    pg.click("#repaint-close")
    assert pg.is_hidden("#repaint-section")
    # with a model that cannot repaint, a click downloads the sprite as before
    generate(pg, "tiny", 2, 5)
    with pg.expect_download() as d:
        pg.locator("#sprites .tile button.sprite").first.click()
    assert d.value.suggested_filename == "tiny-5.png"
    assert pg.is_hidden("#repaint-section")


def test_repaint_errors_are_shown_in_words(page: tuple[Any, list[str]]) -> None:
    pg, _ = page
    generate(pg, "tpixel", 1, 2)
    pg.locator("#sprites .tile button.sprite").first.click()
    pg.wait_for_selector("#repaint-section:not([hidden])")
    brush(pg, [(3, 3)])
    pg.fill("#temperature", "3")
    pg.click("#repaint")
    pg.wait_for_selector("#error.on")
    assert "temperature" in pg.inner_text("#error")
    assert pg.get_attribute("#temperature", "aria-invalid") == "true"
    # a model that cannot inpaint disables Repaint and says why; back to a pixel model, it repaints again
    pg.fill("#temperature", "")
    pg.select_option("#model", "tiny")
    assert pg.is_disabled("#repaint")
    assert "cannot repaint" in pg.inner_text("#repaint-hint")
    pg.select_option("#model", "tpixel-u")
    assert pg.is_enabled("#repaint") and pg.inner_text("#repaint-hint") == ""
    pg.click("#repaint")
    wait_until(
        pg, "() => document.querySelector('#progress-text').textContent.startsWith('4 repaintings of 1 pixel from')"
    )
