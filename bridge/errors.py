"""Errors the bridge adds to the :mod:`pixelsprite.errors` hierarchy, each with a stable wire code.

Every error a client can meet is a :class:`~pixelsprite.errors.PixelspriteError`; its ``code`` goes on the wire
unchanged (see ``docs/protocol.md``). The request layer's codes (``invalid_request``, ``unknown_model``,
``invalid_image``, ``bundle_error``, ``internal``) pass through; the bridge adds:

=======================  =========================  ===================================================
class                    code                       raised when
=======================  =========================  ===================================================
MalformedFrame           ``malformed_frame``        a frame is not JSON / msgpack, or not an object
MessageTooLarge          ``message_too_large``      a frame is over ``max_message_bytes`` (up to 4x; beyond: 1009)
UnknownOperation         ``unknown_operation``      ``op`` names no operation of this protocol
UnsupportedOperation     ``unsupported_operation``  the operation is specified but not available yet
UnsupportedParameter     ``unsupported_parameter``  a parameter the chosen model cannot honour
Busy                     ``busy``                   the global queue or the connection's limit is full
Cancelled                ``cancelled``              cancelled by the client (pixelsprite.errors.Cancelled)
ShuttingDown             ``shutting_down``          the server is stopping and takes no new work
=======================  =========================  ===================================================
"""

from __future__ import annotations

from typing import ClassVar

from pixelsprite.errors import Cancelled, PixelspriteError

__all__ = [
    "MalformedFrame", "MessageTooLarge", "UnknownOperation", "UnsupportedOperation", "UnsupportedParameter", "Busy",
    "Cancelled", "ShuttingDown", "RemoteError",
]  # fmt: skip


class MalformedFrame(PixelspriteError):
    """The frame cannot be decoded (bad JSON or msgpack), or is not a request object."""

    code: ClassVar[str] = "malformed_frame"


class MessageTooLarge(PixelspriteError):
    """The request frame is larger than the server's ``max_message_bytes`` (field ``message``); the connection
    stays open. Frames over :data:`bridge.protocol.HARD_MESSAGE_FACTOR` times the limit close it with 1009."""

    code: ClassVar[str] = "message_too_large"


class UnknownOperation(PixelspriteError):
    """``op`` names no operation of protocol v1; the message lists the operations."""

    code: ClassVar[str] = "unknown_operation"


class UnsupportedOperation(PixelspriteError):
    """The operation is part of the protocol but not available in this server yet (e.g. ``palette``)."""

    code: ClassVar[str] = "unsupported_operation"


class UnsupportedParameter(PixelspriteError):
    """A known parameter that the chosen model cannot honour (e.g. ``label`` for an unconditional VAE)."""

    code: ClassVar[str] = "unsupported_parameter"


class Busy(PixelspriteError):
    """The server's queue is full, or the connection has as many requests in flight as it may; retry later."""

    code: ClassVar[str] = "busy"


class ShuttingDown(PixelspriteError):
    """The server is shutting down."""

    code: ClassVar[str] = "shutting_down"


class RemoteError(PixelspriteError):
    """An error answer received by :mod:`bridge.client`; ``code`` is the server's code, whatever it is."""

    def __init__(self, code: str, message: str, *, field: str | None = None, request_id: str | None = None) -> None:
        super().__init__(message, field=field)
        self.code = code  # type: ignore[misc]  # per instance: any code the server sends
        self.request_id = request_id

    def __str__(self) -> str:
        where = f" (field {self.field})" if self.field else ""
        return f"{self.code}: {self.message}{where}"
