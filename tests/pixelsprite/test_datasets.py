"""The dataset builders (pixelsprite.datasets: training builds with them, the evaluation suite reads the split)."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixelsprite.datasets.builders import build, folder_dataset
from pixelsprite.datasets.reduce import reduce_2x
from pixelsprite.datasets.sprites import center_on_canvas, cut_grid, is_held_out, to_hard_rgba

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
R, G, K, T = [255, 0, 0, 255], [0, 255, 0, 255], [10, 10, 10, 255], [0, 0, 0, 0]


def test_reduce_2x_picks_majority_colour_and_darkest_on_ties():
    img = np.array(
        [
            [R, R, R, G],
            [R, G, K, G],
            [T, T, T, R],
            [T, R, T, T],
        ],
        np.uint8,
    )
    out = reduce_2x(img)
    # block (0,0): R x3 -> R; block (0,1): R, G, G, K -> G (2 of 4)
    assert out[0, 0].tolist() == R and out[0, 1].tolist() == G
    # block (1,0): one opaque pixel of four -> transparent; block (1,1): one opaque -> transparent
    assert out[1, 0].tolist() == T and out[1, 1].tolist() == T
    tie = np.array([[R, K], [T, T]], np.uint8)  # two opaque (kept), R vs K tie -> darkest K
    assert reduce_2x(tie)[0, 0].tolist() == K


def test_reduce_2x_never_invents_colours():
    rng = np.random.default_rng(0)
    img = np.zeros((32, 32, 4), np.uint8)
    img[..., :3] = rng.integers(0, 256, (32, 32, 3))
    img[..., 3] = np.where(rng.random((32, 32)) < 0.7, 255, 0)
    img[img[..., 3] == 0] = 0
    small = reduce_2x(img)
    src = {tuple(p) for p in img.reshape(-1, 4)}
    assert all(tuple(p) in src for p in small.reshape(-1, 4))
    assert set(np.unique(small[..., 3])) <= {0, 255}


@pytest.mark.parametrize("mode", ["P", "L", "LA", "RGB", "RGBA"])
def test_to_hard_rgba_every_mode(mode):
    rgba = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    rgba.putpixel((1, 1), (200, 100, 50, 255))
    rgba.putpixel((2, 2), (10, 20, 30, 100))  # soft alpha below threshold -> transparent
    if mode == "P":
        img = rgba.convert("P")
        img.info["transparency"] = img.getpixel((0, 0))
    else:
        img = rgba.convert(mode)
    out = to_hard_rgba(img)
    assert out.dtype == np.uint8 and out.shape == (4, 4, 4)
    assert set(np.unique(out[..., 3])) <= {0, 255}
    assert (out[out[..., 3] == 0] == 0).all()
    if mode in ("P", "LA", "RGBA"):
        assert out[0, 0, 3] == 0 and out[1, 1, 3] == 255 and out[2, 2, 3] == 0
    else:
        assert (out[..., 3] == 255).all()


def test_cut_grid_and_center():
    sheet = np.zeros((8, 12, 4), np.uint8)
    sheet[1, 1] = R
    sheet[5, 9] = G
    cells = cut_grid(sheet, 4, 4)
    assert len(cells) == 2 and cells[0][1, 1].tolist() == R and cells[1][1, 1].tolist() == G
    c = center_on_canvas(cells[0], 40)
    assert c.shape == (40, 40, 4) and c[19, 19].tolist() == R


def test_split_is_stable_and_about_ten_percent():
    paths = [f"mon/x{i}.png" for i in range(5000)]
    share = np.mean([is_held_out(p) for p in paths])
    assert 0.08 < share < 0.12
    assert [is_held_out(p) for p in paths[:50]] == [is_held_out(p) for p in paths[:50]]


def test_folder_dataset_labels_sizes_and_grid(tmp_path):
    (tmp_path / "hero").mkdir()
    (tmp_path / "item").mkdir()
    small = np.zeros((10, 12, 4), np.uint8)
    small[2:5, 3:6] = R
    Image.fromarray(small, "RGBA").save(tmp_path / "hero" / "a.png")
    big = np.zeros((32, 32, 4), np.uint8)
    big[:, :16] = G
    Image.fromarray(big, "RGBA").save(tmp_path / "item" / "b.png")
    Image.fromarray(np.zeros((50, 50, 4), np.uint8), "RGBA").save(tmp_path / "item" / "too_big.png")
    ds = folder_dataset(tmp_path, 16)
    assert ds.images.shape == (2, 16, 16, 4)
    assert ds.label_names == ("hero", "item")
    assert ds.images[1, :, :8].reshape(-1, 4).tolist() == [G] * 128  # 2x reduced, no blur
    sheet = np.zeros((16, 32, 4), np.uint8)
    sheet[4, 4] = R
    sheet[4, 20] = G
    (tmp_path / "sheets").mkdir()
    Image.fromarray(sheet, "RGBA").save(tmp_path / "sheets" / "s.png")
    grid = folder_dataset(tmp_path / "sheets", 16, grid=(16, 16))
    assert len(grid.images) == 2


@pytest.fixture
def shared_datasets() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared/datasets is absent")
    return SHARED


def test_shared_icons_build(shared_datasets, tmp_path):
    ds = build("icons16", shared_datasets, tmp_path)
    assert ds.images.shape[1:] == (16, 16, 4) and len(ds.images) > 1400
    assert set(np.unique(ds.images[..., 3])) == {0, 255}
    again = build("icons16", shared_datasets, tmp_path)  # from the cache
    assert np.array_equal(again.images, ds.images) and again.label_names == ds.label_names


def test_training_data_re_exports_every_name_of_the_runtime_datasets() -> None:
    """training.data.{builders,sprites,reduce} moved to pixelsprite.datasets; the old import paths keep every name."""
    import importlib

    for name in ("builders", "sprites", "reduce"):
        new = importlib.import_module(f"pixelsprite.datasets.{name}")
        old = importlib.import_module(f"training.data.{name}")
        names = [k for k in vars(new) if not k.startswith("__")]
        assert names and all(getattr(old, k) is getattr(new, k) for k in names), name
