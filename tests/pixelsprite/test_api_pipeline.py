"""The request layer's structure: option groups declared once, construction without I/O, one finishing step, and
the sampler options every family refuses by name."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from pixelsprite import api
from pixelsprite.cleanup import outline, remove_isolated
from pixelsprite.errors import InvalidRequest
from pixelsprite.palettes import BUILTIN, enforce
from pixelsprite.registry import Registry


def test_each_option_group_is_declared_once_and_composed_by_the_requests() -> None:
    groups = {
        api.SamplerOptions: (api.GenerateRequest, api.VariationsRequest, api.InpaintRequest, api.InterpolateRequest),
        api.FinishingOptions: (
            api.GenerateRequest, api.DecodeRequest, api.VariationsRequest, api.InpaintRequest,
            api.InterpolateRequest, api.GridRequest,
        ),
        api.InputOptions: (api.VariationsRequest, api.InpaintRequest, api.InterpolateRequest, api.GridRequest),
        api.CandidateOptions: (api.GenerateRequest, api.VariationsRequest, api.InterpolateRequest),
    }  # fmt: skip
    for group, requests in groups.items():
        names = {f.name for f in dataclasses.fields(group)}
        for req in requests:
            assert issubclass(req, group), (req, group)
            assert names <= {f.name for f in dataclasses.fields(req)}
            assert not any(n in vars(req).get("__annotations__", {}) for n in names), (req, names)  # not restated


def test_building_a_request_reads_nothing_and_rewrites_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "not-yet.png"
    pal = tmp_path / "not-yet.gpl"
    req = api.VariationsRequest("tiny", missing, palette=str(pal))
    assert req.image == missing and req.palette == str(pal)
    latents = np.zeros((1, 4, 2, 2), np.float64)
    assert api.DecodeRequest("tiny", latents).latents is latents
    corners = [1, 2, 3, 4]
    assert api.GridRequest("tiny", corners).corners is corners
    with pytest.raises(dataclasses.FrozenInstanceError):
        req.count = 3  # type: ignore[misc]


def test_every_operation_finishes_the_same_way(registry: Registry) -> None:
    """despeckle -> palette -> outline, in one place, for generate, decode, grid and interpolate alike."""
    db16 = BUILTIN["db16"]

    def finished(sprites: np.ndarray) -> np.ndarray:
        return outline(enforce(remove_isolated(sprites), db16), "darkest", db16.colors)

    opts = {"despeckle": True, "palette": "db16", "outline": "darkest"}
    z = np.linspace(-1, 1, 32, dtype=np.float32).reshape(2, 4, 2, 2)
    calls = [
        lambda **kw: api.generate("tiny", 3, 4, registry=registry, **kw),
        lambda **kw: api.decode("tiny", z, registry=registry, **kw),
        lambda **kw: api.grid("tiny", [1, 2, 3, 4], 2, 2, registry=registry, **kw),
        lambda **kw: api.interpolate("tiny", 1, 2, 3, registry=registry, **kw),
    ]
    pairs = [(call(**opts), call()) for call in calls]
    for got, plain in pairs:
        np.testing.assert_array_equal(got.sprites, finished(plain.sprites), err_msg=got.op)


def test_a_vae_refuses_every_sampler_option_by_name(registry: Registry) -> None:
    for key, value in (("label", "a"), ("steps", 3), ("solver", "ddim"), ("guidance", 2.0), ("temperature", 0.5)):
        with pytest.raises(InvalidRequest) as info:
            api.generate("tiny", 1, 0, registry=registry, **{key: value})  # type: ignore[arg-type]
        assert info.value.field == key and "'tiny'" in info.value.message


def test_models_that_do_not_take_temperature_refuse_it(iterative_registry: Registry) -> None:
    for call in (
        lambda: api.generate("tflow", 1, 0, temperature=0.5, registry=iterative_registry),
        lambda: api.interpolate("tflow", 1, 2, 3, temperature=0.5, registry=iterative_registry),
    ):
        with pytest.raises(InvalidRequest) as info:
            call()
        assert info.value.field == "temperature" and "does not take 'temperature'" in info.value.message


def test_unsupported_request_types_are_refused() -> None:
    with pytest.raises(InvalidRequest) as info:
        api.handle(object(), registry=Registry([], builtin=False, env=False))  # type: ignore[arg-type]
    assert info.value.field == "op"
