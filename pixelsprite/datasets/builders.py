"""Builders for the shared CC0 collections (see ``../shared/datasets/README.md``) and any folder of sprites.

numpy and pillow only: training builds its datasets here, and the runtime's evaluation suite reads the same held-out
split here (``training.data.builders`` re-exports this module; the runtime never imports ``training``).

A built dataset is a :class:`SpriteSet`; builds are cached as ``.npz`` keyed by the builder, its version and
the list of source files (path and size), so a second build of the same data is a file read.

Shipped recipes (the data path is always an argument):
- ``dcss40``: Dungeon Crawl Stone Soup tiles that fit, centred on a transparent 40x40 canvas; label = top folder.
- ``dcss16``: the 32x32 DCSS tiles reduced 2x by :func:`pixelsprite.datasets.reduce.reduce_2x`.
- ``icons16``: Nikoichu's 1-bit icons at their native 16x16; label = file-name theme prefix.
- ``sprites16``: ``dcss16`` + ``icons16`` (icons get the single label ``icon``).
- ``dcss16fine`` / ``dcss40fine``: the DCSS monsters and items only, sized as ``dcss16`` / ``dcss40``, with the
  class labels of :func:`fine_label` (monster, weapon, armour, potion, scroll, ...) for conditional generators.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .reduce import reduce_2x
from .sprites import SpriteFile, center_on_canvas, cut_grid, is_held_out, iter_folder, read_sprite

BUILDER_VERSION = 1
DCSS_EXCLUDED = ("UNUSED",)  # leftovers the game no longer uses

DCSS_CREDIT = {
    "name": "Dungeon Crawl Stone Soup tiles (crawl/tiles, releases/Nov-2015)",
    "license": "CC0-1.0",
    "source": "https://github.com/crawl/tiles — artists listed in ARTISTS.md of the collection",
}
ICONS_CREDIT = {
    "name": "1-bit Pixel Icons by Nikoichu",
    "license": "CC0-1.0",
    "source": "Nikoichu's 1-bit Pixel Icons, via brentvatne/oxi-e16-config references/icons/Sprites",
}


@dataclass(frozen=True)
class SpriteSet:
    """Sprites of one size with labels and a stable split.

    images: (N, S, S, 4) uint8 hard-alpha RGBA; labels: (N,) int64 indices into ``label_names``;
    held_out: (N,) bool, the validation split (stable hash of ``paths``); paths: source-relative paths.
    """

    name: str
    images: np.ndarray
    labels: np.ndarray
    label_names: tuple[str, ...]
    paths: tuple[str, ...]
    held_out: np.ndarray
    credits: tuple[dict, ...] = ()

    @property
    def size(self) -> int:
        return int(self.images.shape[1])

    def subset(self, mask: np.ndarray) -> SpriteSet:
        idx = np.flatnonzero(mask)
        return replace(
            self,
            images=self.images[idx],
            labels=self.labels[idx],
            paths=tuple(self.paths[i] for i in idx),
            held_out=self.held_out[idx],
        )

    def train(self) -> SpriteSet:
        return self.subset(~self.held_out)

    def val(self) -> SpriteSet:
        return self.subset(self.held_out)


def _assemble(name: str, items: Iterable[tuple[str, str, np.ndarray]], credits: tuple[dict, ...]) -> SpriteSet:
    """items: (relative path, label, (S, S, 4) uint8) -> SpriteSet with labels sorted by name."""
    items = list(items)
    if not items:
        raise ValueError(f"dataset {name!r} is empty: no usable sprites found")
    label_names = tuple(sorted({label for _, label, _ in items}))
    index = {n: i for i, n in enumerate(label_names)}
    return SpriteSet(
        name=name,
        images=np.stack([img for _, _, img in items]),
        labels=np.array([index[label] for _, label, _ in items], dtype=np.int64),
        label_names=label_names,
        paths=tuple(rel for rel, _, _ in items),
        held_out=np.array([is_held_out(rel) for rel, _, _ in items], dtype=bool),
        credits=credits,
    )


def _dcss_files(root: Path) -> list[SpriteFile]:
    return [f for f in iter_folder(root, "subfolder") if f.label and f.label not in DCSS_EXCLUDED]


def _dcss40(root: Path) -> SpriteSet:
    items = []
    for f in _dcss_files(root):
        rgba = read_sprite(f.path)
        if rgba.shape[0] <= 40 and rgba.shape[1] <= 40 and rgba[..., 3].any():
            items.append((f.relative, f.label, center_on_canvas(rgba, 40)))
    return _assemble("dcss40", items, (DCSS_CREDIT,))


def _dcss16(root: Path) -> SpriteSet:
    items = []
    for f in _dcss_files(root):
        rgba = read_sprite(f.path)
        if rgba.shape[:2] == (32, 32):
            small = reduce_2x(rgba)
            if small[..., 3].any():
                items.append((f.relative, f.label, small))
    return _assemble("dcss16", items, (DCSS_CREDIT,))


def _icons16(root: Path) -> SpriteSet:
    items = []
    sprites = root / "sprites" if (root / "sprites").is_dir() else root
    for f in iter_folder(sprites, "prefix"):
        rgba = read_sprite(f.path)
        if rgba.shape[:2] == (16, 16) and rgba[..., 3].any():
            items.append((f.relative, f.label or "misc", rgba))
    return _assemble("icons16", items, (ICONS_CREDIT,))


FINE_MERGE = {"gold": "misc", "rod": "wand"}  # item folders too small for a label of their own


def fine_label(relative: str) -> str | None:
    """The class label of a DCSS tile for the conditional generators, or None when it gets none.

    ``mon/**`` -> ``monster``; ``item/<sub>/**`` -> ``<sub>`` (amulet, armour, book, food, misc, potion, ring,
    scroll, staff, wand, weapon), with :data:`FINE_MERGE` folding ``gold`` into ``misc`` and ``rod`` into
    ``wand``. Everything else (floors, walls, effects, GUI, player doll parts, loose item tiles) is left out.
    """
    parts = relative.split("/")
    if parts[0] == "mon":
        return "monster"
    if parts[0] == "item" and len(parts) > 2:
        return FINE_MERGE.get(parts[1], parts[1])
    return None


def _dcss_fine(
    root: Path, size: int, labeller: Callable[[str], str | None] = fine_label, kind: str = "fine"
) -> SpriteSet:
    items = []
    for f in _dcss_files(root):
        label = labeller(f.relative)
        if label is None:
            continue
        rgba = read_sprite(f.path)
        if size == 16:
            img = reduce_2x(rgba) if rgba.shape[:2] == (32, 32) else None
        else:
            img = center_on_canvas(rgba, size) if rgba.shape[0] <= size and rgba.shape[1] <= size else None
        if img is not None and img[..., 3].any():
            items.append((f.relative, label, img))
    return _assemble(f"dcss{size}{kind}", items, (DCSS_CREDIT,))


CLEAN_MERGE = {"ring": "jewellery", "amulet": "jewellery", "scroll": "book", "staff": "wand"}
"""Labels folded together in the clean sets: without their overlay glyphs, ring (4 sprites), scroll (9) and staff (10)
are too small to learn on their own."""


def label_aliases(dataset: str, label_names: tuple[str, ...]) -> dict[str, str]:
    """The folder names a dataset folded into its labels, as a model's ``label_aliases`` (manifest): a request for
    ``ring`` to a model trained on a ``dcss*clean`` set means ``jewellery``. Empty for sets that fold nothing."""
    merges = {}
    if dataset.startswith("dcss") and dataset.endswith("clean"):
        merges = {**FINE_MERGE, **CLEAN_MERGE}  # the clean labels are the fine ones, folded further
    elif dataset.startswith("dcss") and dataset.endswith("fine"):
        merges = dict(FINE_MERGE)
    return {a: t for a, t in sorted(merges.items()) if t in label_names and a not in label_names}


def is_overlay_glyph(relative: str) -> bool:
    """True for DCSS overlay glyphs: marks drawn on top of another tile in the game, not sprites of their own.

    ``i-*.png`` identification marks (potions, rings, scrolls, wands, ...), the pieces in ``brands`` and
    ``*_brands`` folders and the tentacle ``*_corners``. They are most of the small item folders (ring 24 of 28,
    scroll 23 of 32, potion 31 of 50), which is why models trained on ``dcss*fine`` draw rare labels as small blobs.
    """
    parts = relative.split("/")
    folders = parts[:-1]
    return parts[-1].startswith("i-") or any(
        p == "brands" or p.endswith("_brands") or p.endswith("_corners") for p in folders
    )


def clean_label(relative: str) -> str | None:
    """The label of a DCSS tile in the ``dcss*clean`` sets: :func:`fine_label` without overlay glyphs, and with
    :data:`CLEAN_MERGE` (jewellery = amulet + ring, book = book + scroll, wand = wand + rod + staff)."""
    if is_overlay_glyph(relative):
        return None
    label = fine_label(relative)
    return None if label is None else CLEAN_MERGE.get(label, label)


def _dcss16fine(root: Path) -> SpriteSet:
    return _dcss_fine(root, 16)


def _dcss40fine(root: Path) -> SpriteSet:
    return _dcss_fine(root, 40)


def _dcss16clean(root: Path) -> SpriteSet:
    return _dcss_fine(root, 16, clean_label, "clean")


def _dcss40clean(root: Path) -> SpriteSet:
    return _dcss_fine(root, 40, clean_label, "clean")


TILE_FOLDERS = ("floor", "wall", "water")
"""The DCSS ``dngn`` folders that hold terrain tiles, and the tile labels (``floor/grass`` is floor, ``wall/abyss`` is
wall). Altars, doors, statues, gateways, traps, trees and vaults are objects on a floor, not tiles that repeat."""


def tile_label(relative: str) -> str | None:
    """``dngn/<floor|wall|water>/**`` -> that folder's name; anything else -> None."""
    parts = relative.split("/")
    if len(parts) > 2 and parts[0] == "dngn" and parts[1] in TILE_FOLDERS:
        return parts[1]
    return None


def _dcss_tiles(root: Path, size: int) -> SpriteSet:
    """Fully opaque 32x32 terrain tiles (the shoal edges of ``water`` are partly transparent overlays: left out),
    at 32x32 or reduced 2x to 16x16."""
    items = []
    for f in _dcss_files(root):
        label = tile_label(f.relative)
        if label is None:
            continue
        rgba = read_sprite(f.path)
        if rgba.shape[:2] != (32, 32) or not (rgba[..., 3] == 255).all():
            continue
        items.append((f.relative, label, reduce_2x(rgba) if size == 16 else rgba))
    return _assemble(f"dcss{size}tiles", items, (DCSS_CREDIT,))


def _dcss16tiles(root: Path) -> SpriteSet:
    return _dcss_tiles(root, 16)


def _dcss32tiles(root: Path) -> SpriteSet:
    return _dcss_tiles(root, 32)


def label_counts(ds: SpriteSet) -> dict[str, int]:
    """Sprites per label name (all splits)."""
    counts = np.bincount(ds.labels, minlength=len(ds.label_names))
    return {name: int(c) for name, c in zip(ds.label_names, counts)}


def _sprites16(roots: dict[str, Path]) -> SpriteSet:
    dcss = _dcss16(roots["dcss"])
    icons = _icons16(roots["icons"])
    items = [(p, dcss.label_names[lab], img) for p, lab, img in zip(dcss.paths, dcss.labels, dcss.images)]
    items += [("icons/" + p, "icon", img) for p, img in zip(icons.paths, icons.images)]
    return _assemble("sprites16", items, (DCSS_CREDIT, ICONS_CREDIT))


def folder_dataset(
    root: str | Path,
    size: int,
    label_from: str = "subfolder",
    grid: tuple[int, int] | None = None,
    name: str = "folder",
) -> SpriteSet:
    """Any folder of sprites -> SpriteSet at ``size`` (smaller sprites centred, 2x-reduced if twice as big).

    ``grid=(w, h)`` cuts every file as a sprite sheet of w x h cells first. Sprites that fit neither way are
    skipped.
    """
    items = []
    for f in iter_folder(root, label_from):
        rgba = read_sprite(f.path)
        cells = cut_grid(rgba, *grid) if grid else [rgba]
        for i, cell in enumerate(cells):
            h, w = cell.shape[:2]
            if h <= size and w <= size:
                img = center_on_canvas(cell, size)
            elif (h, w) == (2 * size, 2 * size):
                img = reduce_2x(cell)
            else:
                continue
            if img[..., 3].any():
                items.append((f"{f.relative}#{i}" if grid else f.relative, f.label or "sprite", img))
    return _assemble(name, items, ())


BUILDERS: dict[str, tuple[Callable[..., SpriteSet], tuple[str, ...]]] = {
    "dcss40": (_dcss40, ("dcss",)),
    "dcss16": (_dcss16, ("dcss",)),
    "icons16": (_icons16, ("icons",)),
    "sprites16": (_sprites16, ("dcss", "icons")),
    "dcss16fine": (_dcss16fine, ("dcss",)),
    "dcss40fine": (_dcss40fine, ("dcss",)),
    "dcss16clean": (_dcss16clean, ("dcss",)),
    "dcss40clean": (_dcss40clean, ("dcss",)),
    "dcss16tiles": (_dcss16tiles, ("dcss",)),
    "dcss32tiles": (_dcss32tiles, ("dcss",)),
}
DEFAULT_SUBDIRS = {"dcss": "dcss-tiles", "icons": "onebit-icons-16"}


def _cache_key(name: str, roots: dict[str, Path]) -> str:
    h = hashlib.sha1(f"{name}:{BUILDER_VERSION}".encode())
    for key in sorted(roots):
        for p in sorted(roots[key].rglob("*.png")):
            h.update(f"{key}/{p.relative_to(roots[key]).as_posix()}:{p.stat().st_size}\n".encode())
    return h.hexdigest()[:16]


def build(name: str, data_root: str | Path, cache_dir: str | Path | None = ".cache/datasets") -> SpriteSet:
    """Build (or read from cache) the dataset ``name`` from the shared collections under ``data_root``.

    ``data_root`` is the folder holding ``dcss-tiles/`` and ``onebit-icons-16/`` (e.g. ``../shared/datasets``).
    """
    if name not in BUILDERS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {sorted(BUILDERS)}")
    fn, needs = BUILDERS[name]
    roots = {k: Path(data_root) / DEFAULT_SUBDIRS[k] for k in needs}
    for k, r in roots.items():
        if not r.is_dir():
            raise FileNotFoundError(f"dataset {name!r} needs {r} (the {k} collection); pass --data DIR")
    cache = None
    if cache_dir is not None:
        cache = Path(cache_dir) / f"{name}-{_cache_key(name, roots)}.npz"
        if cache.exists():
            return load_npz(cache)
    ds = fn(roots) if len(needs) > 1 else fn(roots[needs[0]])
    if cache is not None:
        save_npz(ds, cache)
    return ds


def save_npz(ds: SpriteSet, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(
        tmp,
        images=ds.images,
        labels=ds.labels,
        held_out=ds.held_out,
        meta=np.array(
            json.dumps({"name": ds.name, "label_names": ds.label_names, "paths": ds.paths, "credits": ds.credits})
        ),
    )
    tmp.replace(path)


def load_npz(path: Path) -> SpriteSet:
    with np.load(path) as z:
        meta = json.loads(str(z["meta"]))
        return SpriteSet(
            meta["name"],
            z["images"],
            z["labels"],
            tuple(meta["label_names"]),
            tuple(meta["paths"]),
            z["held_out"],
            tuple(meta["credits"]),
        )


def load_dataset(
    spec: str, data_root: str | Path, size: int, cache_dir: str | Path | None = ".cache/datasets"
) -> SpriteSet:
    """``spec`` is a builder name (see :data:`BUILDERS`) or ``folder:PATH`` for any folder of sprites at ``size``
    (labels from subfolders)."""
    if spec.startswith("folder:"):
        return folder_dataset(spec.removeprefix("folder:"), size)
    return build(spec, data_root, cache_dir or None)
