"""Previews during sampling (pixelsprite.iterative): the clean estimate after a step, throttled, opt-in, and never
changing the result."""

from __future__ import annotations

import numpy as np
import pytest

from pixelsprite import api
from pixelsprite.api.generators import candidate_previews
from pixelsprite.diffusion import DiffusionModel
from pixelsprite.errors import InvalidRequest
from pixelsprite.flow import FlowModel
from pixelsprite.iterative import Previews
from pixelsprite.registry import Registry
from pixelsprite.samplers import euler
from pixelsprite.samplers.paths import FlowPath, uniform_grid

X0 = np.random.default_rng(0).standard_normal((3, 4, 2, 2)).astype(np.float32)
X1 = np.random.default_rng(1).standard_normal((3, 4, 2, 2)).astype(np.float32)


@pytest.mark.parametrize("kind", ["linear", "cosine"])
@pytest.mark.parametrize("t", [0.0, 0.3, 0.9])
def test_flow_clean_estimate_inverts_the_path(kind: str, t: float) -> None:
    path = FlowPath(kind)  # with the true conditional velocity, x̂_1 is exactly the data end
    assert np.allclose(path.x1_estimate(path.x_t(X1, X0, t), path.velocity(X1, X0, t), t), X1, atol=1e-5)


def test_flow_clean_estimate_after_one_euler_step_of_a_constant_field_is_the_endpoint() -> None:
    c = X1 - X0
    seen = []
    euler.integrate(lambda x, t: (seen.append((x, t)), np.broadcast_to(c, x.shape))[1], X0, uniform_grid(4))
    for x, t in seen:
        assert np.allclose(FlowPath("linear").x1_estimate(x, c, t), X1, atol=1e-5)


def _collect(every: int = 1, interval: float = 0.0) -> tuple[list[tuple[np.ndarray, int, int]], Previews]:
    got: list[tuple[np.ndarray, int, int]] = []
    return got, Previews(lambda s, d, t: got.append((s.copy(), d, t)), every=every, min_interval_s=interval)


@pytest.mark.parametrize(
    "model,solver",
    [
        ("tflow", "heun"),
        ("tflow", "euler"),
        ("tdiff", "ddim"),
        ("tdiff", "ddpm"),
        ("tdiff-v", "ddim"),
        ("tflow-lat", "midpoint"),
    ],
)
def test_previews_after_each_step_but_the_last_and_the_result_is_unchanged(
    iterative_registry: Registry, model: str, solver: str
) -> None:
    kw = {"label": "a", "solver": solver, "steps": 4, "guidance": 2.0, "registry": iterative_registry}
    plain = api.generate(model, 3, 11, **kw)
    got: list[tuple[np.ndarray, int, int]] = []
    seen: list[tuple[str, int]] = []
    with_preview = api.generate(
        model,
        3,
        11,
        progress=lambda d, t: seen.append(("progress", d)),
        preview=lambda s, d, t: (got.append((s.copy(), d, t)), seen.append(("preview", d))),
        **kw,
    )
    np.testing.assert_array_equal(with_preview.sprites, plain.sprites)
    assert [(d, t) for _, d, t in got] == [(1, 4), (2, 4), (3, 4)]
    # a step's preview comes just before that step's progress
    assert seen == [
        ("preview", 1),
        ("progress", 1),
        ("preview", 2),
        ("progress", 2),
        ("preview", 3),
        ("progress", 3),
        ("progress", 4),
    ]
    for sprites, _, _ in got:
        assert sprites.shape == plain.sprites.shape and sprites.dtype == np.uint8
        assert set(np.unique(sprites[..., 3])) <= {0, 255}
        assert not sprites[sprites[..., 3] == 0].any()  # transparent pixels are (0, 0, 0, 0)


def test_preview_is_the_decoded_clean_estimate(iterative_registry: Registry) -> None:
    m = FlowModel(iterative_registry.load("tflow-lat"))
    s = m.settings("b", "euler", 3, 1.0)
    got, previews = _collect()
    m.generate([5, 6], s, preview=previews)
    # recompute step 1 by hand: x̂_1 = x_0 + (1 - 0) v(x_0, 0) on the linear path, decoded with hard alpha
    x, _ = m.start_noise([5, 6])
    v = m.predictor(s, 2)(x, 0.0)
    np.testing.assert_array_equal(got[0][0], m.preview_sprites(x + v))
    d = DiffusionModel(iterative_registry.load("tdiff"))
    ds = d.settings("a", "ddim", 3, 2.0)
    got, previews = _collect()
    d.generate([1], ds, preview=previews)
    assert [g[1] for g in got] == [1, 2]


def test_previews_are_throttled_by_every_and_by_interval(iterative_registry: Registry) -> None:
    kw = {"solver": "euler", "steps": 7, "registry": iterative_registry}
    got, previews = _collect(every=3)
    api.generate("tflow", 1, 0, preview=previews, **kw)
    assert [d for _, d, _ in got] == [3, 6]
    got, previews = _collect(interval=3600.0)
    api.generate("tflow", 1, 0, preview=previews, **kw)
    assert [d for _, d, _ in got] == [1]  # the first is due at once, the next an hour later
    got, previews = _collect()
    api.generate("tflow", 1, 0, preview=previews, solver="euler", steps=1, registry=iterative_registry)
    assert got == []  # one step: the result is the only image


def test_candidates_preview_candidate_zero_of_each_requested_sprite(iterative_registry: Registry) -> None:
    m = FlowModel(iterative_registry.load("tflow"))
    s = m.settings(None, "euler", 3, None)
    every, previews = _collect()
    m.generate([10, 11, 12, 13], s, preview=previews)
    # count=2, candidates=2 runs seeds 10..13; the preview shows rows 0 and 2 (seeds 10 and 12)
    chosen = candidate_previews(previews, 2, 2)
    assert chosen is not None and tuple(chosen.rows or ()) == (0, 2)
    rows, _ = _collect()
    m.generate([10, 11, 12, 13], s, preview=Previews(lambda sp, d, t: rows.append((sp, d, t)), rows=chosen.rows))
    assert [r[0].shape[0] for r in rows] == [2, 2]
    np.testing.assert_array_equal(rows[0][0], every[0][0][[0, 2]])
    assert candidate_previews(previews, 2, 1) is previews  # no candidates: every row


def test_variations_preview_and_bad_previews(iterative_registry: Registry) -> None:
    image = api.generate("tflow", 1, 3, steps=2, registry=iterative_registry).sprites[0]
    got, previews = _collect()
    plain = api.variations("tflow", image, 2, 0.5, 4, steps=6, solver="euler", registry=iterative_registry)
    res = api.variations(
        "tflow", image, 2, 0.5, 4, steps=6, solver="euler", preview=previews, registry=iterative_registry
    )
    np.testing.assert_array_equal(res.sprites, plain.sprites)
    assert [d for _, d, _ in got] == [1, 2]  # strength 0.5 of 6 steps: 3 steps
    assert all(s.shape == (2, 8, 8, 4) for s, _, _ in got)
    for bad in ({"every": 0}, {"min_interval_s": -1.0}):
        with pytest.raises(InvalidRequest) as e:
            Previews(lambda *a: None, **bad)  # type: ignore[arg-type]
        assert e.value.field == "preview"
    with pytest.raises(InvalidRequest):
        api.generate("tflow", 1, 0, preview="yes", registry=iterative_registry)  # type: ignore[arg-type]


def test_vae_models_make_no_previews(registry: Registry) -> None:
    got, previews = _collect()
    api.generate("tiny", 2, 0, preview=previews, registry=registry)
    assert got == []
