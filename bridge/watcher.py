"""Watch-folder batch generation: job files dropped into an inbox become sprites, sheets and palettes in an outbox.

The contract is ``docs/watch-folder.md``; in short:

* a job file is ``INBOX/<name>.json`` (or ``.toml``) holding one request object or
  ``{"requests": [...], "output": {...}}``; each request uses the websocket protocol's parameters and is
  validated by :func:`bridge.protocol.parse_request` (one source of truth), then run by
  :func:`pixelsprite.api.handle` on the watcher's worker thread;
* files whose names start with ``.`` or end with ``.tmp`` / ``.part`` are never read (write there, then rename),
  and any other file is read only once its size and mtime have been still for ``settle_s`` seconds;
* a job's outputs are written into ``OUTBOX/.staging/<name>.<random>/`` and the finished folder is renamed to
  ``OUTBOX/<name>/`` in one step, so a reader never sees a partial job; that rename is the commit point;
* ``OUTBOX/journal.jsonl`` records each job's ``started`` / ``done`` / ``failed`` state (one appended line each);
  on start the backlog is processed, stale staging folders are removed, and a job whose committed output
  folder already holds its content hash is not run again (exactly once across crashes);
* a finished job file moves to ``INBOX/done/``, a failed one to ``INBOX/failed/`` next to ``<name>.error.json``
  (``code``, ``message``, ``field`` and, for a request, its ``request`` index); a later failure of a job with the
  same name is kept beside it as ``<name>-2.json`` / ``<name>-2.error.json`` (then ``-3``, ...), never over it;
* a job the journal shows started ``max_attempts`` times without finishing (the watcher died in it each time) is set
  aside in ``failed/`` (code ``too_many_attempts``) instead of blocking the queue for ever;
* ``output.tiled_preview`` (tile models only) also writes each request's tiles beside their 3x3 repeats as
  ``<job>-<request>-tiled.png`` (a seam shows only when a tile is repeated);
* job files are opened with ``O_NOFOLLOW`` (a symbolic link is refused when it is opened, not only when it is seen)
  and must be regular files; the job's output size (sprites, scale, sheets) is bounded before anything runs.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import math
import os
import re
import secrets
import shutil
import stat
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

import pixelsprite
from pixelsprite import api
from pixelsprite.atomic import write_bytes_atomic
from pixelsprite.errors import InvalidRequest, PixelspriteError
from pixelsprite.imageio import (
    check_output_size,
    compose_sheet,
    compose_tiled_preview,
    encode_png,
    sheet_description,
    sheet_shape,
    tiled_preview_shape,
)
from pixelsprite.palettes.formats import FORMATS as PALETTE_FORMATS
from pixelsprite.palettes.formats import encode_palette
from pixelsprite.registry import Registry

from . import protocol as proto
from .logs import LOGGER_NAME, log_event
from .server import build_catalog

__all__ = [
    "WatchLimits",
    "OutputOptions",
    "JobError",
    "Watcher",
    "parse_job",
    "watch_main",
    "JOB_OPERATIONS",
    "JOB_SUFFIXES",
    "JOURNAL",
    "STAGING",
]

JOURNAL = "journal.jsonl"
STAGING = ".staging"
JOB_OPERATIONS = ("generate", "variations", "inpaint", "interpolate", "grid", "decode", "palette")
"""Operations a job file may hold (the protocol's sprite operations and ``palette``)."""
_IGNORED_SUFFIXES = (".tmp", ".part")
JOB_SUFFIXES = (".json", ".toml")
"""Job file kinds: JSON, and TOML where Python has ``tomllib`` (3.11+)."""
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_PLACEHOLDER = re.compile(r"\{([a-z]*)\}")
_PLACEHOLDERS = ("job", "request", "index", "seed", "op", "model")
DEFAULT_PATTERN = "{job}-{request}-{index}"
MAX_SCALE = 16

log = logging.getLogger(LOGGER_NAME + ".watch")


@dataclass(frozen=True)
class WatchLimits:
    """Per-job limits; a job over one fails with an error naming the field and the limit.

    Attributes:
        max_job_bytes: largest job file read.
        max_requests: requests per job file.
        max_sprites: sprites per job, all requests together.
        max_output_pixels: pixels of all the job's images together (sprites, sheets; after ``output.scale``),
            checked before the job runs; each sheet must also fit
            :func:`pixelsprite.imageio.check_output_size`.
        max_attempts: times a job may be started without finishing (the process died in it) before it is set aside.
    """

    max_job_bytes: int = 4 * 2**20
    max_requests: int = 64
    max_sprites: int = 4096
    max_output_pixels: int = 256 * 2**20
    max_attempts: int = 3


class JobError(PixelspriteError):
    """A job file is malformed or breaks a limit; ``request`` is the index of the request at fault, if any."""

    code = "invalid_job"

    def __init__(self, message: str, *, field: str | None = None, request: int | None = None) -> None:
        super().__init__(message, field=field)
        self.request = request


class TooManyAttempts(JobError):
    """The journal shows the job started ``max_attempts`` times and never finished."""

    code = "too_many_attempts"


@dataclass(frozen=True)
class OutputOptions:
    """How a job's sprites are written.

    Attributes:
        layout: ``"sprites"`` (one PNG per sprite), ``"sheet"`` (one sheet PNG + JSON per request) or ``"both"``.
        name: file-name pattern for single sprites, without extension; placeholders ``{job}``, ``{request}``,
            ``{index}``, ``{seed}``, ``{op}``, ``{model}``.
        columns: sheet columns (None: the result's layout, else square-ish).
        gutter: transparent pixels between sheet cells.
        scale: nearest-neighbour upscale of sprites and sheets, 1..16.
        palette_formats: formats to write each request's palette in (requests with a ``palette`` only).
        tiled_preview: also write each sprite request's ``<job>-<request>-tiled.png``: every tile beside its 3x3
            repeat (``columns`` tiles per row, ``gutter``, ``scale``); every sprite request's model must tile.
    """

    layout: str = "sprites"
    name: str = DEFAULT_PATTERN
    columns: int | None = None
    gutter: int = 0
    scale: int = 1
    palette_formats: tuple[str, ...] = ("gpl",)
    tiled_preview: bool = False

    @classmethod
    def parse(cls, obj: Any) -> OutputOptions:
        if obj is None:
            return cls()
        if not isinstance(obj, dict):
            raise JobError("output must be an object", field="output")
        known = {"layout", "name", "columns", "gutter", "scale", "palette_formats", "tiled_preview"}
        for key in obj:
            if key not in known:
                raise JobError(
                    f"unknown output option {str(key)[:40]!r}; options: {', '.join(sorted(known))}",
                    field=f"output.{str(key)[:40]}",
                )
        layout = obj.get("layout", "sprites")
        if layout not in ("sprites", "sheet", "both"):
            raise JobError(f"output.layout must be sprites, sheet or both, got {layout!r}"[:160], field="output.layout")
        name = obj.get("name", DEFAULT_PATTERN)
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            raise JobError("output.name must be a pattern of 1 to 100 characters", field="output.name")
        for ph in _PLACEHOLDER.findall(name):
            if ph not in _PLACEHOLDERS:
                raise JobError(
                    f"output.name has unknown placeholder {{{ph}}}; placeholders: "
                    + ", ".join("{" + p + "}" for p in _PLACEHOLDERS),
                    field="output.name",
                )
        if "{" in _PLACEHOLDER.sub("", name) or "}" in _PLACEHOLDER.sub("", name):
            raise JobError(
                "output.name has a '{' or '}' that is not a placeholder; placeholders: "
                + ", ".join("{" + p + "}" for p in _PLACEHOLDERS),
                field="output.name",
            )
        ints: dict[str, int | None] = {}
        for key, lo, hi, default in (("columns", 1, 1024, None), ("gutter", 0, 16, 0), ("scale", 1, MAX_SCALE, 1)):
            v = obj.get(key, default)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi):
                raise JobError(
                    f"output.{key} must be an integer between {lo} and {hi}, got {v!r}"[:160], field=f"output.{key}"
                )
            ints[key] = v
        fmts = obj.get("palette_formats", ["gpl"])
        if not isinstance(fmts, list) or not all(isinstance(f, str) and f in PALETTE_FORMATS for f in fmts):
            raise JobError(
                f"output.palette_formats must be a list of: {', '.join(PALETTE_FORMATS)}",
                field="output.palette_formats",
            )
        tiled = obj.get("tiled_preview", False)
        if not isinstance(tiled, bool):
            raise JobError(
                f"output.tiled_preview must be true or false, got {tiled!r}"[:160], field="output.tiled_preview"
            )
        return cls(
            layout,
            name,
            ints["columns"],
            ints["gutter"] or 0,
            ints["scale"] or 1,
            tuple(dict.fromkeys(fmts)),
            tiled,
        )


