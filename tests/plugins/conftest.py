"""Plugin test fixtures: the tiny torch-exported VAE bundles of ``tests/pixelsprite``."""

from tests.pixelsprite.conftest import (  # noqa: F401 - fixtures
    bundle_writer,
    models_dir,
    onnx_files,
    registry,
)
