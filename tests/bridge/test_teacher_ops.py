"""score, similar and candidates on the wire: the pure protocol functions, then one real server round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pixelsprite import api
from pixelsprite.errors import InvalidRequest
from pixelsprite.imageio import encode_png
from pixelsprite.registry import Registry
from pixelsprite_bridge import protocol as proto
from pixelsprite_bridge.client import SyncClient
from pixelsprite_bridge.errors import UnsupportedParameter
from pixelsprite_bridge.server import BackgroundServer, build_catalog
from tests.pixelsprite.teacher_bundle import write_teacher_bundle

T = "tinyteacher"


@pytest.fixture(scope="module")
def reg(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Registry:
    root = tmp_path_factory.mktemp("teacher")
    write_teacher_bundle(root, T)
    return Registry([models_dir, root], builtin=False, env=False)


def sprite(seed: int, size: int = 8) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (size, size, 4), dtype=np.uint8)
    x[..., 3] = 255
    return x


def test_parse_score_and_similar(reg: Registry) -> None:
    catalog = build_catalog(reg)
    assert catalog.models[T].operations() == ["score", "similar"]
    call = proto.parse_request(
        {"id": "s", "op": "score", "images": [encode_png(sprite(1))], "teacher": T, "embedding": True},
        "msgpack",
        catalog,
    )
    assert isinstance(call.request, api.ScoreRequest) and call.params["embedding"] is True
    call = proto.parse_request(
        {"id": "r", "op": "similar", "reference": encode_png(sprite(1)), "count": 4, "seed": 2, "top": 2, "teacher": T},
        "json",
        catalog,
    )
    assert isinstance(call.request, api.SimilarRequest) and call.request.model == "tiny"
    # a teacher that is not a teacher: the same code on every operation (issue 18: generate said invalid_request,
    # score unsupported_parameter)
    png = encode_png(sprite(1))
    for op, extra in (
        ("score", {"images": [png]}),
        ("similar", {"reference": png}),
        ("generate", {"candidates": 2}),
        ("variations", {"image": png, "candidates": 2}),
    ):
        with pytest.raises(InvalidRequest) as e:
            proto.parse_request({"id": "s", "op": op, **extra, "teacher": "tiny"}, "json", catalog)
        assert (e.value.code, e.value.field) == ("invalid_request", "teacher"), op
        assert "'tiny' is a 'vae' model, not a 'teacher'" in e.value.message
    assert not isinstance(e.value, UnsupportedParameter)
    with pytest.raises(InvalidRequest) as e2:
        proto.parse_request(
            {"id": "r", "op": "similar", "reference": encode_png(sprite(1)), "images": [], "teacher": T},
            "json",
            catalog,
        )
    assert e2.value.field == "images"
    call = proto.parse_request(
        {"id": "g", "op": "generate", "count": 2, "seed": 1, "candidates": 3, "teacher": T}, "json", catalog
    )
    assert isinstance(call.request, api.GenerateRequest) and call.request.candidates == 3
    assert call.batch_key is None  # candidates are never micro-batched


def test_result_messages_carry_scores(reg: Registry) -> None:
    catalog = build_catalog(reg)
    call = proto.parse_request(
        {"id": "g", "op": "generate", "count": 2, "seed": 1, "candidates": 3, "teacher": T}, "json", catalog
    )
    assert call.request is not None
    msg = proto.result_message(call, api.handle(call.request, registry=reg))
    assert len(msg["scores"]) == 2 and len(msg["scores"][0]["candidates"]) == 3
    assert msg["seeds"][0] in (1, 2, 3) and msg["seeds"][1] in (4, 5, 6)
    call = proto.parse_request(
        {"id": "s", "op": "score", "images": [encode_png(sprite(1)), encode_png(sprite(2))], "teacher": T},
        "json",
        catalog,
    )
    assert call.request is not None
    msg = proto.result_message(call, api.handle(call.request, registry=reg))
    assert msg["op"] == "score" and msg["count"] == 2 and "embedding" not in msg["scores"][0]
    assert set(msg["scores"][0]) == {"index", "size", "quality", "label", "probability"}


def test_server_round_trip(reg: Registry) -> None:
    refs = [sprite(i) for i in range(4)]
    with BackgroundServer(registry=reg, workers=2, grace_s=2.0) as srv, SyncClient(srv.url) as c:
        assert "score" in c.hello()["operations"]
        scored = c.request("score", images=[encode_png(s) for s in refs], teacher=T)
        want = api.score(refs, teacher=T, registry=reg)
        got = [r["quality"] for r in scored["scores"]]
        assert np.allclose(got, want.scores.quality, atol=1e-5)
        ranked = c.request(
            "similar",
            reference=encode_png(refs[2]),
            images=[encode_png(s) for s in refs],
            teacher=T,
            image_format="rgba",
        )
        assert sorted(ranked["index"]) == [0, 1, 2, 3] and ranked["similarity"][0] == pytest.approx(1.0, abs=1e-5)
        best = c.generate(count=2, seed=5, candidates=2, teacher=T)
        assert len(best.message["scores"]) == 2
        alone = api.generate("tiny", 1, seed=best.seeds[1], registry=reg)
        np.testing.assert_array_equal(best.rgba[1], alone.sprites[0])
