"""Exact-answer tests of the clean-up passes on hand-drawn sprites."""

from __future__ import annotations

import numpy as np
import pytest

from pixelsprite.cleanup import darkest_color, outline, parse_outline, remove_isolated

K = (0, 0, 0, 0)
R = (255, 0, 0, 255)
G = (0, 255, 0, 255)
B = (0, 0, 255, 255)
W = (255, 255, 255, 255)


def img(rows: list[list[tuple[int, int, int, int]]]) -> np.ndarray:
    return np.array(rows, dtype=np.uint8)


def test_remove_isolated_takes_most_common_neighbour() -> None:
    a = img([[R, R, R],
             [G, B, R],
             [G, G, R]])  # fmt: skip
    # B is lone: neighbours up R, down G, left G, right R -> tie 2:2, first (up) wins -> R
    out = remove_isolated(a)
    assert out[1, 1].tolist() == list(R)
    # nothing else changes (every other pixel has a same-coloured neighbour)
    mask = np.ones((3, 3), bool)
    mask[1, 1] = False
    assert (out[mask] == a[mask]).all()


def test_remove_isolated_majority_and_transparent() -> None:
    a = img([[K, G, K],
             [R, B, G],
             [K, G, K]])  # fmt: skip
    out = remove_isolated(a)
    # B -> G (3 votes); the lone R on the left has only B as neighbour -> B (simultaneous pass: the old colour)
    assert out[1, 1].tolist() == list(G)
    assert out[1, 0].tolist() == list(B)
    # the G arms are lone too: each sees only B -> B
    assert out[0, 1].tolist() == list(B) and out[1, 2].tolist() == list(B)
    assert (out[..., 3] == a[..., 3]).all()


def test_remove_isolated_keeps_floating_pixel_and_batch() -> None:
    a = img([[K, K, K], [K, R, K], [K, K, K]])
    assert (remove_isolated(a) == a).all()
    batch = np.stack([a, a])
    assert remove_isolated(batch).shape == (2, 3, 3, 4)


def test_outline_explicit_colour_inside_canvas() -> None:
    a = img([[R, K, K],
             [K, K, K],
             [K, K, K]])  # fmt: skip
    out = outline(a, (1, 2, 3))
    want = img([[R, (1, 2, 3, 255), K],
                [(1, 2, 3, 255), K, K],
                [K, K, K]])  # fmt: skip
    assert (out == want).all()


def test_outline_darkest_of_sprite_and_of_palette() -> None:
    a = img([[K, K, K, K],
             [K, W, B, K],
             [K, K, K, K]])  # fmt: skip
    out = outline(a)
    ring = np.array([[0, 1, 1, 0], [1, 0, 0, 1], [0, 1, 1, 0]], bool)
    assert (out[ring] == (0, 0, 255, 255)).all()  # blue is darker than white
    assert (out[~ring] == a[~ring]).all()
    out = outline(a, "darkest", palette=np.array([[200, 200, 200], [10, 20, 30]], np.uint8))
    assert (out[ring] == (10, 20, 30, 255)).all()
    empty = np.zeros((2, 2, 4), np.uint8)
    assert (outline(empty) == empty).all()


def test_darkest_and_parse() -> None:
    assert darkest_color([[255, 255, 255], [0, 0, 0], [0, 0, 1]]) == (0, 0, 0)
    assert parse_outline("#0A0b0c") == (10, 11, 12)
    assert parse_outline("darkest") == "darkest"
    assert parse_outline(None) is None
    for bad in ("#12_345", "red", "#+12345", 3):
        with pytest.raises(ValueError, match="outline"):
            parse_outline(bad)