@dataclass(frozen=True)
class _Job:
    name: str
    sha256: str
    calls: tuple[tuple[dict[str, Any], proto.Call], ...]
    output: OutputOptions


@dataclass
class _Stats:
    done: int = 0
    failed: int = 0
    skipped: int = 0
    sprites: int = 0
    seconds: float = 0.0
    names: list[str] = field(default_factory=list)


def _safe_file_name(text: str, what: str) -> str:
    """A single path component inside the outbox: no separators, no ``..``, no leading dot."""
    if (
        not text
        or len(text) > 200
        or "/" in text
        or "\\" in text
        or "\x00" in text
        or text.startswith(".")
        or os.path.isabs(text)
    ):
        raise JobError(
            f"{what} gives the file name {text[:60]!r}; names may not be empty, absolute, contain "
            "path separators ('/' or '\\', so no '../') or start with '.'",
            field="output.name",
        )
    return text


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _split_name(filename: str) -> tuple[str, str]:
    for suffix in JOB_SUFFIXES:
        if filename.endswith(suffix):
            return filename[: -len(suffix)], suffix
    return filename, ""


def _load_toml(text: str) -> dict[str, Any]:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        raise JobError("TOML job files need Python 3.11 or later; use JSON", field="job") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise JobError(f"the job file is not valid TOML: {str(e)[:160]}", field="job") from None


