"""The playground page (GET / of ``pixelsprite serve``) in a real headless Chromium, against a live server with the
shipped ``vae16``: the form fills itself from hello/models, Generate shows the sprites (checked pixel for pixel
against :mod:`pixelsprite.api`), progress and Cancel, interpolation between two picked sprites, PNG and sheet
downloads, palette swatches and files, errors in words, and a screenshot.

Needs Debian's ``chromium`` (``apt-get install chromium``) and the Python ``playwright`` package (``pip install
playwright``; no browser download: it drives ``/usr/bin/chromium``). Without either, the module skips and says why.
``.ci/run`` installs both. The screenshot goes to a temp folder; ``PIXELSPRITE_UPDATE_SCREENSHOTS=1`` writes it to
``docs/playground.png`` (the README's) instead.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
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

CHROMIUM = os.environ.get("PIXELSPRITE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip(
        "Debian's chromium is not installed (apt-get install chromium): the playground's browser tests "
        "need a real browser",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="the Python playwright package is not installed "
    "(pip install playwright; no browser download needed): the playground's browser "
    "tests drive chromium with it",
)

pytestmark = [pytest.mark.shipped, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def shipped() -> Registry:
    return Registry(builtin=True, env=False)


@pytest.fixture(scope="module")
def server(shipped: Registry) -> Iterator[BackgroundServer]:
    # small chunks: a large generate sends progress often and can be cancelled between chunks
    with BackgroundServer(registry=shipped, workers=2, chunk_sprites=8, grace_s=2.0) as srv:
        yield srv


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM)
        yield b
        b.close()


@pytest.fixture
def blank_page(browser: Any, server: BackgroundServer) -> Iterator[Any]:
    """A fresh page on the playground, connected and ready, as a user first sees it (the server's default model);
    fails the test on any console error or page error (a CSP violation shows up as a console error)."""
    context = browser.new_context(viewport={"width": 1360, "height": 900}, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []
    pg.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    pg.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    assert server.server is not None and server.server.site is not None
    pg.goto(server.server.site.origin + "/")
    pg.wait_for_selector("body[data-state=ready]")
    yield pg
    context.close()
    assert not problems, problems


@pytest.fixture
def page(blank_page: Any) -> Any:
    """:func:`blank_page` with ``vae16`` chosen: these tests drive the VAE (latent interpolation, one-pass sprites)."""
    blank_page.select_option("#model", "vae16")
    return blank_page


def wait_until(pg: Any, js: str, arg: Any = None, timeout_s: float = TIMEOUT_MS / 1000) -> None:
    """Poll ``js`` (a function of ``arg``) in the page until it is truthy. Not ``wait_for_function``: that evaluates
    a string inside the page, which the page's Content-Security-Policy (rightly) forbids."""
    deadline = time.monotonic() + timeout_s
    while not pg.evaluate(js, arg):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {js}")
        time.sleep(0.02)


def generate(pg: Any, count: int, seed: int) -> None:
    pg.fill("#count", str(count))
    pg.fill("#seed", str(seed))
    pg.click("#generate")
    wait_until(pg, f"() => document.querySelector('#progress-text').textContent.startsWith('{count} sprites from')")
    assert pg.locator("#sprites .tile img").count() == count
    wait_until(pg, "() => [...document.querySelectorAll('#sprites .tile img')].every(i => i.complete)")


def dom_sprites(pg: Any, where: str = "#sprites") -> np.ndarray:
    """The sprites the page shows, decoded from the PNGs in the <img> elements."""
    srcs = pg.eval_on_selector_all(f"{where} .tile img", "els => els.map(e => e.src)")
    return np.stack(
        [np.asarray(Image.open(io.BytesIO(base64.b64decode(s.split(",", 1)[1]))).convert("RGBA")) for s in srcs]
    )


def saved(download: Any, tmp_path: Path) -> Path:
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    return path


# ----------------------------------------------------------------------------------------------------- tests
def test_the_form_fills_itself_from_hello_and_models(blank_page: Any, server: BackgroundServer) -> None:
    page = blank_page
    models = page.eval_on_selector_all("#model option", "os => os.map(o => o.value)")
    assert {"vae16", "vae40"} <= set(models)
    assert page.input_value("#model") == "pixel16" and page.input_value("#size") == "16×16"  # hello's default
    assert set(page.eval_on_selector_all("#size option", "os => os.map(o => o.value)")) >= {"16×16", "40×40"}
    assert not page.is_disabled("#label")  # pixel16 is class-conditional
    page.select_option("#model", "vae16")
    labels = page.eval_on_selector_all("#label option", "os => os.map(o => o.value)")
    assert "mon" not in labels  # the catalog lists the labels a request may name: an unconditional VAE has none
    for unconditional in ("#label", "#steps", "#guidance"):  # a VAE takes none of these
        assert page.is_disabled(unconditional)
    assert page.input_value("#count") == "16" and page.get_attribute("#count", "max") == "1024"
    assert "pico-8" in page.eval_on_selector_all("#palettes option", "os => os.map(o => o.value)")
    assert server.url in page.inner_text("#status")
    page.select_option("#model", "vae40")
    assert page.input_value("#size") == "40×40"
    page.select_option("#size", "16×16")
    assert page.input_value("#model") == "pixel16"  # a size's default: the first of hello's default_models


def test_localhost_is_sent_to_the_pages_own_origin(browser: Any, server: BackgroundServer) -> None:
    pg = browser.new_page()
    try:
        port = server.server.port  # type: ignore[union-attr]
        pg.goto(f"http://localhost:{port}/")
        pg.wait_for_selector("body[data-state=ready]", timeout=TIMEOUT_MS)
        assert pg.url == f"http://127.0.0.1:{port}/"
    finally:
        pg.close()


def test_generate_shows_the_sprites_large_on_a_checkerboard(page: Any, shipped: Registry) -> None:
    generate(page, 12, 7)
    sizes = page.eval_on_selector_all(
        "#sprites .tile img",
        "els => els.map(e => [e.naturalWidth, e.naturalHeight, e.width, e.height, getComputedStyle(e).imageRendering])",
    )
    assert sizes == [[16, 16, 128, 128, "pixelated"]] * 12
    backdrop = page.eval_on_selector("#sprites .tile button", "e => getComputedStyle(e).backgroundImage")
    assert backdrop.count("linear-gradient") == 2  # the checkerboard behind the transparent pixels
    captions = page.eval_on_selector_all("#sprites .tile figcaption", "els => els.map(e => e.textContent.trim())")
    assert captions == [f"seed {s}" for s in range(7, 19)]
    expected = api.generate("vae16", count=12, seed=7, registry=shipped).sprites
    np.testing.assert_array_equal(dom_sprites(page), expected)  # the same sprites as the CLI and the API
    assert re.fullmatch(r"12 sprites from vae16, seeds 7–18, \d+ ms", page.inner_text("#progress-text"))
    assert not page.is_visible("#error")


def test_click_downloads_a_png_and_the_sheet(page: Any, shipped: Registry, tmp_path: Path) -> None:
    generate(page, 12, 7)
    expected = api.generate("vae16", count=12, seed=7, registry=shipped).sprites
    with page.expect_download() as d:
        page.locator("#sprites .tile button.sprite").nth(3).click()
    png = saved(d.value, tmp_path)
    assert png.name == "vae16-10.png"
    np.testing.assert_array_equal(np.asarray(Image.open(png).convert("RGBA")), expected[3])
    with page.expect_download() as d:
        page.click("#download-sheet")
    sheet = np.asarray(Image.open(saved(d.value, tmp_path)).convert("RGBA"))
    assert d.value.suggested_filename == "vae16-sheet-7.png"
    assert sheet.shape == (3 * 16, 4 * 16, 4)  # 12 sprites, 4 to a row, native size
    tiled = expected.reshape(3, 4, 16, 16, 4).transpose(0, 2, 1, 3, 4).reshape(48, 64, 4)
    np.testing.assert_array_equal(sheet, tiled)


def test_interpolate_between_two_picked_sprites(page: Any, shipped: Registry, tmp_path: Path) -> None:
    generate(page, 12, 7)
    assert page.is_disabled("#interpolate")
    picks = page.locator("#sprites .tile .pick")
    picks.nth(0).check()
    picks.nth(5).check()
    assert page.inner_text("#picked") == "A: vae16-7 → B: vae16-12"
    page.fill("#frames", "6")
    page.click("#interpolate")
    wait_until(page, "() => document.querySelectorAll('#strip .tile img').length === 6")
    expected = api.interpolate("vae16", 7, 12, count=6, registry=shipped).sprites
    np.testing.assert_array_equal(dom_sprites(page, "#strip"), expected)
    # a third pick drops the oldest; a frame (no seed) goes to the server as an image endpoint
    page.locator("#strip .tile .pick").nth(2).check()
    assert page.inner_text("#picked") == "A: vae16-12 → B: vae16-7-to-vae16-12-2"
    first = page.get_attribute("#strip .tile img", "src")
    page.click("#interpolate")
    wait_until(page, "src => document.querySelector('#strip .tile img').src !== src", first)
    np.testing.assert_array_equal(dom_sprites(page, "#strip")[0], expected[-1])  # A is now sprite 12
    assert not page.is_visible("#error")
    with page.expect_download() as d:
        page.click("#download-strip")
    strip = np.asarray(Image.open(saved(d.value, tmp_path)).convert("RGBA"))
    assert strip.shape == (16, 6 * 16, 4)


def test_progress_bar_and_cancel(page: Any) -> None:
    generate(page, 4, 1)
    page.fill("#count", "1024")
    page.click("#generate")  # 128 chunks of 8 sprites: progress after each, cancel between them
    wait_until(page, "() => document.querySelector('#progress').value > 0")
    assert re.fullmatch(r"Generating: \d+ / 1024 sprites", page.inner_text("#progress-text"))
    assert page.is_enabled("#cancel") and page.is_disabled("#generate")
    page.click("#cancel")
    wait_until(page, "() => document.querySelector('#progress-text').textContent === 'Generating: cancelled'")
    assert not page.is_visible("#error")  # a cancel is not an error
    assert page.locator("#sprites .tile").count() == 4  # the earlier sprites stay
    assert page.is_enabled("#generate") and page.is_disabled("#cancel")


def test_errors_are_shown_in_plain_words(page: Any) -> None:
    page.fill("#count", "0")
    page.click("#generate")
    page.wait_for_selector("#error.on")
    text = page.inner_text("#error")
    assert text.startswith("Please check the settings.") and "count must be between 1 and 1024, got 0" in text
    assert page.get_attribute("#count", "aria-invalid") == "true"
    page.fill("#count", "4")
    page.fill("#palette", "no-such-palette")
    page.click("#generate")
    wait_until(page, "() => document.querySelector('#error').textContent.includes('no-such-palette')")
    assert page.get_attribute("#palette", "aria-invalid") == "true"
    assert page.get_attribute("#count", "aria-invalid") is None  # the earlier error was cleared
    page.fill("#palette", "gameboy-dmg")
    page.click("#generate")
    wait_until(page, "() => document.querySelectorAll('#sprites .tile img').length === 4")
    assert not page.is_visible("#error")
    pixels = dom_sprites(page).reshape(-1, 4)
    assert len({tuple(c) for c in pixels[pixels[:, 3] > 0, :3]}) <= 4  # constrained to the Game Boy's four greens


def test_palette_swatches_and_files(page: Any, tmp_path: Path) -> None:
    page.fill("#seed", "7")
    page.fill("#colors", "8")
    page.click("#propose")
    page.wait_for_selector("#swatches .swatch")
    colours = page.eval_on_selector_all("#swatches .swatch", "els => els.map(e => e.title)")
    assert 1 <= len(colours) <= 8 and all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in colours)
    shown = page.eval_on_selector_all("#swatches .swatch", "els => els.map(e => getComputedStyle(e).backgroundColor)")
    assert shown == [f"rgb({int(c[1:3], 16)}, {int(c[3:5], 16)}, {int(c[5:7], 16)})" for c in colours]
    with page.expect_download() as d:
        page.click("#download-gpl")
    gpl = saved(d.value, tmp_path).read_text()
    assert d.value.suggested_filename == "pixelsprite.gpl" and gpl.startswith("GIMP Palette")
    rows = [ln.split()[:3] for ln in gpl.splitlines() if re.match(r"\s*\d+\s+\d+\s+\d+", ln)]
    assert ["#" + "".join(f"{int(v):02x}" for v in r) for r in rows] == colours
    with page.expect_download() as d:
        page.click("#download-hex")
    hexes = saved(d.value, tmp_path).read_text().split()
    assert d.value.suggested_filename == "pixelsprite.hex" and ["#" + h for h in hexes] == colours
    page.click("#use-palette")
    assert page.input_value("#palette") == ",".join(colours)


