"""The request layer against the tiny bundles: determinism, shapes, endpoints, and request errors."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import numpy as np
import pytest

from pixelsprite import api, vae
from pixelsprite.errors import ImageError, InvalidRequest, UnknownModel
from pixelsprite.imageio import write_png
from pixelsprite.metrics import colors_per_sprite
from pixelsprite.registry import Registry

SIZE, LATENT, MAX_COLORS = 8, (4, 2, 2), 6  # the tiny bundle of conftest.py


def test_generate_same_seed_same_bytes(registry: Registry) -> None:
    a = api.generate("tiny", 12, seed=7, registry=registry)
    b = api.generate("tiny", 12, seed=7, registry=registry)
    assert a.sprites.shape == (12, SIZE, SIZE, 4) and a.sprites.dtype == np.uint8
    assert a.sprites.tobytes() == b.sprites.tobytes()
    assert a.seeds == tuple(range(7, 19)) and a.base_seed == 7
    assert a.model == "tiny" and a.op == "generate" and a.elapsed_s > 0
    assert set(np.unique(a.sprites[..., 3])) <= {0, 255}
    assert (a.sprites[a.sprites[..., 3] == 0] == 0).all()
    assert (colors_per_sprite(a.sprites) <= MAX_COLORS).all()


def test_each_sprite_regenerates_alone(registry: Registry) -> None:
    batch = api.generate("tiny", 10, seed=100, registry=registry)
    for sprite in batch:
        assert sprite.seed is not None
        alone = api.generate("tiny", 1, seed=sprite.seed, registry=registry)
        assert alone.sprites[0].tobytes() == sprite.rgba.tobytes()


def test_known_hash_for_fixed_seed(registry: Registry) -> None:
    """The latent of a seed is fixed by numpy's PCG64: pin it (the tiny model's weights are torch-seeded)."""
    z = np.random.default_rng(3).standard_normal(LATENT, dtype=np.float32)
    model = vae.VaeModel(registry.load("tiny"))
    np.testing.assert_array_equal(model.prior(3), z)
    assert hashlib.sha256(model.prior(3).tobytes()).hexdigest() == hashlib.sha256(z.tobytes()).hexdigest()


def test_random_seed_is_reported(registry: Registry) -> None:
    r = api.generate("tiny", 3, registry=registry)
    assert r.base_seed is not None and r.seeds == (r.base_seed, r.base_seed + 1, r.base_seed + 2)
    again = api.generate("tiny", 3, seed=r.base_seed, registry=registry)
    assert again.sprites.tobytes() == r.sprites.tobytes()


def test_max_colors_override(registry: Registry) -> None:
    off = api.generate("tiny", 8, seed=1, max_colors=0, registry=registry)
    two = api.generate("tiny", 8, seed=1, max_colors=2, registry=registry)
    assert colors_per_sprite(off.sprites).max() > MAX_COLORS
    assert (colors_per_sprite(two.sprites) <= 2).all()
    np.testing.assert_array_equal(off.sprites[..., 3], two.sprites[..., 3])


def test_chunking_does_not_change_bytes(registry: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    whole = api.generate("tiny", 11, seed=5, registry=registry)
    monkeypatch.setattr(vae, "CHUNK", 4)
    chunked = api.generate("tiny", 11, seed=5, registry=registry)
    assert chunked.sprites.tobytes() == whole.sprites.tobytes()


def test_default_model_and_handle(registry: Registry, tmp_path: Path, bundle_writer: object) -> None:
    r = api.handle(api.GenerateRequest(count=2, seed=0), registry=registry)
    assert isinstance(r, api.SpriteResult) and r.model == "tiny"
    listing = api.handle(api.ModelsRequest(), registry=registry)
    assert isinstance(listing, api.ModelsResult)
    assert [m.name for m in listing.models] == ["tiny", "tiny-dec", "tiny-gmm"]
    m = listing.models[0]
    assert (m.family, m.width, m.height, m.labels, m.latent_shape) == ("vae", SIZE, SIZE, ("a", "b"), LATENT)
    assert m.to_dict()["size"] == [SIZE, SIZE]
    assert listing.default == "tiny"


def test_encode_decode_round(registry: Registry) -> None:
    g = api.generate("tiny", 3, seed=2, registry=registry)
    enc = api.encode("tiny", list(g.sprites), registry=registry)
    assert enc.latents.shape == (3, *LATENT) and enc.latents.dtype == np.float32
    dec = api.decode("tiny", enc.latents, registry=registry)
    assert dec.sprites.shape == (3, SIZE, SIZE, 4) and dec.seeds == (None, None, None)
    z = np.stack([np.random.default_rng(2 + i).standard_normal(LATENT, dtype=np.float32) for i in range(3)])
    assert api.decode("tiny", z, registry=registry).sprites.tobytes() == g.sprites.tobytes()


def test_variations(registry: Registry, tmp_path: Path) -> None:
    src = api.generate("tiny", 1, seed=9, registry=registry).sprites[0]
    path = write_png(tmp_path / "src.png", src)
    v = api.variations("tiny", path, count=4, strength=0.8, seed=3, registry=registry)
    assert v.sprites.shape == (4, SIZE, SIZE, 4) and v.seeds == (3, 4, 5, 6)
    again = api.variations("tiny", src, count=1, strength=0.8, seed=4, registry=registry)
    assert again.sprites[0].tobytes() == v.sprites[1].tobytes()
    zero = api.variations("tiny", src, count=2, strength=0.0, seed=3, registry=registry)
    mean = api.encode("tiny", [src], registry=registry).latents
    recon = api.decode("tiny", mean, registry=registry).sprites[0]
    assert zero.sprites[0].tobytes() == zero.sprites[1].tobytes() == recon.tobytes()


@pytest.mark.parametrize("method", ["lerp", "slerp"])
def test_interpolate_endpoints(registry: Registry, method: str) -> None:
    ends = api.generate("tiny", 2, seed=20, registry=registry).sprites
    r = api.interpolate("tiny", 20, 21, count=6, method=method, registry=registry)
    assert r.sprites.shape == (6, SIZE, SIZE, 4) and r.layout == (1, 6)
    assert r.sprites[0].tobytes() == ends[0].tobytes()
    assert r.sprites[-1].tobytes() == ends[1].tobytes()
    img = api.interpolate("tiny", ends[0], 21, count=3, method=method, registry=registry)  # image endpoint
    assert img.sprites.shape == (3, SIZE, SIZE, 4)
    assert img.sprites[-1].tobytes() == ends[1].tobytes()


def test_grid_corners(registry: Registry) -> None:
    corners = api.generate("tiny", 4, seed=40, registry=registry).sprites
    g = api.grid("tiny", [40, 41, 42, 43], rows=3, cols=4, method="slerp", registry=registry)
    assert g.sprites.shape == (12, SIZE, SIZE, 4) and g.layout == (3, 4)
    for idx, corner in zip((0, 3, 8, 11), corners, strict=True):
        assert g.sprites[idx].tobytes() == corner.tobytes()


def test_concurrent_requests_agree(registry: Registry) -> None:
    expected = api.generate("tiny", 16, seed=77, registry=registry).sprites.tobytes()
    out: list[bytes] = []
    threads = [
        threading.Thread(
            target=lambda: out.append(api.generate("tiny", 16, seed=77, registry=registry).sprites.tobytes())
        )
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == [expected] * 4


# ------------------------------------------------------------------------------------------ bad requests
@pytest.mark.parametrize(
    ("make", "field", "message"),
    [
        (lambda: api.GenerateRequest(count=0), "count", "count must be between 1 and 1024, got 0"),
        (lambda: api.GenerateRequest(count=1025), "count", "count must be between 1 and 1024, got 1025"),
        (
            lambda: api.GenerateRequest(count="5"),
            "count",
            "count must be an integer between 1 and 1024, got '5'",
        ),
        (lambda: api.GenerateRequest(count=True), "count", "count must be an integer"),
        (lambda: api.GenerateRequest(seed=-1), "seed", "seed must be between 0 and"),
        (lambda: api.GenerateRequest(max_colors=300), "max_colors", "max_colors must be between 0 and 256"),
        (lambda: api.GenerateRequest(model=""), "model", "model must be a non-empty string"),
        (
            lambda: api.VariationsRequest(None, b"x", strength=2.5),
            "strength",
            "strength must be between 0.0 and 2.0",
        ),
        (
            lambda: api.VariationsRequest(None, b"x", strength=float("nan")),
            "strength",
            "strength must be between",
        ),
        (lambda: api.VariationsRequest(None, 3.5), "image", "image must be an image"),
        (
            lambda: api.InterpolateRequest(None, 1, 2, count=1),
            "count",
            "count must be between 2 and 64, got 1",
        ),
        (lambda: api.InterpolateRequest(None, 1, 2, count=65), "count", "count must be between 2 and 64"),
        (lambda: api.InterpolateRequest(None, 1, 2, steps=0), "steps", "steps must be between 1 and 1000"),
        (lambda: api.interpolate(None, 1, 2, count=65), "count", "count must be between 2 and 64"),
        (lambda: api.interpolate(None, 1, 2, steps=0), "steps", "steps must be between 1"),
        (
            lambda: api.InterpolateRequest(None, 1, 2, method="cubic"),
            "method",
            "method must be one of lerp, slerp",
        ),
        (lambda: api.InterpolateRequest(None, -4, 2), "a", "a must be between 0 and"),
        (lambda: api.GridRequest(None, (1, 2, 3)), "corners", "exactly 4"),  # type: ignore[arg-type]
        (
            lambda: api.GridRequest(None, (1, 2, 3, 4), rows=17),
            "rows",
            "rows must be between 2 and 16, got 17",
        ),
        (lambda: api.DecodeRequest(None, np.zeros((0, 4, 2, 2))), "latents", "between 1 and 1024, got 0"),
        (lambda: api.DecodeRequest(None, np.full((1, 4, 2, 2), np.nan)), "latents", "finite"),
        (
            lambda: api.EncodeRequest(None, ()),
            "images",
            "the number of images must be between 1 and 1024, got 0",
        ),
    ],
)
def test_invalid_requests(make: object, field: str, message: str) -> None:
    with pytest.raises(InvalidRequest) as e:
        make()  # type: ignore[operator]
    assert e.value.field == field
    assert message in e.value.message
    assert e.value.code == "invalid_request"


def test_unknown_model(registry: Registry) -> None:
    with pytest.raises(UnknownModel) as e:
        api.generate("nope", 1, registry=registry)
    assert e.value.field == "model" and "tiny, tiny-dec, tiny-gmm" in e.value.message


def test_wrong_image_size(registry: Registry, tmp_path: Path) -> None:
    p = write_png(tmp_path / "big.png", np.zeros((16, 16, 4), np.uint8))
    with pytest.raises(ImageError) as e:
        api.variations("tiny", p, registry=registry)
    assert e.value.field == "image"
    assert e.value.message == f"{p} is 16x16 pixels, expected {SIZE}x{SIZE} for model 'tiny'"
    with pytest.raises(ImageError, match="expected 8x8") as e2:
        api.interpolate("tiny", np.zeros((4, 4, 4), np.uint8), 1, registry=registry)
    assert e2.value.field == "a"
    with pytest.raises(ImageError, match="uint8 \\(H, W, 4\\)"):
        api.VariationsRequest(None, np.zeros((8, 8, 3), np.uint8))


def test_not_an_image(registry: Registry, tmp_path: Path) -> None:
    p = tmp_path / "readme.png"
    p.write_text("not an image")
    with pytest.raises(ImageError) as e:
        api.grid("tiny", [1, 2, 3, p], registry=registry)
    assert e.value.field == "corners[3]" and f"{p} is not a readable image" in e.value.message


def test_image_ops_need_an_encoder(registry: Registry) -> None:
    src = np.zeros((SIZE, SIZE, 4), np.uint8)
    with pytest.raises(InvalidRequest, match="'tiny-dec' has no encoder") as e:
        api.variations("tiny-dec", src, registry=registry)
    assert e.value.field == "image"
    assert api.interpolate("tiny-dec", 1, 2, count=2, registry=registry).sprites.shape[0] == 2


def test_decode_checks_latent_shape(registry: Registry) -> None:
    with pytest.raises(InvalidRequest, match=r"latents must have shape \(N, 4, 2, 2\)"):
        api.decode("tiny", np.zeros((1, 8, 2, 2)), registry=registry)
