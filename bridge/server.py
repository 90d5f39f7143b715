"""The websocket server: moves frames between clients and :mod:`pixelsprite.api`; protocol in :mod:`bridge.protocol`.

    server = Server(registry=Registry(), port=8737)
    asyncio.run(server.run())              # until SIGINT / SIGTERM, then an orderly shutdown

What happens to each request (admission, ids in flight, cancel, which jobs run together, shutdown answers) is
decided by the Sans-I/O core :class:`bridge.session.Session`: events in, actions out. This module is its driver:
it owns the sockets, the tasks, the worker pool and the timers, feeds the session what happens on them and carries
out the actions it returns. The event loop only decodes, validates and routes frames (frames over 64 KiB are
parsed on a helper thread); inference and PNG encoding run on a pool of ``workers`` threads, and each
connection's frames leave through one outbox, in the session's order:

* **micro-batching**: a worker that takes a ``generate`` job also takes queued jobs with the same batch key
  (model, colour cap) up to ``max_batch_sprites`` sprites (and the workers' fair share of the queue), and runs
  them as one decoder call;
* **limits**: at most ``limits.max_inflight`` requests per connection and ``limits.max_queue`` queued requests in
  all; beyond either, the request is answered ``busy`` at once. Frames over ``limits.max_message_bytes`` are
  answered ``message_too_large``; frames over 4 times it close the connection with 1009 (websocket "message too
  big") unread;
* **cancel**: ``{"op": "cancel", "target": id}`` drops a queued job, or stops a running generate between chunks of
  ``chunk_sprites`` sprites; the target is answered ``cancelled`` at once;
* **security**: binds 127.0.0.1 by default; the handshake is refused (403) when it carries an ``Origin`` header not
  in ``allow_origins`` or the playground page's own (browsers always send one; editors and scripts send none), and
  (401) without the right token when ``token`` is set (``?token=T`` in the URL, or ``Authorization: Bearer T``, the
  scheme in any case); an empty token is refused at start, never taken as "no token";
* **connections**: at most ``max_connections`` at a time (default: a quarter of the open-file limit, at most 256);
  a handshake beyond it is answered HTTP 503, and a TCP connection beyond twice it is closed at once, so the server
  never runs out of file descriptors; if the system still refuses an ``accept()``, one log line says so at most
  every 10 seconds (with the count of those not logged), never a traceback per attempt;
* **plain HTTP** (:mod:`bridge.http`): ``GET /`` on the same port is the playground page, a browser client;
* **shutdown** (:meth:`Server.stop`): stop accepting, refuse new requests, ``hello`` and ``models`` included
  (``shutting_down``; ``cancel`` still works), let in-flight work finish for ``grace_s`` seconds, cancel the rest,
  close every connection (1001), stop the workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import itertools
import logging
import os
import signal
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import numpy as np
from websockets.asyncio.server import Server as WsServer
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Origin

import pixelsprite
from pixelsprite import api, families
from pixelsprite.errors import InvalidRequest, PixelspriteError, UnknownModel
from pixelsprite.registry import Registry

from . import protocol as proto
from .batching import generate_chunked, generate_many
from .errors import ShuttingDown
from .http import Site
from .logs import LOGGER_NAME, LogThrottle, log_event
from .session import Action, Batch, Describe, Frame, Job, Log, Rejected, Send, Session, Start, Stop, parse

__all__ = [
    "Server",
    "BackgroundServer",
    "build_catalog",
    "default_workers",
    "default_max_connections",
    "is_loopback",
    "serve_forever",
]

LARGE_FRAME = 64 * 1024
"""Frames larger than this are decoded and validated on a helper thread, not on the event loop."""


def default_workers() -> int:
    """Inference threads: 2 on small machines (one long job cannot hold up everyone), up to 4."""
    return max(2, min(4, os.cpu_count() or 2))


MAX_DEFAULT_CONNECTIONS = 256
ACCEPT_LOG_INTERVAL_S = 10.0
"""At most one log line per this many seconds about ``accept()`` failing for want of file descriptors."""


def _open_file_limit() -> int | None:
    try:
        import resource
    except ImportError:  # Windows
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else int(soft)


def default_max_connections() -> int:
    """A quarter of the open-file limit (each connection holds one descriptor, and a TCP connection beyond twice
    the cap is closed at once), at least 8 and at most :data:`MAX_DEFAULT_CONNECTIONS`."""
    limit = _open_file_limit()
    return MAX_DEFAULT_CONNECTIONS if limit is None else max(8, min(MAX_DEFAULT_CONNECTIONS, limit // 4))


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and every loopback address: all of 127.0.0.0/8, ``::1`` (and ``::ffff:127.x.y.z``)."""
    if host.strip().lower() in ("localhost", "localhost."):
        return True
    try:
        ip = ipaddress.ip_address(host.strip().strip("[]"))
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


