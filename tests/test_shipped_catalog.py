"""The catalog (``hello``/``models``) of every shipped model lists exactly the solvers its sampler runs, and each
listed solver really runs; what a family cannot do is refused naming the families that can."""

from __future__ import annotations

import pytest

from pixelsprite import api, families
from pixelsprite.errors import InvalidRequest
from pixelsprite.registry import Registry
from pixelsprite_bridge.server import build_catalog

pytestmark = pytest.mark.shipped

REGISTRY = Registry(builtin=True, env=False)
BUILTIN = [b.name for b in REGISTRY.bundles() if b.builtin]


@pytest.mark.parametrize("name", BUILTIN)
def test_catalog_solvers_are_the_samplers(name: str) -> None:
    info = REGISTRY.info(name)
    entry = build_catalog(REGISTRY).models[name].to_dict()
    # a pixel renderer also carries its first stage's sampling section: the request's solvers are the tokens'
    key = "tokens" if info.manifest.family == "pixel" else "sampling"
    section = info.manifest.extra.get(key) or {}
    assert entry["solvers"] == list(section.get("solvers", []))
    if not entry["solvers"]:
        assert entry["steps"] is None
        return
    model = families.load(REGISTRY.load(name))
    assert set(entry["solvers"]) <= set(model.SOLVERS)
    assert entry["steps"] == [1, section["max_steps"]]
    assert entry["defaults"]["solver"] in entry["solvers"]
    label = info.manifest.labels[0] if info.manifest.labels else None
    for solver in entry["solvers"]:  # each listed solver samples (two steps, one sprite)
        out = api.generate(name, 1, 0, label=label, solver=solver, steps=2, registry=REGISTRY).sprites
        assert out.shape[0] == 1


def test_generate_on_a_teacher_names_every_generating_family() -> None:
    with pytest.raises(InvalidRequest) as e:
        api.generate("teacher", 1, 0, registry=REGISTRY)
    assert e.value.field == "model"
    assert "generate supports the families: " + ", ".join(families.families_with("generate")) in e.value.message
    assert {"diffusion", "flow", "vae"} <= set(families.families_with("generate"))


def test_folded_labels_are_aliases_on_pixel16() -> None:
    """A ring asked of pixel16 (trained with rings folded into jewellery) is a jewellery sprite, byte for byte; the
    catalog lists the aliases; an unknown label's error names them."""
    entry = build_catalog(REGISTRY).models["pixel16"].to_dict()
    assert entry["label_aliases"]["ring"] == "jewellery" and entry["label_aliases"]["staff"] == "wand"
    ring = api.generate("pixel16", 2, 5, label="ring", steps=2, registry=REGISTRY).sprites
    jewellery = api.generate("pixel16", 2, 5, label="jewellery", steps=2, registry=REGISTRY).sprites
    assert ring.tobytes() == jewellery.tobytes()
    with pytest.raises(InvalidRequest, match=r"unknown label 'dragon'.*ring = jewellery") as e:
        api.generate("pixel16", 1, 0, label="dragon", steps=2, registry=REGISTRY)
    assert e.value.field == "label"
