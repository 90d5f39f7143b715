"""The bundles that ship inside the package: they load, generate what their cards promise, and stay reproducible.

Marked ``shipped``; they use the real models (a few hundred milliseconds each), never torch.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from pixelsprite import api
from pixelsprite.cli import main
from pixelsprite.imageio import read_image
from pixelsprite.metrics import colors_per_sprite, isolated_pixel_rate
from pixelsprite.registry import BUILTIN_DIR, Registry

SHIPPED = ("vae16", "vae40", "diffusion16", "diffusion40", "flow16", "flow40")
GENERATORS = ("diffusion16", "diffusion40", "flow16", "flow40")  # class-conditional: the card's figures are per label
pytestmark = pytest.mark.shipped


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry(builtin=True, env=False)


@pytest.mark.parametrize("name", SHIPPED)
def test_bundle_is_complete_and_credits_its_data(name: str) -> None:
    folder = BUILTIN_DIR / name
    manifest = json.loads((folder / "manifest.json").read_text())
    for f in ("card.md", "samples.png", "manifest.json", *(g["file"] for g in manifest["graphs"].values())):
        assert (folder / f).is_file(), f
    credits = " ".join(d["name"] + d["license"] for d in manifest["training"]["data"])
    assert "Dungeon Crawl" in credits and "CC0" in credits
    card = (folder / "card.md").read_text()
    assert "CC0" in card and "isolated-pixel rate" in card


@pytest.mark.parametrize("name", GENERATORS)
def test_labelled_sprites_meet_the_card(name: str, registry: Registry) -> None:
    m = registry.info(name).manifest
    res = api.generate(name, 64, seed=0, label="monster", registry=registry)
    size = m.image.width
    assert res.sprites.shape == (64, size, size, 4) and set(np.unique(res.sprites[..., 3])) <= {0, 255}
    gen = m.metrics["per_label"]["monster"]["generated"]
    assert abs(colors_per_sprite(res.sprites).mean() - gen["colors_per_sprite"]) < 0.35 * gen["colors_per_sprite"]
    assert abs(isolated_pixel_rate(res.sprites).mean() - gen["isolated_pixel_rate"]) < 0.1
    assert (res.sprites[..., 3] > 0).any(axis=(1, 2)).mean() > 0.9


@pytest.mark.parametrize("name", [n for n in SHIPPED if n not in GENERATORS])
def test_generated_sprites_meet_the_card(name: str, registry: Registry) -> None:
    m = registry.info(name).manifest
    res = api.generate(name, 128, seed=0, registry=registry)
    size = m.image.width
    assert res.sprites.shape == (128, size, size, 4)
    assert set(np.unique(res.sprites[..., 3])) <= {0, 255}
    gen = m.metrics["generated"]
    # the card's numbers come from 512 sprites; 128 of them land near those means
    assert abs(colors_per_sprite(res.sprites).mean() - gen["colors_per_sprite"]) < 0.35 * gen["colors_per_sprite"]
    assert abs(isolated_pixel_rate(res.sprites).mean() - gen["isolated_pixel_rate"]) < 0.1
    assert (res.sprites[..., 3] > 0).any(axis=(1, 2)).mean() > 0.9  # sprites, not empty canvases


@pytest.mark.parametrize("name", SHIPPED)
def test_a_seed_reproduces_one_sprite_exactly(name: str, registry: Registry) -> None:
    batch = api.generate(name, 8, seed=123, registry=registry)
    alone = api.generate(name, 1, seed=128, registry=registry)
    assert batch.seeds[5] == 128 and np.array_equal(batch.sprites[5], alone.sprites[0])


def test_cli_generate_sheet_and_variations(tmp_path) -> None:
    sheet = tmp_path / "sheet.png"
    assert main(["generate", "--model", "vae16", "-n", "16", "--seed", "7", "-o", str(sheet)]) == 0
    assert read_image(sheet).shape[2] == 4
    sprites = tmp_path / "sprites"
    assert main(["generate", "--model", "vae40", "-n", "2", "--seed", "1", "--separate", "-o", str(sprites)]) == 0
    first = sorted(sprites.iterdir())[0]
    assert read_image(first).shape == (40, 40, 4)
    out = tmp_path / "var.png"
    assert main(["variations", str(first), "--model", "vae40", "-n", "4", "--strength", "0.5", "-o", str(out)]) == 0
    strip = tmp_path / "strip.png"
    assert (
        main(
            [
                "interpolate",
                "--model",
                "vae16",
                "--seed-a",
                "1",
                "--seed-b",
                "2",
                "--count",
                "8",
                "--method",
                "slerp",
                "-o",
                str(strip),
            ]
        )
        == 0
    )
