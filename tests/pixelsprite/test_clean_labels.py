"""The clean conditional sets and the tile sets: which DCSS files they keep and under which label."""

from __future__ import annotations

import pytest

from pixelsprite.datasets.builders import clean_label, fine_label, is_overlay_glyph, label_aliases, tile_label


@pytest.mark.parametrize(
    "path",
    [
        "item/potion/i-heal-wounds.png",
        "item/ring/i-ice.png",
        "item/weapon/brands/flame.png",
        "item/food/chunk_brands/poison.png",
        "mon/tentacles/kraken_corners/kraken_corner_n.png",
    ],
)
def test_overlay_glyphs_are_dropped(path: str) -> None:
    assert is_overlay_glyph(path)
    assert clean_label(path) is None
    assert fine_label(path) is not None  # the old sets kept them


@pytest.mark.parametrize(
    ("path", "label"),
    [
        ("mon/ironbrand_convoker.png", "monster"),  # "brand" in a monster's name is not a brand overlay
        ("item/potion/ruby.png", "potion"),
        ("item/ring/gold.png", "jewellery"),
        ("item/amulet/cameo.png", "jewellery"),
        ("item/scroll/scroll.png", "book"),
        ("item/staff/staff_fire.png", "wand"),
        ("item/rod/rod.png", "wand"),
        ("item/gold/gold_pile.png", "misc"),
        ("dngn/floor/grey_dirt0.png", None),
    ],
)
def test_clean_labels_fold_the_small_ones(path: str, label: str | None) -> None:
    assert clean_label(path) == label


@pytest.mark.parametrize(
    ("path", "label"),
    [
        ("dngn/floor/grass/grass0.png", "floor"),
        ("dngn/wall/abyss/abyss0.png", "wall"),
        ("dngn/water/deep_water.png", "water"),
        ("dngn/altars/altar_xom.png", None),
        ("dngn/unseen.png", None),
        ("mon/rat.png", None),
    ],
)
def test_tile_labels(path: str, label: str | None) -> None:
    assert tile_label(path) == label


def test_folded_folder_names_become_label_aliases() -> None:
    clean = ("armour", "book", "jewellery", "misc", "monster", "wand")
    assert label_aliases("dcss16clean", clean) == {
        "amulet": "jewellery", "gold": "misc", "ring": "jewellery", "rod": "wand", "scroll": "book", "staff": "wand",
    }  # fmt: skip
    fine = ("amulet", "misc", "ring", "wand")
    assert label_aliases("dcss40fine", fine) == {"gold": "misc", "rod": "wand"}
    assert label_aliases("dcss16tiles", ("floor", "wall")) == {}
    assert label_aliases("dcss16clean", ("monster",)) == {}  # only aliases of labels the set has
