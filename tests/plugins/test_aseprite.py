"""The Aseprite extension (plugins/aseprite): Lua syntax, busted specs against a test double of Aseprite's API
rebuilt from Aseprite's source (tests/plugins/aseprite/stub, each behaviour citing the file it follows), and a
contract test in which the extension's own Lua builds requests that a real pixelsprite server answers, then turns the
answers (as Aseprite's json.decode proxies) into Aseprite images whose pixels must match what the server sent.

No Aseprite build runs here (not packaged in Debian, PyPI or npm; its batch mode runs no websocket callbacks or
dialogs). Needs Debian's ``lua5.4`` and ``lua-busted``; the tests skip when those programs are absent.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import zipfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pixelsprite import api
from pixelsprite.palettes.builtin import builtin_names
from pixelsprite.registry import Registry
from pixelsprite_bridge.client import SyncClient
from pixelsprite_bridge.server import BackgroundServer

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "plugins" / "aseprite"
HERE = Path(__file__).resolve().parent / "aseprite"


def _need(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        pytest.skip(f"{program} is not installed (apt-get install lua5.4 lua-busted)")
    return path


def test_every_lua_file_compiles() -> None:
    luac = _need("luac5.4")
    files = sorted(PLUGIN.rglob("*.lua")) + sorted(HERE.rglob("*.lua"))
    assert len(files) >= 8
    for f in files:
        subprocess.run([luac, "-p", str(f)], check=True)


def test_the_double_cites_aseprite_for_every_function() -> None:
    # every function of the test double has a comment right above it naming the Aseprite source file or API page it
    # follows (".cpp", ".h", ".md"), or saying it is a test/user/server action that is not Aseprite API
    checked = 0
    for f in sorted((HERE / "stub").glob("*.lua")):
        lines = f.read_text().splitlines()
        for i, line in enumerate(lines):
            if not re.match(r"^(function |[A-Za-z_][\w.:]*\s*=\s*function)", line):
                continue
            j, block = i - 1, []
            while j >= 0 and lines[j].startswith("--"):
                block.append(lines[j])
                j -= 1
            assert re.search(r"\.(cpp|h|md)\b|not Aseprite API", " ".join(block)), f"{f.name}:{i + 1}: {line}"
            checked += 1
    assert checked >= 60


def test_busted_specs() -> None:
    busted = _need("busted")
    _need("lua5.4")
    run = subprocess.run(
        [busted, "--lua=lua5.4", "-o", "utfTerminal", str(HERE)], cwd=ROOT, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert " 0 failures / 0 errors" in run.stdout


def test_generated_palettes_are_up_to_date() -> None:
    # the .gpl files, the Lua name list and package.json come from pixelsprite's own palettes and writer
    run = subprocess.run(
        [sys.executable, str(PLUGIN / "tools" / "build.py"), "palettes", "--check"], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    package = json.loads((PLUGIN / "package.json").read_text())
    assert {"name", "displayName", "version", "author", "license"} <= package.keys()
    assert package["contributes"]["scripts"] == [{"path": "./plugin.lua"}]
    palettes = package["contributes"]["palettes"]
    assert palettes and all((PLUGIN / p["path"]).is_file() for p in palettes)
    assert {Path(p["path"]).stem for p in palettes} == set(builtin_names())


def test_package_is_a_zip_with_package_json_at_its_root(tmp_path: Path) -> None:
    out = tmp_path / "pixelsprite.aseprite-extension"
    subprocess.run(
        [sys.executable, str(PLUGIN / "tools" / "build.py"), "package", "--out", str(out)],
        check=True,
        capture_output=True,
    )
    with zipfile.ZipFile(out) as z:
        names = set(z.namelist())
        package = json.loads(z.read("package.json"))
    assert package["version"] == version("pixelsprite")
    assert {"plugin.lua", "protocol.lua", "connection.lua", "document.lua", "dialogs.lua", "b64.lua"} <= names
    assert "palettes/pico-8.gpl" in names
    assert not any(n.startswith("tools/") for n in names)


def test_lua_requests_against_real_server(registry: Registry, tmp_path: Path) -> None:
    lua = _need("lua5.4")
    import websockets.sync.client as ws_client

    with BackgroundServer(registry=registry, workers=1, grace_s=1.0) as server:
        with SyncClient(server.url) as py:
            reference = py.generate(model="tiny", count=3, seed=7)
        sprite = reference.rgba[0]
        h, w = sprite.shape[:2]
        (tmp_path / "in.rgba").write_bytes(sprite.tobytes())
        made = subprocess.run(
            [lua, str(HERE / "contract.lua"), "requests", "tiny", str(tmp_path / "in.rgba"), str(w), str(h)],
            capture_output=True,
            text=True,
            check=True,
        )
        frames = made.stdout.splitlines()
        assert [json.loads(f)["op"] for f in frames] == [
            "hello",
            "models",
            "generate",
            "generate",
            "variations",
            "interpolate",
            "generate",
            "generate",
            "palette",
        ]
        answers: dict[str, dict] = {}
        with ws_client.connect(server.url, max_size=None) as conn:
            for frame in frames:
                conn.send(frame)  # a str: a JSON text frame, as Aseprite's sendText sends
                while True:
                    raw = conn.recv(timeout=60)
                    assert isinstance(raw, str)
                    msg = json.loads(raw)
                    if msg["type"] != "progress":
                        break
                answers[msg["id"]] = msg
    assert answers["bad"]["type"] == "error", answers["bad"]
    # the extension asks hello's operations before proposing palettes
    assert {"generate", "variations", "interpolate", "palette", "cancel"} <= set(answers["hello"]["operations"])
    for key in ("gen", "pal", "var", "int", "clean"):
        assert answers[key]["type"] == "result", answers[key]
        assert answers[key]["image_format"] == "rgba"
    (tmp_path / "answers.jsonl").write_text("\n".join(json.dumps(a) for a in answers.values()) + "\n")
    out = tmp_path / "out"
    out.mkdir()
    read = subprocess.run(
        [lua, str(HERE / "contract.lua"), "answers", str(tmp_path / "answers.jsonl"), str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = {line.split("\t")[0]: line.split("\t")[1:] for line in read.stdout.splitlines()}
    assert lines["hello"] == ["hello", "true"]
    assert lines["bad"][0] == "error" and "label" in lines["bad"][1]
    for key, n in (("gen", 3), ("pal", 2), ("var", 2), ("int", 4), ("clean", 2)):
        assert lines[key] == ["images", str(n)]
        for i, b64 in enumerate(answers[key]["images"], start=1):
            assert (out / f"{key}-{i}.rgba").read_bytes() == base64.b64decode(b64), (key, i)
    # the extension's images are the sprites the Python client gets over msgpack, byte for byte
    for i in range(3):
        got = np.frombuffer((out / f"gen-{i + 1}.rgba").read_bytes(), np.uint8).reshape(h, w, 4)
        np.testing.assert_array_equal(got, reference.rgba[i])
    # a proposed palette goes onto a sprite with the server's colours, and its .gpl file arrives intact
    colors = answers["palette"]["colors"]
    assert lines["palette"] == ["palette", ",".join(colors), str(len(colors))]
    assert (out / "palette.gpl").read_bytes() == base64.b64decode(answers["palette"]["file"])
    assert (out / "palette.gpl").read_bytes().startswith(b"GIMP Palette")
    # a palette request keeps to its colours
    pal = np.frombuffer((out / "pal-1.rgba").read_bytes(), np.uint8).reshape(-1, 4)
    opaque = {tuple(p[:3]) for p in pal if p[3] == 255}
    assert opaque <= {(0, 0, 0), (255, 255, 255), (255, 0, 0)}


def test_lua_dialog_draws_previews_from_a_real_server(iterative_registry: Registry, tmp_path: Path) -> None:
    # the Generate Sprite dialog (dialogs.lua on the API stub) against a real server's answers: it asks for
    # previews because hello announces them, and its canvas draws every preview, then the result, byte for byte
    lua = _need("lua5.4")
    import websockets.sync.client as ws_client

    def dialog(*args: str) -> list[str]:
        run = subprocess.run(
            [
                lua,
                str(HERE / "contract.lua"),
                "dialog",
                str(tmp_path / "hello.json"),
                str(tmp_path / "models.json"),
                "tflow",
                *args,
            ],
            capture_output=True,
            text=True,
        )
        assert run.returncode == 0, run.stderr
        return run.stdout.splitlines()

    with BackgroundServer(registry=iterative_registry, workers=1, grace_s=1.0, preview_interval_s=0.0) as server:
        with ws_client.connect(server.url, max_size=None) as conn:
            for name in ("hello", "models"):
                conn.send(json.dumps({"id": name, "op": name}))
                (tmp_path / f"{name}.json").write_text(str(conn.recv(timeout=60)))
            (frame,) = dialog()
            request = json.loads(frame)
            assert (request["op"], request["model"], request["steps"], request["image_format"], request["preview"]) == (
                "generate",
                "tflow",
                4,
                "rgba",
                True,
            )
            conn.send(frame)
            answers = [str(conn.recv(timeout=60))]
            while json.loads(answers[-1])["type"] == "progress":
                answers.append(str(conn.recv(timeout=60)))
    (tmp_path / "answers.jsonl").write_text("\n".join(answers) + "\n")
    out = tmp_path / "out"
    out.mkdir()
    lines = [line.split("\t") for line in dialog(str(tmp_path / "answers.jsonl"), str(out))]
    msgs = [json.loads(a) for a in answers]
    assert [m["type"] for m in msgs] == ["progress"] * 4 + ["result"]
    with_images = [n for n, m in enumerate(msgs, start=1) if "images" in m]
    assert with_images == [1, 2, 3, 5]  # previews after steps 1..3 (not 4), then the result
    for n in with_images:
        assert lines[n - 1] == [str(n), msgs[n - 1]["type"], "2"]
        for i, b64 in enumerate(msgs[n - 1]["images"], start=1):
            assert (out / f"{n}-{i}.rgba").read_bytes() == base64.b64decode(b64), (n, i)
    want = api.generate("tflow", 2, 4, steps=4, registry=iterative_registry).sprites
    for i in range(2):
        assert (out / f"5-{i + 1}.rgba").read_bytes() == want[i].tobytes()


def test_lua_repaint_selection_against_pixelsprite_serve(tmp_path: Path, bundle_writer: Any) -> None:
    # Repaint Selection (dialogs.lua + document.lua on the API double) against a real `pixelsprite serve` with the tiny
    # pixel model: the dialog lists only the model that inpaints, sends the cel and the selection as the mask, draws
    # the server's previews and candidates byte for byte, and Apply puts the picked candidate into the cel: the
    # selected pixels from it, every other pixel exactly as it was
    lua = _need("lua5.4")
    import websockets.sync.client as ws_client

    from tests.bridge.pixel_fixtures import sprite, write_pixel_models

    models = write_pixel_models(tmp_path / "models", bundle_writer)
    image = sprite(3)  # hard alpha, colours outside the model's palette
    (tmp_path / "in.rgba").write_bytes(image.tobytes())
    selected = np.zeros((8, 8), bool)
    selected[1:5, 2:7] = True
    selected[6, 0] = True

    def repaint(*args: str) -> list[str]:
        run = subprocess.run(
            [
                lua,
                str(HERE / "contract.lua"),
                "repaint",
                str(tmp_path / "hello.json"),
                str(tmp_path / "models.json"),
                "tpixel",
                str(tmp_path / "in.rgba"),
                "8",
                "8",
                "2,1,5,4+0,6,1,1",
                *args,
            ],
            capture_output=True,
            text=True,
        )
        assert run.returncode == 0, run.stderr
        return run.stdout.splitlines()

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pixelsprite",
            "--models-dir",
            str(models),
            "--no-builtin-models",
            "serve",
            "--port",
            "0",
            "--preview-interval",
            "0",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = json.loads(proc.stdout.readline())["url"]
        with ws_client.connect(url, max_size=None) as conn:
            for name in ("hello", "models"):
                conn.send(json.dumps({"id": name, "op": name}))
                (tmp_path / f"{name}.json").write_text(str(conn.recv(timeout=60)))
            listed, frame = repaint()
            assert listed == "models\ttpixel,tpixel-u"  # not the VAE `tiny`, which cannot inpaint
            request = json.loads(frame)
            conn.send(frame)
            answers = [str(conn.recv(timeout=60))]
            while json.loads(answers[-1])["type"] == "progress":
                answers.append(str(conn.recv(timeout=60)))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert {
        k: request[k] for k in ("op", "model", "count", "seed", "steps", "temperature", "preview", "image_format")
    } == {
        "op": "inpaint",
        "model": "tpixel",
        "count": 3,
        "seed": 7,
        "steps": 6,
        "temperature": 0.9,
        "preview": True,
        "image_format": "rgba",
    }
    assert base64.b64decode(request["image"]["rgba"]) == image.tobytes()
    mask = np.frombuffer(base64.b64decode(request["mask"]["rgba"]), np.uint8).reshape(8, 8, 4)
    assert (mask[selected] == 255).all() and (mask[~selected, :3] == 0).all() and (mask[..., 3] == 255).all()
    msgs = [json.loads(a) for a in answers]
    assert msgs[-1]["type"] == "result", msgs[-1]
    (tmp_path / "answers.jsonl").write_text("\n".join(answers) + "\n")
    out = tmp_path / "out"
    out.mkdir()
    lines = [line.split("\t") for line in repaint(str(tmp_path / "answers.jsonl"), str(out), "2")[2:]]
    with_images = [n for n, m in enumerate(msgs, start=1) if "images" in m]
    assert len(with_images) >= 2  # at least one preview, then the result
    for n in with_images:
        assert lines[n - 1] == [str(n), msgs[n - 1]["type"], "3"]
        for i, b64 in enumerate(msgs[n - 1]["images"], start=1):
            assert (out / f"{n}-{i}.rgba").read_bytes() == base64.b64decode(b64), (n, i)
    want = api.inpaint(
        "tpixel", image, selected, 3, 7, steps=6, temperature=0.9, registry=Registry([models], builtin=False, env=False)
    ).sprites
    cel = np.frombuffer((out / "cel.rgba").read_bytes(), np.uint8).reshape(8, 8, 4)
    np.testing.assert_array_equal(cel, want[1])  # candidate 2 (seed 8), the request layer's own
    assert (cel[~selected] == image[~selected]).all() and (cel[selected] != image[selected]).any()
    assert lines[-1][0:2] == ["applied", "1"] and "seed 8" in lines[-1][2]


def test_lua_tiles_against_a_real_tile_model(tmp_path: Path) -> None:
    # a tile model (a tiny tiling pixel bundle) behind a real server (issue 19): its catalog entry says tiling, so the
    # Generate dialog (dialogs.lua + document.lua on the API double) selects Insert as New tilemap, draws each of the
    # server's tiles 3x3 byte for byte, and Insert puts them into a new sprite's tileset and tilemap layer of the
    # tile size, the map referencing tiles 1..3 in order
    lua = _need("lua5.4")
    import websockets.sync.client as ws_client

    from tests.pixelsprite.pixel_bundles import SIZE, write_pixel_model  # imports torch (skips without it)

    root = tmp_path / "models"
    write_pixel_model(root, "ttile", tiling=True)
    write_pixel_model(root)  # tpixel: a sprite model beside it
    registry = Registry([root], builtin=False, env=False)

    def tiles(*args: str) -> list[str]:
        run = subprocess.run(
            [lua, str(HERE / "contract.lua"), "tiles", str(tmp_path / "hello.json"), str(tmp_path / "models.json")]
            + ["ttile", *args],
            capture_output=True,
            text=True,
        )
        assert run.returncode == 0, run.stderr
        return run.stdout.splitlines()

    with BackgroundServer(registry=registry, workers=1, grace_s=1.0) as server:
        with ws_client.connect(server.url, max_size=None) as conn:
            for name in ("hello", "models"):
                conn.send(json.dumps({"id": name, "op": name}))
                (tmp_path / f"{name}.json").write_text(str(conn.recv(timeout=60)))
            insert, frame = tiles()
            request = json.loads(frame)
            conn.send(frame)
            answers = [str(conn.recv(timeout=60))]
            while json.loads(answers[-1])["type"] == "progress":
                answers.append(str(conn.recv(timeout=60)))
    catalog = json.loads((tmp_path / "models.json").read_text())["models"]
    assert {m["name"]: m["tiling"] for m in catalog} == {"ttile": True, "tpixel": False}
    assert insert == "insert\tNew tilemap"
    assert (request["op"], request["model"], request["count"], request["seed"]) == ("generate", "ttile", 3, 4)
    result = json.loads(answers[-1])
    assert result["type"] == "result", result
    (tmp_path / "answers.jsonl").write_text("\n".join(answers) + "\n")
    out = tmp_path / "out"
    out.mkdir()
    drawn, tilemap = tiles(str(tmp_path / "answers.jsonl"), str(out))
    assert drawn == "drawn\t27\t9,9,9"
    assert tilemap.split("\t") == ["tilemap", "4", f"{SIZE}x{SIZE}", "1,2,3,0"]
    want = api.generate("ttile", 3, 4, registry=registry).sprites
    for i in range(3):
        got = (out / f"tile-{i + 1}.rgba").read_bytes()
        assert got == base64.b64decode(result["images"][i]) == want[i].tobytes(), i
