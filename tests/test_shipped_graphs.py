"""Every shipped graph runs anywhere onnxruntime runs: standard ONNX operators only (no onnxruntime-specific fused or
layout ops, which an optimiser can leave in a saved graph and which may be tied to one CPU's vector width), at the
opset its manifest names; and a graph is quantised exactly when its manifest says so (``metrics.quantized``, whose
``graphs`` names the quantised roles when not every graph is)."""

from __future__ import annotations

import onnx
import pytest

from pixelsprite.registry import Registry

pytestmark = pytest.mark.shipped

REGISTRY = Registry(builtin=True, env=False)
GRAPHS = [(b.name, role) for b in REGISTRY.bundles() if b.builtin for role in b.manifest.graphs]
QDQ = {"QuantizeLinear", "DequantizeLinear"}


@pytest.mark.parametrize(("name", "role"), GRAPHS)
def test_graph_uses_standard_operators_and_says_when_quantised(name: str, role: str) -> None:
    info = REGISTRY.info(name)
    spec = info.manifest.graphs[role]
    model = onnx.load(str(info.path / spec.file), load_external_data=False)
    domains = {node.domain for node in model.graph.node}
    assert domains <= {"", "ai.onnx"}, f"{name}/{spec.file}: non-standard operator domains {domains}"
    default = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]
    assert default == [spec.opset]
    ops = {node.op_type for node in model.graph.node}
    quantized = info.manifest.metrics.get("quantized") or {}
    roles = quantized.get("graphs", list(info.manifest.graphs)) if quantized else []
    assert bool(ops & QDQ) == (role in roles), f"{name}/{spec.file}"
