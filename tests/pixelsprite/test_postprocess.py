"""Hard alpha, OKLab and the deterministic k-means colour cap: exact answers on hand-made sprites."""

from __future__ import annotations

import numpy as np
import pytest

from pixelsprite.colorspace import oklab_to_srgb, srgb_to_oklab
from pixelsprite.metrics import colors_per_sprite
from pixelsprite.postprocess import hard_alpha, hard_alpha_from_model, reduce_colors


def test_hard_alpha() -> None:
    px = np.array([[[10, 20, 30, 0], [10, 20, 30, 127], [10, 20, 30, 128], [1, 2, 3, 255]]], np.uint8)
    out = hard_alpha(px)
    np.testing.assert_array_equal(out, [[[0, 0, 0, 0], [0, 0, 0, 0], [10, 20, 30, 255], [1, 2, 3, 255]]])
    assert out.dtype == np.uint8


def test_hard_alpha_from_model_uses_threshold_and_range() -> None:
    x = np.zeros((1, 4, 1, 3), np.float32)
    x[0, :3] = [[[-1.0, 0.0, 1.0]]] * 3  # r = g = b
    x[0, 3] = [[-0.5, 0.0, 0.01]]
    out = hard_alpha_from_model(x, (-1.0, 1.0), alpha_threshold=0.0)
    np.testing.assert_array_equal(out[0, 0], [[0, 0, 0, 0], [0, 0, 0, 0], [255, 255, 255, 255]])
    out = hard_alpha_from_model(x, (-1.0, 1.0), alpha_threshold=-0.6)
    np.testing.assert_array_equal(out[0, 0, :, 0], [0, 128, 255])  # 0.0 -> 127.5 rounds to even 128
    assert (out[0, 0, :, 3] == 255).all()


def test_oklab_round_trip() -> None:
    rng = np.random.default_rng(0)
    rgb = np.concatenate([rng.integers(0, 256, (500, 3)), np.repeat(np.arange(256)[:, None], 3, 1)])
    np.testing.assert_array_equal(oklab_to_srgb(srgb_to_oklab(rgb)), rgb)
    np.testing.assert_allclose(srgb_to_oklab([255, 255, 255]), [1.0, 0.0, 0.0], atol=1e-4)
    np.testing.assert_allclose(srgb_to_oklab([0, 0, 0]), [0.0, 0.0, 0.0], atol=1e-12)


def _sprite(colours: list[tuple[tuple[int, int, int], int]], size: int = 4) -> np.ndarray:
    """A (size, size, 4) sprite filled row-major with (colour, count) runs; the rest transparent."""
    flat = np.zeros((size * size, 4), np.uint8)
    i = 0
    for rgb, n in colours:
        flat[i : i + n, :3] = rgb
        flat[i : i + n, 3] = 255
        i += n
    return flat.reshape(size, size, 4)


def test_fewer_colours_than_cap_is_unchanged() -> None:
    s = _sprite([((255, 0, 0), 3), ((0, 0, 255), 2)])
    np.testing.assert_array_equal(reduce_colors(s, 2), s)
    np.testing.assert_array_equal(reduce_colors(s, 0), s)


def test_two_clusters_exact() -> None:
    red, near_red, blue = (255, 0, 0), (245, 0, 0), (0, 0, 255)
    s = _sprite([(red, 6), (near_red, 2), (blue, 5)])
    out = reduce_colors(s, 2)
    lab = srgb_to_oklab(np.array([red, near_red], float))
    merged = tuple(int(v) for v in oklab_to_srgb((lab[0] * 6 + lab[1] * 2) / 8))
    assert 250 <= merged[0] <= 253 and merged[1:] == (0, 0)
    expected = _sprite([(merged, 8), (blue, 5)])
    np.testing.assert_array_equal(out, expected)


def test_single_colour_cap() -> None:
    s = _sprite([((0, 0, 0), 4), ((255, 255, 255), 4)])
    out = reduce_colors(s, 1)
    opaque = out[out[..., 3] > 0][:, :3]
    assert len(np.unique(opaque, axis=0)) == 1
    mid = oklab_to_srgb(srgb_to_oklab(np.array([[0, 0, 0], [255, 255, 255]], float)).mean(0))
    np.testing.assert_array_equal(opaque[0], mid)
    assert (out[..., 3] == s[..., 3]).all()


