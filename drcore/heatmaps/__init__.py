"""Heatmap methods by name, all with one signature.

``method(model, batch: Tensor[N, 3, H, W], output: int, **params) -> Tensor[N, H, W]``
returns raw float maps at input resolution, not normalised.
"""

from collections.abc import Callable

import torch
from torch import nn

from drcore.errors import UnknownName
from drcore.heatmaps.sensitivity import sensitivity

HeatmapMethod = Callable[..., torch.Tensor]

METHODS: dict[str, HeatmapMethod] = {
    "sensitivity": sensitivity,
}

DEFAULT_METHOD = "sensitivity"


def get_method(name: str) -> HeatmapMethod:
    """The heatmap method registered under ``name``."""
    try:
        return METHODS[name]
    except KeyError:
        raise UnknownName(f"unknown heatmap method {name!r}; known: {', '.join(sorted(METHODS))}") from None


def compute_heatmaps(
    model: nn.Module,
    batch: torch.Tensor,
    output: int,
    method: str = DEFAULT_METHOD,
    *,
    batch_size: int = 8,
    **params: object,
) -> torch.Tensor:
    """Run a method over ``batch`` in chunks of ``batch_size`` on the model's device; maps come back on the CPU."""
    function = get_method(name=method)
    device = next(model.parameters()).device
    maps = [
        function(model, chunk.to(device), output, **params).cpu()
        for chunk in torch.split(batch, batch_size)
    ]
    return torch.cat(maps)
