"""The runtime and the bridge work with torch unimportable.

A subprocess installs a meta-path finder that makes ``import torch`` fail, imports pixelsprite, its CLI and
API and the bridge, lists models and generates a sheet from a decoder-only bundle built here with
``onnx.helper`` (no torch involved), then checks that torch never entered ``sys.modules``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent(
    """
    import importlib.abc, json, sys

    class BlockTorch(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ImportError(f"{name} is blocked in this test")
            return None

    sys.meta_path.insert(0, BlockTorch())
    import pixelsprite, pixelsprite.api, pixelsprite.cli, bridge  # noqa: E401

    models_dir, out = sys.argv[1], sys.argv[2]
    assert pixelsprite.cli.main(["models", "--json"]) == 0
    assert pixelsprite.cli.main(["--models-dir", models_dir, "models", "--json"]) == 0
    if out != "-":
        assert pixelsprite.cli.main(["--models-dir", models_dir, "generate", "--model", "lin",
                                     "-n", "4", "--seed", "1", "-o", out]) == 0
    assert "torch" not in sys.modules, sorted(m for m in sys.modules if m.startswith("torch"))
    print(json.dumps({"ok": True}))
    """
)


def _linear_bundle(root: Path) -> bool:
    """A decoder-only 'vae' bundle: z (batch, 2, 2, 2) -> tanh(z W) reshaped to (batch, 4, 4, 4)."""
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        return False
    from pixelsprite.manifest import (
        GraphSpec,
        ImageSpec,
        LatentSpec,
        Manifest,
        TensorSpec,
        save_manifest,
        sha256_file,
    )

    weights = np.random.default_rng(0).standard_normal((8, 64)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Reshape", ["z", "flat_shape"], ["flat"]),
            helper.make_node("MatMul", ["flat", "W"], ["h"]),
            helper.make_node("Tanh", ["h"], ["t"]),
            helper.make_node("Reshape", ["t", "image_shape"], ["image"]),
        ],
        "lin",
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", 2, 2, 2])],
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 4, 4, 4])],
        initializer=[
            numpy_helper.from_array(weights, "W"),
            numpy_helper.from_array(np.array([-1, 8], np.int64), "flat_shape"),
            numpy_helper.from_array(np.array([-1, 4, 4, 4], np.int64), "image_shape"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    folder = root / "lin"
    folder.mkdir(parents=True)
    onnx.save(model, str(folder / "decoder.onnx"))
    manifest = Manifest(
        name="lin",
        family="vae",
        image=ImageSpec(4, 4),
        latent=LatentSpec((2, 2, 2)),
        graphs={
            "decoder": GraphSpec(
                "decoder.onnx",
                sha256_file(folder / "decoder.onnx"),
                inputs=[TensorSpec("z", "float32", ("batch", 2, 2, 2))],
                outputs=[TensorSpec("image", "float32", ("batch", 4, 4, 4))],
            )
        },
    )
    save_manifest(manifest, folder)
    return True


def test_runtime_and_bridge_import_without_torch(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    out = tmp_path / "sheet.png"
    built = _linear_bundle(models)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    env.pop("PIXELSPRITE_MODELS", None)
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(models), str(out) if built else "-"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"ok": True}
    if not built:
        pytest.skip("onnx is not installed: checked imports and `models --json` only")
    assert out.is_file()
