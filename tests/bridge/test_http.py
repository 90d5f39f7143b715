"""Plain HTTP on the bridge's port (bridge/http.py): the playground page at GET /, 404/405/307, and the Origin
policy that admits exactly the page's origin. Raw sockets and http.client only; no browser."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import http.client
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.http11 import Request

from pixelsprite.palettes import builtin_names
from pixelsprite_bridge.client import Client
from pixelsprite_bridge.http import CONFIG_PLACEHOLDER, Site, page_host, render_page
from pixelsprite_bridge.server import BackgroundServer


def fetch(
    srv: BackgroundServer, method: str = "GET", path: str = "/", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    assert srv.server is not None
    conn = http.client.HTTPConnection(srv.server.host, srv.server.port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def config_of(page: bytes) -> dict[str, Any]:
    m = re.search(rb'<script id="config" type="application/json">(.*?)</script>', page, re.DOTALL)
    assert m is not None
    return dict(json.loads(m.group(1)))


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# ------------------------------------------------------------------------------------------------ the page
def test_get_root_serves_the_page_with_its_own_ws_url(server: BackgroundServer) -> None:
    status, headers, body = fetch(server)
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert int(headers["content-length"]) == len(body)
    assert body.startswith(b"<!doctype html>") and len(body) < 64 * 1024  # one small file
    config = config_of(body)
    assert config["ws_url"] == server.url == f"ws://127.0.0.1:{server.server.port}"  # type: ignore[union-attr]
    assert config["palettes"] == list(builtin_names()) and "none" in config["dithers"]
    assert CONFIG_PLACEHOLDER.encode() not in body
    # dependency-free: nothing is fetched from anywhere (no src=/href= to another document, no imports)
    assert not re.search(rb'(src|href)="(https?:)?//', body)
    assert b"import(" not in body and b"@import" not in body


def test_the_csp_allows_only_the_inline_code_and_this_server(server: BackgroundServer) -> None:
    _, headers, body = fetch(server)
    csp = dict(d.strip().split(" ", 1) for d in headers["content-security-policy"].split(";"))
    assert csp["default-src"] == "'none'"
    assert csp["connect-src"] == server.url
    assert csp["img-src"] == "data: blob:"
    page = body.decode()
    for tag in ("script", "style"):
        blocks = re.findall(rf"<{tag}>(.*?)</{tag}>", page, re.DOTALL)
        assert len(blocks) == 1
        digest = base64.b64encode(hashlib.sha256(blocks[0].encode()).digest()).decode()
        assert csp[f"{tag}-src"] == f"'sha256-{digest}'"
    assert ' style="' not in page and " onclick=" not in page  # inline attributes would be blocked by the CSP


def test_head_has_the_headers_and_no_body(server: BackgroundServer) -> None:
    _, get_headers, body = fetch(server)
    status, headers, head_body = fetch(server, "HEAD")
    assert status == 200 and head_body == b""
    assert headers["content-length"] == str(len(body)) == get_headers["content-length"]


@pytest.mark.parametrize("path", ["/x", "/index.html", "/favicon.ico", "/bridge/playground.html", "/..%2f"])
def test_other_paths_are_404(server: BackgroundServer, path: str) -> None:
    status, headers, body = fetch(server, "GET", path)
    assert status == 404 and headers["content-type"].startswith("text/plain")
    assert b"the playground is at http://127.0.0.1:" in body


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"])
def test_other_methods_are_405(server: BackgroundServer, method: str) -> None:
    status, headers, _ = fetch(server, method, "/")
    assert status == 405 and headers["allow"] == "GET, HEAD"


def test_query_is_fine_and_another_host_is_redirected_to_the_page(server: BackgroundServer) -> None:
    assert fetch(server, "GET", "/?token=abc")[0] == 200
    port = server.server.port  # type: ignore[union-attr]
    for host in (f"localhost:{port}", f"evil.example:{port}", "127.0.0.1"):
        status, headers, _ = fetch(server, "GET", "/?token=abc", {"Host": host})
        assert status == 307
        assert headers["location"] == f"http://127.0.0.1:{port}/?token=abc"


def test_the_server_still_speaks_websocket_on_every_path(server: BackgroundServer) -> None:
    async def go() -> None:
        for path in ("", "/", "/anything"):
            async with await Client.connect(server.url + path) as c:
                assert (await c.hello())["protocol"] == 1

    run(go())


# ------------------------------------------------------------------------------------------ origin policy
def test_the_pages_origin_is_accepted_and_others_still_refused(make_server: Callable[..., BackgroundServer]) -> None:
    srv = make_server(allow_origins=["http://localhost:5173"])
    port = srv.server.port  # type: ignore[union-attr]
    assert srv.server.site is not None and srv.server.site.origin == f"http://127.0.0.1:{port}"  # type: ignore[union-attr]

    async def go() -> None:
        for ok in (None, f"http://127.0.0.1:{port}", "http://localhost:5173"):
            async with await Client.connect(srv.url, origin=ok) as c:
                assert (await c.hello())["protocol"] == 1
        for bad in (
            f"http://localhost:{port}",
            f"https://127.0.0.1:{port}",
            f"http://127.0.0.1:{port + 1}",
            f"http://127.0.0.1:{port}/",
            "http://127.0.0.1",
            "https://evil.example",
            "null",
        ):
            with pytest.raises(InvalidStatus) as e:
                await Client.connect(srv.url, origin=bad)
            assert e.value.response.status_code == 403, bad

    run(go())


def test_a_token_still_guards_the_socket_but_not_the_page(make_server: Callable[..., BackgroundServer]) -> None:
    srv = make_server(token="s3cret")
    status, _, body = fetch(srv)
    assert status == 200 and b"s3cret" not in body  # the page carries no secret; it reads ?token= from its URL
    origin = srv.server.site.origin  # type: ignore[union-attr]

    async def go() -> None:
        with pytest.raises(InvalidStatus) as e:
            await Client.connect(srv.url, origin=origin)
        assert e.value.response.status_code == 401
        async with connect(srv.url + "/?token=s3cret", origin=origin) as ws:  # type: ignore[arg-type]
            await ws.send('{"id": "h", "op": "hello"}')
            assert json.loads(await ws.recv())["protocol"] == 1

    run(go())


# ------------------------------------------------------------------------------------------------ pure parts
@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("0.0.0.0", "127.0.0.1"),
        ("", "127.0.0.1"),
        ("::", "[::1]"),
        ("::1", "[::1]"),
        ("localhost", "localhost"),
        ("192.168.1.5", "192.168.1.5"),
    ],
)
def test_page_host(host: str, expected: str) -> None:
    assert page_host(host) == expected
    assert Site(host, 8737).origin == f"http://{expected}:8737"


def test_respond_leaves_websocket_handshakes_to_the_server() -> None:
    site = Site("127.0.0.1", 8737)
    upgrade = Request("/", _headers(Host="127.0.0.1:8737", Upgrade="websocket", Connection="Upgrade"))
    assert site.respond(upgrade) is None
    page = site.respond(Request("/", _headers(Host="127.0.0.1:8737")))
    assert page is not None and page.status_code == 200


def test_config_cannot_break_out_of_its_script_block() -> None:
    page, _ = render_page("ws://127.0.0.1:1", evil="</script><script>alert(1)</script>")
    assert page.count(b"</script>") == 2  # the config block's and the code's, nothing injected
    assert config_of(page)["evil"] == "</script><script>alert(1)</script>"


def _headers(**values: str) -> Any:
    from websockets.datastructures import Headers

    return Headers(values)
