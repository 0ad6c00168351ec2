"""Grad-CAM (Selvaraju et al. 2017) at a named layer, upsampled to the input.

``cam = ReLU(sum_k a_k A_k)``, ``a_k = mean over positions of d logit / d A_k``,
with ``A`` the output of layer ``layer`` (a name for ``model.get_submodule``;
default: the last child of ``model.features`` that holds a ``Conv2d``, i.e.
the last ConvBlock of ``SmallFundusNet``, ``"features.13"``; ``"backbone.head"`` for
EfficientNet-Lite0). The map is
upsampled bilinearly (``align_corners=False``) to the input size: the same as
Captum's ``LayerGradCam(relu_attributions=True)`` and
``LayerAttribution.interpolate(..., "bilinear")``. There is no channel
dimension to reduce; the ReLU is part of the method.

For ``SmallFundusNet`` at its last block, ``a_k = W_k / (h w)`` (the pooling's
softmax weights sum to 1), so Grad-CAM is the class-activation map
``ReLU(logit map - bias) / (h w)``.
"""

import torch
import torch.nn.functional as F
from torch import nn

from drcore.errors import UnknownName
from drcore.heatmaps.surgery import Capture, private_copy


def default_layer(model: nn.Module) -> str:
    """The name of the last child of ``model.features`` that contains a ``Conv2d``; for an EfficientNet-Lite0
    fundus model, its 1280-channel head conv (``backbone.head``)."""
    if isinstance(getattr(getattr(model, "backbone", None), "head", None), nn.Module):
        return "backbone.head"
    features = getattr(model, "features", None)
    if isinstance(features, nn.Sequential):
        for index in reversed(range(len(features))):
            if any(isinstance(module, nn.Conv2d) for module in features[index].modules()):
                return f"features.{index}"
    raise ValueError(f"{type(model).__name__} has no `features` Sequential with a Conv2d: pass layer=...")


def grad_cam(model: nn.Module, batch: torch.Tensor, output: int, *, layer: str | None = None) -> torch.Tensor:
    """Grad-CAM maps ``(N, H, W)`` at ``layer`` (default: ``default_layer(model)``)."""
    name = layer if layer is not None else default_layer(model)
    net = private_copy(model)
    try:
        target = net.get_submodule(name)
    except AttributeError:
        raise UnknownName(f"{type(model).__name__} has no layer {name!r}") from None
    capture = Capture(target)
    net.set_submodule(name, capture)
    inputs = batch.detach().clone().requires_grad_(True)  # so A is in the graph even for frozen weights
    with torch.enable_grad():
        logits = net(inputs)
        activations = capture.output
        (gradients,) = torch.autograd.grad(logits[:, output].sum(), activations)
    weights = gradients.mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((weights * activations.detach()).sum(dim=1, keepdim=True))
    return F.interpolate(cam, size=batch.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
