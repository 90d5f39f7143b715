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
