"""Canonizers: rewrite a model into an equivalent one that LRP rules apply to.

``fold_batchnorm`` folds every eval-mode ``BatchNorm2d`` that directly
follows a ``Conv2d`` inside an ``nn.Sequential`` into that convolution:

    BN(conv(x)) = g (W x + b - m) / sqrt(v + e) + beta
                = (s W) x + (s (b - m) + beta),    s = g / sqrt(v + e)

so the folded convolution has weight ``s W`` and bias ``s (b - m) + beta``
and the BatchNorm becomes an ``nn.Identity``. It works on a private copy
(the caller's model and tensors are untouched) and uses the running
statistics, i.e. it equals the model in eval mode.
"""

import torch
from torch import nn

from drcore.heatmaps.surgery import private_copy


def fold_conv_batchnorm(conv: nn.Conv2d, norm: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """The weight and bias of the convolution equal to ``norm(conv(x))`` in eval mode."""
    if norm.running_mean is None or norm.running_var is None:
        raise ValueError("cannot fold a BatchNorm without running statistics (track_running_stats=False)")
    with torch.no_grad():
        scale = torch.rsqrt(norm.running_var + norm.eps)
        if norm.weight is not None:
            scale = scale * norm.weight
        bias = conv.bias if conv.bias is not None else torch.zeros_like(norm.running_mean)
        folded_bias = (bias - norm.running_mean) * scale
        if norm.bias is not None:
            folded_bias = folded_bias + norm.bias
        folded_weight = conv.weight * scale.reshape(-1, *([1] * (conv.weight.dim() - 1)))
    return folded_weight, folded_bias


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with each (Conv2d, BatchNorm2d) pair of a Sequential folded into the conv."""
    folded = private_copy(model)
    for sequential in [module for module in folded.modules() if isinstance(module, nn.Sequential)]:
        names = list(sequential._modules)
        for first, second in zip(names[:-1], names[1:]):
            conv, norm = sequential._modules[first], sequential._modules[second]
            if isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d):
                weight, bias = fold_conv_batchnorm(conv, norm)
                conv.weight = nn.Parameter(weight, requires_grad=conv.weight.requires_grad)
                conv.bias = nn.Parameter(bias, requires_grad=conv.weight.requires_grad)
                sequential._modules[second] = nn.Identity()
    return folded