def build_catalog(registry: Registry) -> proto.Catalog:
    """The protocol's view of the registry's bundles (reads manifests; loads nothing)."""
    models = {}
    for b in registry.bundles():
        m = b.manifest
        models[b.name] = proto.ModelCaps(
            name=b.name,
            caps=families.capabilities(m),
            width=m.image.width,
            height=m.image.height,
            description=m.description,
            latent_shape=tuple(m.latent.shape) if m.latent is not None else None,
            max_colors=m.postprocess.max_colors,
            builtin=b.builtin,
        )
    try:
        default: str | None = api.resolve.model_name(registry, None, "generate")
    except UnknownModel:
        default = None
    return proto.Catalog(models, default, registry.problems, tuple(registry.ranked()))


# ----------------------------------------------------------------------------------------------------- jobs
@dataclass(eq=False)
class _Run:
    """A started job's worker-side state: its cancel flag and the preview of the sampler step in progress."""

    job: Job
    report: Callable[[Job, Frame], None]  # hands a progress frame to the event loop (thread-safe)
    cancel: threading.Event = field(default_factory=threading.Event)
    preview: tuple[int, np.ndarray] | None = None  # (done, sprites): the step's preview, sent with its progress

    def progress(self, done: int, total: int, unit: str = "sprites") -> None:
        """Report progress (with the step's preview images, if one was made); from a worker thread."""
        sprites = None
        if self.preview is not None and self.preview[0] == done:
            sprites = self.preview[1]
        self.preview = None
        call = self.job.call
        msg = proto.progress_message(call.id, done, total, unit, preview=sprites, image_format=call.image_format)
        self.report(self.job, proto.encode_frame(msg, call.encoding))  # PNG/base64 encoding stays off the loop

    def keep_preview(self, sprites: np.ndarray, done: int, _total: int) -> None:
        """The sampler's preview of step ``done``; the progress of that step (which follows at once) carries it."""
        self.preview = (done, sprites)


@dataclass(eq=False)
class _Connection:
    """A websocket and its outbox: every frame to it goes through the outbox, so they leave in the session's
    order (a job's progress before its final answer); ``asyncio.Future`` items are markers set when reached."""

    ws: ServerConnection
    number: int
    outbox: asyncio.Queue[Send | asyncio.Future[None]] = field(default_factory=asyncio.Queue)


