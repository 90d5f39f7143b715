"""Structured logging for the bridge: each record is an event name plus fields, rendered as JSON or key=value.

    log_event(logger, logging.INFO, "request", conn=3, id="a1", op="generate", outcome="result", ms=12.5)

renders as ``{"ts": ..., "level": "INFO", "event": "request", "conn": 3, ...}`` with :class:`JsonFormatter`, or
``request conn=3 id='a1' op='generate' ...`` with the default formatter.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

__all__ = ["LOGGER_NAME", "log_event", "LogThrottle", "JsonFormatter", "configure_logging"]

LOGGER_NAME = "pixelsprite.bridge"


def log_event(logger: logging.Logger, level: int, event: str, **fields: Any) -> None:
    """Log ``event`` with ``fields`` (JSON-serialisable values) at ``level``."""
    if logger.isEnabledFor(level):
        text = " ".join(f"{k}={v!r}" for k, v in fields.items())
        logger.log(level, "%s %s", event, text, extra={"event": event, "fields": fields})


class LogThrottle:
    """At most one log line per ``interval_s`` per key, for events that can repeat thousands of times a second.

    throttle = LogThrottle(10.0)
    suppressed = throttle.allow("accept")
    if suppressed is not None:      # log now, saying how many were not logged since the last line
        log_event(log, logging.WARNING, "accept_failed", not_logged=suppressed)
    """

    def __init__(self, interval_s: float, clock: Any = time.monotonic) -> None:
        self.interval_s = interval_s
        self.clock = clock
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def allow(self, key: str) -> int | None:
        """None: do not log this one (it is counted); else log it, with this many not logged before it."""
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last < self.interval_s:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return None
        self._last[key] = now
        return self._suppressed.pop(key, 0)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts`` (unix seconds), ``level``, ``event`` (or ``message``) and the fields."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {"ts": round(record.created, 3), "level": record.levelname}
        event = getattr(record, "event", None)
        if event is not None:
            doc["event"] = event
            doc.update(getattr(record, "fields", {}))
        else:
            doc["message"] = record.getMessage()
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str)


def configure_logging(fmt: str = "text", level: int = logging.INFO) -> None:
    """Send the bridge's logs to stderr as ``json`` lines or ``text``."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        formatter = logging.Formatter("%(asctime)s %(levelname)s %(message)s")
        formatter.converter = time.gmtime
        handler.setFormatter(formatter)
    logger = logging.getLogger(LOGGER_NAME)
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False
