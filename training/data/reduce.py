"""Moved to :mod:`pixelsprite.datasets.reduce`; every name stays importable from here."""

from pixelsprite.datasets.reduce import *  # noqa: F403
