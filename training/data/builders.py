"""Moved to :mod:`pixelsprite.datasets.builders` (edit the builders there); every name stays importable from here.

The runtime's evaluation suite reads the held-out split with the same builders, and the runtime never imports
``training``; training imports the runtime.
"""

from pixelsprite.datasets.builders import *  # noqa: F403
from pixelsprite.datasets.builders import (  # noqa: F401 - the private builders too, for callers that reach for them
    _assemble,
    _cache_key,
    _dcss16,
    _dcss16clean,
    _dcss16fine,
    _dcss16tiles,
    _dcss32tiles,
    _dcss40,
    _dcss40clean,
    _dcss40fine,
    _dcss_files,
    _dcss_fine,
    _dcss_tiles,
    _icons16,
    _sprites16,
)
