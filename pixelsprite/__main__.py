"""``python -m pixelsprite`` runs the command line, the same as the ``pixelsprite`` console script.

An entry point, at the top of the layers (runtime ← bridge ← entry points): the one module in ``pixelsprite/`` that
imports the bridge, for its ``serve`` and ``watch`` (``bridge.cli``). Nothing imports this module;
``tests/test_layering.py`` allows it by name.
"""

import sys

from pixelsprite_bridge.cli import main

sys.exit(main())