def parse_job(name: str, data: bytes, catalog: proto.Catalog, limits: WatchLimits, *, toml: bool = False) -> _Job:
    """Decode and validate a job file's bytes (no model is run).

    Raises:
        JobError for the file's shape and limits; the protocol's errors (InvalidRequest, UnknownModel, ...) for a
        request, with ``request`` set on the JobError or noted by the caller.
    """
    if len(data) > limits.max_job_bytes:
        raise JobError(f"the job file has {len(data)} bytes; the limit is {limits.max_job_bytes}", field="job")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise JobError("the job file is not UTF-8 text", field="job") from None
    if toml:  # a TOML document is a table; requests are [[requests]] tables, output an [output] table
        obj = _load_toml(text)
    else:
        try:
            obj, _ = proto.decode_frame(text)
        except PixelspriteError as e:
            raise JobError(f"the job file is not a JSON object: {e.message}", field="job") from None
    if "requests" in obj:
        extra = sorted(set(obj) - {"requests", "output"})
        if extra:
            raise JobError(
                f"unknown top-level key {extra[0][:40]!r}; a job with requests takes requests and output",
                field=extra[0][:40],
            )
        reqs = obj["requests"]
        if not isinstance(reqs, list) or not reqs:
            raise JobError("requests must be a non-empty list of request objects", field="requests")
        output = obj.get("output")
    else:
        reqs = [{k: v for k, v in obj.items() if k != "output"}]
        output = obj.get("output")
    if len(reqs) > limits.max_requests:
        raise JobError(f"the job has {len(reqs)} requests; the limit is {limits.max_requests}", field="requests")
    options = OutputOptions.parse(output)
    calls = []
    sprites = pixels = 0
    for i, req in enumerate(reqs):
        if not isinstance(req, dict):
            raise JobError(f"requests[{i}] must be an object", field=f"requests[{i}]", request=i)
        op = req.get("op", "generate")
        if op not in JOB_OPERATIONS:
            raise JobError(
                f"requests[{i}].op is {str(op)[:40]!r}; a job may hold: {', '.join(JOB_OPERATIONS)}",
                field="op",
                request=i,
            )
        if "id" in req:
            raise JobError("requests in a job file take no id (the watcher names them)", field="id", request=i)
        if "tiled_preview" in req:
            raise JobError(
                'tiled_preview is an output option: put it in the job\'s "output" object '
                '({"output": {"tiled_preview": true}})',
                field="tiled_preview",
                request=i,
            )
        if req.get("image_format", "png") != "png":
            raise JobError(
                "image_format must be png in a job file (sprites are written as PNG files)",
                field="image_format",
                request=i,
            )
        wire = {**req, "op": op, "id": f"{name}#{i}"}
        try:
            call = proto.parse_request(wire, "json", catalog)
        except PixelspriteError as e:
            e.request = i  # type: ignore[attr-defined]
            raise
        if options.tiled_preview:
            _check_tiles(call, i)
        sprites += _sprites_of(call)
        if sprites > limits.max_sprites:
            raise JobError(
                f"the job asks for {sprites} sprites so far (up to requests[{i}]); the limit is "
                f"{limits.max_sprites} per job",
                field="count",
                request=i,
            )
        pixels += _output_pixels(call, options, i)
        if pixels > limits.max_output_pixels:
            raise JobError(
                f"the job's images would hold {pixels} pixels so far (up to requests[{i}]; sprites and "
                f"sheets after output.scale {options.scale}); the limit is {limits.max_output_pixels} "
                "per job: lower output.scale or count, or split the job",
                field="output.scale",
                request=i,
            )
        calls.append((req, call))
    return _Job(name, _sha256(data), tuple(calls), options)


