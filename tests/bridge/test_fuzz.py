"""Property-based fuzzing over a real socket: thousands of malformed and half-valid frames on one connection while a
well-behaved client on another keeps getting correct answers.

Every answer to the fuzzer must be a well-formed message (``progress``, ``result`` or ``error`` with a documented,
non-``internal`` code); the server must never close the fuzzer's connection nor stall the good client.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import msgpack
import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from websockets.sync.client import ClientConnection, connect

from pixelsprite import api
from pixelsprite.imageio import encode_png
from pixelsprite.registry import Registry
from pixelsprite_bridge import protocol as proto
from pixelsprite_bridge.client import SyncClient
from pixelsprite_bridge.server import BackgroundServer

CODES = {
    "malformed_frame",
    "invalid_request",
    "unknown_operation",
    "unsupported_operation",
    "unsupported_parameter",
    "unknown_model",
    "invalid_image",
    "busy",
    "cancelled",
}
PNG = encode_png(np.zeros((8, 8, 4), np.uint8))
# websockets' keepalive threads touch the global `random` while Hypothesis generates data; that is not our strategy
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.binary(max_size=32)
    | st.just(PNG)
)
values = st.recursive(
    scalars, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4), max_leaves=12
)
names = st.sampled_from([*proto.OPERATIONS, *proto.COMING_OPERATIONS, "", "GENERATE", "op"]) | st.text(max_size=10)
params = st.sampled_from(sorted({p for ps in proto.OPERATIONS.values() for p in ps} | {"id", "op", "x"}))
small = st.integers(-3, 40) | values
requests = st.fixed_dictionaries(
    {"id": st.text(min_size=0, max_size=6) | values, "op": names},
    optional={"model": st.sampled_from(["tiny", "tiny-dec", "tiny-gmm", "nope", ""]) | values},
).flatmap(lambda base: st.dictionaries(params, small, max_size=5).map(lambda extra: {**base, **extra}))


def _encode(obj: Any, as_json: bool) -> str | bytes:
    if as_json:
        return json.dumps(obj, default=lambda b: b.hex() if isinstance(b, bytes) else str(b))
    return msgpack.packb(obj, use_bin_type=True)


frames = st.one_of(
    st.text(max_size=40),
    st.binary(max_size=40),
    st.tuples(values, st.booleans()).map(lambda t: _encode(t[0], t[1])),
    st.tuples(requests, st.booleans()).map(lambda t: _encode(t[0], t[1])),
    st.tuples(requests, st.booleans(), st.integers(0, 30)).map(lambda t: _encode(t[0], t[1])[: t[2]]),
)


@pytest.fixture(scope="module")
def fuzz_server(registry: Registry) -> Iterator[BackgroundServer]:
    with BackgroundServer(registry=registry, workers=2, chunk_sprites=64, grace_s=1.0) as srv:
        yield srv


@pytest.fixture(scope="module")
def fuzz_ws(fuzz_server: BackgroundServer) -> Iterator[ClientConnection]:
    with connect(fuzz_server.url, max_size=None) as ws:
        yield ws


class GoodClient(threading.Thread):
    """Generates known sprites in a loop and checks each answer byte for byte."""

    def __init__(self, url: str, registry: Registry) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.want = {s: api.generate("tiny", 2, s, registry=registry).sprites for s in range(5)}
        self.stop = threading.Event()
        self.ok = 0
        self.failures: list[str] = []

    def run(self) -> None:
        try:
            with SyncClient(self.url, timeout=20) as c:
                i = 0
                while not self.stop.is_set():
                    seed = i % 5
                    got = c.generate(count=2, seed=seed)
                    if np.array_equal(got.rgba, self.want[seed]) and got.seeds == [seed, seed + 1]:
                        self.ok += 1
                    else:
                        self.failures.append(f"wrong sprites for seed {seed}")
                    i += 1
        except Exception as e:  # surfaced by the test
            self.failures.append(f"{type(e).__name__}: {e}")


def _check_answer(msg: Any) -> None:
    assert isinstance(msg, dict), msg
    assert msg.get("type") in ("progress", "result", "error"), msg
    if msg["type"] == "error":
        assert msg["code"] in CODES, msg
        assert isinstance(msg["message"], str) and msg["message"]
        assert msg["field"] is None or isinstance(msg["field"], str)


_sync = iter(range(10**9))


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    phases=[Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(frames, min_size=30, max_size=60))
def test_fuzzed_frames_get_well_formed_answers(fuzz_ws: ClientConnection, batch: list[str | bytes]) -> None:
    for frame in batch:
        fuzz_ws.send(frame)
    marker = f"sync-{next(_sync)}"
    fuzz_ws.send(json.dumps({"id": marker, "op": "hello"}))
    while True:
        raw = fuzz_ws.recv(timeout=20)
        msg = json.loads(raw) if isinstance(raw, str) else msgpack.unpackb(raw, raw=False)
        _check_answer(msg)
        if msg.get("id") == marker:
            assert msg["type"] == "result" and msg["protocol"] == 1
            break


def test_good_client_keeps_getting_answers_during_fuzzing(fuzz_server: BackgroundServer, registry: Registry) -> None:
    good = GoodClient(fuzz_server.url, registry)
    good.start()
    try:
        with connect(fuzz_server.url, max_size=None) as ws:
            sent = 0

            @settings(max_examples=40, deadline=None, database=None, phases=[Phase.generate])
            @given(batch=st.lists(frames, min_size=50, max_size=60))
            def fuzz(batch: list[str | bytes]) -> None:
                nonlocal sent
                for frame in batch:
                    ws.send(frame)
                sent += len(batch)
                marker = f"sync-{next(_sync)}"
                ws.send(json.dumps({"id": marker, "op": "hello"}))
                while True:
                    raw = ws.recv(timeout=20)
                    msg = json.loads(raw) if isinstance(raw, str) else msgpack.unpackb(raw, raw=False)
                    _check_answer(msg)
                    if msg.get("id") == marker:
                        break

            fuzz()
    finally:
        good.stop.set()
        good.join(30)
    assert not good.failures, good.failures[:3]
    assert sent >= 2000 and good.ok >= 10, (sent, good.ok)
