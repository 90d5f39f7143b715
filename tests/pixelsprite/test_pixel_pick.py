"""Graphs that take ``pick`` (the logits of the pixels the sampler draws): the same network exported with and
without it draws the same sprites, byte for byte, through every operation."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from pixelsprite import api, families
from pixelsprite.pixel import PICK_INPUT, pick_lists
from pixelsprite.registry import Registry

from .pixel_bundles import SIZE, write_pixel_model


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    """One copy-head network (with a shade gate) as "whole" (every pixel's logits) and "picked" (``pick``); one
    tile network (plain head, wrapping around) the same two ways."""
    root = tmp_path_factory.mktemp("pick-models")
    write_pixel_model(root, "whole", copy=True)
    write_pixel_model(root, "picked", copy=True, picks=True)
    write_pixel_model(root, "tile-whole", tiling=True)
    write_pixel_model(root, "tile-picked", tiling=True, picks=True)
    return Registry([root], builtin=False, env=False)


def test_pick_lists_place_every_selected_pixel() -> None:
    sel = np.zeros((3, 6), bool)
    sel[0, [1, 4]] = True
    sel[2, [0, 2, 5]] = True  # sprite 1 has none
    pick, rows, cols, slots = pick_lists(sel)
    assert pick.shape == (3, 3) and pick.dtype == np.int64
    assert (pick[rows, slots] == cols).all() and sorted(zip(rows, cols)) == sorted(zip(*np.nonzero(sel)))
    assert pick_lists(np.zeros((2, 6), bool))[0].shape == (2, 1)  # nothing selected: one padding slot


def test_a_picking_graph_declares_pick_and_returns_the_picked_pixels_logits(pair: Registry) -> None:
    whole, picked = (families.load(pair.load(n)) for n in ("whole", "picked"))
    spec = picked.manifest.graphs["logits"]
    assert spec.inputs[-1].name == PICK_INPUT and len(spec.outputs[0].shape) == 3
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 8, (5, SIZE, SIZE)).astype(np.int64)  # MASK (7) included
    t, label = rng.random(5).astype(np.float32), np.array([0, 1, 2, 0, 1])
    pick = np.stack([rng.permutation(SIZE * SIZE)[:9] for _ in range(5)])
    full = whole.network(tokens, t, label)
    assert full.shape == (5, spec.outputs[0].shape[1], SIZE, SIZE)
    want = np.take_along_axis(full.reshape(5, full.shape[1], -1), pick[:, None, :], axis=2)
    assert np.abs(picked.network(tokens, t, label, pick=pick) - want).max() < 1e-5
    assert np.array_equal(whole.network(tokens, t, label, pick=pick), want)  # an older graph: taken from the canvas
    assert np.abs(picked.network(tokens, t, label) - full).max() < 1e-5  # no pick: every pixel, canvas layout


@pytest.mark.parametrize("names", [("whole", "picked"), ("tile-whole", "tile-picked")])
def test_the_same_network_draws_the_same_sprites_with_or_without_pick(pair: Registry, names: tuple[str, str]) -> None:
    a, b = names
    label = "a"
    for solver in ("random", "confidence"):
        kw = {"label": label, "solver": solver, "registry": pair}
        assert api.generate(a, 12, 3, **kw).sprites.tobytes() == api.generate(b, 12, 3, **kw).sprites.tobytes()
    locked = [api.generate(n, 8, 9, label=label, palette="pico-8", registry=pair).sprites for n in names]
    assert locked[0].tobytes() == locked[1].tobytes()
    image = api.generate(a, 1, 5, label=label, registry=pair).sprites[0]
    mask = np.zeros((SIZE, SIZE), bool)
    mask[2:6, 1:5] = True
    inpainted = [api.inpaint(n, image, mask, 4, 1, label=label, registry=pair).sprites for n in names]
    assert inpainted[0].tobytes() == inpainted[1].tobytes()
    varied = [api.variations(n, image, 4, 0.5, 2, label=label, registry=pair).sprites for n in names]
    assert varied[0].tobytes() == varied[1].tobytes()
    models = [families.load(pair.load(n)) for n in names]  # two corrector rounds: picks of varying length
    s = [replace(m.settings(label, None, None, None, None), corrector=2) for m in models]
    corrected = [m.generate(list(range(16)), x) for m, x in zip(models, s)]
    assert corrected[0].tobytes() == corrected[1].tobytes()
