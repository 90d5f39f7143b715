"""The Godot 4 plugin (plugins/godot/addons/pixelsprite) in a real, headless Godot 4.

Godot 4 is not in Debian stable: ``plugins/godot/tools/provision_godot.sh`` builds a Debian sid chroot with Debian's
``godot`` package, cached outside the repository (``$PIXELSPRITE_GODOT_ROOT``, default ``/opt/pixelsprite-godot``), and
``plugins/godot/tools/godot_chroot.sh`` runs it on a project (bind-mounted at /project in a private mount namespace;
the host's network, so the chroot reaches a server on 127.0.0.1). CI provisions it before the test run; without it
(or without root) the Godot tests skip and say why.

In Godot: every .gd file passes ``--check-only``; the demo project (the plugin installed into a copy of it with
``plugins/godot/tools/install_addon.py``) imports with the plugin enabled and no script errors,
and the editor starts with the dock; ``client_test.gd`` drives the plugin's own client code against a live server
(generate, save into res://, variations, interpolation frames + SpriteFrames, palettes, candidates, cancel, a 1.4 MB
answer, the 64 KiB default buffer's 1009 as a control); after a re-import ``import_check.gd`` checks size, alpha and
pixels of the imported textures; ``dock_test.gd`` drives the dock's UI code (and, against a second server with
the tiny flow model, its step previews); ``repaint_test.gd`` drives the dock's Repaint (inpaint) and Temperature
against a real ``pixelsprite serve`` with the tiny pixel model. Here, the saved files are checked against
pixelsprite's own API.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from pixelsprite import api
from pixelsprite.palettes.builtin import builtin_names
from pixelsprite.registry import Registry
from pixelsprite_bridge.server import BackgroundServer

ROOT = Path(__file__).resolve().parents[2]
ADDON = ROOT / "plugins" / "godot" / "addons" / "pixelsprite"
DEMO = ROOT / "examples" / "godot-demo"
TOOLS = ROOT / "plugins" / "godot" / "tools"
HERE = Path(__file__).resolve().parent / "godot"
GODOT_ROOT = Path(os.environ.get("PIXELSPRITE_GODOT_ROOT", "/opt/pixelsprite-godot"))
RUNNER = TOOLS / "godot_chroot.sh"
# what Godot prints for a script that fails to parse or run
SCRIPT_ERRORS = re.compile(r"SCRIPT ERROR|Parse Error|Failed to load script|Compile Error")


# ------------------------------------------------------------------------------------------- no Godot needed
def _install_addon() -> Any:
    sys.path.insert(0, str(TOOLS))
    try:
        import install_addon
    finally:
        sys.path.remove(str(TOOLS))
    return install_addon


def test_the_demo_carries_no_copy_of_the_addon() -> None:
    """The plugin is in the repository once: the demo gets it from install_addon.py, and git ignores what that
    writes (a copy or a link)."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    tracked = subprocess.run(
        ["git", "ls-files", "examples/godot-demo/addons"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert tracked.stdout == ""
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "--no-index", "examples/godot-demo/addons/pixelsprite"], cwd=ROOT
    )
    assert ignored.returncode == 0, "examples/godot-demo/.gitignore must ignore addons/pixelsprite"