def test_screenshot(page: Any, tmp_path: Path) -> None:
    """The README's picture: 16 sprites, a strip between two of them, a proposed palette."""
    generate(page, 16, 7)
    picks = page.locator("#sprites .tile .pick")
    picks.nth(2).check()
    picks.nth(13).check()
    page.click("#interpolate")
    wait_until(page, "() => document.querySelectorAll('#strip .tile img').length === 8")
    page.click("#propose")
    page.wait_for_selector("#swatches .swatch")
    wait_until(page, "() => !document.querySelector('#propose').disabled")
    out = ROOT / "docs" / "playground.png" if os.environ.get("PIXELSPRITE_UPDATE_SCREENSHOTS") else tmp_path / "p.png"
    page.screenshot(path=str(out), full_page=True)
    with Image.open(out) as im:
        assert im.width == 1360 and im.height >= 900


def record_frames(pg: Any) -> list[str]:
    """Every websocket frame the page sends or receives, as text, in order (filled while the page runs)."""
    frames: list[str] = []

    def record(frame: str | bytes) -> None:
        frames.append(frame if isinstance(frame, str) else frame.decode())

    pg.on("websocket", lambda ws: (ws.on("framesent", record), ws.on("framereceived", record)))
    return frames


def test_a_diffusion_model_takes_label_steps_and_guidance(browser: Any, iterative_registry: Registry) -> None:
    """With a (tiny) conditional diffusion model the sampler fields come alive, go over the wire, and the progress
    bar follows the sampler's steps."""
    with BackgroundServer(registry=iterative_registry, workers=1, grace_s=2.0) as srv:
        pg = browser.new_page()
        frames = record_frames(pg)
        try:
            assert srv.server is not None and srv.server.site is not None
            pg.goto(srv.server.site.origin + "/")
            pg.wait_for_selector("body[data-state=ready]", timeout=TIMEOUT_MS)
            pg.select_option("#model", "tdiff")
            for field in ("#label", "#steps", "#guidance"):
                assert pg.is_enabled(field), field
            assert pg.eval_on_selector_all("#label option", "os => os.map(o => o.value)") == ["", "a", "b"]
            pg.select_option("#label", "b")
            pg.fill("#steps", "6")
            pg.fill("#guidance", "2")
            pg.fill("#count", "3")
            pg.fill("#seed", "5")
            pg.click("#generate")
            wait_until(pg, "() => document.querySelector('#progress-text').textContent.startsWith('3 sprites from')")
            sent = [json.loads(f) for f in frames if '"op":"generate"' in f and '"type"' not in f]
            assert sent and {k: sent[0][k] for k in ("model", "label", "steps", "guidance", "count", "seed")} == {
                "model": "tdiff",
                "label": "b",
                "steps": 6,
                "guidance": 2,
                "count": 3,
                "seed": 5,
            }
            progress = [json.loads(f) for f in frames if '"type":"progress"' in f]
            assert progress and progress[-1]["unit"] == "steps" and progress[-1]["total"] == 6
            want = api.generate(
                "tdiff", count=3, seed=5, label="b", steps=6, guidance=2.0, registry=iterative_registry
            ).sprites
            np.testing.assert_array_equal(dom_sprites(pg), want)
        finally:
            pg.close()


