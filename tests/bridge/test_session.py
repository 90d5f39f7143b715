"""The bridge's session core without sockets, threads or an event loop: frames are parsed with the real codec,
fed to :class:`bridge.session.Session` as events, and the actions it returns are checked (admission and ``busy``,
duplicate ids, first-answer-wins cancel, batch choice, shutdown, errors that never end the session)."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from typing import Any

import msgpack
import pytest

from pixelsprite.families.capabilities import Capabilities, Solver
from pixelsprite_bridge import protocol as proto
from pixelsprite_bridge.session import (
    Action,
    Batch,
    Describe,
    Frame,
    Job,
    Log,
    Rejected,
    Send,
    Session,
    Start,
    Stop,
    parse,
)

VAE = proto.ModelCaps("tiny", Capabilities("vae", operations=("generate", "variations", "interpolate")), 16, 16)
FLOW = proto.ModelCaps(
    "flow",
    Capabilities(
        "flow",
        operations=("generate", "variations"),
        parameters=("label", "steps", "solver"),
        labels=("a", "b"),
        solvers=(Solver("euler", 1, True),),
        steps=(1, 64),
        defaults={"solver": "euler", "steps": 8},
    ),
    16,
    16,
)
CATALOG = proto.Catalog({"tiny": VAE, "flow": FLOW}, "tiny")


def call(limits: proto.Limits = proto.Limits(), **request: Any) -> proto.Call | Rejected:  # noqa: B008 - frozen
    """A request object -> what the server hands the session (a JSON text frame, parsed by the real codec)."""
    return parse(json.dumps(request), CATALOG, limits)


def gen(rid: str, count: int = 3, **more: Any) -> proto.Call | Rejected:
    return call(id=rid, op="generate", count=count, seed=0, **more)


def decode(frame: Frame) -> dict[str, Any]:
    return json.loads(frame) if isinstance(frame, str) else msgpack.unpackb(frame)


def sent(actions: Sequence[Action], conn: int | None = None) -> list[dict[str, Any]]:
    """The decoded frames the actions send (to ``conn`` only, when given), in order."""
    return [decode(a.frame) for a in actions if isinstance(a, Send) and (conn is None or a.conn == conn)]


def started(actions: Sequence[Action]) -> list[Batch]:
    return [a.batch for a in actions if isinstance(a, Start)]


def ids(batch: Batch) -> list[str]:
    return [j.id for j in batch.jobs]


def results(batch: Batch) -> list[tuple[Frame, str]]:
    """What a worker reports for a batch that succeeded."""
    return [(json.dumps({"id": j.id, "type": "result", "batch": len(batch)}), "result") for j in batch.jobs]


def answers(actions: Sequence[Action]) -> list[tuple[str | None, str]]:
    """(id, type or error code) of each frame sent."""
    return [(m["id"], m.get("code", m["type"])) for m in sent(actions)]


# -------------------------------------------------------------------------------------------- catalog answers
def test_hello_and_models_are_described_from_the_catalog() -> None:
    s = Session()
    hello, models = call(id="h", op="hello"), call(id="m", op="models")
    assert s.receive(1, hello) == [Describe(1, hello)]  # type: ignore[arg-type]
    assert s.receive(1, models) == [Describe(1, models)]  # type: ignore[arg-type]
    assert s.stats["requests"] == 2 and s.stats["errors"] == 0


def test_a_rejected_frame_is_answered_and_the_session_goes_on() -> None:
    s = Session()
    malformed = parse("{not json", CATALOG, s.limits)
    assert isinstance(malformed, Rejected)
    actions = s.receive(1, malformed)
    assert answers(actions) == [(None, "malformed_frame")]
    assert [a.event for a in actions if isinstance(a, Log)] == ["rejected"]
    bad = gen("bad", count=0)  # invalid: answered with its id and field
    assert sent(s.receive(1, bad))[0] | {"message": ""} == {
        "id": "bad",
        "type": "error",
        "code": "invalid_request",
        "field": "count",
        "message": "",
    }
    assert len(started(s.receive(1, gen("good")))) == 1
    assert s.stats == {"requests": 3, "batches": 0, "batched_requests": 0, "busy": 0, "errors": 2}


def test_a_message_over_the_limit_is_answered_with_its_id() -> None:
    limits = proto.Limits(max_message_bytes=100)
    s = Session(limits=limits)
    actions = s.receive(1, call(limits, id="big", op="models", pad="x" * 200))
    assert [(m["id"], m["code"], m["field"]) for m in sent(actions)] == [("big", "message_too_large", "message")]


def test_answers_use_the_encoding_of_their_request() -> None:
    s = Session(limits=proto.Limits(max_inflight=1))
    first = parse(msgpack.packb({"id": "a", "op": "generate", "count": 1}), CATALOG, s.limits)
    second = parse(msgpack.packb({"id": "b", "op": "generate", "count": 1}), CATALOG, s.limits)
    s.receive(1, first)
    (busy,) = [a for a in s.receive(1, second) if isinstance(a, Send)]
    assert isinstance(busy.frame, bytes) and msgpack.unpackb(busy.frame)["code"] == "busy"


# ------------------------------------------------------------------------------------------------- admission
def test_work_starts_at_once_while_a_worker_is_free_then_queues() -> None:
    s = Session(workers=2, batching=False)
    (batch_a,) = started(s.receive(1, gen("a")))
    assert ids(batch_a) == ["a"] and batch_a.jobs[0].state == "running"
    assert [ids(b) for b in started(s.receive(1, gen("b")))] == [["b"]]
    assert s.receive(1, gen("c")) == [] and (s.queued, s.running) == (1, 2)
    assert [j.state for j in s.inflight(1)] == ["running", "running", "queued"]
    actions = s.finished(batch_a, results(batch_a))
    assert answers(actions) == [("a", "result")]
    assert [ids(b) for b in started(actions)] == [["c"]]  # the free worker takes the next job


def test_per_connection_limit_answers_busy_other_connections_unaffected() -> None:
    s = Session(workers=1, limits=proto.Limits(max_inflight=2))
    s.receive(1, gen("a", 200))
    s.receive(1, gen("b", 200))
    actions = s.receive(1, gen("c", 200))
    ((rid, code),) = answers(actions)
    assert (rid, code) == ("c", "busy") and "2 requests in flight" in sent(actions)[0]["message"]
    assert answers(s.receive(2, gen("c", 200))) == []  # another connection has its own allowance
    assert s.stats["busy"] == 1 and s.stats["errors"] == 1


def test_global_queue_answers_busy() -> None:
    """(Was a live-server test with six clients; the limit itself is session logic.)"""
    s = Session(workers=1, batching=False, limits=proto.Limits(max_queue=2))
    codes = []
    for conn in range(1, 7):
        actions = s.receive(conn, gen("g", 300))
        codes.append(answers(actions)[0][1] if sent(actions) else "admitted")
    assert codes == ["admitted"] * 3 + ["busy"] * 3  # one running, two queued
    assert (s.running, s.queued, s.stats["busy"]) == (1, 2, 3)


def test_duplicate_in_flight_id_is_refused_until_answered() -> None:
    s = Session(workers=1)
    (batch,) = started(s.receive(1, gen("same", 1024)))
    actions = s.receive(1, gen("same", 1))
    assert [(m["id"], m["code"], m["field"]) for m in sent(actions)] == [("same", "invalid_request", "id")]
    assert started(s.receive(2, gen("same", 1))) == []  # another connection may use it (queued: worker busy)
    s.finished(batch, results(batch))
    assert s.inflight(1) == []
    assert answers(s.receive(1, gen("same", 1))) == []  # answered: the id is free again


# ---------------------------------------------------------------------------------------------- batch choice
def busy_workers(s: Session, n: int) -> list[Batch]:
    """Occupy ``n`` workers with jobs that are never batched (more sprites than a chunk)."""
    return [b for i in range(n) for b in started(s.receive(99, gen(f"big{i}", s.chunk_sprites + 1)))]


def test_compatible_queued_generates_run_as_one_batch() -> None:
    s = Session(workers=1, chunk_sprites=4)
    (big,) = busy_workers(s, 1)
    for i in range(6):
        s.receive(1, gen(f"s{i}"))
    s.receive(1, gen("other", max_colors=0))  # another colour cap: another batch key
    s.receive(2, gen("pal", palette="pico8"))  # a palette: never batched
    first = s.finished(big, results(big))
    (batch,) = started(first)
    assert ids(batch) == [f"s{i}" for i in range(6)] and s.stats == s.stats | {"batches": 1, "batched_requests": 6}
    (other,) = started(s.finished(batch, results(batch)))
    assert ids(other) == ["other"]
    (pal,) = started(s.finished(other, results(other)))
    assert ids(pal) == ["pal"]
    assert [m["batch"] for m in sent(s.finished(pal, results(pal)))] == [1]


def test_batches_are_capped_and_shared_between_the_workers() -> None:
    s = Session(workers=2, chunk_sprites=8, max_batch_sprites=9)
    big0, big1 = busy_workers(s, 2)
    for i in range(8):
        s.receive(1, gen(f"s{i}"))  # 8 jobs of 3 sprites
    # 24 queued sprites for 2 workers: a share of 12, capped at 9 sprites -> 3 jobs
    (first,) = started(s.finished(big0, results(big0)))
    assert ids(first) == ["s0", "s1", "s2"]
    # 15 left: a share of 8 -> 2 jobs (6 sprites; a third would make 9)
    (second,) = started(s.finished(big1, results(big1)))
    assert ids(second) == ["s3", "s4"]


def test_large_sampler_and_unbatched_requests_run_alone() -> None:
    s = Session(workers=1, chunk_sprites=4)
    (big,) = busy_workers(s, 1)
    s.receive(1, gen("large", 5))  # over chunk_sprites: runs alone, in chunks
    s.receive(1, gen("small"))
    s.receive(1, call(id="f1", op="generate", model="flow", count=2, label="a"))  # samples in steps
    s.receive(1, call(id="f2", op="generate", model="flow", count=2, label="a"))
    order = []
    batch = big
    while True:
        nxt = started(s.finished(batch, results(batch)))
        if not nxt:
            break
        (batch,) = nxt
        order.append(ids(batch))
    assert order == [["large"], ["small"], ["f1"], ["f2"]]


def test_batching_off_runs_every_job_alone() -> None:
    s = Session(workers=1, batching=False)
    (big,) = busy_workers(s, 1)
    for i in range(3):
        s.receive(1, gen(f"s{i}"))
    (one,) = started(s.finished(big, results(big)))
    assert ids(one) == ["s0"] and s.stats["batches"] == 0


# --------------------------------------------------------------------------------------------------- cancel
def test_cancel_a_queued_request() -> None:
    """(Was a live-server test.) The target is answered ``cancelled`` first, then the cancel itself; it never runs."""
    s = Session(workers=1, batching=False)
    (first,) = started(s.receive(1, gen("first", 400)))
    s.receive(1, gen("queued"))
    actions = s.receive(1, call(id="c", op="cancel", target="queued"))
    assert answers(actions) == [("queued", "cancelled"), ("c", "result")]
    assert sent(actions)[1]["cancelled"] is True and not any(isinstance(a, Stop) for a in actions)
    assert s.queued == 0
    done = s.finished(first, results(first))
    assert answers(done) == [("first", "result")] and started(done) == []


def test_cancel_a_running_request_stops_it_and_its_late_answer_is_dropped() -> None:
    s = Session(workers=1)
    (batch,) = started(s.receive(1, gen("run", 1024)))
    (job,) = batch.jobs
    assert sent(s.progress(job, json.dumps({"id": "run", "type": "progress"})))[0]["type"] == "progress"
    actions = s.receive(1, call(id="c", op="cancel", target="run"))
    assert Stop(job) in actions and answers(actions) == [("run", "cancelled"), ("c", "result")]
    assert s.progress(job, json.dumps({"id": "run", "type": "progress"})) == []  # never after the final answer
    late = s.finished(batch, [(json.dumps({"id": "run", "type": "error", "code": "cancelled"}), "cancelled")])
    assert sent(late) == [] and s.running == 0 and s.idle
    assert job.outcome == "cancelled"


def test_answer_then_cancel_the_answer_wins() -> None:
    s = Session(workers=1)
    (batch,) = started(s.receive(1, gen("a")))
    assert answers(s.finished(batch, results(batch))) == [("a", "result")]
    actions = s.receive(1, call(id="c", op="cancel", target="a"))
    assert answers(actions) == [("c", "result")] and sent(actions)[0]["cancelled"] is False
    assert not any(isinstance(a, Stop) for a in actions)


def test_cancel_unknown_or_another_connections_request_finds_nothing() -> None:
    s = Session(workers=1)
    s.receive(1, gen("mine", 400))
    for conn, target in ((1, "never-sent"), (2, "mine")):
        actions = s.receive(conn, call(id="c", op="cancel", target=target))
        assert [(m["target"], m["cancelled"]) for m in sent(actions)] == [(target, False)]
    assert [j.id for j in s.inflight(1)] == ["mine"]


def test_a_batch_mate_cancelled_keeps_the_others_answers() -> None:
    s = Session(workers=1, chunk_sprites=4)
    (big,) = busy_workers(s, 1)
    s.receive(1, gen("x"))
    s.receive(2, gen("y"))
    (batch,) = started(s.finished(big, results(big)))
    assert ids(batch) == ["x", "y"]
    s.receive(1, call(id="c", op="cancel", target="x"))
    assert answers(s.finished(batch, results(batch))) == [("y", "result")]


# ------------------------------------------------------------------------------------------------- failures
def test_a_failed_batch_answers_each_job_and_frees_the_worker() -> None:
    from pixelsprite.errors import PixelspriteError

    s = Session(workers=1, chunk_sprites=4)
    (big,) = busy_workers(s, 1)
    s.receive(1, gen("x"))
    s.receive(2, gen("y"))
    s.receive(2, gen("z", max_colors=0))
    (batch,) = started(s.finished(big, results(big)))
    actions = s.failed(batch, PixelspriteError("internal error: boom"))
    assert answers(actions)[:2] == [("x", "internal"), ("y", "internal")]
    assert [ids(b) for b in started(actions)] == [["z"]]


def test_driver_bugs_are_loud() -> None:
    s = Session()
    (batch,) = started(s.receive(1, gen("a")))
    with pytest.raises(ValueError, match="2 answers for a batch of 1"):
        s.finished(batch, results(batch) * 2)
    with pytest.raises(ValueError, match="not running"):
        s.finished(Batch(batch.jobs), results(batch))
    assert answers(s.finished(batch, results(batch))) == [("a", "result")]
    with pytest.raises(ValueError, match="not running"):
        s.finished(batch, results(batch))  # twice


# ------------------------------------------------------------------------------------------------ disconnect
def test_closing_drops_queued_work_and_stops_running_work() -> None:
    s = Session(workers=1, batching=False)
    (batch,) = started(s.receive(1, gen("run", 400)))
    s.receive(1, gen("queued"))
    s.receive(2, gen("other"))
    actions = s.closed(1)
    (running,) = batch.jobs
    assert Stop(running) in actions and sent(actions) == []
    assert sorted(a.fields["id"] for a in actions if isinstance(a, Log)) == ["queued", "run"]
    assert s.progress(running, json.dumps({"id": "run"})) == []
    after = s.finished(batch, results(batch))
    assert sent(after) == [] and [ids(b) for b in started(after)] == [["other"]]  # "queued" never runs


# -------------------------------------------------------------------------------------------------- shutdown
def test_during_shutdown_new_requests_are_refused_but_cancel_works() -> None:
    s = Session(workers=1, batching=False)
    (batch,) = started(s.receive(1, gen("run", 400)))
    s.receive(1, gen("queued"))
    assert s.shutdown() == [] and s.stopping
    for request in ({"op": "hello"}, {"op": "models"}, {"op": "generate", "count": 1}):
        op = request["op"]
        assert answers(s.receive(1, call(id=op, **request))) == [(op, "shutting_down")]
    assert answers(s.receive(1, call(id="c", op="cancel", target="queued"))) == [
        ("queued", "cancelled"),
        ("c", "result"),
    ]
    assert answers(s.finished(batch, results(batch))) == [("run", "result")]
    assert s.idle


def test_queued_work_still_runs_in_the_grace_period() -> None:
    s = Session(workers=1, batching=False)
    (batch,) = started(s.receive(1, gen("run", 400)))
    s.receive(1, gen("queued"))
    s.shutdown()
    assert not s.idle
    (nxt,) = started(s.finished(batch, results(batch)))
    assert ids(nxt) == ["queued"]


def test_expire_answers_what_is_left_shutting_down() -> None:
    s = Session(workers=1, batching=False)
    (batch,) = started(s.receive(1, gen("run", 1024)))
    s.receive(2, gen("queued"))
    s.shutdown()
    actions = s.expire()
    assert sorted(answers(actions)) == [("queued", "shutting_down"), ("run", "shutting_down")]
    assert Stop(batch.jobs[0]) in actions and s.queued == 0
    assert not s.idle  # the worker is still winding down
    late = s.finished(batch, [(json.dumps({"id": "run", "type": "error", "code": "cancelled"}), "cancelled")])
    assert late == [] and s.idle


# ------------------------------------------------------------------------------------------------ invariants
@pytest.mark.parametrize("seed", range(20))
def test_random_event_orders_keep_the_invariants(seed: int) -> None:
    """Any order of requests, cancels, progress, answers, failures, disconnects and a shutdown: every admitted
    job is answered at most once, nothing follows its answer, no more batches run than workers, and each
    unanswered job keeps a unique id on its connection."""
    rng = random.Random(seed)
    s = Session(
        workers=rng.randint(1, 3),
        chunk_sprites=4,
        max_batch_sprites=rng.choice([3, 9, 256]),
        limits=proto.Limits(max_inflight=3, max_queue=5),
    )
    running: list[Batch] = []
    finals: dict[Job, int] = {}  # final answers sent per job
    closed: set[int] = set()

    def apply(actions: Sequence[Action]) -> None:
        for a in actions:
            if isinstance(a, Start):
                running.append(a.batch)
            elif isinstance(a, Send):
                assert a.conn not in closed
                if a.answered is not None:
                    finals[a.answered] = finals.get(a.answered, 0) + 1
                    assert a.answered.done
        assert len(running) == s.running <= s.workers

    for step in range(400):
        r = rng.random()
        conn = rng.randint(1, 6)
        if conn in closed:
            continue
        if r < 0.35:
            rid, count = f"r{rng.randint(0, 5)}", rng.choice([1, 3, 5])
            apply(s.receive(conn, gen(rid, count, max_colors=rng.choice([None, 0]))))
        elif r < 0.45:
            apply(s.receive(conn, call(id=f"c{step}", op="cancel", target=f"r{rng.randint(0, 5)}")))
        elif r < 0.55 and running:
            batch = rng.choice(running)
            j = rng.choice(batch.jobs)
            progress = s.progress(j, json.dumps({"id": j.id, "type": "progress"}))
            assert (progress == []) == (j in finals or j.conn in closed)  # nothing follows the final answer
            apply(progress)
        elif r < 0.85 and running:
            batch = running.pop(rng.randrange(len(running)))
            if rng.random() < 0.2:
                from pixelsprite.errors import PixelspriteError

                apply(s.failed(batch, PixelspriteError("boom")))
            else:
                apply(s.finished(batch, results(batch)))
        elif r < 0.86:
            closed.add(conn)
            apply(s.closed(conn))
        elif r < 0.865 and step > 300:
            apply(s.shutdown())
        elif r < 0.87 and s.stopping:
            apply(s.expire())
        for inflight in (s.inflight(c) for c in range(1, 7)):
            assert len({j.id for j in inflight}) == len(inflight)
            assert all(not j.done for j in inflight)
    assert all(n == 1 for n in finals.values())
    while running:  # drain: everything ends answered or dropped, and the session idles
        batch = running.pop()
        apply(s.finished(batch, results(batch)))
    apply(s.expire())
    assert s.idle
