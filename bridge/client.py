"""A Python client for the bridge: :class:`Client` (asyncio) and :class:`SyncClient` (a thread-backed wrapper).

    async with await Client.connect("ws://127.0.0.1:8737") as c:
        sprites = await c.generate(count=16, seed=7)          # Sprites: .rgba uint8 (N, H, W, 4), .seeds, ...

    with SyncClient("ws://127.0.0.1:8737") as c:
        print(c.models()["default"])
        sheet = c.generate(count=16, seed=7).rgba
        mask = np.zeros(sheet.shape[1:3], bool); mask[4:8, 4:8] = True
        fixed = c.inpaint(sheet[0], mask, model="pixel16", count=4, seed=1)   # a pixel model: repaint the mask

        tile_models = [m["name"] for m in c.models()["models"] if m["tiling"]]   # e.g. tiles16, tiles32
        floor = c.generate(model="tiles16", label="floor", count=8, seed=1)
        write_png("floor-preview.png", floor.tiled_preview(scale=4))   # pixelsprite.imageio; each tile + 3x3
        more = c.variations(floor.rgba[0], model="tiles16", strength=0.35)     # in the tile's own colours

Requests may run concurrently on one connection; answers are matched by id. Errors raise
:class:`~bridge.errors.RemoteError` carrying the server's ``code``, ``message`` and ``field``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import threading
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import msgpack
import numpy as np
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

from pixelsprite.imageio import compose_tiled_preview, decode_image

from . import protocol as proto
from .errors import RemoteError

__all__ = ["Client", "SyncClient", "Sprites", "Progress", "image_arg", "mask_arg", "DEFAULT_URL"]

DEFAULT_URL = f"ws://127.0.0.1:{proto.DEFAULT_PORT}"
T = TypeVar("T")
ProgressCallback = Callable[[int, int], Any]
"""``on_progress(done, total)``: the plain progress callback (every progress answer)."""
UpdateCallback = Callable[["Progress"], Any]
"""``on_update(progress)``: gets each progress answer whole, as a :class:`Progress` (with its preview, if any)."""


@dataclass(frozen=True, eq=False)
class Sprites:
    """A sprite result: ``rgba`` uint8 ``(N, H, W, 4)``, per-sprite ``seeds``, and the raw answer ``message``."""

    rgba: np.ndarray
    seeds: list[int | None]
    base_seed: int | None
    model: str
    message: dict[str, Any]

    def __len__(self) -> int:
        return int(self.rgba.shape[0])

    def repeat_3x3(self) -> np.ndarray:
        """Each sprite repeated 3x3, uint8 ``(N, 3H, 3W, 4)``: how a tile looks on a map (a seam shows only when a
        tile meets its own copies). Tile models (``"tiling": true`` in :meth:`Client.models`) make tiles that
        repeat seamlessly."""
        return np.tile(self.rgba, (1, 3, 3, 1))

    def tiled_preview(self, *, columns: int | None = None, gutter: int = 1, scale: int = 1) -> np.ndarray:
        """The tiled-preview sheet, uint8 ``(H, W, 4)``: each sprite beside its 3x3 repeat, ``columns`` pairs a row
        (default square-ish), ``gutter`` transparent pixels between cells, upscaled by ``scale``; the same sheet
        as the CLI's ``--tiled-preview`` and the watch folder's ``output.tiled_preview`` (docs/tiles.md)."""
        return compose_tiled_preview(self.rgba, columns=columns, gutter=gutter, scale=scale)


@dataclass(frozen=True, eq=False)
class Progress:
    """One ``progress`` answer: ``done`` of ``total`` ``unit`` (``"sprites"`` or ``"steps"``), and with
    ``preview=True`` on a diffusion/flow request, ``preview``: the sprites so far as uint8 ``(N, H, W, 4)`` (else
    None; docs/protocol.md, *Previews*). ``message`` is the answer as it came."""

    done: int
    total: int
    unit: str | None
    preview: np.ndarray | None
    message: dict[str, Any]


def image_arg(image: np.ndarray | bytes) -> dict[str, Any] | bytes:
    """An image parameter: PNG bytes as they are, a uint8 ``(H, W, 4)`` array as a raw RGBA object."""
    if isinstance(image, (bytes, bytearray)):
        return bytes(image)
    arr = np.ascontiguousarray(image, dtype=np.uint8)
    if arr.ndim != 3 or arr.shape[-1] != 4:
        raise ValueError(f"an image must be uint8 (H, W, 4), got {arr.shape}")
    return {"rgba": arr.tobytes(), "width": int(arr.shape[1]), "height": int(arr.shape[0])}


def mask_arg(mask: np.ndarray | bytes) -> dict[str, Any] | bytes:
    """An inpaint ``mask`` parameter: PNG bytes and uint8 ``(H, W, 4)`` images as :func:`image_arg` sends them (the
    server reads their alpha, or without transparent pixels their white pixels; docs/protocol.md, *inpaint*); a
    2-D ``(H, W)`` array (bool, or non-zero = repaint) as a 1-bit image: opaque white where it repaints, opaque black
    elsewhere."""
    if isinstance(mask, (bytes, bytearray)):
        return bytes(mask)
    arr = np.asarray(mask)
    if arr.ndim == 2:
        rgba = np.zeros((*arr.shape, 4), np.uint8)
        rgba[..., :3] = np.where(arr.astype(bool), 255, 0)[..., None]
        rgba[..., 3] = 255
        return image_arg(rgba)
    return image_arg(arr)


def _bytes(value: Any) -> bytes:
    return base64.b64decode(value) if isinstance(value, str) else bytes(value)


def _images(msg: dict[str, Any]) -> np.ndarray:
    """A message's ``images`` (result or preview; ``size``, ``image_format``) as uint8 ``(N, H, W, 4)``."""
    w, h = msg["size"]
    if msg.get("image_format", "png") == "rgba":
        rgba = [np.frombuffer(_bytes(b), np.uint8).reshape(h, w, 4) for b in msg["images"]]
    else:
        rgba = [decode_image(_bytes(b)) for b in msg["images"]]
    return np.stack(rgba) if rgba else np.zeros((0, h, w, 4), np.uint8)


