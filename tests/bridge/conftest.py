"""Bridge test fixtures: the tiny torch-exported VAE bundles of ``tests/pixelsprite`` and a server on 127.0.0.1.

``server`` is one :class:`~bridge.server.BackgroundServer` on an ephemeral port shared by the module's tests;
``make_server(**options)`` starts more with other options (limits, token, origins, batching) and stops them at
the end of the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pixelsprite.registry import Registry
from pixelsprite_bridge.server import BackgroundServer
from tests.pixelsprite.conftest import (  # noqa: F401 - fixtures
    bundle_writer,
    iterative_registry,
    models_dir,
    onnx_files,
    registry,
)


@pytest.fixture(scope="module")
def server(registry: Registry) -> Iterator[BackgroundServer]:  # noqa: F811 - the imported fixture
    with BackgroundServer(registry=registry, workers=2, grace_s=2.0) as srv:
        yield srv


@pytest.fixture
def make_server(registry: Registry) -> Iterator[Callable[..., BackgroundServer]]:  # noqa: F811
    started: list[BackgroundServer] = []

    def make(**options: Any) -> BackgroundServer:
        options.setdefault("registry", registry)
        options.setdefault("grace_s", 2.0)
        srv = BackgroundServer(**options).start()
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop()
