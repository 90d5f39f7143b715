"""The multi-request generate (micro-batching): one model call serves several requests, and each result equals the
request's own ``generate`` byte for byte, with its own seeds, finishing and candidates, for every family."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pixelsprite import api, vae
from pixelsprite.registry import Registry

from .iterative_bundles import write_iterative_models
from .pixel_bundles import write_pixel_model
from .teacher_bundle import write_teacher_bundle


@pytest.fixture(scope="module")
def reg(tmp_path_factory: pytest.TempPathFactory, models_dir: Path, onnx_files: dict[str, Path]) -> Registry:
    """The tiny VAEs, diffusion and flow models, a tiny pixel model and a tiny teacher (8x8) in one registry."""
    root = tmp_path_factory.mktemp("many")
    write_iterative_models(root / "iterative", onnx_files)
    write_pixel_model(root / "pixel")
    write_teacher_bundle(root / "pixel", "teacher")
    return Registry([models_dir, root / "iterative", root / "pixel"], builtin=False, env=False)


def _same(got: api.SpriteResult, want: api.SpriteResult) -> None:
    assert got.sprites.tobytes() == want.sprites.tobytes()
    assert (got.op, got.model, got.seeds, got.base_seed) == (want.op, want.model, want.seeds, want.base_seed)
    assert (got.scores is None) == (want.scores is None)
    if want.candidate_quality is not None:
        np.testing.assert_array_equal(got.candidate_quality, want.candidate_quality)  # type: ignore[arg-type]


def test_vae_requests_keep_their_own_finishing_and_candidates(reg: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    reqs = [
        api.GenerateRequest("tiny", 3, 7),
        api.GenerateRequest("tiny", 2, 100, palette="db16", dither="bayer2", despeckle=True),
        api.GenerateRequest("tiny", 2, 40, outline="darkest", candidates=3),
        api.GenerateRequest("tiny", 1, 7),  # overlapping seeds are fine: each request is its own
    ]
    calls: list[int] = []
    decode = vae.VaeModel.decode

    def counted(self: vae.VaeModel, z: np.ndarray, max_colors: int | None = None) -> np.ndarray:
        calls.append(len(z))
        return decode(self, z, max_colors)

    monkeypatch.setattr(vae.VaeModel, "decode", counted)
    got = api.generate_many(reqs, registry=reg)
    assert calls == [3 + 2 + 2 * 3 + 1]  # one model call for every request
    monkeypatch.setattr(vae.VaeModel, "decode", decode)
    for r, g in zip(reqs, got, strict=True):
        _same(g, api.handle(r, registry=reg))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("model", "options"),
    [
        ("tdiff", {"label": "a", "steps": 4, "solver": "ddim"}),
        ("tflow", {"steps": 3}),
        ("tpixel", {"label": "b", "steps": 4, "palette": ["#000000", "#ffffff", "#ff0000"]}),
    ],
)
def test_sampler_families_batch_byte_identically(reg: Registry, model: str, options: dict) -> None:
    reqs = [
        api.GenerateRequest(model, 2, 5, **options),
        api.GenerateRequest(model, 3, 50, outline="#010203", **options),
        api.GenerateRequest(model, 1, 9, despeckle=True, candidates=2, **options),
    ]
    for r, g in zip(reqs, api.generate_many(reqs, registry=reg), strict=True):
        _same(g, api.generate(r.model, r.count, r.seed, registry=reg, **_options(r)))


def _options(r: api.GenerateRequest) -> dict:
    keys = ("label", "steps", "solver", "palette", "outline", "despeckle", "candidates")
    return {k: getattr(r, k) for k in keys}


def test_a_request_without_a_seed_gets_one(reg: Registry) -> None:
    got = api.generate_many([api.GenerateRequest("tiny", 2), api.GenerateRequest("tiny", 3, 1)], registry=reg)
    assert got[0].base_seed is not None and got[0].seeds == (got[0].base_seed, got[0].base_seed + 1)
    _same(got[0], api.generate("tiny", 2, got[0].base_seed, registry=reg))
    assert api.generate_many([], registry=reg) == []


@pytest.mark.parametrize(
    ("other", "words"),
    [
        (api.GenerateRequest("tiny-gmm", 1, 0), "one model"),
        (api.GenerateRequest("tiny", 1, 0, max_colors=2), "one max_colors"),
        (api.GenerateRequest("tdiff", 1, 0, steps=3), "one steps"),
    ],
)
def test_requests_must_share_the_model_call(reg: Registry, other: api.GenerateRequest, words: str) -> None:
    first = api.GenerateRequest(other.model, 1, 0) if other.model != "tiny-gmm" else api.GenerateRequest("tiny", 1, 0)
    with pytest.raises(ValueError, match=words):
        api.generate_many([first, other], registry=reg)


def test_a_pixel_model_batches_one_palette_only(reg: Registry) -> None:
    a = api.GenerateRequest("tpixel", 1, 0, palette="#000000,#ffffff")
    b = api.GenerateRequest("tpixel", 1, 0, palette="#000000,#ff0000")
    with pytest.raises(ValueError, match="one palette"):
        api.generate_many([a, b], registry=reg)
    api.generate_many([a, api.GenerateRequest("tpixel", 2, 4, palette=["#000000", "#ffffff"])], registry=reg)
