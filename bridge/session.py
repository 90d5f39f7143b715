"""The bridge's session core, Sans-I/O: events in, actions out; no sockets, no event loop, no threads, no clock.

:class:`Session` holds what the server decides about requests: admission (the per-connection and queue limits),
the ids in flight on each connection (a duplicate is refused), first-answer-wins cancel, which queued ``generate``
requests run together as one micro-batch, when work starts on a free worker, and the answers of a shutdown. The
asyncio server (:mod:`bridge.server`) is a thin driver around it: it turns what happens on its sockets, worker
threads and timers into calls of the event methods and performs the actions they return, in order::

    session = Session(limits=Limits(), workers=2)
    call = parse(frame, catalog, limits)             # pure: a proto.Call, or a Rejected frame
    for action in session.receive(conn=1, parsed=call):
        match action:
            case Send(conn, frame):   ...            # send this frame to connection `conn`
            case Start(batch):        ...            # run batch.jobs on a worker, then report session.finished(...)
            case Stop(job):           ...            # ask the running job to stop (between chunks or steps)
            case Describe(conn, call): ...           # answer hello / models from the catalog
            case Log(event, fields):  ...            # one log line

Events (each returns the list of actions): :meth:`Session.receive` (a parsed frame), :meth:`Session.progress` (a
worker reports progress), :meth:`Session.finished` and :meth:`Session.failed` (a batch is done), :meth:`Session.closed`
(a connection went away), :meth:`Session.shutdown` (stop admitting) and :meth:`Session.expire` (the grace period is
over: cancel what is left). A job is answered once: the first final answer (result, error, ``cancelled``,
``shutting_down``) is sent, later ones are dropped, and its id is free again on its connection at once.

The codec stays in :mod:`bridge.protocol`; frames are encoded by the caller (results and progress on the worker
threads, where PNG encoding belongs) or here (error and cancel answers, which are small).
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pixelsprite.errors import PixelspriteError

from . import protocol as proto
from .errors import Busy, Cancelled, ShuttingDown

__all__ = [
    "Session", "Job", "Batch", "Rejected", "parse",
    "Action", "Send", "Start", "Stop", "Describe", "Log",
]  # fmt: skip

Frame = str | bytes
JobState = Literal["queued", "running", "answered", "dropped"]


# ------------------------------------------------------------------------------------------------- inputs
@dataclass(frozen=True)
class Rejected:
    """A frame that failed decoding or validation: the error and what is needed to address its answer."""

    id: str | None
    error: PixelspriteError
    encoding: proto.Encoding


def parse(frame: Frame, catalog: proto.Catalog, limits: proto.Limits) -> proto.Call | Rejected:
    """A frame -> a validated :class:`~bridge.protocol.Call`, or :class:`Rejected` (never raises a
    :class:`~pixelsprite.errors.PixelspriteError`). Pure; the server runs it on a helper thread for large frames."""
    encoding: proto.Encoding = "json" if isinstance(frame, str) else "msgpack"
    obj: Any = None
    try:
        obj, encoding = proto.decode_frame(frame)
        proto.check_frame_size(frame, limits)  # decoded first, so the error carries the request's id
        return proto.parse_request(obj, encoding, catalog)
    except PixelspriteError as e:
        return Rejected(proto.request_id(obj), e, encoding)


@dataclass(eq=False)
class Job:
    """One admitted request (a sprite, latent or teacher operation) and where it stands.

    ``state``: ``queued`` (waiting for a worker), ``running`` (in a started :class:`Batch`), ``answered`` (its
    final answer went out; ``outcome`` says which: ``result`` or an error code), ``dropped`` (its connection closed
    first; ``outcome`` ``dropped``).
    """

    conn: int
    call: proto.Call
    received: float = 0.0
    state: JobState = "queued"
    outcome: str = ""

    @property
    def id(self) -> str:
        return self.call.id

    @property
    def sprites(self) -> int:
        """The sprites it makes (its share of a micro-batch)."""
        return int(getattr(self.call.request, "count", 1))

    @property
    def done(self) -> bool:
        return self.state in ("answered", "dropped")


@dataclass(eq=False)
class Batch:
    """Jobs run as one worker call: one job, or several compatible ``generate`` jobs (a micro-batch)."""

    jobs: tuple[Job, ...]

    def __len__(self) -> int:
        return len(self.jobs)


# ------------------------------------------------------------------------------------------------ actions
@dataclass(frozen=True)
class Send:
    """Send ``frame`` on connection ``conn``. ``answered`` is the job this frame is the final answer of (for the
    request log line), else None (progress, errors of unadmitted frames, catalog and cancel answers)."""

    conn: int
    frame: Frame
    answered: Job | None = None


@dataclass(frozen=True)
class Start:
    """Run ``batch`` on a free worker; report :meth:`Session.finished` (or :meth:`Session.failed`) when done."""

    batch: Batch


@dataclass(frozen=True)
class Stop:
    """The running ``job`` is answered or abandoned: ask its worker to stop at the next chunk or sampler step."""

    job: Job


@dataclass(frozen=True)
class Describe:
    """Answer ``call`` (``hello`` or ``models``) on connection ``conn`` from the catalog."""

    conn: int
    call: proto.Call


@dataclass(frozen=True)
class Log:
    """One structured log line (:func:`bridge.logs.log_event`), at INFO."""

    event: str
    fields: dict[str, Any] = field(default_factory=dict)


Action = Send | Start | Stop | Describe | Log


# ------------------------------------------------------------------------------------------------ session
class Session:
    """The bridge's request bookkeeping for all connections of one server (see the module docstring).

    Args:
        limits: ``max_inflight`` (per connection) and ``max_queue`` (waiting requests, all connections).
        workers: batches that run at once; a :class:`Start` is emitted only while fewer are running.
        batching: merge compatible queued ``generate`` requests (equal :attr:`~bridge.protocol.Call.batch_key`).
        max_batch_sprites: the most sprites one micro-batch makes.
        chunk_sprites: a generate larger than this runs alone (in chunks, with progress and cancel).
    """

    def __init__(
        self,
        *,
        limits: proto.Limits = proto.Limits(),  # noqa: B008 - frozen
        workers: int = 2,
        batching: bool = True,
        max_batch_sprites: int = 256,
        chunk_sprites: int = 128,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.limits = limits
        self.workers = workers
        self.batching = batching
        self.max_batch_sprites = max_batch_sprites
        self.chunk_sprites = chunk_sprites
        self.stopping = False
        self.stats = {"requests": 0, "batches": 0, "batched_requests": 0, "busy": 0, "errors": 0}
        self._queue: collections.deque[Job] = collections.deque()
        self._running: list[Batch] = []
        self._inflight: dict[int, dict[str, Job]] = {}  # connection -> request id -> unanswered job

    # ------------------------------------------------------------------------------------------- queries
    @property
    def queued(self) -> int:
        """Jobs waiting for a worker."""
        return len(self._queue)

    @property
    def running(self) -> int:
        """Batches on a worker (answered or not)."""
        return len(self._running)

    def inflight(self, conn: int | None = None) -> list[Job]:
        """Unanswered jobs, queued or running, of connection ``conn`` (of all connections when None)."""
        if conn is not None:
            return list(self._inflight.get(conn, {}).values())
        return [j for jobs in self._inflight.values() for j in jobs.values()]

    @property
    def idle(self) -> bool:
        """Nothing queued, running or unanswered: shutdown need not wait any longer."""
        return not self._queue and not self._running and not any(self._inflight.values())

    # -------------------------------------------------------------------------------------------- events
    def receive(self, conn: int, parsed: proto.Call | Rejected, received: float = 0.0) -> list[Action]:
        """A frame arrived on ``conn`` and was parsed (:func:`parse`); ``received`` is the driver's clock reading
        (kept on the job, for its timing)."""
        self.stats["requests"] += 1
        if isinstance(parsed, Rejected):
            return self._refuse(conn, parsed.id, parsed.error, parsed.encoding)
        call = parsed
        if self.stopping and call.op != "cancel":
            return self._refuse(
                conn, call.id, ShuttingDown("the server is shutting down and takes no new requests"), call.encoding
            )
        if call.op in ("hello", "models"):
            return [Describe(conn, call)]
        if call.op == "cancel":
            return self._cancel_request(conn, call)
        jobs = self._inflight.setdefault(conn, {})
        error: PixelspriteError | None = None
        if call.id in jobs:
            error = proto.InvalidRequest(
                f"a request with id {call.id!r} is already in flight on this connection", field="id"
            )
        elif len(jobs) >= self.limits.max_inflight:
            error = Busy(f"this connection has {len(jobs)} requests in flight, the limit; wait for an answer")
        elif len(self._queue) >= self.limits.max_queue:
            error = Busy(f"the server is busy ({len(self._queue)} requests queued, the limit); retry shortly")
        if error is not None:
            return self._refuse(conn, call.id, error, call.encoding)
        job = Job(conn, call, received)
        jobs[call.id] = job
        self._queue.append(job)
        return self._schedule()

    def progress(self, job: Job, frame: Frame) -> list[Action]:
        """A worker reports progress of ``job`` (``frame``: the encoded progress answer). Sent only while the job
        is unanswered: progress never follows a final answer."""
        return [] if job.done else [Send(job.conn, frame)]

    def finished(self, batch: Batch, answers: Sequence[tuple[Frame, str]]) -> list[Action]:
        """A started batch is done: ``answers`` holds each job's encoded final answer and its outcome (``result``
        or an error code), in the batch's order. Jobs answered meanwhile (cancelled, shut down, disconnected) keep
        their first answer. The worker is free for the next batch."""
        if len(answers) != len(batch.jobs):
            raise ValueError(f"{len(answers)} answers for a batch of {len(batch.jobs)}")
        if batch not in self._running:
            raise ValueError("this batch is not running (never started, or reported twice)")
        self._running.remove(batch)
        actions: list[Action] = []
        for job, (frame, outcome) in zip(batch.jobs, answers):
            actions += self._answer(job, frame, outcome)
        return actions + self._schedule()

    def failed(self, batch: Batch, error: PixelspriteError) -> list[Action]:
        """A started batch failed as a whole (the worker pool is gone, or the driver's own error): each job that is
        still unanswered is answered with ``error``."""
        answers = [(_error_frame(j.id, error, j.call.encoding), error.code) for j in batch.jobs]
        return self.finished(batch, answers)

    def closed(self, conn: int) -> list[Action]:
        """Connection ``conn`` went away: its queued jobs are dropped, its running ones asked to stop."""
        actions: list[Action] = []
        for job in self._inflight.pop(conn, {}).values():
            if job.state == "running":
                actions.append(Stop(job))
            else:
                _discard(self._queue, job)
            job.state, job.outcome = "dropped", "dropped"
            actions.append(Log("request", {"conn": conn, "id": job.id, "op": job.call.op, "outcome": "dropped"}))
        return actions

    def shutdown(self) -> list[Action]:
        """The server stops admitting requests: from now on everything but ``cancel`` is answered
        ``shutting_down``. Queued work still starts and in-flight work may finish (until :meth:`expire`)."""
        self.stopping = True
        return []

    def expire(self) -> list[Action]:
        """The shutdown's grace period is over: every unanswered job is answered ``shutting_down`` (running ones
        are asked to stop), and the queue is emptied."""
        self.stopping = True
        error = ShuttingDown("the server is shutting down; the request was cancelled")
        actions: list[Action] = []
        for job in self.inflight():
            actions += self._cancel(job, error)
        self._queue.clear()
        return actions

    # ------------------------------------------------------------------------------------------- helpers
    def _refuse(self, conn: int, rid: str | None, error: PixelspriteError, encoding: proto.Encoding) -> list[Action]:
        """An error answer for a frame that was not admitted (the connection and the session go on)."""
        self.stats["errors"] += 1
        if isinstance(error, Busy):
            self.stats["busy"] += 1
        log = Log("rejected", {"conn": conn, "id": rid, "code": error.code, "field": error.field})
        return [log, Send(conn, _error_frame(rid, error, encoding))]

    def _cancel_request(self, conn: int, call: proto.Call) -> list[Action]:
        target = self._inflight.get(conn, {}).get(call.params["target"])
        actions: list[Action] = []
        if target is not None:
            actions = self._cancel(target, Cancelled(f"request {target.id!r} was cancelled", field="id"))
        answer = proto.encode_frame(proto.cancel_message(call, target is not None), call.encoding)
        return [*actions, Send(conn, answer)]

    def _cancel(self, job: Job, error: PixelspriteError) -> list[Action]:
        """Answer an unanswered ``job`` with ``error`` now (first answer wins), stopping or unqueueing it."""
        stop: list[Action] = [Stop(job)] if job.state == "running" else []
        _discard(self._queue, job)
        return stop + self._answer(job, _error_frame(job.id, error, job.call.encoding), error.code)

    def _answer(self, job: Job, frame: Frame, outcome: str) -> list[Action]:
        if job.done:
            return []
        job.state, job.outcome = "answered", outcome
        jobs = self._inflight.get(job.conn, {})
        if jobs.get(job.id) is job:
            del jobs[job.id]  # the id is free again on this connection
        return [Send(job.conn, frame, answered=job)]

    def _schedule(self) -> list[Action]:
        """Start batches while a worker is free and work is queued."""
        actions: list[Action] = []
        while self._queue and len(self._running) < self.workers:
            batch = self._take_batch()
            for job in batch.jobs:
                job.state = "running"
            self._running.append(batch)
            if len(batch) > 1:
                self.stats["batches"] += 1
                self.stats["batched_requests"] += len(batch)
            actions.append(Start(batch))
        return actions

    def _take_batch(self) -> Batch:
        """The batch choice: the oldest queued job, and with it (when batching) the queued jobs with its batch key,
        oldest first, up to ``max_batch_sprites`` sprites, and to the workers' fair share of that queued work."""
        job = self._queue.popleft()
        batch = [job]
        key = job.call.batch_key
        if not (self.batching and key is not None and job.sprites <= self.chunk_sprites):
            return Batch(tuple(batch))
        compatible = [o for o in self._queue if o.call.batch_key == key]
        # share the queued work between the workers rather than piling it all onto this one
        share = -(-(job.sprites + sum(o.sprites for o in compatible)) // self.workers)
        limit = max(job.sprites, min(self.max_batch_sprites, share))
        total = job.sprites
        for other in compatible:
            if total + other.sprites <= limit:
                self._queue.remove(other)
                batch.append(other)
                total += other.sprites
        return Batch(tuple(batch))


def _discard(items: list[Any] | collections.deque[Any], item: Any) -> None:
    """Remove ``item`` from a list or deque if it is there."""
    try:
        items.remove(item)
    except ValueError:
        pass


def _error_frame(rid: str | None, error: PixelspriteError, encoding: proto.Encoding) -> Frame:
    return proto.encode_frame(proto.error_message(rid, error), encoding)