def _check_tiles(call: proto.Call, i: int) -> None:
    """With ``output.tiled_preview``, a request that writes sprites must ask a tile model (capabilities: tiling)."""
    caps = call.model
    if isinstance(call.request, api.PaletteRequest) or caps is None or caps.caps.tiling:
        return
    raise JobError(
        f"output.tiled_preview shows tiles repeated 3x3, and requests[{i}]'s model {caps.name!r} ({caps.family}) "
        "does not make tiles that repeat seamlessly; ask a tile model (the protocol's models answer says "
        '"tiling": true) or put this request in a job without tiled_preview',
        field="output.tiled_preview",
        request=i,
    )


def _output_pixels(call: proto.Call, options: OutputOptions, i: int) -> int:
    """Pixels of the images a request will write (0 for a palette); JobError if one of its sheets is too large."""
    req, caps = call.request, call.model
    if isinstance(req, api.PaletteRequest) or caps is None:
        return 0
    n, w, h, s = _sprites_of(call), caps.width, caps.height, options.scale
    total = 0
    if options.layout in ("sprites", "both"):
        total += n * w * h * s * s
    if options.layout in ("sheet", "both"):
        cols = options.columns or _layout_columns(req, n)
        _, sheet_h, sheet_w = sheet_shape(n, h, w, columns=cols, gutter=options.gutter, scale=s)
        try:
            check_output_size(
                sheet_w,
                sheet_h,
                what=f"requests[{i}]'s sheet",
                field="output.scale",
                advice='lower output.scale, output.gutter or count, or use layout "sprites"',
            )
        except PixelspriteError as e:
            raise JobError(e.message, field=e.field, request=i) from None
        total += sheet_w * sheet_h
    if options.tiled_preview:
        _, sheet_h, sheet_w = tiled_preview_shape(n, h, w, columns=options.columns, gutter=options.gutter, scale=s)
        try:
            check_output_size(
                sheet_w,
                sheet_h,
                what=f"requests[{i}]'s tiled preview",
                field="output.scale",
                advice="lower output.scale, output.gutter or count, or drop output.tiled_preview",
            )
        except PixelspriteError as e:
            raise JobError(e.message, field=e.field, request=i) from None
        total += sheet_w * sheet_h
    return total


def _layout_columns(req: Any, n: int) -> int:
    """The sheet columns the request's result will ask for (its ``layout``): a strip, a grid, else square-ish."""
    if isinstance(req, api.InterpolateRequest):
        return n
    if isinstance(req, api.GridRequest):
        return int(req.cols)
    return math.ceil(math.sqrt(n))


def _sprites_of(call: proto.Call) -> int:
    req = call.request
    if isinstance(req, api.PaletteRequest):  # samples drawn (none when the colours come from given sprites)
        return 0 if req.sprites is not None else int(req.count)
    if isinstance(req, api.GridRequest):
        return int(req.rows) * int(req.cols)
    if isinstance(req, api.DecodeRequest):
        return int(np.asarray(req.latents).shape[0])
    n = getattr(req, "count", 1)
    return int(n) if isinstance(n, int) else 1


def _fill(pattern: str, values: Mapping[str, Any]) -> str:
    return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), pattern)


