"""Moved to :mod:`pixelsprite.datasets.sprites`; every name stays importable from here."""

from pixelsprite.datasets.sprites import *  # noqa: F403
