"""The one ONNX export path: explicit I/O names, dynamic batch axis, then a torch-vs-onnxruntime parity check.

Every exported graph is described by the runtime's own :class:`pixelsprite.manifest.GraphSpec`, so the names,
dtypes and shapes written into ``manifest.json`` are exactly the ones the export used.
"""

from __future__ import annotations

import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from pixelsprite.manifest import GraphSpec, TensorSpec, sha256_file

OPSET = 17
PARITY_ATOL = 1e-4  # max |torch - onnxruntime| allowed on any output element (float32, CPU)


class ParityError(AssertionError):
    """The exported graph disagrees with the torch module beyond ``PARITY_ATOL``."""


@dataclass(frozen=True)
class ExportResult:
    graph: GraphSpec
    parity_max_abs_diff: float


def export_graph(
    module: nn.Module,
    example_inputs: dict[str, torch.Tensor],
    output_names: list[str],
    path: str | Path,
    opset: int = OPSET,
    atol: float = PARITY_ATOL,
    dynamic_dims: dict[str, dict[int, str]] | None = None,
) -> ExportResult:
    """Export ``module`` (eval mode, CPU) to ``path``; batch (dim 0) is dynamic on every input and output.

    ``example_inputs``: input name -> float32 tensor with batch >= 2 (used for tracing and for the parity
    check). ``dynamic_dims``: more dynamic dims per input/output name, e.g. ``{"image": {2: "height"}}``
    (named so in the returned specs too). Raises :class:`ParityError` when onnxruntime's outputs differ from
    torch's by more than ``atol``.
    """
    path = Path(path)
    module = module.eval().cpu()
    names = list(example_inputs)
    args = tuple(example_inputs[n].cpu() for n in names)
    extra = dynamic_dims or {}
    dynamic = {n: {0: "batch", **extra.get(n, {})} for n in names + output_names}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            args,
            str(path),
            input_names=names,
            output_names=output_names,
            dynamic_axes=dynamic,
            opset_version=opset,
            dynamo=False,
        )
    with torch.no_grad():
        expected = module(*args)
    expected = [expected] if isinstance(expected, torch.Tensor) else list(expected)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(output_names, {n: a.numpy() for n, a in zip(names, args)})
    diff = max(float(np.abs(g - e.numpy()).max()) for g, e in zip(got, expected))
    if not diff <= atol:
        raise ParityError(f"{path.name}: onnxruntime differs from torch by {diff:.3g} > {atol:g}")

    def spec(name: str, t: torch.Tensor) -> TensorSpec:
        dims = dynamic[name]
        return TensorSpec(
            name, str(t.dtype).removeprefix("torch."), tuple(dims.get(i, d) for i, d in enumerate(t.shape))
        )

    graph = GraphSpec(
        file=path.name,
        sha256=sha256_file(path),
        opset=opset,
        inputs=tuple(spec(n, a) for n, a in zip(names, args)),
        outputs=tuple(spec(n, e) for n, e in zip(output_names, expected)),
    )
    return ExportResult(graph, diff)


def install_bundle(staged: str | Path, bundle: str | Path) -> Path:
    """Move a finished bundle folder ``staged`` to ``bundle``, replacing any old one.

    The files are copied next to the target first and swapped in with renames, so the old bundle stays whole until
    the new one is complete. ``staged`` is removed. Returns ``bundle``.
    """
    staged, bundle = Path(staged), Path(bundle)
    bundle.parent.mkdir(parents=True, exist_ok=True)
    incoming = bundle.with_name(f".{bundle.name}.incoming")
    outgoing = bundle.with_name(f".{bundle.name}.outgoing")
    for leftover in (incoming, outgoing):
        if leftover.exists():
            shutil.rmtree(leftover)
    shutil.copytree(staged, incoming)
    if bundle.exists():
        bundle.rename(outgoing)
    incoming.rename(bundle)
    shutil.rmtree(outgoing, ignore_errors=True)
    shutil.rmtree(staged, ignore_errors=True)
    return bundle
