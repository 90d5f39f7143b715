"""Atomic file writes: no reader ever sees a half-written output file."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

__all__ = ["write_bytes_atomic"]


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` via a uniquely named temp file in the same folder, then ``os.replace``.

    The file gets the usual permissions (0o666 less the umask), unlike ``tempfile.mkstemp``'s 0o600. The parent
    folder must exist. On any failure the temp file is removed and ``path`` is left as it was; an OSError names
    ``path`` (the file the caller asked for), never the temp file. Returns ``path``.
    """
    p = Path(path)
    tmp = p.with_name(f".{p.name}.{secrets.token_hex(6)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as e:
        raise _about(e, p) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, p)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise _about(e, p) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return p


def _about(error: OSError, path: Path) -> OSError:
    """The same error (same errno, so the same OSError subclass) naming ``path``, not the hidden temp file."""
    if error.errno is None:
        return OSError(f"{error}: {path}")
    return OSError(error.errno, error.strerror or os.strerror(error.errno), str(path))