def _sprites(msg: dict[str, Any]) -> Sprites:
    return Sprites(_images(msg), list(msg["seeds"]), msg.get("base_seed"), msg["model"], msg)


def _progress(msg: dict[str, Any]) -> Progress:
    preview = _images(msg) if "images" in msg else None
    return Progress(int(msg["done"]), int(msg["total"]), msg.get("unit"), preview, msg)


_Pending = tuple["asyncio.Future[dict[str, Any]]", ProgressCallback | None, UpdateCallback | None]


def _flag(preview: bool) -> bool | None:
    """``preview`` on the wire: sent only when asked for, so an older server (no ``"preview"`` feature) still
    takes requests without it."""
    if not isinstance(preview, bool):
        raise TypeError(f"preview must be True or False, got {preview!r}")
    return True if preview else None


class Client:
    """An asyncio client on one websocket connection. Create it with :meth:`connect`."""

    def __init__(self, ws: ClientConnection, encoding: proto.Encoding = "msgpack") -> None:
        self.ws = ws
        self.encoding: proto.Encoding = encoding
        self._ids = itertools.count(1)
        self._pending: dict[str, _Pending] = {}
        self.unaddressed: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        """Answers without a usable id (errors about malformed frames)."""
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(
        cls,
        url: str = DEFAULT_URL,
        *,
        token: str | None = None,
        encoding: proto.Encoding = "msgpack",
        origin: str | None = None,
        open_timeout: float = 10.0,
    ) -> Client:
        """Connect to a bridge. ``token`` goes in the URL's query; ``origin`` only to test the Origin check."""
        if token is not None:
            url += ("&" if "?" in url else "?") + "token=" + token
        ws = await connect(
            url,
            origin=None if origin is None else Origin(origin),
            max_size=None,
            open_timeout=open_timeout,
            compression=None,
        )
        return cls(ws, encoding)

    async def close(self) -> None:
        await self.ws.close()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                if isinstance(frame, str):
                    msg = json.loads(frame)
                else:
                    msg = msgpack.unpackb(frame, raw=False)
                entry = self._pending.get(msg.get("id"))
                if entry is None:
                    self.unaddressed.put_nowait(msg)
                    continue
                future, on_progress, on_update = entry
                if msg.get("type") == "progress":
                    if on_progress is not None:
                        on_progress(msg["done"], msg["total"])
                    if on_update is not None:
                        on_update(_progress(msg))
                    continue
                self._pending.pop(msg["id"], None)
                if not future.done():
                    future.set_result(msg)
        except ConnectionClosed:
            pass
        finally:
            for future, _, _ in self._pending.values():
                if not future.done():
                    future.set_exception(ConnectionError("the connection closed before the answer came"))
            self._pending.clear()

    def new_id(self) -> str:
        return f"r{next(self._ids)}"

    async def send_raw(self, frame: str | bytes) -> None:
        """Send a frame as it is (tests use this to send malformed frames)."""
        await self.ws.send(frame)

    async def submit(
        self,
        op: str,
        *,
        id: str | None = None,
        on_progress: ProgressCallback | None = None,
        on_update: UpdateCallback | None = None,
        **params: Any,
    ) -> tuple[str, Awaitable[dict[str, Any]]]:
        """Send a request; returns its id and an awaitable of the final answer (result or error message).

        ``on_progress(done, total)`` and ``on_update(Progress)`` are called (on the event loop) for each progress
        answer; ``on_update`` gets the whole answer, with decoded preview sprites when there are some."""
        rid = id or self.new_id()
        if rid in self._pending:
            raise ValueError(f"request id {rid!r} is already in flight")
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[rid] = (future, on_progress, on_update)
        msg = {"id": rid, "op": op, **{k: v for k, v in params.items() if v is not None}}
        try:
            await self.ws.send(proto.encode_frame(msg, self.encoding))
        except BaseException:
            self._pending.pop(rid, None)
            raise
        return rid, future

    async def request(
        self,
        op: str,
        *,
        on_progress: ProgressCallback | None = None,
        on_update: UpdateCallback | None = None,
        **params: Any,
    ) -> dict[str, Any]:
        """Send a request and wait for its result message; raises :class:`RemoteError` on an error answer."""
        _, future = await self.submit(op, on_progress=on_progress, on_update=on_update, **params)
        msg = await future
        if msg.get("type") == "error":
            raise RemoteError(msg["code"], msg["message"], field=msg.get("field"), request_id=msg.get("id"))
        return msg

    # ------------------------------------------------------------------------------------------ operations
    async def hello(self, client: str = "pixelsprite-python", version: str = "") -> dict[str, Any]:
        return await self.request("hello", client=client, version=version, protocol=proto.PROTOCOL_VERSION)

    async def models(self) -> dict[str, Any]:
        return await self.request("models")

    async def generate(
        self,
        *,
        model: str | None = None,
        count: int = 16,
        seed: int | None = None,
        image_format: str = "png",
        on_progress: ProgressCallback | None = None,
        on_update: UpdateCallback | None = None,
        preview: bool = False,
        **params: Any,
    ) -> Sprites:
        """``preview=True`` asks for preview sprites (a server whose ``hello`` lists the ``"preview"`` feature):
        they come to ``on_update`` as :attr:`Progress.preview`. False sends no ``preview`` at all."""
        msg = await self.request(
            "generate",
            model=model,
            count=count,
            seed=seed,
            image_format=image_format,
            on_progress=on_progress,
            on_update=on_update,
            preview=_flag(preview),
            **params,
        )
        return _sprites(msg)

    async def variations(
        self,
        image: np.ndarray | bytes,
        *,
        model: str | None = None,
        count: int = 8,
        strength: float | None = None,
        seed: int | None = None,
        image_format: str = "png",
        on_progress: ProgressCallback | None = None,
        on_update: UpdateCallback | None = None,
        preview: bool = False,
        **params: Any,
    ) -> Sprites:
        """As :meth:`generate`: ``preview=True`` sends previews to ``on_update``."""
        msg = await self.request(
            "variations",
            model=model,
            image=image_arg(image),
            count=count,
            strength=strength,
            seed=seed,
            image_format=image_format,
            on_progress=on_progress,
            on_update=on_update,
            preview=_flag(preview),
            **params,
        )
        return _sprites(msg)

    async def inpaint(
        self,
        image: np.ndarray | bytes,
        mask: np.ndarray | bytes,
        *,
        model: str | None = None,
        count: int = 8,
        seed: int | None = None,
        image_format: str = "png",
        on_progress: ProgressCallback | None = None,
        on_update: UpdateCallback | None = None,
        preview: bool = False,
        **params: Any,
    ) -> Sprites:
        """``count`` repaintings of the ``mask`` pixels of ``image`` (a pixel model; every other pixel is kept
        exactly); repainting *i* has seed ``seed + i``. ``mask``: a 2-D bool array (True = repaint), or an image
        of the sprite's size (see :func:`mask_arg`). Sampler options (``label``, ``steps``, ``solver``,
        ``guidance``, ``temperature``) and ``palette`` (palette-locked: the sampler draws only its colours) go in
        ``params``. As :meth:`generate`: ``preview=True`` sends previews to ``on_update``."""
        msg = await self.request(
            "inpaint",
            model=model,
            image=image_arg(image),
            mask=mask_arg(mask),
            count=count,
            seed=seed,
            image_format=image_format,
            on_progress=on_progress,
            on_update=on_update,
            preview=_flag(preview),
            **params,
        )
        return _sprites(msg)

    async def interpolate(
        self,
        a: int | np.ndarray | bytes,
        b: int | np.ndarray | bytes,
        *,
        model: str | None = None,
        count: int = 8,
        method: str | None = None,
        image_format: str = "png",
        **params: Any,
    ) -> Sprites:
        ends = [e if isinstance(e, int) else image_arg(e) for e in (a, b)]
        msg = await self.request(
            "interpolate",
            model=model,
            a=ends[0],
            b=ends[1],
            count=count,
            method=method,
            image_format=image_format,
            **params,
        )
        return _sprites(msg)

    async def grid(
        self,
        corners: list[int | np.ndarray | bytes],
        *,
        model: str | None = None,
        rows: int = 4,
        cols: int = 4,
        method: str | None = None,
        image_format: str = "png",
        **params: Any,
    ) -> Sprites:
        ends = [c if isinstance(c, int) else image_arg(c) for c in corners]
        msg = await self.request(
            "grid", model=model, corners=ends, rows=rows, cols=cols, method=method, image_format=image_format, **params
        )
        return _sprites(msg)

    async def encode(self, images: list[np.ndarray | bytes], *, model: str | None = None) -> np.ndarray:
        msg = await self.request("encode", model=model, images=[image_arg(im) for im in images])
        lat = msg["latents"]
        return np.frombuffer(_bytes(lat["data"]), "<f4").reshape(lat["shape"]).copy()

    async def decode(
        self, latents: np.ndarray, *, model: str | None = None, image_format: str = "png", **params: Any
    ) -> Sprites:
        z = np.ascontiguousarray(latents, dtype="<f4")
        tensor = {"shape": list(z.shape), "dtype": "float32", "data": z.tobytes()}
        msg = await self.request("decode", model=model, latents=tensor, image_format=image_format, **params)
        return _sprites(msg)

    async def cancel(self, target: str) -> bool:
        """Cancel request ``target``; True if it was still in flight."""
        return bool((await self.request("cancel", target=target))["cancelled"])


