"""Guided backpropagation and deconvnet: the gradient with ReLUs that back-propagate differently.

For a ReLU ``a = max(z, 0)`` receiving the gradient ``g`` from above:

- plain gradient:     ``g * [z > 0]``
- guided backprop:    ``max(g, 0) * [z > 0]``   (Springenberg et al. 2015)
- deconvnet:          ``max(g, 0)``             (Zeiler & Fergus 2014)

exactly as Captum's ``GuidedBackprop`` and ``Deconvolution``. Every
``nn.ReLU`` and ``nn.ReLU6`` module of a private copy of the model (see
``surgery``) is replaced by one with that backward (for ReLU6 the guided rule
also stops the gradient where the input is above 6, where ReLU6 is flat); a
ReLU applied as a function would be missed, so a model without such modules is
refused. The maps are
gradient-like and reduced like sensitivity: ``"max_abs"`` over channels.
"""

import torch
from torch import nn

from drcore.heatmaps.sensitivity import input_gradients, reduce_channels
from drcore.heatmaps.surgery import private_copy, replace_modules


class _GuidedReLUFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z: torch.Tensor, upper: float | None) -> torch.Tensor:
        ctx.save_for_backward(z)
        ctx.upper = upper
        return z.clamp(min=0, max=upper)

    @staticmethod
    def backward(ctx, gradient: torch.Tensor) -> tuple[torch.Tensor, None]:
        (z,) = ctx.saved_tensors
        passing = (z > 0) if ctx.upper is None else (z > 0) & (z < ctx.upper)
        return gradient.clamp(min=0) * passing.to(gradient.dtype), None


class _DeconvReLUFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z: torch.Tensor, upper: float | None) -> torch.Tensor:
        return z.clamp(min=0, max=upper)

    @staticmethod
    def backward(ctx, gradient: torch.Tensor) -> tuple[torch.Tensor, None]:
        return gradient.clamp(min=0), None


class GuidedReLU(nn.Module):
    """ReLU (or ReLU6 with ``upper=6``) whose backward passes only positive gradients where it is not flat."""

    def __init__(self, upper: float | None = None) -> None:
        super().__init__()
        self.upper = upper

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return _GuidedReLUFunction.apply(z, self.upper)


class DeconvReLU(nn.Module):
    """ReLU (or ReLU6 with ``upper=6``) whose backward is the ReLU of the incoming gradient."""

    def __init__(self, upper: float | None = None) -> None:
        super().__init__()
        self.upper = upper

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return _DeconvReLUFunction.apply(z, self.upper)


def _replacement(relu: type[nn.Module], module: nn.Module) -> nn.Module | None:
    if isinstance(module, nn.ReLU6):
        return relu(upper=6.0)
    return relu() if isinstance(module, nn.ReLU) else None


def _modified_gradients(model: nn.Module, batch: torch.Tensor, output: int, relu: type[nn.Module]) -> torch.Tensor:
    net = private_copy(model)
    if replace_modules(net, lambda _, module: _replacement(relu, module)) == 0:
        raise ValueError(f"{relu.__name__} needs a model whose ReLUs are nn.ReLU or nn.ReLU6 modules; found none")
    return input_gradients(net, batch, output)


def guided_backprop(
    model: nn.Module, batch: torch.Tensor, output: int, *, channel_reduction: str = "max_abs"
) -> torch.Tensor:
    """Guided-backpropagation maps ``(N, H, W)``; ``channel_reduction`` default ``"max_abs"``."""
    return reduce_channels(_modified_gradients(model, batch, output, GuidedReLU), channel_reduction)


def deconvnet(
    model: nn.Module, batch: torch.Tensor, output: int, *, channel_reduction: str = "max_abs"
) -> torch.Tensor:
    """Deconvnet maps ``(N, H, W)``; ``channel_reduction`` default ``"max_abs"``."""
    return reduce_channels(_modified_gradients(model, batch, output, DeconvReLU), channel_reduction)
