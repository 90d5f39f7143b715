"""The pixel export's default rule: colours first, then crispness and Fréchet distance, within the budget."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from training.export_pixel import choose_defaults  # noqa: E402


def row(name: str, nfe: int, colours: float, tv: float, fd: float) -> dict:
    return {"name": name, "nfe": nfe, "colors_per_sprite": colours, "step_tv": tv, "fd": fd}


def test_defaults_keep_colours_then_minimise_tv_and_fd() -> None:
    rows = [
        row("speckled", 12, 34.0, 0.12, 2.5),  # best tv + fd, but twice the real colours
        row("kept", 26, 20.0, 0.15, 2.4),
        row("flat", 8, 14.0, 0.23, 4.1),
        row("too dear", 40, 17.0, 0.05, 1.5),
    ]
    assert choose_defaults(rows, 16.6, 1.39, 26)["name"] == "kept"
    assert choose_defaults(rows, 16.6, 1.39, 100)["name"] == "too dear"
    assert choose_defaults([rows[0]], 16.6, 1.39, 26)["name"] == "speckled"  # none keeps colours: the closest


def test_near_ties_go_to_the_cheaper_setting() -> None:
    fd_floor = 1.5
    rows = [row("best", 26, 18.0, 0.060, 2.4), row("cheaper, as good", 20, 19.0, 0.064, 2.4)]
    assert choose_defaults(rows, 18.1, fd_floor, 26)["name"] == "cheaper, as good"
    rows[1] = row("cheaper, worse", 20, 19.0, 0.080, 2.4)
    assert choose_defaults(rows, 18.1, fd_floor, 26)["name"] == "best"


def test_card_names_overlay_glyphs_or_the_folded_labels() -> None:
    from training.card_pixel import _overlay_note

    fine = _overlay_note({"ring": {"sprites": 28, "overlays": 24}, "monster": {"sprites": 9, "overlays": 0}}, ["ring"])
    assert "ring 24 of 28" in fine and "monster" not in fine
    clean = _overlay_note({"jewellery": {"sprites": 40, "overlays": 0}}, ["armour", "book", "jewellery", "wand"])
    assert "no DCSS overlay glyphs" in clean
    assert "ring, amulet into jewellery" in clean and "scroll into book" in clean and "staff into wand" in clean
    assert "folded" not in _overlay_note({}, ["ring", "amulet", "scroll", "staff", "book", "wand"])