# --------------------------------------------------------------------------------------------------- server
class Server:
    """The bridge's websocket server. All options are keyword-only and default to the safe choice.

    Args:
        registry: where models come from (default: :func:`pixelsprite.api.default_registry`).
        host: interface to bind; loopback unless told otherwise.
        port: TCP port; 0 picks a free one (see :attr:`port` after :meth:`start`).
        token: if set, clients must present it (``?token=`` or ``Authorization: Bearer``); an empty token is an
            error (InvalidRequest, field ``token``), not "no token".
        allow_origins: browser origins allowed to connect (e.g. ``"http://localhost:5173"``); clients that send
            no ``Origin`` header (editors, scripts) are always allowed.
        limits: message size, per-connection and queue limits.
        workers: inference threads (default :func:`default_workers`).
        batching: merge compatible queued generate requests into one model call.
        max_batch_sprites: the most sprites one merged call makes.
        chunk_sprites: a generate larger than this runs in chunks, with progress and cancel between them.
        grace_s: how long shutdown waits for in-flight work before cancelling it.
        preview_every: with ``"preview": true``, a diffusion/flow request gets preview images after every this
            many sampler steps ...
        preview_interval_s: ... and at most one per this many seconds (decoding and sending cost time).
        warm: load the default model (and run one sprite) in the background after listening.
        max_connections: open connections at most (default :func:`default_max_connections`); a handshake beyond
            it is answered HTTP 503.

    Raises:
        InvalidRequest: a port outside 0..65535 (field ``port``), an empty token (``token``) or a
            ``max_connections`` below 1 (``max_connections``).
    """

    def __init__(
        self,
        *,
        registry: Registry | None = None,
        host: str = "127.0.0.1",
        port: int = proto.DEFAULT_PORT,
        token: str | None = None,
        allow_origins: Iterable[str] = (),
        limits: proto.Limits = proto.Limits(),  # noqa: B008 - frozen
        workers: int | None = None,
        batching: bool = True,
        max_batch_sprites: int = 256,
        chunk_sprites: int = 128,
        grace_s: float = 5.0,
        preview_every: int = 1,
        preview_interval_s: float = 0.25,
        warm: bool = False,
        max_connections: int | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise InvalidRequest(f"port must be between 0 and 65535, got {port!r}", field="port")
        if token is not None and not token.strip():
            raise InvalidRequest(
                "token is empty (--token '' or PIXELSPRITE_TOKEN= with no value): an empty token "
                "would let anyone in; give a real token, or unset it to run without one on "
                "loopback",
                field="token",
            )
        if max_connections is not None and (
            isinstance(max_connections, bool) or not isinstance(max_connections, int) or max_connections < 1
        ):
            raise InvalidRequest(
                f"max_connections must be at least 1, got {max_connections!r}", field="max_connections"
            )
        self.registry = registry if registry is not None else api.default_registry()
        self.host, self.port = host, port
        self.token = token
        self.max_connections = max_connections or default_max_connections()
        self.allow_origins = tuple(allow_origins)
        self.limits = limits
        self.workers = workers or default_workers()
        self.batching = batching
        self.max_batch_sprites = max_batch_sprites
        self.chunk_sprites = chunk_sprites
        self.grace_s = grace_s
        self.preview_every = preview_every
        self.preview_interval_s = preview_interval_s
        self.warm = warm
        self.log = logger or logging.getLogger(LOGGER_NAME)
        self._pool: ThreadPoolExecutor | None = None
        self._ws: WsServer | None = None
        self.site: Site | None = None
        self._catalog: proto.Catalog | None = None
        self._catalog_lock: asyncio.Lock | None = None
        self.session = Session(
            limits=limits,
            workers=self.workers,
            batching=batching,
            max_batch_sprites=max_batch_sprites,
            chunk_sprites=chunk_sprites,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runs: dict[Job, _Run] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._conns: dict[int, _Connection] = {}
        self._numbers = itertools.count(1)
        self._refused = 0
        self._stopped: asyncio.Event | None = None
        self._stop_requested: asyncio.Event | None = None
        self._accept_log = LogThrottle(ACCEPT_LOG_INTERVAL_S)
        self._previous_handler: Any = None
        self._refuse_log = LogThrottle(ACCEPT_LOG_INTERVAL_S)

    # -------------------------------------------------------------------------------------------- lifecycle
    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ws://{host}:{self.port}"

    async def start(self) -> None:
        """Start listening (returns once the socket is bound) and start the workers."""
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="pixelsprite-worker")
        self._catalog_lock = asyncio.Lock()
        self._stopped = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        # read at each handshake, so the page's origin (known once the port is) can join it below
        self._origins: list[Origin | None] = [None, *(Origin(o) for o in self.allow_origins)]
        loop = asyncio.get_running_loop()
        self._previous_handler = loop.get_exception_handler()
        loop.set_exception_handler(self._loop_exception)
        self._ws = await serve(
            self._handle,
            self.host,
            self.port,
            origins=self._origins,
            process_request=self._process_request,
            max_size=self.limits.max_message_bytes * proto.HARD_MESSAGE_FACTOR,  # between: an error answer
            max_queue=4,
            compression=None,
            logger=logging.getLogger(LOGGER_NAME + ".ws"),
            create_connection=self._connection_class(),
        )
        sockets = list(self._ws.sockets)
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        self.site = site = Site(self.host, self.port)  # plain HTTP: GET / is the playground page (bridge/http.py)
        self._origins.append(Origin(site.origin))
        loopback = is_loopback(self.host)
        log_event(
            self.log,
            logging.INFO,
            "listening",
            url=self.url,
            workers=self.workers,
            batching=self.batching,
            token=self.token is not None,
            allow_origins=list(self.allow_origins),
            page=site.origin + "/",
            max_connections=self.max_connections,
        )
        files = _open_file_limit()
        if files is not None and 2 * self.max_connections + 64 > files:
            log_event(
                self.log,
                logging.WARNING,
                "fd_limit",
                max_connections=self.max_connections,
                open_files=files,
                advice="max_connections is close to the open-file limit: raise `ulimit -n` or lower --max-connections",
            )
        if not loopback and self.token is None:
            log_event(
                self.log,
                logging.WARNING,
                "exposed",
                host=self.host,
                advice="listening beyond loopback without a token: anyone on the network can connect",
            )
        if self.warm:
            asyncio.get_running_loop().create_task(self._warm())

    async def _warm(self) -> None:
        t0 = time.perf_counter()
        try:
            catalog = await self.catalog()
            if catalog.default is not None:
                req = api.GenerateRequest(catalog.default, 1, 0)
                await asyncio.get_running_loop().run_in_executor(
                    self._pool, lambda: api.handle(req, registry=self.registry)
                )
            log_event(
                self.log, logging.INFO, "warm", model=catalog.default, ms=round(1000 * (time.perf_counter() - t0), 1)
            )
        except PixelspriteError as e:
            log_event(self.log, logging.WARNING, "warm_failed", code=e.code, message=e.message)
        except (OSError, RuntimeError) as e:  # out of file descriptors, or stopped meanwhile: warming is optional
            log_event(self.log, logging.WARNING, "warm_failed", code="internal", message=f"{type(e).__name__}: {e}")

    @property
    def stats(self) -> dict[str, int]:
        """Counters: requests, batches, batched_requests, busy, errors (the session's) and refused connections."""
        return {**self.session.stats, "refused": self._refused}

    @property
    def stopping(self) -> bool:
        """Shutdown has begun: new requests are answered ``shutting_down``."""
        return self.session.stopping

    async def stop(self) -> None:
        """Orderly shutdown: stop accepting, finish in-flight work (up to ``grace_s``), cancel the rest, close."""
        if self.session.stopping or self._ws is None or self._stopped is None:
            return
        self._perform(self.session.shutdown())
        log_event(
            self.log,
            logging.INFO,
            "stopping",
            queued=self.session.queued,
            running=self.session.running,
            connections=len(self._conns),
        )
        self._ws.close(close_connections=False)  # stop accepting; keep connections for the answers
        deadline = time.monotonic() + self.grace_s
        while not self.session.idle and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        self._perform(self.session.expire())  # what is left is answered shutting_down
        with contextlib.suppress(asyncio.TimeoutError):  # let the outboxes flush the answers
            await asyncio.wait_for(asyncio.gather(*(self._flush(c) for c in list(self._conns.values()))), 2.0)
        # close() is idempotent in websockets, so the connections are closed here, each with 1001 (going away)
        await asyncio.gather(
            *(c.ws.close(1001, "server shutting down") for c in list(self._conns.values())), return_exceptions=True
        )
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._ws.wait_closed(), timeout=5.0)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        log_event(self.log, logging.INFO, "stopped", **self.stats)
        # the loop keeps this server's exception handler: asyncio may still fire a re-armed accept() (below)
        self._stopped.set()

    async def run(self, *, install_signal_handlers: bool = True, ready: Any = None) -> None:
        """Start, serve until SIGINT/SIGTERM (or :meth:`stop`), then shut down in order."""
        await self.start()
        assert self._stopped is not None
        if ready is not None:
            ready(self)
        loop = asyncio.get_running_loop()
        self._stop_requested = asyncio.Event()
        if install_signal_handlers:
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows / not the main thread
                    loop.add_signal_handler(sig, self.request_stop)
        waiters = [asyncio.create_task(self._stop_requested.wait()), asyncio.create_task(self._stopped.wait())]
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for w in waiters:
            w.cancel()
        await self.stop()
        if install_signal_handlers:
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(sig)

    def request_stop(self) -> None:
        """Ask :meth:`run` to shut down (loop thread; from another thread use ``loop.call_soon_threadsafe``)."""
        if self._stop_requested is not None:
            self._stop_requested.set()

    async def __aenter__(self) -> Server:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def catalog(self) -> proto.Catalog:
        """The models on offer, scanned once (manifests only) on a helper thread."""
        if self._catalog is None:
            assert self._catalog_lock is not None
            async with self._catalog_lock:
                if self._catalog is None:
                    self._catalog = await asyncio.get_running_loop().run_in_executor(None, build_catalog, self.registry)
        return self._catalog

    # -------------------------------------------------------------------------------------------- handshake
    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if self.site is not None and (page := self.site.respond(request)) is not None:
            return page  # not a websocket handshake: plain HTTP
        if self._open_connections() > self.max_connections:
            self._refused += 1
            suppressed = self._refuse_log.allow("refused")
            if suppressed is not None:
                log_event(
                    self.log,
                    logging.WARNING,
                    "refused",
                    reason="max_connections",
                    max_connections=self.max_connections,
                    not_logged=suppressed,
                )
            return connection.respond(
                HTTPStatus.SERVICE_UNAVAILABLE,
                f"too many connections: this server takes at most {self.max_connections} at "
                "a time (--max-connections); retry later\n",
            )
        if self.token is None:
            return None
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.path).query)
        offered = query.get("token", [""])[0]
        scheme, _, credentials = _header(request.headers, "Authorization").strip().partition(" ")
        if scheme.lower() == "bearer":  # RFC 9110: the auth scheme is case-insensitive
            offered = offered or credentials.strip()
        if offered and hmac.compare_digest(offered.encode(), self.token.encode()):
            return None
        log_event(self.log, logging.WARNING, "unauthorized", peer=str(connection.remote_address))
        return connection.respond(HTTPStatus.UNAUTHORIZED, "a valid token is required (?token=...)\n")

    def _open_connections(self) -> int:
        """TCP connections the websocket server holds now (handshakes included), this one too."""
        tasks = getattr(self._ws, "handler_tasks", None)
        return len(tasks) if tasks is not None else len(self._conns) + 1

    def _connection_class(self) -> type[ServerConnection]:
        server = self

        class _CappedConnection(ServerConnection):
            """Closes a TCP connection at once when the server holds twice ``max_connections`` (a flood that never
            completes a handshake would otherwise hold descriptors until the handshake timeout)."""

            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                super().connection_made(transport)
                if server._open_connections() > 2 * server.max_connections:
                    server._refused += 1
                    self.transport.abort()

        return _CappedConnection

    def _loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """The loop's exception handler: ``accept()`` failing for want of descriptors is logged as one line at most
        every :data:`ACCEPT_LOG_INTERVAL_S` (asyncio logs a traceback per attempt, thousands a second); anything
        else goes to the handler that was there before."""
        exc = context.get("exception")
        if str(context.get("message", "")).startswith("socket.accept() out of system resource"):
            suppressed = self._accept_log.allow("accept")
            if suppressed is not None:
                log_event(
                    self.log,
                    logging.WARNING,
                    "accept_failed",
                    error=os.strerror(exc.errno) if isinstance(exc, OSError) and exc.errno else str(exc),
                    connections=self._open_connections() - 1,
                    max_connections=self.max_connections,
                    not_logged=suppressed,
                    advice="the process is out of file descriptors: raise `ulimit -n` or lower --max-connections",
                )
            return
        if self.session.stopping and isinstance(exc, ValueError) and "_start_serving" in repr(context.get("handle")):
            # after EMFILE asyncio re-arms accept() a second later (call_later(_start_serving)); when the server
            # has closed its listening socket meanwhile, that callback finds fd -1: nothing is wrong, nothing to say
            return
        if self._previous_handler is not None:
            self._previous_handler(loop, context)
        else:
            loop.default_exception_handler(context)

    # ------------------------------------------------------------------------------------------- connection
    async def _handle(self, ws: ServerConnection) -> None:
        conn = _Connection(ws, next(self._numbers))
        self._conns[conn.number] = conn
        origin = _header(ws.request.headers, "Origin") if ws.request is not None else ""
        log_event(self.log, logging.INFO, "connect", conn=conn.number, peer=str(ws.remote_address), origin=origin)
        sender = asyncio.create_task(self._sender(conn))
        try:
            async for frame in ws:
                await self._on_frame(conn, frame)
        except ConnectionClosed:
            pass
        finally:
            self._perform(self.session.closed(conn.number))
            sender.cancel()
            del self._conns[conn.number]
            while not conn.outbox.empty():  # unsent: release whoever waits for them
                item = conn.outbox.get_nowait()
                if isinstance(item, asyncio.Future):
                    if not item.done():
                        item.set_result(None)
                elif item.answered is not None:
                    self._log_request(conn, item.answered)
            log_event(self.log, logging.INFO, "disconnect", conn=conn.number, code=ws.close_code)

    async def _on_frame(self, conn: _Connection, frame: str | bytes) -> None:
        """Parse (on a helper thread when large), hand to the session, wait until this frame's answers are sent
        (so a client that sends without reading is slowed down, not buffered without end)."""
        received = time.perf_counter()
        parsed: proto.Call | Rejected
        try:
            catalog = await self.catalog()
        except PixelspriteError as e:
            parsed = Rejected(None, e, "json" if isinstance(frame, str) else "msgpack")
        else:
            if len(frame) > LARGE_FRAME:
                loop = asyncio.get_running_loop()
                parsed = await loop.run_in_executor(None, parse, frame, catalog, self.limits)
            else:
                parsed = parse(frame, catalog, self.limits)
        self._perform(self.session.receive(conn.number, parsed, received))
        await self._flush(conn)

    async def _flush(self, conn: _Connection) -> None:
        """Return once every frame queued for ``conn`` so far has been sent (or found the connection closed)."""
        marker = asyncio.get_running_loop().create_future()
        conn.outbox.put_nowait(marker)
        await marker

    async def _sender(self, conn: _Connection) -> None:
        """Send the connection's frames in the session's order, one at a time."""
        while True:
            item = await conn.outbox.get()
            if isinstance(item, asyncio.Future):
                if not item.done():
                    item.set_result(None)
                continue
            try:
                await conn.ws.send(item.frame)
            except ConnectionClosed:
                pass
            except Exception:  # never leave the outbox unserved
                self.log.exception("cannot send on connection %d", conn.number)
            if item.answered is not None:
                self._log_request(conn, item.answered)

    def _log_request(self, conn: _Connection, job: Job) -> None:
        ms = round(1000 * (time.perf_counter() - job.received), 2)
        log_event(
            self.log, logging.INFO, "request", conn=conn.number, id=job.id, op=job.call.op, outcome=job.outcome, ms=ms
        )

    # -------------------------------------------------------------------------------------------- actions
    def _perform(self, actions: Sequence[Action]) -> None:
        """Carry out the session's actions, in order (event loop thread)."""
        for action in actions:
            if isinstance(action, Send):
                conn = self._conns.get(action.conn)
                if conn is not None:
                    conn.outbox.put_nowait(action)
            elif isinstance(action, Start):
                task = asyncio.create_task(self._execute(action.batch))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            elif isinstance(action, Stop):
                run = self._runs.get(action.job)
                if run is not None:
                    run.cancel.set()
            elif isinstance(action, Describe):
                self._describe(action.conn, action.call)
            elif isinstance(action, Log):
                log_event(self.log, logging.INFO, action.event, **action.fields)

    def _describe(self, number: int, call: proto.Call) -> None:
        catalog = self._catalog
        assert catalog is not None  # parsing the call needed it
        if call.op == "hello":
            msg = proto.hello_message(call, catalog, self.limits, pixelsprite.__version__)
        else:
            loaded = {n: self.registry.is_loaded(n) for n in catalog.models}
            msg = proto.models_message(call, catalog, loaded)
        self._perform([Send(number, proto.encode_frame(msg, call.encoding))])

    def _progress(self, job: Job, frame: Frame) -> None:
        """A progress frame from a worker thread."""
        assert self._loop is not None
        self._loop.call_soon_threadsafe(lambda: self._perform(self.session.progress(job, frame)))

    async def _execute(self, batch: Batch) -> None:
        """Run a started batch on the worker pool and report its answers to the session."""
        runs = [_Run(job, self._progress) for job in batch.jobs]
        self._runs.update((r.job, r) for r in runs)
        started = time.perf_counter()
        try:
            answers = await asyncio.get_running_loop().run_in_executor(self._pool, self._work, runs, started)
        except RuntimeError:  # the pool was shut down under us
            actions = self.session.failed(batch, ShuttingDown("the server is shutting down"))
        else:
            actions = self.session.finished(batch, answers)
        finally:
            for r in runs:
                self._runs.pop(r.job, None)
        self._perform(actions)

    # ----------------------------------------------------------------------------------------------- workers
    def _work(self, runs: Sequence[_Run], started: float) -> list[tuple[Frame, str]]:
        """Run a job or a micro-batch on a worker thread; returns each job's encoded final frame and outcome."""
        results: list[api.Result | PixelspriteError]
        try:
            if len(runs) > 1:
                reqs = [r.job.call.request for r in runs]
                results = list(generate_many(reqs, self.registry))  # type: ignore[arg-type]
            else:
                results = [self._run_one(runs[0])]
        except PixelspriteError as e:
            results = [e] * len(runs)
        except Exception as e:  # a bug or an onnxruntime failure: answer "internal", keep serving
            self.log.exception("internal error in %s", [r.job.id for r in runs])
            results = [PixelspriteError(f"internal error: {type(e).__name__}: {e}")] * len(runs)
        finished = time.perf_counter()
        out: list[tuple[Frame, str]] = []
        for run, res in zip(runs, results):
            job = run.job
            if isinstance(res, PixelspriteError):
                out.append((proto.encode_frame(proto.error_message(job.id, res), job.call.encoding), res.code))
                continue
            timing = {
                "queue_ms": 1000 * (started - job.received),
                "run_ms": 1000 * (finished - started),
                "total_ms": 1000 * (time.perf_counter() - job.received),
            }
            msg = proto.result_message(job.call, res, timing=timing, batch=len(runs))
            out.append((proto.encode_frame(msg, job.call.encoding), "result"))
        return out

    def _run_one(self, run: _Run) -> api.Result:
        call = run.job.call
        req = call.request
        assert req is not None
        if call.model is not None and call.model.samples_in_steps:
            # progress per sampler step (with preview images when asked); cancel checked between steps
            preview = (
                api.Previews(run.keep_preview, self.preview_every, self.preview_interval_s) if call.preview else None
            )
            return api.handle(
                req,
                registry=self.registry,
                progress=lambda d, t: run.progress(d, t, "steps"),
                cancel=run.cancel.is_set,
                preview=preview,
            )
        if isinstance(req, api.GenerateRequest):
            return generate_chunked(
                req, self.registry, chunk=self.chunk_sprites, cancel=run.cancel, progress=run.progress
            )
        return api.handle(req, registry=self.registry)


