"""Built-in palettes: exact sizes, first/last colours from the published lists, names and aliases."""

from __future__ import annotations

import pytest

from pixelsprite.errors import InvalidRequest
from pixelsprite.palettes import BUILTIN, builtin, builtin_names

SIZES = {
    "pico-8": 16, "db16": 16, "db32": 32, "endesga-16": 16, "endesga-32": 32, "aap-64": 64, "resurrect-64": 64,
    "sweetie-16": 16, "lospec500": 42, "gameboy-dmg": 4, "nes": 55, "cga": 16,
}  # fmt: skip
ENDS = {
    "pico-8": ("#000000", "#ffccaa"), "db16": ("#140c1c", "#deeed6"), "db32": ("#000000", "#8a6f30"),
    "endesga-16": ("#e4a672", "#0484d1"), "endesga-32": ("#be4a2f", "#c28569"), "aap-64": ("#060608", "#423934"),
    "resurrect-64": ("#2e222f", "#fdcbb0"), "sweetie-16": ("#1a1c2c", "#333c57"), "lospec500": ("#10121c", "#ffffff"),
    "gameboy-dmg": ("#0f380f", "#9bbc0f"), "nes": ("#7c7c7c", "#f8d8f8"), "cga": ("#000000", "#ffffff"),
}  # fmt: skip


def test_at_least_ten_builtins_with_exact_sizes() -> None:
    assert len(BUILTIN) >= 10
    assert {name: len(p) for name, p in BUILTIN.items()} == SIZES
    assert builtin_names() == tuple(SIZES)


@pytest.mark.parametrize("name", list(SIZES))
def test_published_ends_distinct_colours_and_a_source(name: str) -> None:
    pal = BUILTIN[name]
    assert (pal.hex[0], pal.hex[-1]) == ENDS[name]
    assert len(set(pal.hex)) == len(pal)  # no duplicates in any published list
    assert pal.source and pal.name == name


def test_spot_checks_inside_the_lists() -> None:
    assert BUILTIN["aap-64"].hex[14] == "#1a7a3e"
    assert BUILTIN["db32"].hex[21] == "#ffffff"
    assert BUILTIN["endesga-32"].hex[17] == "#0099db"
    assert BUILTIN["resurrect-64"].hex[9] == "#ffffff"
    assert BUILTIN["cga"].hex[6] == "#aa5500"


ALIASES = [
    ("PICO-8", "pico-8"),
    ("pico8", "pico-8"),
    ("DawnBringer 32", "db32"),
    ("edg32", "endesga-32"),
    ("gameboy", "gameboy-dmg"),
    ("DMG", "gameboy-dmg"),
    ("Sweetie_16", "sweetie-16"),
    ("AAP64", "aap-64"),
]


@pytest.mark.parametrize(("alias", "name"), ALIASES)
def test_names_and_aliases(alias: str, name: str) -> None:
    assert builtin(alias) is BUILTIN[name]


def test_unknown_name_lists_the_builtins() -> None:
    with pytest.raises(InvalidRequest) as info:
        builtin("db64")
    assert info.value.field == "palette"
    assert "db64" in info.value.message and all(n in info.value.message for n in SIZES)


def test_palettes_are_read_only() -> None:
    with pytest.raises(ValueError):
        BUILTIN["db16"].colors[0, 0] = 1
