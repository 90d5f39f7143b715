"""Latent interpolation: exact endpoints, norms and grids."""

from __future__ import annotations

import numpy as np
import pytest

from pixelsprite.latent import bilinear_grid, interpolate, lerp, slerp


def test_lerp() -> None:
    a, b = np.zeros((2, 2)), np.full((2, 2), 4.0)
    np.testing.assert_array_equal(lerp(a, b, 0.25), np.ones((2, 2)))
    out = lerp(a, b, [0.0, 0.5, 1.0])
    assert out.shape == (3, 2, 2) and out.dtype == np.float32
    np.testing.assert_array_equal(out[:, 0, 0], [0.0, 2.0, 4.0])


def test_slerp_orthogonal_unit_vectors() -> None:
    a, b = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
    ts = np.linspace(0, 1, 9)
    out = slerp(a, b, ts)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(out[0], a, atol=1e-7)
    np.testing.assert_allclose(out[-1], b, atol=1e-7)
    np.testing.assert_allclose(out[4], [np.sqrt(0.5), np.sqrt(0.5), 0.0], atol=1e-6)


def test_slerp_endpoints_and_shape() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((8, 4, 4)), rng.standard_normal((8, 4, 4))
    out = slerp(a, b, [0.0, 1.0])
    np.testing.assert_allclose(out[0], a, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out[1], b, rtol=1e-5, atol=1e-6)
    assert slerp(a, b, 0.5).shape == (8, 4, 4)


def test_slerp_falls_back_to_lerp() -> None:
    a = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(slerp(a, 2 * a, 0.5), 1.5 * a, rtol=1e-6)  # parallel
    np.testing.assert_allclose(slerp(np.zeros(3), a, 0.5), 0.5 * a, rtol=1e-6)  # zero vector
    np.testing.assert_allclose(slerp(a, -a, 0.5), np.zeros(3), atol=1e-6)  # anti-parallel


def test_interpolate_includes_endpoints() -> None:
    a, b = np.array([0.0, 1.0]), np.array([1.0, 0.0])
    for method in ("lerp", "slerp"):
        out = interpolate(a, b, 5, method)
        assert out.shape == (5, 2)
        np.testing.assert_allclose(out[0], a, atol=1e-7)
        np.testing.assert_allclose(out[-1], b, atol=1e-7)
    with pytest.raises(ValueError, match="method"):
        interpolate(a, b, 3, "cubic")


@pytest.mark.parametrize("method", ["lerp", "slerp"])
def test_bilinear_grid_corners(method: str) -> None:
    rng = np.random.default_rng(1)
    corners = rng.standard_normal((4, 3, 2)).astype(np.float32)
    g = bilinear_grid(corners, 3, 4, method)
    assert g.shape == (3, 4, 3, 2)
    for got, want in zip((g[0, 0], g[0, -1], g[-1, 0], g[-1, -1]), corners, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_bilinear_grid_lerp_is_bilinear() -> None:
    corners = np.array([[0.0], [1.0], [10.0], [11.0]])  # f(x, y) = x + 10 y
    g = bilinear_grid(corners, 3, 5, "lerp")[..., 0]
    ys, xs = np.meshgrid(np.linspace(0, 1, 3), np.linspace(0, 1, 5), indexing="ij")
    np.testing.assert_allclose(g, xs + 10 * ys, atol=1e-6)