def _header(headers: Headers, name: str) -> str:
    try:
        return headers.get(name) or ""
    except Exception:  # MultipleValuesError: treat as absent here; the library rejects a duplicate Origin itself
        return ""


# -------------------------------------------------------------------------------------------- in a thread
class BackgroundServer:
    """A :class:`Server` on its own event loop in a daemon thread, for tests, benchmarks and notebooks.

    with BackgroundServer(registry=reg, port=0) as server:
        print(server.url)
    """

    def __init__(self, **options: Any) -> None:
        options.setdefault("port", 0)
        self._options = options
        self.server: Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def start(self) -> BackgroundServer:
        def main() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self.server = Server(**self._options)
                loop.run_until_complete(
                    self.server.run(install_signal_handlers=False, ready=lambda _: self._ready.set())
                )
            except BaseException as e:  # surfaced by start()
                self._error = e
                self._ready.set()
            finally:
                loop.close()

        self._thread = threading.Thread(target=main, name="pixelsprite-bridge", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        """Shut the server down in order and wait for its thread."""
        if self._loop is not None and self.server is not None and self._thread is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed
                self._loop.call_soon_threadsafe(self.server.request_stop)
            self._thread.join(timeout=60)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ------------------------------------------------------------------------------------------------- the CLI
def serve_forever(
    *,
    registry: Registry,
    host: str = "127.0.0.1",
    port: int = proto.DEFAULT_PORT,
    token: str | None = None,
    allow_origins: Sequence[str] = (),
    log_format: str = "text",
    **options: Any,
) -> int:
    """``pixelsprite serve``: listen, print ``{"url": ..., "protocol": 1}`` on stdout, warm the default model in
    the background, serve until SIGINT/SIGTERM, shut down in order. Returns the exit code."""
    import json
    import sys

    from .logs import configure_logging

    configure_logging(log_format)
    server = Server(
        registry=registry, host=host, port=port, token=token, allow_origins=allow_origins, warm=True, **options
    )

    def ready(s: Server) -> None:
        page = s.site.origin + "/" if s.site is not None else None
        print(json.dumps({"url": s.url, "protocol": proto.PROTOCOL_VERSION, "page": page}), flush=True)

    try:
        asyncio.run(server.run(ready=ready))
    except OSError as e:  # the port is taken, the host is not ours, ...
        print(f"error: cannot listen on {host}:{port}: {e.strerror or e}", file=sys.stderr)
        return 1
    return 0
