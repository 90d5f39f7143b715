"""A ``pixel`` bundle's network back in torch, rebuilt from its own ONNX graph.

A shipped bundle keeps no torch checkpoint: its weights live in its ``logits`` graph. This module rebuilds the
:class:`training.models.token_unet.TokenUNet` from the manifest's recipe (``training.recipe.model``) and the
graph's initializers, so a bundle can be exported again with newer graph code for the same function (e.g. a faster
copy head; ``python -m training.reexport_pixel``).

Parameters the exporter kept under their module names (``backbone.down.0.blocks.0.conv1.weight``) load by name;
the shade kernel is made again from the manifest's palette, as training made it.
GroupNorm's affine weight and bias are inlined by the exporter as anonymous ``Mul`` / ``Add`` constants after each
``InstanceNormalization``; they are matched to the GroupNorm modules in the order the forward pass calls them.
:func:`token_unet_from_bundle` then runs the rebuilt network and the bundle's graph on the same canvases and
refuses a network that does not give the graph's output back.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import numpy_helper
from torch import nn

from pixelsprite.colorspace import srgb_to_oklab
from pixelsprite.manifest import load_manifest

from .graph_feeds import canvas_logits, every_pixel
from .models.token_unet import TokenUNet, TokenUNetConfig, example_inputs
from .token_palette import from_hex

REBUILD_ATOL = 1e-4
"""The largest |torch - graph| allowed on the check canvases (the export's own parity tolerance)."""


class RebuildError(ValueError):
    """The bundle's graph could not be mapped back onto a TokenUNet (unknown weights, or outputs that differ)."""


def _norm_constants(graph: onnx.GraphProto, inits: dict[str, np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(weight, bias) of each inlined GroupNorm, in graph order: the constant operands of the first ``Mul`` and
    ``Add`` that consume each ``InstanceNormalization``'s reshaped output."""
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    def follow(tensor: str, op: str) -> onnx.NodeProto:
        nodes = [n for n in consumers.get(tensor, []) if n.op_type == op]
        if len(nodes) != 1:
            raise RebuildError(f"expected one {op} after {tensor!r}, found {len(nodes)}")
        return nodes[0]

    def constant(node: onnx.NodeProto) -> np.ndarray:
        found = [inits[name] for name in node.input if name in inits]
        if len(found) != 1:
            raise RebuildError(f"{node.name}: expected one constant operand, found {len(found)}")
        return found[0]

    out = []
    for node in graph.node:
        if node.op_type != "InstanceNormalization":
            continue
        mul = follow(follow(node.output[0], "Reshape").output[0], "Mul")
        add = follow(mul.output[0], "Add")
        out.append((constant(mul), constant(add)))
    return out


def _group_norms_in_call_order(net: TokenUNet, example: tuple[torch.Tensor, ...]) -> list[nn.GroupNorm]:
    order: list[nn.GroupNorm] = []
    hooks = [
        m.register_forward_hook(lambda mod, *_: order.append(mod)) for m in net.modules() if isinstance(m, nn.GroupNorm)
    ]
    with torch.no_grad():
        net(*example)
    for h in hooks:
        h.remove()
    return order


def token_unet_from_bundle(bundle: str | Path, checks: int = 8) -> TokenUNet:
    """The bundle's network as an eval-mode :class:`TokenUNet` whose output equals the bundle's ``logits`` graph
    (within :data:`REBUILD_ATOL` on ``checks`` random canvases, every label and the null label).

    Raises:
        RebuildError: not a single-stage ``pixel`` bundle with a recorded recipe, a weight the graph lacks, or
            outputs that differ from the graph's.
    """
    bundle = Path(bundle)
    m = load_manifest(bundle)
    recipe = (m.training or {}).get("recipe", {}).get("model")
    if m.family != "pixel" or not recipe or m.extra.get("tokens", {}).get("base"):
        raise RebuildError(f"{bundle}: not a single-stage pixel bundle with a recorded model recipe")
    net = TokenUNet(TokenUNetConfig.from_dict(recipe)).eval()
    graph_path = bundle / m.graphs["logits"].file
    model = onnx.load(str(graph_path))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    state = net.state_dict()
    loaded = {k: torch.from_numpy(inits[k].copy()) for k in state if k in inits}

    feeds = example_inputs(net.cfg, len(m.labels), checks, seed=0)
    example = (feeds["tokens"], feeds["t"], feeds["label"])
    norms = _group_norms_in_call_order(net, example)
    constants = _norm_constants(model.graph, inits)
    if len(norms) != len(constants):
        raise RebuildError(f"{graph_path}: {len(constants)} inlined norms for {len(norms)} GroupNorm modules")
    names = {mod: name for name, mod in net.named_modules()}
    for mod, (weight, bias) in zip(norms, constants):
        if weight.size != mod.num_channels or bias.size != mod.num_channels:
            raise RebuildError(f"{graph_path}: inlined norm constants of {weight.size} channels for {names[mod]}")
        loaded[f"{names[mod]}.weight"] = torch.from_numpy(weight.reshape(-1).copy())
        loaded[f"{names[mod]}.bias"] = torch.from_numpy(bias.reshape(-1).copy())
    if net.shade_kernel is not None:  # a buffer made from the palette; the exporter may have folded it away
        net.set_palette(torch.from_numpy(srgb_to_oklab(from_hex(m.extra["tokens"]["palette"]))))
        loaded["shade_kernel"] = net.shade_kernel.clone()
    missing = sorted(set(state) - set(loaded))
    if missing:
        raise RebuildError(f"{graph_path}: no weights for {missing[:5]}{' ...' if len(missing) > 5 else ''}")
    net.load_state_dict(loaded)

    session = ort.InferenceSession(str(graph_path), providers=["CPUExecutionProvider"])
    numpy_feeds = every_pixel({name: x.numpy() for name, x in feeds.items()}, [i.name for i in session.get_inputs()])
    (expected,) = session.run(["logits"], numpy_feeds)
    expected = canvas_logits(expected, numpy_feeds["tokens"])
    with torch.no_grad():
        got = net(*example).numpy()
    diff = float(np.abs(got - expected).max())
    if not diff <= REBUILD_ATOL:
        raise RebuildError(f"{graph_path}: the rebuilt network differs from the graph by {diff:.2e}")
    return net
