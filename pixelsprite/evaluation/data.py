"""Datasets for the evaluation suite, read with the dataset builders of :mod:`pixelsprite.datasets`.

The suite needs the exact held-out split the models were trained without, and that split is defined once, by
the builders in ``pixelsprite/datasets`` (stable sha1 split of relative paths, pixel-art 2x reduction for 16x16),
which training builds its datasets with too (training imports the runtime, never the reverse). They use numpy and
pillow only; ``tests/pixelsprite/test_evaluation_cli.py`` runs the command with torch made unimportable. A build is
cached as ``.npz`` (``cache_dir``), so a second run is a file read.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..datasets.builders import load_dataset
from ..errors import InvalidRequest
from .suite import SpriteData

__all__ = ["load_split"]


def load_split(
    builder: str,
    data_root: str | os.PathLike[str],
    cache_dir: str | os.PathLike[str] | None = ".cache/datasets",
    size: int = 0,
) -> SpriteData:
    """The dataset ``builder`` (e.g. ``dcss16fine``, or ``folder:PATH`` with ``size``) as train/held-out arrays.

    Raises :class:`~pixelsprite.errors.InvalidRequest` (field ``data``) when it cannot be read: an unknown
    dataset name or a missing data folder.
    """
    if not builder.startswith("folder:") and not Path(data_root).is_dir():
        raise InvalidRequest(
            f"data folder {str(data_root)!r} does not exist; pass --data DIR (the folder holding "
            "dcss-tiles/ and onebit-icons-16/, e.g. ../shared/datasets)",
            field="data",
        )
    try:
        ds = load_dataset(builder, Path(data_root), size, None if cache_dir is None else Path(cache_dir))
    except (ValueError, FileNotFoundError) as e:
        raise InvalidRequest(str(e), field="data") from None
    return SpriteData(
        ds.name, ds.images[~ds.held_out], ds.images[ds.held_out], ds.labels[ds.held_out], tuple(ds.label_names)
    )