class Watcher:
    """Process job files from ``inbox`` into ``outbox``; one worker thread runs jobs in arrival order.

    Use :meth:`run_once` to process the backlog and return, or :meth:`start` / :meth:`stop` (or ``with``) to
    keep watching with a watchdog observer. Bad jobs are reported in ``failed/`` and the watcher goes on.

    Args:
        inbox: the folder job files are dropped into (``done/`` and ``failed/`` are made inside it).
        outbox: the folder job output folders and the journal are written to.
        registry: model bundles (default: the request layer's default registry).
        settle_s: seconds a job file's size and mtime must stay unchanged before it is read.
        limits: per-job limits.
        progress: a stream for one human progress line per job (e.g. ``sys.stderr`` on a terminal), or None for
            structured log lines only.
    """

    def __init__(
        self,
        inbox: str | os.PathLike[str],
        outbox: str | os.PathLike[str],
        *,
        registry: Registry | None = None,
        settle_s: float = 0.5,
        limits: WatchLimits | None = None,
        progress: TextIO | None = None,
    ) -> None:
        self.inbox = Path(inbox).resolve()
        self.outbox = Path(outbox).resolve()
        if self.outbox == self.inbox or self.inbox in self.outbox.parents:
            raise InvalidRequest("the outbox may not be the inbox or inside it", field="out")
        for folder, fld in ((self.inbox, "inbox"), (self.outbox, "out")):
            if folder.exists() and not folder.is_dir():
                raise InvalidRequest(f"{fld} {str(folder)!r} is not a folder", field=fld)
        self.registry = registry or api.default_registry()
        self.settle_s = settle_s
        self.limits = limits or WatchLimits()
        self.progress = progress
        self.stats = _Stats()
        self._catalog: proto.Catalog | None = None
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._observer: Any = None
        self._seen: dict[str, tuple[int, int]] = {}
        self._attempts: dict[tuple[str, str], int] = {}
        for d in (self.inbox, self.inbox / "done", self.inbox / "failed", self.outbox):
            d.mkdir(parents=True, exist_ok=True)
        self._recover()

    # ------------------------------------------------------------------------------------------ lifecycle
    def __enter__(self) -> Watcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Watcher:
        """Start the observer and the worker thread (the backlog is processed first)."""
        from watchdog.events import FileSystemEvent, FileSystemEventHandler
        from watchdog.observers import Observer

        wake = self._wake

        class _Handler(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                wake.set()  # the worker rescans the inbox; events only say "look again"

        self._observer = Observer()
        self._observer.schedule(_Handler(), str(self.inbox), recursive=False)
        self._observer.start()
        self._thread = threading.Thread(target=self._loop, name="pixelsprite-watch", daemon=True)
        self._thread.start()
        self._wake.set()
        log_event(log, logging.INFO, "watch", inbox=str(self.inbox), outbox=str(self.outbox))
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop watching: the job in progress finishes (or is resumed on the next start), then threads end."""
        self._stopping.set()
        self._wake.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout)
            self._observer = None
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wait(self) -> None:
        """Block until :meth:`stop` is called from another thread (or a signal handler)."""
        while True:
            thread = self._thread  # stop() may clear it meanwhile
            if thread is None or not thread.is_alive():
                return
            thread.join(0.5)

    def run_once(self, *, timeout: float | None = None) -> _Stats:
        """Process every job file in the inbox (waiting for settling files, up to ``timeout`` s), then return."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            pending = self._scan_and_run()
            if not pending or (deadline is not None and time.monotonic() >= deadline):
                return self.stats
            time.sleep(min(self.settle_s, 0.1) or 0.01)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            pending = 0
            try:
                pending = self._scan_and_run()
            except Exception:  # never let one surprise stop the watcher
                log.exception("watcher scan failed")
            self._wake.wait(max(0.05, min(self.settle_s, 0.25)) if pending else 5.0)

    # ------------------------------------------------------------------------------------------ scanning
    def _candidates(self) -> list[Path]:
        out = []
        try:
            entries = list(os.scandir(self.inbox))
        except FileNotFoundError:
            return []
        for e in entries:
            if e.name.startswith(".") or e.name.endswith(_IGNORED_SUFFIXES) or e.name.endswith(".error.json"):
                continue
            if not e.name.endswith(JOB_SUFFIXES):
                continue
            if not e.is_file(follow_symlinks=False):
                if e.is_symlink():
                    out.append(Path(e.path))  # refused in _run_file, so that it is reported and moved aside
                continue
            out.append(Path(e.path))
        return out

    def _scan_and_run(self) -> int:
        """Run every settled job file, oldest first; returns how many files are still settling."""
        ready: list[tuple[int, str, Path]] = []
        pending = 0
        now = time.time_ns()
        seen: dict[str, tuple[int, int]] = {}
        for path in self._candidates():
            try:
                st = path.lstat()
            except FileNotFoundError:
                continue
            sig = (st.st_size, st.st_mtime_ns)
            seen[path.name] = sig
            settled = (now - st.st_mtime_ns) >= self.settle_s * 1e9 and self._seen.get(path.name) == sig
            if settled or (self.settle_s <= 0):
                ready.append((st.st_mtime_ns, path.name, path))
            else:
                pending += 1
        self._seen = seen
        for _, _, path in sorted(ready):
            if self._stopping.is_set():
                break
            self._run_file(path)
        return pending

    # ---------------------------------------------------------------------------------------------- jobs
    def catalog(self) -> proto.Catalog:
        if self._catalog is None:
            self._catalog = build_catalog(self.registry)
        return self._catalog

    def _journal(self, **entry: Any) -> None:
        line = json.dumps({"ts": round(time.time(), 3), **entry}, separators=(",", ":")) + "\n"
        fd = os.open(self.outbox / JOURNAL, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
        try:
            os.write(fd, line.encode())  # one O_APPEND write: whole lines, kept by the kernel if the process dies
        finally:
            os.close(fd)

    def journal(self) -> list[dict[str, Any]]:
        """The journal's entries, oldest first (a torn last line from a crash is skipped)."""
        try:
            lines = (self.outbox / JOURNAL).read_text().splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out

    def _recover(self) -> None:
        """Remove staging folders of jobs a crash interrupted; their job files are still in the inbox."""
        staging = self.outbox / STAGING
        if staging.is_dir():
            for d in staging.iterdir():
                shutil.rmtree(d, ignore_errors=True)
        attempts: dict[tuple[str, str], int] = {}
        for e in self.journal():
            key = (str(e.get("job")), str(e.get("sha256")))
            if e.get("state") == "started":
                attempts[key] = attempts.get(key, 0) + 1
            else:  # done or failed: its earlier attempts are settled
                attempts.pop(key, None)
        self._attempts = attempts
        for (job, sha), n in attempts.items():
            log_event(log, logging.INFO, "resume", job=job, sha256=sha, attempts=n)

    def _committed(self, name: str, sha: str) -> bool | None:
        """True: ``OUTBOX/name`` holds this job's outputs; False: it holds another job's; None: absent."""
        manifest = self.outbox / name / "manifest.json"
        if not (self.outbox / name).exists():
            return None
        try:
            return bool(json.loads(manifest.read_text()).get("job_sha256") == sha)
        except (OSError, ValueError):
            return False

    def _move(self, path: Path, folder: str) -> None:
        try:
            os.replace(path, self.inbox / folder / path.name)
        except FileNotFoundError:
            pass

    def _run_file(self, path: Path) -> None:
        name, suffix = _split_name(path.name)
        t0 = time.perf_counter()
        sha = ""
        try:
            if not _NAME.match(name):
                raise JobError(
                    f"job name {name[:60]!r} must be 1 to 100 letters, digits, '.', '_' or '-', "
                    "starting with a letter or digit",
                    field="job",
                )
            data = self._read_job(path)
            sha = _sha256(data)
            state = self._committed(name, sha)
            if state is True:  # done before a crash that came before the move: never run twice
                self._journal(job=name, sha256=sha, state="done", note="already committed")
                self._move(path, "done")
                self.stats.skipped += 1
                log_event(log, logging.INFO, "job", job=name, outcome="already_done")
                return
            if state is False:
                raise JobError(
                    f"the output folder {name!r} already holds another job's outputs; rename the job "
                    "file or remove that folder",
                    field="job",
                )
            attempts = self._attempts.get((name, sha), 0)
            if attempts >= self.limits.max_attempts:
                raise TooManyAttempts(
                    f"the job was started {attempts} times and never finished (the watcher stopped or crashed while "
                    "running it each time); it is set aside so the jobs after it can run. Find the cause (memory? "
                    "time?) and drop it again",
                    field="job",
                )
            self._attempts[(name, sha)] = attempts + 1
            self._journal(job=name, sha256=sha, state="started", attempt=attempts + 1)
            job = parse_job(name, data, self.catalog(), self.limits, toml=suffix == ".toml")
            sprites = self._execute(job, t0)
        except PixelspriteError as e:
            self._fail(path, name, sha, e)
            return
        except OSError as e:
            self._fail(path, name, sha, JobError(f"file system error: {e.strerror or e}", field="job"))
            return
        except Exception as e:  # a bug must not wedge the inbox: report the job as failed and go on
            log.exception("job %s failed unexpectedly", name[:100])
            self._fail(path, name, sha, PixelspriteError(f"internal error: {type(e).__name__}: {str(e)[:200]}"))
            return
        self._journal(job=name, sha256=sha, state="done", sprites=sprites)
        self._attempts.pop((name, sha), None)
        self._move(path, "done")
        dt = time.perf_counter() - t0
        self.stats.done += 1
        self.stats.sprites += sprites
        self.stats.seconds += dt
        self.stats.names.append(name)
        log_event(log, logging.INFO, "job", job=name, outcome="done", sprites=sprites, ms=round(dt * 1000, 1))
        self._progress(f"done   {name}: {sprites} sprites in {dt:.2f}s")

    def _read_job(self, path: Path) -> bytes:
        """The job file's bytes: opened without following a symbolic link (O_NOFOLLOW: no check-then-open race),
        a regular file, at most ``max_job_bytes`` (the error gives the file's own size)."""
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)  # a FIFO must not block
        try:
            fd = os.open(path, flags)
        except OSError as e:
            if e.errno == errno.ELOOP:  # what O_NOFOLLOW gives for a symbolic link
                raise JobError("job files may not be symbolic links", field="job") from None
            raise
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise JobError("the job file is not a regular file", field="job")
            if st.st_size > self.limits.max_job_bytes:
                raise JobError(
                    f"the job file has {st.st_size} bytes; the limit is {self.limits.max_job_bytes}", field="job"
                )
            data = f.read(self.limits.max_job_bytes + 1)
            if len(data) > self.limits.max_job_bytes:  # it grew while being read
                size = os.fstat(f.fileno()).st_size
                raise JobError(
                    f"the job file has {max(size, len(data))} bytes; the limit is {self.limits.max_job_bytes}",
                    field="job",
                )
        return data

    def _progress(self, text: str) -> None:
        if self.progress is not None:
            s = self.stats
            print(f"[{s.done} done, {s.failed} failed, {s.sprites} sprites] {text}", file=self.progress, flush=True)

    def _fail(self, path: Path, name: str, sha: str, error: PixelspriteError) -> None:
        doc = {"job": path.name, "sha256": sha or None, **error.to_dict(), "request": getattr(error, "request", None)}
        safe = name if _NAME.match(name) else "job-" + secrets.token_hex(4)
        suffix = _split_name(path.name)[1]
        failed = self.inbox / "failed"
        stem, k = safe, 1
        while (failed / f"{stem}.error.json").exists() or (failed / f"{stem}{suffix}").exists():
            k += 1  # an earlier failure of a job with this name: keep both
            stem = f"{safe}-{k}"
        write_bytes_atomic(failed / f"{stem}.error.json", (json.dumps(doc, indent=2) + "\n").encode())
        self._journal(job=name[:100], sha256=sha or None, state="failed", code=error.code, field=error.field)
        self._attempts.pop((name, sha), None)
        try:
            os.replace(path, failed / f"{stem}{suffix}")
        except FileNotFoundError:
            pass
        self.stats.failed += 1
        log_event(log, logging.WARNING, "job", job=name[:100], outcome="failed", **error.to_dict())
        self._progress(f"failed {name[:100]}: {error.code} ({error.field}): {error.message}")

    def _execute(self, job: _Job, t0: float) -> int:
        """Run a validated job into a staging folder, then rename it into place (the commit point)."""
        staging = self.outbox / STAGING / f"{job.name}.{secrets.token_hex(4)}"
        staging.mkdir(parents=True)
        try:
            sprites, entries = 0, []
            for i, (raw, call) in enumerate(job.calls):
                assert call.request is not None
                try:
                    result = api.handle(call.request, registry=self.registry)
                except PixelspriteError as e:
                    e.request = i  # type: ignore[attr-defined]
                    raise
                if isinstance(result, api.PaletteResult):
                    entries.append(self._write_palette(staging, job, i, raw, result))
                    continue
                assert isinstance(result, api.SpriteResult)
                entry = self._write_request(staging, job, i, raw, call, result)
                entries.append(entry)
                sprites += len(result)
            info = {b.name: b for b in self.registry.bundles()}
            models = {}
            for entry in entries:
                b = info.get(entry["model"]) if entry["model"] is not None else None
                if b is not None:
                    models[b.name] = {
                        "family": b.family,
                        "format_version": b.manifest.format_version,
                        "graphs": {r: g.sha256 for r, g in b.manifest.graphs.items()},
                    }
            manifest = {
                "job": job.name,
                "job_sha256": job.sha256,
                "pixelsprite": pixelsprite.__version__,
                "output": {
                    "layout": job.output.layout,
                    "name": job.output.name,
                    "scale": job.output.scale,
                    **({"tiled_preview": True} if job.output.tiled_preview else {}),
                },
                "models": models,
                "requests": entries,
                "sprites": sprites,
                "timing": {"seconds": round(time.perf_counter() - t0, 4)},
            }
            write_bytes_atomic(staging / "manifest.json", (json.dumps(manifest, indent=2) + "\n").encode())
            os.rename(staging, self.outbox / job.name)  # atomic; fails if the folder appeared meanwhile
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return sprites

    def _write_palette(
        self, folder: Path, job: _Job, i: int, raw: dict[str, Any], result: api.PaletteResult
    ) -> dict[str, Any]:
        """A proposed palette: its file in the request's ``format``, the job's ``palette_formats`` and a swatch."""
        files: list[dict[str, Any]] = []
        outputs = {result.format: result.file}
        for fmt in job.output.palette_formats:
            outputs.setdefault(fmt, encode_palette(result.palette, fmt))
        for fmt, data in [*outputs.items(), ("swatch", result.swatch_png)]:
            fname = f"{job.name}-{i}-swatch.png" if fmt == "swatch" else f"{job.name}-{i}-palette.{fmt}"
            write_bytes_atomic(folder / fname, data)
            files.append(
                {
                    "path": fname,
                    "sha256": _sha256(data),
                    "bytes": len(data),
                    "kind": "swatch" if fmt == "swatch" else "palette",
                    "format": fmt,
                }
            )
        colors = ["#" + bytes(int(v) for v in c).hex() for c in result.palette.colors]
        return {
            "index": i,
            "op": "palette",
            "request": _manifest_request(raw),
            "model": result.model,
            "base_seed": result.base_seed,
            "sample_count": result.sample_count,
            "colors": colors,
            "seconds": round(result.elapsed_s, 4),
            "files": files,
        }

    def _write_request(
        self, folder: Path, job: _Job, i: int, raw: dict[str, Any], call: proto.Call, result: api.SpriteResult
    ) -> dict[str, Any]:
        opt = job.output
        files: list[dict[str, Any]] = []

        def put(fname: str, data: bytes, **extra: Any) -> None:
            if any(f["path"] == fname for f in files) or (folder / fname).exists():
                raise JobError(
                    f"output.name makes the file name {fname!r} twice; add {{index}} or {{request}}",
                    field="output.name",
                    request=i,
                )
            write_bytes_atomic(folder / fname, data)
            files.append({"path": fname, "sha256": _sha256(data), "bytes": len(data), **extra})

        sprites = result.sprites
        names = []
        for k, seed in enumerate(result.seeds):
            values = {
                "job": job.name,
                "request": i,
                "index": k,
                "seed": "" if seed is None else seed,
                "op": call.op,
                "model": result.model,
            }
            names.append(_safe_file_name(_fill(opt.name, values), "output.name"))
        if opt.layout in ("sprites", "both"):
            for k, (stem, seed) in enumerate(zip(names, result.seeds, strict=True)):
                rgba = sprites[k]
                if opt.scale > 1:
                    rgba = np.repeat(np.repeat(rgba, opt.scale, axis=0), opt.scale, axis=1)
                put(stem + ".png", encode_png(rgba), kind="sprite", index=k, seed=seed)
        if opt.layout in ("sheet", "both"):
            rows, cols = result.layout
            ncols = opt.columns or (cols if cols > 0 else math.ceil(math.sqrt(len(result))))
            ncols = min(ncols, len(result))
            sheet = compose_sheet(sprites, columns=ncols, gutter=opt.gutter, scale=opt.scale)
            stem = _safe_file_name(f"{job.name}-{i}-sheet", "the job name")
            h, w = int(sprites.shape[1]), int(sprites.shape[2])
            desc = sheet_description(
                names,
                stem + ".png",
                (w, h),
                columns=ncols,
                gutter=opt.gutter,
                scale=opt.scale,
                app_version=pixelsprite.__version__,
            )
            put(stem + ".png", encode_png(sheet), kind="sheet")
            put(stem + ".json", (json.dumps(desc, indent=2) + "\n").encode(), kind="sheet_description")
        if opt.tiled_preview:
            preview = compose_tiled_preview(sprites, columns=opt.columns, gutter=opt.gutter, scale=opt.scale)
            put(_safe_file_name(f"{job.name}-{i}-tiled.png", "the job name"), encode_png(preview), kind="tiled_preview")
        palette = getattr(call.request, "palette", None)
        if palette is not None:
            for fmt in opt.palette_formats:
                put(f"{job.name}-{i}-palette.{fmt}", encode_palette(palette, fmt), kind="palette", format=fmt)
        return {
            "index": i,
            "op": call.op,
            "request": _manifest_request(raw),
            "model": result.model,
            "count": len(result),
            "size": [int(sprites.shape[2]), int(sprites.shape[1])],
            "base_seed": result.base_seed,
            "seeds": list(result.seeds),
            "layout": list(result.layout),
            "seconds": round(result.elapsed_s, 4),
            "files": files,
        }


def _manifest_request(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The request as given, with long strings (base64 images) replaced by their length and hash."""

    def short(v: Any) -> Any:
        if isinstance(v, str) and len(v) > 200:
            return {"bytes_base64": len(v), "sha256": _sha256(v.encode())}
        if isinstance(v, list):
            return [short(x) for x in v]
        if isinstance(v, dict):
            return {k: short(x) for k, x in v.items()}
        return v

    return {k: short(v) for k, v in raw.items()}


def watch_main(
    inbox: str,
    outbox: str,
    *,
    registry: Registry,
    once: bool,
    settle_s: float,
    log_format: str,
    max_sprites: int,
    stream: TextIO | None = None,
) -> int:
    """The ``pixelsprite watch`` command: 0 when every job succeeded, 2 when one failed (with ``--once``)."""
    from .logs import configure_logging

    configure_logging(log_format)
    out = stream if stream is not None else sys.stderr
    progress = out if out.isatty() else None
    watcher = Watcher(
        inbox,
        outbox,
        registry=registry,
        settle_s=settle_s,
        limits=WatchLimits(max_sprites=max_sprites),
        progress=progress,
    )
    if once:
        stats = watcher.run_once()
        log_event(
            log,
            logging.INFO,
            "summary",
            done=stats.done,
            failed=stats.failed,
            skipped=stats.skipped,
            sprites=stats.sprites,
        )
        return 0 if stats.failed == 0 else 2
    import signal

    def _stop(signum: int, frame: Any) -> None:
        threading.Thread(target=watcher.stop, daemon=True).start()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    watcher.start()
    watcher.wait()
    return 0
