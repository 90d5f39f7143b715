"""Model families (torch ``nn.Module``s), one algorithm per file."""

from torch import nn


def zero_init(layer: nn.Conv2d | nn.Linear) -> None:
    """Zero a layer's weight and bias, so the residual branch or output head it ends starts at exactly zero."""
    nn.init.zeros_(layer.weight)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
