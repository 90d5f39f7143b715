"""Plain HTTP on the bridge's port: ``GET /`` serves the playground page (``bridge/playground.html``).

The websocket server hands every handshake request to :meth:`Site.respond` first (websockets' ``process_request``
hook). A websocket upgrade is left to the server (``None``); anything else is plain HTTP and answered here:

* ``GET /`` (and ``HEAD /``): the page, with the server's own websocket URL and the built-in palette names baked
  into a JSON block, and a Content-Security-Policy that allows only its own inline script and style, ``data:`` and
  ``blob:`` images and a websocket to this server: the page fetches nothing from the network;
* a request whose ``Host`` is not the page's own (``localhost`` for ``127.0.0.1``, a DNS-rebinding name) is
  redirected (307) to the page's URL, because the Origin check admits exactly that origin;
* any other path: 404; any other method: 405 (``Allow: GET, HEAD``).

The page's origin is ``http://HOST:PORT`` of the bound host; on a wildcard bind (``0.0.0.0``, ``::``) it is the
loopback address (``127.0.0.1``, ``[::1]``): the page is meant for the machine the server runs on.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import json
import re
import urllib.parse
from functools import cache
from http import HTTPStatus
from importlib import resources

from websockets.datastructures import Headers
from websockets.http11 import Request, Response

__all__ = ["PAGE_FILE", "Site", "is_upgrade", "page_host", "render_page"]

PAGE_FILE = "playground.html"
"""The page, next to this module (package data)."""
CONFIG_PLACEHOLDER = "__PIXELSPRITE_CONFIG__"

_WILDCARD = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}  # wildcard binds: the page is for this machine


def page_host(host: str) -> str:
    """The host part of the page's URL for a server bound to ``host`` (IPv6 in brackets)."""
    host = _WILDCARD.get(host, host)
    return f"[{host}]" if ":" in host else host


@cache
def _template() -> str:
    return resources.files(__package__).joinpath(PAGE_FILE).read_text(encoding="utf-8")


def _inline_hashes(page: str, tag: str) -> list[str]:
    """CSP source expressions (``'sha256-...'``) for the page's inline ``<script>`` or ``<style>`` blocks."""
    bodies = re.findall(rf"<{tag}>(.*?)</{tag}>", page, flags=re.DOTALL)  # only attribute-less tags run / apply
    return [f"'sha256-{base64.b64encode(hashlib.sha256(b.encode()).digest()).decode()}'" for b in bodies]


def render_page(ws_url: str, **config: object) -> tuple[bytes, str]:
    """The page with ``{"ws_url": ws_url, **config}`` baked in, and its Content-Security-Policy."""
    # "<" escaped so that no value can close the <script> block it sits in
    blob = json.dumps({"ws_url": ws_url, **config}, sort_keys=True).replace("<", "\\u003c")
    page = _template().replace(CONFIG_PLACEHOLDER, blob, 1)
    csp = "; ".join(
        [
            "default-src 'none'",
            "script-src " + " ".join(_inline_hashes(page, "script")),
            "style-src " + " ".join(_inline_hashes(page, "style")),
            "img-src data: blob:",
            f"connect-src {ws_url}",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )
    return page.encode("utf-8"), csp


def is_upgrade(request: Request) -> bool:
    """A websocket handshake (``Upgrade: websocket``), as opposed to a plain HTTP request."""
    try:
        values = request.headers.get_all("Upgrade")
    except Exception:  # pragma: no cover - get_all does not raise; be safe
        return False
    return any("websocket" in v.lower() for v in values)


class Site:
    """The plain-HTTP side of a server listening on ``host``:``port`` (call :meth:`respond` for each request)."""

    def __init__(self, host: str, port: int) -> None:
        self.netloc = f"{page_host(host)}:{port}"
        self.origin = f"http://{self.netloc}"
        """The page's origin: the one browser origin the server admits besides ``--allow-origin``."""
        self.ws_url = f"ws://{self.netloc}"
        self._page: tuple[bytes, str] | None = None

    def page(self) -> tuple[bytes, str]:
        """The rendered page and its CSP (rendered once)."""
        if self._page is None:
            import pixelsprite
            from pixelsprite.palettes import DITHERS, builtin_names

            self._page = render_page(
                self.ws_url, palettes=list(builtin_names()), dithers=list(DITHERS), version=pixelsprite.__version__
            )
        return self._page

    def respond(self, request: Request) -> Response | None:
        """The answer to a plain HTTP request, or ``None`` for a websocket handshake (the server's to handle)."""
        if is_upgrade(request):
            return None
        url = urllib.parse.urlsplit(request.path)
        if request.method not in ("GET", "HEAD"):
            return _text(
                HTTPStatus.METHOD_NOT_ALLOWED, f"{request.method} is not supported here; use GET\n", allow="GET, HEAD"
            )
        if url.path != "/":
            return _text(
                HTTPStatus.NOT_FOUND,
                f"not found: {url.path}\nthe playground is at {self.origin}/; "
                f"websocket clients connect to {self.ws_url}\n",
                head=request.method == "HEAD",
            )
        host = _host(request.headers)
        if host and host.lower() != self.netloc.lower():
            location = urllib.parse.urlunsplit(("http", self.netloc, "/", url.query, ""))
            return _text(
                HTTPStatus.TEMPORARY_REDIRECT,
                f"the playground is at {location}\n",
                location=location,
                head=request.method == "HEAD",
            )
        body, csp = self.page()
        headers = _headers("text/html; charset=utf-8", len(body))
        headers["Content-Security-Policy"] = csp
        headers["Cache-Control"] = "no-store"
        headers["Referrer-Policy"] = "no-referrer"
        return Response(HTTPStatus.OK.value, HTTPStatus.OK.phrase, headers, b"" if request.method == "HEAD" else body)


def _host(headers: Headers) -> str:
    try:
        return headers.get("Host") or ""
    except Exception:  # several Host headers: not a browser; serve nothing special
        return "?"


def _headers(content_type: str, length: int) -> Headers:
    return Headers(
        [
            ("Date", email.utils.formatdate(usegmt=True)),
            ("Connection", "close"),
            ("Content-Length", str(length)),
            ("Content-Type", content_type),
            ("X-Content-Type-Options", "nosniff"),
        ]
    )


def _text(
    status: HTTPStatus, text: str, *, allow: str | None = None, location: str | None = None, head: bool = False
) -> Response:
    body = text.encode()
    headers = _headers("text/plain; charset=utf-8", len(body))
    if allow is not None:
        headers["Allow"] = allow
    if location is not None:
        headers["Location"] = location
    return Response(status.value, status.phrase, headers, b"" if head else body)
