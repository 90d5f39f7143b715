"""Plugin test fixtures: the tiny torch-exported VAE, diffusion and flow bundles of ``tests/pixelsprite``."""

from tests.pixelsprite.conftest import (  # noqa: F401 - fixtures
    bundle_writer,
    iterative_registry,
    models_dir,
    onnx_files,
    registry,
)