def test_install_addon_copies_updates_and_links(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tool = _install_addon()
    project = tmp_path / "game"
    project.mkdir()
    with pytest.raises(FileNotFoundError, match="no project.godot"):
        tool.install(project)
    (project / "project.godot").write_text("config_version=5\n")
    dest = tool.install(project)
    files = sorted(p.name for p in ADDON.iterdir() if p.is_file() and not p.name.endswith((".uid", ".import")))
    assert dest == project / "addons" / "pixelsprite" and sorted(p.name for p in dest.iterdir()) == files
    assert all((dest / n).read_bytes() == (ADDON / n).read_bytes() for n in files)
    # an update: a file the plugin no longer has goes, Godot's own files stay, a changed file is replaced
    (dest / "old.gd").write_text("@tool\n")
    (dest / "dock.gd.uid").write_text("uid://abc\n")
    (dest / "protocol.gd").write_text("changed")
    tool.install(project)
    assert not (dest / "old.gd").exists() and (dest / "dock.gd.uid").read_text() == "uid://abc\n"
    assert (dest / "protocol.gd").read_bytes() == (ADDON / "protocol.gd").read_bytes()
    # --link: a relative symlink to this checkout's plugin, and back to a copy
    if sys.platform != "win32":
        assert tool.main([str(project), "--link"]) == 0 and "linked" in capsys.readouterr().out
        assert dest.is_symlink() and dest.resolve() == ADDON.resolve() and (dest / "plugin.cfg").is_file()
        tool.install(project)
        assert not dest.is_symlink() and sorted(p.name for p in dest.iterdir()) == files
        (dest / "mine.txt").write_text("not the plugin's")
        with pytest.raises(FileExistsError, match="mine.txt"):
            tool.install(project, link=True)
    assert tool.main([str(tmp_path / "nowhere")]) == 1 and "not a Godot project" in capsys.readouterr().err


def test_plugin_cfg_and_demo_project_enable_the_plugin() -> None:
    cfg = (ADDON / "plugin.cfg").read_text()
    for key in ("name", "description", "author", "version", "script"):
        assert re.search(rf'^{key}="[^"]+"$', cfg, re.M), key
    assert 'script="plugin.gd"' in cfg and (ADDON / "plugin.gd").is_file()
    assert (ADDON / "plugin.gd").read_text().startswith("@tool\nextends EditorPlugin")
    project = (DEMO / "project.godot").read_text()
    assert 'enabled=PackedStringArray("res://addons/pixelsprite/plugin.cfg")' in project
    assert 'config/features=PackedStringArray("4.2")' in project
    for gd in ADDON.glob("*.gd"):
        assert gd.read_text().startswith("@tool\n"), f"{gd.name}: editor scripts must be @tool"


def test_builtin_palette_names_match_pixelsprite() -> None:
    text = (ADDON / "protocol.gd").read_text()
    block = re.search(r"const BUILTIN_PALETTES := \[(.*?)\]", text, re.S)
    assert block is not None
    assert tuple(re.findall(r'"([^"]+)"', block.group(1))) == tuple(builtin_names())


def test_receive_buffer_fits_the_largest_answer_of_the_shipped_models() -> None:
    text = (ADDON / "protocol.gd").read_text()
    inbound = eval(re.search(r"const INBOUND_BUFFER_BYTES := (.+)", text).group(1))  # noqa: S307 - our constant
    per_answer = eval(re.search(r"const MAX_ANSWER_BYTES := (.+)", text).group(1))  # noqa: S307
    assert inbound >= 2 * per_answer
    # the largest answer the shipped models can produce: 1024 raw 40x40 sprites, base64 in JSON, split by the dock
    # (sprites_per_request) into answers of at most MAX_ANSWER_BYTES
    worst_per_sprite = (40 * 40 * 4 + 40 + 256) * 4 / 3 + 32
    assert per_answer // worst_per_sprite >= 900  # a 40x40 generate of up to ~900 sprites is one request
    raw_1024 = 1024 * 40 * 40 * 4 * 4 / 3
    assert raw_1024 < inbound


# --------------------------------------------------------------------------------------------- real Godot
def _godot_unavailable() -> str | None:
    if sys.platform != "linux":
        return "the Godot chroot runs on Linux only"
    if os.geteuid() != 0:
        return "running Godot in its chroot needs root (chroot, mount)"
    if not (GODOT_ROOT / ".pixelsprite-godot-ready").is_file():
        return (
            f"no provisioned Godot 4 at {GODOT_ROOT}: run plugins/godot/tools/provision_godot.sh "
            "(or set PIXELSPRITE_GODOT_ROOT)"
        )
    for tool in ("unshare", "chroot", "mount"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


@pytest.fixture(scope="module")
def godot_version(tmp_path_factory: pytest.TempPathFactory) -> str:
    reason = _godot_unavailable()
    if reason is not None:
        pytest.skip(reason)
    # a container without the rights to unshare, mount or chroot cannot run it either
    probe = godot(tmp_path_factory.mktemp("probe"), "--headless", "--version", timeout=60)
    if probe.returncode != 0 or not probe.stdout.strip():
        pytest.skip(f"the provisioned Godot does not run here: {probe.stdout.strip()[-500:]}")
    return probe.stdout.strip().splitlines()[-1]


def godot(project: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Runs the provisioned Godot on ``project`` (stdout and stderr together in ``.stdout``)."""
    return subprocess.run(
        [str(RUNNER), str(project), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout
    )


def _script_errors(output: str) -> list[str]:
    return [line for line in output.splitlines() if SCRIPT_ERRORS.search(line)]


@pytest.fixture(scope="module")
def project(godot_version: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh copy of the demo project with the plugin installed and the GDScript tests in res://tests, imported
    once."""
    dest = tmp_path_factory.mktemp("godot") / "demo"
    shutil.copytree(DEMO, dest, ignore=shutil.ignore_patterns(".godot"))
    _install_addon().install(dest)  # as a user does after cloning: the demo carries no copy of the plugin
    shutil.copytree(HERE, dest / "tests")
    run = godot(dest, "--headless", "--import")
    (dest.parent / "first-import.log").write_text(f"exit status {run.returncode}\n{run.stdout}")
    return dest


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    with BackgroundServer(registry=Registry(env=False), workers=2, grace_s=1.0) as server:
        yield server.url


@pytest.fixture(scope="module")
def preview_server_url(iterative_registry: Registry) -> Iterator[str]:
    """The tiny diffusion and flow models, previews at every step (no time throttle)."""
    with BackgroundServer(registry=iterative_registry, workers=1, grace_s=1.0, preview_interval_s=0.0) as server:
        yield server.url


@contextlib.contextmanager
def pixelsprite_serve(models: Path) -> Iterator[str]:
    """A real ``pixelsprite serve`` (a subprocess) with only the bundles in ``models``, previews at every step; yields
    its URL and checks that it stops cleanly on SIGTERM."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "pixelsprite", "--models-dir", str(models), "--no-builtin-models", "serve"]
    proc = subprocess.Popen(
        [*command, "--port", "0", "--preview-interval", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield json.loads(proc.stdout.readline())["url"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_every_gd_file_passes_godots_static_check(project: Path) -> None:
    scripts = sorted(p.relative_to(project).as_posix() for p in project.rglob("*.gd") if ".godot" not in p.parts)
    assert len(scripts) >= 9, scripts
    for script in scripts:
        run = godot(project, "--headless", "--check-only", "-s", f"res://{script}", timeout=60)
        assert run.returncode == 0 and not _script_errors(run.stdout), f"{script}:\n{run.stdout}"


def test_demo_imports_with_the_plugin_enabled_the_editor_starts_the_dock_and_the_scene_runs(project: Path) -> None:
    log = (project.parent / "first-import.log").read_text()  # the fixture's `godot --import` of the fresh copy
    assert log.startswith("exit status 0\n"), log
    assert not _script_errors(log), log
    assert "ERROR" not in log, log
    imported = list((project / ".godot" / "imported").glob("vae16-7.png-*.ctex"))
    assert imported, "the demo's sprites were not imported"
    # the editor itself, for a few hundred frames: the plugin's _enter_tree builds the dock, _process polls
    run = godot(project, "--headless", "--editor", "--quit-after", "200", timeout=120)
    assert not _script_errors(run.stdout), run.stdout
    assert "ERROR" not in run.stdout, run.stdout
    # the editor saved its layout on exit, with the plugin's dock in it
    layout = (project / ".godot" / "editor" / "editor_layout.cfg").read_text()
    assert re.search(r'^dock_\d+=".*\bpixelsprite\b', layout, re.M), layout
    # and the demo scene runs, showing the shipped sprites and the SpriteFrames animation
    run = godot(project, "--headless", "--quit-after", "30", timeout=120)
    assert "pixelsprite demo: 16 sprites" in run.stdout and "ERROR" not in run.stdout, run.stdout


def test_a_broken_script_is_reported_by_the_import_run(project: Path, tmp_path: Path) -> None:
    # the control for the check above: a parse error in the addon shows up as SCRIPT ERROR in the same run
    broken = tmp_path / "broken"
    shutil.copytree(project, broken, ignore=shutil.ignore_patterns(".godot"))
    with open(broken / "addons" / "pixelsprite" / "sprite_files.gd", "a") as f:
        f.write('\nfunc _broken() -> void:\n\tvar x: int = "not an int"\n')
    run = godot(broken, "--headless", "--import")
    assert _script_errors(run.stdout), run.stdout


def _report(project: Path, name: str, run: subprocess.CompletedProcess[str]) -> dict:
    path = project / name
    assert path.is_file(), run.stdout
    report = json.loads(path.read_text())
    assert not report["failures"], "\n".join(report["failures"]) + "\n" + run.stdout
    assert run.returncode == 0, run.stdout
    assert not _script_errors(run.stdout), run.stdout
    return report


def _rgba(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        assert im.mode == "RGBA", f"{path.name}: {im.mode}"
        return np.asarray(im)


def test_plugin_client_against_a_live_server(project: Path, server_url: str, godot_version: str) -> None:
    run = godot(project, "--headless", "-s", "res://tests/client_test.gd", "--", server_url)
    report = _report(project, "report.json", run)
    assert report["godot"].startswith("4.")
    assert report["largest_frame_bytes"] > 1_000_000  # far above the 64 KiB default buffer
    assert report["default_buffer_close_code"] == 1009

    # the saved PNGs are exactly what pixelsprite makes for those seeds: 16x16 RGBA, hard alpha
    expected = api.generate("vae16", count=8, seed=7).sprites
    for i, res_path in enumerate(report["generated"]):
        pixels = _rgba(project / res_path.removeprefix("res://"))
        assert pixels.shape == (16, 16, 4)
        assert set(np.unique(pixels[..., 3])) <= {0, 255}
        np.testing.assert_array_equal(pixels, expected[i])
        assert hashlib.sha256(expected[i].tobytes()).hexdigest() == report["generated_sha256"][i]
    # the 1024-sprite answer arrived intact: every sprite's bytes equal the API's
    big = api.generate("vae16", count=1024, seed=1000).sprites
    assert report["big_sha256"] == [hashlib.sha256(s.tobytes()).hexdigest() for s in big]
    # interpolation frames and their SpriteFrames
    frames = [_rgba(project / p.removeprefix("res://")) for p in report["frames"]]
    assert len(frames) == 6 and all(f.shape == (16, 16, 4) for f in frames)
    # the same frames as the API makes from the two saved PNGs (image endpoints are encoded, so not the PNGs)
    strip = api.interpolate("vae16", expected[0], expected[1], count=6, method="slerp").sprites
    for frame, want in zip(frames, strip, strict=True):
        np.testing.assert_array_equal(frame, want)
    tres = (project / "generated" / "walk.tres").read_text()
    assert tres.startswith('[gd_resource type="SpriteFrames"') and tres.count("ExtResource(") == 6
    gpl = (project / "generated" / "demo.gpl").read_text()
    assert gpl.startswith("GIMP Palette")
    # candidates: refused in plain words naming the setting until the server has a teacher, then answered
    cand = report["candidates"]
    assert cand["type"] == "result" or ("candidates" in cand["text"] and cand["field"] == "candidates")
    assert report["cancel"] in ("cancelled", "result")

    # re-import the project: the saved files become textures with the same size, alpha and pixels
    run = godot(project, "--headless", "--import")
    assert run.returncode == 0 and not _script_errors(run.stdout), run.stdout
    run = godot(project, "--headless", "-s", "res://tests/import_check.gd")
    check = _report(project, "import_report.json", run)
    assert check["textures"] == 8 + 6


def test_dock_against_a_live_server(
    project: Path, server_url: str, preview_server_url: str, iterative_registry: Registry
) -> None:
    run = godot(project, "--headless", "-s", "res://tests/dock_test.gd", "--", server_url, preview_server_url)
    report = _report(project, "dock_report.json", run)
    assert report["previews"] == 3, report  # steps 1..3 of 4 (none after the last), then the result
    # the flow result the dock saved after drawing previews is pixelsprite's, byte for byte
    want = api.generate("tflow", 2, 4, steps=4, registry=iterative_registry).sprites
    for i, sprite in enumerate(want):
        np.testing.assert_array_equal(_rgba(project / "dock_out" / f"tflow-{4 + i}.png"), sprite)
    saved = sorted(p.name for p in (project / "dock_out").glob("vae16-*.png"))
    assert saved == sorted(f"vae16-{s}.png" for s in range(7, 13))
    frames = sorted((project / "dock_out" / "vae16-7-to-vae16-9").glob("*.png"))
    assert len(frames) == 5 and all(_rgba(f).shape == (16, 16, 4) for f in frames)
    tres = (project / "dock_out" / "vae16-7-to-vae16-9.tres").read_text()
    assert tres.count('path="res://dock_out/vae16-7-to-vae16-9/vae16-7-to-vae16-9-00') == 5
    assert (project / "dock_out" / "pixelsprite-palette.gpl").read_text().startswith("GIMP Palette")
    for name in saved:
        assert set(np.unique(_rgba(project / "dock_out" / name)[..., 3])) <= {0, 255}


def test_dock_repaints_a_rectangle_against_pixelsprite_serve(project: Path, bundle_writer: Any, tmp_path: Path) -> None:
    """Repaint in the dock (repaint_test.gd) against a real `pixelsprite serve` with the tiny pixel model: shown only
    for models that inpaint (not the VAE), the rectangle from a drag on the canvas, previews, then repaintings equal to
    api.inpaint's for the same seeds (with the Temperature field's value), every pixel outside the rectangle byte-equal
    to the source, and the picked one saved next to the source under a new name."""
    from tests.bridge.pixel_fixtures import sprite, write_pixel_models

    models = write_pixel_models(tmp_path / "models", bundle_writer)
    folder = project / "repaint"
    folder.mkdir()
    source = sprite(3)  # hard alpha, colours outside the model's palette
    Image.fromarray(source, "RGBA").save(folder / "src.png")
    Image.new("RGBA", (32, 32)).save(folder / "big.png")
    with pixelsprite_serve(models) as url:
        run = godot(project, "--headless", "-s", "res://tests/repaint_test.gd", "--", url)
    report = _report(project, "repaint_report.json", run)
    assert report["vae"] == {"repaint_visible": False, "temperature_visible": False}
    assert report["tpixel"] == {"repaint_visible": True, "temperature_visible": True}
    assert report["previews"] >= 1
    request = report["request"]
    assert {k: request[k] for k in ("op", "model", "seed", "steps", "temperature", "preview")} == {
        "op": "inpaint",
        "model": "tpixel",
        "seed": 7,
        "steps": 16,
        "temperature": 0.9,
        "preview": True,
    }

    x, y, w, h = report["rect"]
    assert (x, y, w, h) == (2, 1, 5, 4)
    inside = np.zeros((8, 8), bool)
    inside[y : y + h, x : x + w] = True
    mask = _rgba(folder / "mask.png")  # the dock's mask: white inside, black outside, opaque
    np.testing.assert_array_equal(mask[..., :3].min(-1) == 255, inside)
    assert (mask[~inside, :3] == 0).all() and (mask[..., 3] == 255).all()

    registry = Registry([models], builtin=False, env=False)
    want = api.inpaint(
        "tpixel", source, inside, 3, 7, steps=16, guidance=request.get("guidance"), temperature=0.9, registry=registry
    )
    assert report["seeds"] == [7, 8, 9] == list(want.seeds)
    results = [_rgba(folder / f"result-{i}.png") for i in range(3)]
    for got, expected in zip(results, want.sprites, strict=True):
        np.testing.assert_array_equal(got, expected)  # the request layer's own repainting, byte for byte
        assert got[~inside].tobytes() == source[~inside].tobytes()  # outside the rectangle: the source exactly
    assert any((got[inside] != source[inside]).any() for got in results)
    # a different temperature gives other sprites, so the field's value reached the sampler
    other = api.inpaint(
        "tpixel", source, inside, 3, 7, steps=16, guidance=request.get("guidance"), temperature=1.9, registry=registry
    ).sprites
    assert any((o != r).any() for o, r in zip(other, results, strict=True))

    # Save picked: next to the source, never over a file that is there
    np.testing.assert_array_equal(_rgba(folder / "src-repaint-8.png"), want.sprites[1])
    np.testing.assert_array_equal(_rgba(folder / "src-repaint-8-2.png"), want.sprites[1])
    np.testing.assert_array_equal(_rgba(folder / "src-repaint-7-2.png"), want.sprites[0])
    taken = _rgba(folder / "src-repaint-7.png")
    assert (taken == [255, 0, 0, 255]).all()  # the existing file, untouched
    np.testing.assert_array_equal(_rgba(folder / "src.png"), source)


def test_dock_tiles_preview_3x3_and_save_as_tileset(project: Path, bundle_writer: Any, tmp_path: Path) -> None:
    """A tile model in the dock (tiles_test.gd) against a real `pixelsprite serve` with the tiny tiling pixel model
    `ttile` next to the tiny VAE: tiles show repeated 3x3 (sprites do not); Save tiles as TileSet writes a TileSet and
    its atlas under a new name each time, the selected tiles or all, and refuses sprites, an empty preview and a
    folder outside res:// in words. After an import, tileset_check.gd loads every TileSet in Godot: one atlas source of
    8x8 tiles, a Nearest CanvasTexture around the imported PNG, each tile region exactly the dock's tile. Here the
    tiles are pixelsprite.api's for the same seeds, and the atlas PNGs hold them."""
    from tests.pixelsprite.pixel_bundles import write_pixel_model

    models = tmp_path / "models"
    write_pixel_model(models, "ttile", tiling=True)
    bundle_writer(models, "tiny")
    with pixelsprite_serve(models) as url:
        run = godot(project, "--headless", "-s", "res://tests/tiles_test.gd", "--", url)
    report = _report(project, "tiles_report.json", run)
    assert report["catalog_tiling"] == {"ttile": True, "tiny": False}
    assert report["seeds"] == [7, 8, 9, 10, 11]
    assert report["previews"] >= 1  # step previews were drawn (repeated 3x3, checked in Godot)
    request = report["request"]
    assert (request["op"], request["model"], request["count"], request["seed"]) == ("generate", "ttile", 5, 7)
    assert "label" not in request

    registry = Registry([models], builtin=False, env=False)
    want = api.generate(
        "ttile",
        5,
        7,
        steps=request["steps"],
        guidance=request.get("guidance"),
        temperature=request["temperature"],
        registry=registry,
    ).sprites
    refs = [_rgba(project / "tiles_ref" / f"tile-{i}.png") for i in range(5)]
    for got, expected in zip(refs, want, strict=True):
        np.testing.assert_array_equal(got, expected)  # the request layer's own tiles, byte for byte
    # each atlas PNG: the tiles in order, 8 per row, no margins or gaps; the .tres refers to it, embeds no pixels
    out = project / "tiles_out"
    for name, entry in report["tilesets"].items():
        atlas = _rgba(out / f"{name}.png")
        tiles = entry["tiles"]
        assert atlas.shape == (8, 8 * len(tiles), 4), (name, atlas.shape)
        for k, i in enumerate(tiles):
            np.testing.assert_array_equal(atlas[:, 8 * k : 8 * k + 8], want[i])
        tres = (out / f"{name}.tres").read_text()
        assert tres.startswith('[gd_resource type="TileSet"'), tres[:200]
        assert f'path="res://tiles_out/{name}.png"' in tres and "PackedByteArray" not in tres, tres
        assert "compress/mode=0" in (out / f"{name}.png.import").read_text()
    assert sorted(p.name for p in out.glob("*.tres")) == sorted(f"{n}.tres" for n in report["tilesets"])
    with Image.open(out / "ttile-floor.png") as im:
        assert im.size == (2, 2)  # a file that was there: kept, and its name skipped

    run = godot(project, "--headless", "--import")
    assert run.returncode == 0 and not _script_errors(run.stdout), run.stdout
    run = godot(project, "--headless", "-s", "res://tests/tileset_check.gd")
    check = _report(project, "tileset_report.json", run)
    assert set(check["tilesets"]) == set(report["tilesets"])
    for name, info in check["tilesets"].items():
        n = len(report["tilesets"][name]["tiles"])
        sizes = (info["tile_size"], info["texture_region_size"], info["sources"], info["tiles"])
        assert sizes == ([8, 8], [8, 8], 1, n), (name, sizes)
        assert info["texture_filter"] == 1  # CanvasItem.TEXTURE_FILTER_NEAREST
        assert info["diffuse"] == ["CompressedTexture2D", f"res://tiles_out/{name}.png"]
        assert info["regions"] == [[8 * k, 0, 8, 8] for k in range(n)]

    # drawn in a window (where the chroot has Xvfb): the saved TileSet's tiles stay crisp on a TileMapLayer that asks
    # for Linear itself, in a viewport whose default is Linear; the same PNG without the CanvasTexture is smoothed
    if not (GODOT_ROOT / "usr" / "bin" / "Xvfb").exists():
        return  # the headless checks above stand; plugins/godot/tools/dock_screenshot.py installs Xvfb
    sys.path.insert(0, str(TOOLS))
    try:
        import dock_screenshot
    finally:
        sys.path.remove(str(TOOLS))
    run = dock_screenshot.run_in_window(project, ["-s", "res://tests/tileset_render.gd"], size="320x160")
    assert run.returncode == 0 and (project / "render.png").is_file(), run.stdout + run.stderr
    render = json.loads((project / "render_report.json").read_text())
    window = np.asarray(Image.open(project / "render.png").convert("RGB"))
    grid = np.concatenate([np.concatenate([want[(x + 3 * y) % 5] for x in range(3)], 1) for y in range(3)], 0)
    zoom = render["zoom"]
    crisp = np.repeat(np.repeat(np.where(grid[..., 3:] > 0, grid[..., :3], 0), zoom, 0), zoom, 1)  # on black
    x, y, w, h = render["saved"]
    np.testing.assert_array_equal(window[y : y + h, x : x + w], crisp)
    x, y, w, h = render["plain"]
    plain = window[y : y + h, x : x + w]
    assert plain.shape == crisp.shape and (plain != crisp).any(axis=-1).mean() > 0.05  # the control is smoothed


def test_sprite_frames_from_the_cli_play_in_godot(project: Path) -> None:
    """``pixelsprite interpolate ... -o walk.tres`` (issue 18): Godot loads the SpriteFrames, finds the sheet by its
    relative path, and each frame's texture is exactly the API's frame (the sheet's .import keeps the pixels)."""
    from pixelsprite.cli import main

    out = project / "cli_frames"
    assert (
        main(
            [
                "interpolate",
                "seed:7",
                "seed:9",
                "-n",
                "5",
                "--scale",
                "2",
                "--duration",
                "125",
                "-o",
                str(out / "walk.tres"),
            ]
        )
        == 0
    )
    run = godot(project, "--headless", "--import")
    assert run.returncode == 0 and not _script_errors(run.stdout), run.stdout
    run = godot(project, "--headless", "-s", "res://tests/sprite_frames_check.gd")
    report = _report(project, "sprite_frames_report.json", run)
    assert (report["count"], report["speed"], report["loop"]) == (5, 8.0, True)
    assert [r[:4] for r in report["regions"]] == [[34 * i, 0, 32, 32] for i in range(5)]
    assert {r[4] for r in report["regions"]} == {"res://cli_frames/walk.png"}
    want = api.interpolate("vae16", 7, 9, count=5).sprites
    for i, sprite in enumerate(want):
        np.testing.assert_array_equal(_rgba(out / f"frame-{i}.png"), np.repeat(np.repeat(sprite, 2, 0), 2, 1))


# ------------------------------------------------------------------------------------- the editor, in a window
def test_the_dock_in_a_real_editor_window(godot_version: str, tmp_path: Path) -> None:
    """The editor itself (not --headless) under Xvfb with Mesa's software OpenGL: the dock shows without a click,
    Generate leaves the preview in view, and the preview is crisp: every sprite pixel is a zoom x zoom block of exactly
    its colour in the window's image (a smoothed preview would add blended colours). The screenshot is
    docs/godot-dock.png's recipe (plugins/godot/tools/dock_screenshot.py)."""
    if not (GODOT_ROOT / "usr" / "bin" / "Xvfb").exists():
        pytest.skip("no Xvfb in the Godot chroot (plugins/godot/tools/dock_screenshot.py installs it)")
    sys.path.insert(0, str(TOOLS))
    try:
        import dock_screenshot
    finally:
        sys.path.remove(str(TOOLS))
    code = dock_screenshot.main(
        [
            "-o",
            str(tmp_path / "shot.png"),
            "--keep",
            str(tmp_path / "work"),
            "--count",
            "24",
            "--seed",
            "7",
            "--select",
            "3",
            "--no-install",
        ]
    )
    log = (tmp_path / "work" / "editor.log").read_text() if (tmp_path / "work" / "editor.log").exists() else ""
    assert code == 0, log[-4000:]
    assert not _script_errors(log), log
    report = json.loads((tmp_path / "work" / "demo" / "shot_report.json").read_text())
    assert report["visible_at_start"], "the dock's tab is hidden behind another dock's"
    assert report["preview_items"] == 24 and report["texture_filter"] == 1  # CanvasItem.TEXTURE_FILTER_NEAREST
    vx, vy, vw, vh = report["visible_area"]
    px, py, pw, ph = report["preview"]
    assert vy <= py and py + min(ph, 80) <= vy + vh, "the preview is scrolled out of view after Generate"
    window = np.asarray(Image.open(tmp_path / "shot.png").convert("RGBA"))
    zoom = report["icon_size"][0] // 16
    sprites = api.generate("vae16", count=24, seed=7).sprites
    checked = 0
    for k in range(24):
        x, y, w, h = report["items"][k]
        if k in report["selected"] or y + h > vy + vh or y < vy:
            continue  # selected items have a highlight behind them; items below the fold are not drawn
        region = window[y : y + h, x : x + w, :3].reshape(-1, 3)
        seen = dict(
            zip(
                map(tuple, np.unique(region, axis=0, return_counts=True)[0].tolist()),
                np.unique(region, axis=0, return_counts=True)[1].tolist(),
            )
        )
        sprite = sprites[k]
        colours, counts = np.unique(sprite[sprite[..., 3] > 0][:, :3], axis=0, return_counts=True)
        for c, n in zip(map(tuple, colours.tolist()), counts.tolist()):
            assert seen.get(c, 0) == n * zoom * zoom, (k, c, seen.get(c, 0), n)
        blended = [c for c in seen if c not in set(map(tuple, colours.tolist()))]
        assert len(blended) <= 1, (k, blended[:5])  # the list's background, nothing in between
        checked += 1
    assert checked >= 3
