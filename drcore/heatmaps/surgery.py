"""Private copies of a model whose modules a method may swap.

Methods that change how a model back-propagates (guided backprop, deconvnet,
LRP) or that need an inner activation (Grad-CAM) never register hooks on the
caller's model: they work on a *private copy* whose module objects are new
but whose parameters and buffers are the caller's own tensors (no weights are
copied), and replace modules of that copy. The caller's model is never
changed, so nothing is left behind even when a method raises, and two threads
sharing one cached model (the app caches one per process) cannot see each
other's modifications.
"""

import copy
from collections.abc import Callable

import torch
from torch import nn


def private_copy(model: nn.Module) -> nn.Module:
    """A structural copy of ``model`` sharing its parameter and buffer tensors."""
    memo: dict[int, object] = {id(tensor): tensor for tensor in model.parameters()}
    memo.update({id(tensor): tensor for tensor in model.buffers()})
    return copy.deepcopy(model, memo)


def replace_modules(
    model: nn.Module, replacement: Callable[[str, nn.Module], nn.Module | None]
) -> int:
    """Replace every module for which ``replacement(name, module)`` returns a module; return how many."""
    swaps = []
    for name, module in model.named_modules():
        new = replacement(name, module) if name else None
        if new is not None:
            swaps.append((name, new))
    for name, new in swaps:
        model.set_submodule(name, new)
    return len(swaps)


class Capture(nn.Module):
    """Runs ``module`` and keeps its output in ``self.output``."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module
        self.output: torch.Tensor | None = None

    def forward(self, *args: torch.Tensor) -> torch.Tensor:
        self.output = self.module(*args)
        return self.output