WATCH_PREVIEWS = """() => {
  window.previewsSeen = [];
  const grid = document.querySelector('#sprites');
  new MutationObserver(() => {
    const tiles = [...grid.querySelectorAll('.tile.preview')];
    if (tiles.length) window.previewsSeen.push({n: tiles.length, buttons: grid.querySelectorAll('button').length,
      picks: grid.querySelectorAll('.pick').length, busy: grid.getAttribute('aria-busy'),
      srcs: tiles.map(t => t.querySelector('img').src), caption: tiles[0].textContent});
  }).observe(grid, {childList: true, subtree: true});
}"""


def test_a_flow_model_draws_previews_before_the_result(browser: Any, iterative_registry: Registry) -> None:
    """The server announces "preview": the page asks for it, draws each step's preview into the grid (marked, not
    clickable or pickable), and the result replaces them, pixel for pixel the one without previews."""
    with BackgroundServer(registry=iterative_registry, workers=1, grace_s=2.0, preview_interval_s=0.0) as srv:
        pg = browser.new_page()
        frames = record_frames(pg)
        problems: list[str] = []
        pg.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        pg.on("pageerror", lambda e: problems.append(str(e)))
        try:
            assert srv.server is not None and srv.server.site is not None
            pg.goto(srv.server.site.origin + "/")
            pg.wait_for_selector("body[data-state=ready]", timeout=TIMEOUT_MS)
            pg.select_option("#model", "tflow")
            pg.fill("#steps", "5")
            pg.fill("#count", "3")
            pg.fill("#seed", "4")
            pg.evaluate(WATCH_PREVIEWS)
            pg.click("#generate")
            wait_until(pg, "() => document.querySelector('#progress-text').textContent.startsWith('3 sprites from')")
            text = frames
            sent = [json.loads(f) for f in text if '"op":"generate"' in f and '"type"' not in f]
            assert sent and sent[0]["preview"] is True
            previews = [json.loads(f) for f in text if '"type":"progress"' in f and '"images"' in f]
            assert [p["done"] for p in previews] == [1, 2, 3, 4]  # every step but the last
            seen = pg.evaluate("() => window.previewsSeen")
            assert seen, "no preview was drawn before the result"
            assert all(s["n"] == 3 and s["buttons"] == 0 and s["picks"] == 0 and s["busy"] == "true" for s in seen)
            assert seen[0]["srcs"] == ["data:image/png;base64," + b for b in previews[0]["images"]]
            assert "preview" in seen[0]["caption"] and "step 1/5" in seen[0]["caption"]
            assert pg.locator("#sprites .tile.preview").count() == 0  # the result replaced them
            assert pg.locator("#sprites .tile button.sprite").count() == 3
            assert pg.get_attribute("#sprites", "aria-busy") is None
            want = api.generate("tflow", count=3, seed=4, steps=5, registry=iterative_registry).sprites
            np.testing.assert_array_equal(dom_sprites(pg), want)
            assert not problems, problems
        finally:
            pg.close()