class SyncClient:
    """A blocking wrapper: a :class:`Client` on an event loop in a daemon thread."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        token: str | None = None,
        encoding: proto.Encoding = "msgpack",
        timeout: float = 60.0,
    ) -> None:
        self.timeout = timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="pixelsprite-client", daemon=True)
        self._thread.start()
        try:
            self.client: Client = self._run(Client.connect(url, token=token, encoding=encoding))
        except BaseException:
            self._shutdown()
            raise

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(self.timeout)

    def _shutdown(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._run(self.client.close())
        self._shutdown()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, op: str, **params: Any) -> dict[str, Any]:
        return self._run(self.client.request(op, **params))

    def hello(self, client: str = "pixelsprite-python-sync", version: str = "") -> dict[str, Any]:
        return self._run(self.client.hello(client, version))

    def models(self) -> dict[str, Any]:
        return self._run(self.client.models())

    def generate(self, **params: Any) -> Sprites:
        return self._run(self.client.generate(**params))

    def variations(self, image: np.ndarray | bytes, **params: Any) -> Sprites:
        return self._run(self.client.variations(image, **params))

    def inpaint(self, image: np.ndarray | bytes, mask: np.ndarray | bytes, **params: Any) -> Sprites:
        return self._run(self.client.inpaint(image, mask, **params))

    def interpolate(self, a: int | np.ndarray | bytes, b: int | np.ndarray | bytes, **params: Any) -> Sprites:
        return self._run(self.client.interpolate(a, b, **params))

    def grid(self, corners: list[int | np.ndarray | bytes], **params: Any) -> Sprites:
        return self._run(self.client.grid(corners, **params))

    def encode(self, images: list[np.ndarray | bytes], **params: Any) -> np.ndarray:
        return self._run(self.client.encode(images, **params))

    def decode(self, latents: np.ndarray, **params: Any) -> Sprites:
        return self._run(self.client.decode(latents, **params))