def test_batch_equals_per_sprite_and_is_deterministic() -> None:
    rng = np.random.default_rng(1)
    batch = hard_alpha(rng.integers(0, 256, (20, 8, 8, 4), dtype=np.uint8))
    batch[3] = 0  # an empty sprite
    batch[4][batch[4, ..., 3] > 0, :3] = 7  # a one-colour sprite
    out = reduce_colors(batch, 5)
    for i in range(len(batch)):
        np.testing.assert_array_equal(out[i], reduce_colors(batch[i], 5))
    np.testing.assert_array_equal(out, reduce_colors(batch, 5))
    assert (colors_per_sprite(out) <= 5).all()
    np.testing.assert_array_equal(out[..., 3], batch[..., 3])
    assert (out[out[..., 3] == 0] == 0).all()


def test_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="uint8"):
        reduce_colors(np.zeros((2, 2, 4), np.float32), 3)


# ------------------------------------------------------------------ adaptive colours, despeckle, finish
def _two_tone_with_shades() -> np.ndarray:
    """A 4x4 sprite: left half near-red (two shades 1 apart), right half blue; one transparent corner."""
    s = np.zeros((4, 4, 4), np.uint8)
    s[:, :2] = [200, 30, 30, 255]
    s[0, 0] = [201, 30, 30, 255]
    s[:, 2:] = [30, 30, 200, 255]
    s[3, 3] = 0
    return s


def test_adaptive_reduction_keeps_the_fewest_colours_within_tolerance() -> None:
    from pixelsprite.postprocess import quantization_error, reduce_colors_adaptive

    s = _two_tone_with_shades()[None]
    loose = reduce_colors_adaptive(s, 64, tolerance=0.01)
    assert len({tuple(p) for p in loose[0][loose[0, ..., 3] > 0][:, :3]}) == 2  # the two reds merge
    assert quantization_error(s, loose)[0] <= 0.01
    strict = reduce_colors_adaptive(s, 64, tolerance=1e-9)
    assert np.array_equal(strict, s)  # nothing within tolerance below 3 colours: unchanged
    assert np.array_equal(reduce_colors_adaptive(s, 2, tolerance=1e-9), reduce_colors(s, 2))  # the cap wins
    assert np.array_equal(loose[..., 3], s[..., 3])


def test_despeckle_merges_similar_lone_pixels_and_keeps_highlights() -> None:
    from pixelsprite.postprocess import despeckle

    s = np.zeros((1, 3, 3, 4), np.uint8)
    s[0, :, :] = [100, 100, 100, 255]
    s[0, 1, 1] = [104, 100, 100, 255]  # a near-duplicate lone pixel -> merged
    out = despeckle(s, 0.05)
    assert (out[0, 1, 1] == [100, 100, 100, 255]).all()
    s[0, 1, 1] = [255, 255, 255, 255]  # a highlight -> kept
    assert np.array_equal(despeckle(s, 0.05), s)
    assert np.array_equal(despeckle(s, 0.0), s)
    t = np.zeros((1, 1, 3, 4), np.uint8)  # a lone pixel with only transparent neighbours stays
    t[0, 0, 1] = [10, 20, 30, 255]
    assert np.array_equal(despeckle(t, 1.0), t)


def test_finish_applies_the_whole_policy() -> None:
    from pixelsprite.postprocess import finish

    x = np.full((1, 4, 2, 2), -1.0, np.float32)
    x[0, :, 0, 0] = [0.5, -0.5, 0.0, 0.9]
    x[0, :, 1, 1] = [0.5, -0.5, 0.01, 0.2]
    out = finish(x, (-1.0, 1.0), alpha_threshold=0.0, max_colors=4, color_tolerance=0.05, despeckle_distance=0.0)
    assert out.shape == (1, 2, 2, 4) and set(np.unique(out[..., 3])) == {0, 255}
    assert (out[0, 0, 0] == out[0, 1, 1]).all()  # two nearly equal colours became one
    raw = finish(x, (-1.0, 1.0), alpha_threshold=0.0, max_colors=0)
    assert not (raw[0, 0, 0] == raw[0, 1, 1]).all()
