"""The pixelsprite exception hierarchy.

Every error a caller can cause or meet derives from :class:`PixelspriteError`. Each class carries a stable
``code`` string that transports put on the wire (websocket replies, watch-folder journals, CLI JSON), and an
optional ``field`` naming the request field at fault. Messages are written for people: they name the limit,
the expected size, or the bundle path and what is wrong with it.

==================  ===================  ==========================================================
class               code                 raised when
==================  ===================  ==========================================================
PixelspriteError    ``internal``         base class; an unexpected failure inside the runtime
InvalidRequest      ``invalid_request``  a request field is missing, of the wrong type or out of range
UnknownModel        ``unknown_model``    the requested model name is not in the registry
ImageError          ``invalid_image``    an input is not a readable image, or has the wrong size
BundleError         ``bundle_error``     a model bundle is missing, corrupt, or disagrees with its manifest
Cancelled           ``cancelled``        the caller's cancel hook asked an iterative sampler to stop
PaletteError        ``invalid_palette``  a palette file is malformed (the message names the line or byte) or a palette
                                         has no colours / too many colours
==================  ===================  ==========================================================
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

__all__ = [
    "PixelspriteError", "InvalidRequest", "UnknownModel", "ImageError", "BundleError", "Cancelled", "PaletteError",
]  # fmt: skip


class PixelspriteError(Exception):
    """Base class of every pixelsprite error.

    Args:
        message: a human-readable sentence saying what is wrong and, where there is one, the limit.
        field: the request field at fault (e.g. ``"count"``, ``"corners[2]"``), or None.
    """

    code: ClassVar[str] = "internal"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_dict(self) -> dict[str, Any]:
        """The error as a JSON-ready dict: ``{"code": ..., "message": ..., "field": ...}``."""
        return {"code": self.code, "message": self.message, "field": self.field}


class InvalidRequest(PixelspriteError):
    """A request field is missing, has the wrong type, or is outside its documented limit."""

    code: ClassVar[str] = "invalid_request"


class UnknownModel(PixelspriteError):
    """The requested model is not registered; the message lists the names that are."""

    code: ClassVar[str] = "unknown_model"

    def __init__(self, name: str, available: Iterable[str], *, field: str | None = "model") -> None:
        self.name = name
        self.available = tuple(sorted(available))
        names = ", ".join(self.available) if self.available else "none (no bundles found)"
        super().__init__(f"unknown model {name!r}; available models: {names}", field=field)


class ImageError(PixelspriteError):
    """An input is not a readable image, or its size does not match the model's."""

    code: ClassVar[str] = "invalid_image"


class BundleError(PixelspriteError):
    """A model bundle is missing, corrupt, or its ONNX graphs disagree with its manifest."""

    code: ClassVar[str] = "bundle_error"


class Cancelled(PixelspriteError):
    """A request was cancelled: its ``cancel`` hook returned True between two sampler steps (nothing is returned)."""

    code: ClassVar[str] = "cancelled"


class PaletteError(PixelspriteError):
    """A palette file is malformed, or a palette is empty or too large.

    ``path``, ``line`` (1-based) and ``byte`` (0-based offset) locate the fault when there is one; the message
    names them too, e.g. ``"pal.gpl line 7: expected 'R G B [name]', got 'x 0 0'"``.
    """

    code: ClassVar[str] = "invalid_palette"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        path: str | None = None,
        line: int | None = None,
        byte: int | None = None,
    ) -> None:
        super().__init__(message, field=field)
        self.path = path
        self.line = line
        self.byte = byte
