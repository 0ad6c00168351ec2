"""The sensitivity heatmap of Quellec et al. (2017).

The heatmap of image-level output ``k`` is the sensitivity of its logit to
every input pixel: ``d logit_k / d x`` with ``x`` the model input (the prepared,
colour-normalised image). Colour channels are reduced per pixel by the largest
absolute value (Simonyan et al. 2014), which is Captum's ``Saliency`` with
``abs=True`` followed by a maximum over channels; ``"l2"`` (Euclidean norm over
channels) and ``"sum_abs"`` are available as ``channel_reduction``. The signed
``"sum"`` serves the attribution methods whose maps add up to the logit
(gradient x input, integrated gradients, LRP).
"""

import torch
from torch import nn

CHANNEL_REDUCTIONS = ("max_abs", "l2", "sum_abs", "sum")


def reduce_channels(gradients: torch.Tensor, channel_reduction: str = "max_abs") -> torch.Tensor:
    """Reduce ``(N, C, H, W)`` per-channel maps to ``(N, H, W)`` maps."""
    if channel_reduction == "max_abs":
        return gradients.abs().amax(dim=1)
    if channel_reduction == "l2":
        return gradients.pow(2).sum(dim=1).sqrt()
    if channel_reduction == "sum_abs":
        return gradients.abs().sum(dim=1)
    if channel_reduction == "sum":
        return gradients.sum(dim=1)
    raise ValueError(f"channel_reduction must be one of {CHANNEL_REDUCTIONS}, not {channel_reduction!r}")


def input_gradients(model: nn.Module, batch: torch.Tensor, output: int) -> torch.Tensor:
    """``d logit_output / d x`` for every image, ``(N, C, H, W)``, detached.

    The model should be in eval mode: samples are then independent, so the
    gradient of the summed logits gives every sample's own gradient.
    """
    inputs = batch.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        logits = model(inputs)
        (gradients,) = torch.autograd.grad(logits[:, output].sum(), inputs)
    return gradients.detach()


def sensitivity(
    model: nn.Module, batch: torch.Tensor, output: int, *, channel_reduction: str = "max_abs"
) -> torch.Tensor:
    """Sensitivity maps ``(N, H, W)`` of logit ``output`` to each input pixel.

    ``channel_reduction``: ``"max_abs"`` (default), ``"l2"``, ``"sum_abs"`` or ``"sum"``.
    """
    return reduce_channels(input_gradients(model, batch, output), channel_reduction)
