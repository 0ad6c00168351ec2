"""Guided backpropagation and deconvnet: the gradient with ReLUs that back-propagate differently.

For a ReLU ``a = max(z, 0)`` receiving the gradient ``g`` from above:

- plain gradient:     ``g * [z > 0]``
- guided backprop:    ``max(g, 0) * [z > 0]``   (Springenberg et al. 2015)
- deconvnet:          ``max(g, 0)``             (Zeiler & Fergus 2014)

exactly as Captum's ``GuidedBackprop`` and ``Deconvolution``. Every
``nn.ReLU`` module of a private copy of the model (see ``surgery``) is
replaced by one with that backward; a ReLU applied as a function would be
missed, so a model without ``nn.ReLU`` modules is refused. The maps are
gradient-like and reduced like sensitivity: ``"max_abs"`` over channels.
"""

import torch
from torch import nn

from drcore.heatmaps.sensitivity import input_gradients, reduce_channels
from drcore.heatmaps.surgery import private_copy, replace_modules


class _GuidedReLUFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(z)
        return z.clamp(min=0)

    @staticmethod
    def backward(ctx, gradient: torch.Tensor) -> torch.Tensor:
        (z,) = ctx.saved_tensors
        return gradient.clamp(min=0) * (z > 0).to(gradient.dtype)


class _DeconvReLUFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z: torch.Tensor) -> torch.Tensor:
        return z.clamp(min=0)

    @staticmethod
    def backward(ctx, gradient: torch.Tensor) -> torch.Tensor:
        return gradient.clamp(min=0)


class GuidedReLU(nn.Module):
    """ReLU whose backward passes only positive gradients where the input was positive."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return _GuidedReLUFunction.apply(z)


class DeconvReLU(nn.Module):
    """ReLU whose backward is the ReLU of the incoming gradient."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return _DeconvReLUFunction.apply(z)


def _modified_gradients(model: nn.Module, batch: torch.Tensor, output: int, relu: type[nn.Module]) -> torch.Tensor:
    net = private_copy(model)
    if replace_modules(net, lambda _, module: relu() if isinstance(module, nn.ReLU) else None) == 0:
        raise ValueError(f"{relu.__name__} needs a model whose ReLUs are nn.ReLU modules; found none")
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
