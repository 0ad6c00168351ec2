"""Heatmap methods by name, all with one signature.

``method(model, batch: Tensor[N, 3, H, W], output: int, **params) -> Tensor[N, H, W]``
returns raw float maps at input resolution, not normalised, on the batch's
device. The model must be in eval mode and on the batch's device. Each
method takes only its documented keyword parameters (any other is a
``TypeError``) and never changes the caller's model: methods that alter the
backward pass or read an inner layer work on a private copy (``surgery``).

==========================  =========================  ==================================
name                        module                     per-pixel map (default reduction)
==========================  =========================  ==================================
``sensitivity`` (default)   ``sensitivity``            max_c |d logit / d x_c|
``gradient_x_input``        ``gradient``               sum_c x_c d logit / d x_c (signed)
``smoothgrad``              ``gradient``               max_c |mean over noise of gradient|
``integrated_gradients``    ``gradient`` (Captum)      sum_c IG_c (signed; sums to f(x)-f(0))
``guided_backprop``         ``guided``                 max_c |guided gradient|
``deconvnet``               ``guided``                 max_c |deconvnet gradient|
``lrp_epsilon``             ``lrp``                    sum_c R_c (signed)
``lrp_alpha_beta``          ``lrp``                    sum_c R_c (signed)
``grad_cam``                ``cam``                    ReLU(sum_k a_k A_k), bilinear upsampling
``occlusion``               ``occlusion`` (Captum)     mean logit drop of covering patches
``logit_map``               ``logit_map``              the model's own logit map, bilinear upsampling
``logit_map_sensitivity``   ``logit_map``              max_c |d sum ReLU(logit map) / d x_c|
``logit_map_x_sensitivity`` ``logit_map``              ReLU(logit map), upsampled, x the line above
``local_map``               ``logit_map``              the model's stride-8 local head's map, upsampled
==========================  =========================  ==================================

Methods with channels accept ``channel_reduction`` (``"max_abs"``, ``"l2"``,
``"sum_abs"``, ``"sum"``).

Each method is registered in :data:`REGISTRY` with what a run must know about it: the parameters it
states with its results (their defaults are the function's own, :func:`method_parameters`) and, for
methods that explain several outputs with one computation (occlusion), that function:
``f(model, batch, outputs: Sequence[int], **params) -> Tensor[N, K, H, W]``.

May import torch, Captum, drcore.errors and drcore.models (the layer types the methods hook); never
streamlit, SQLAlchemy, db or drx.
"""

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from drcore.errors import UnknownName, UnsupportedModel
from drcore.models.card import ModelCard
from drcore.heatmaps.cam import grad_cam
from drcore.heatmaps.gradient import gradient_x_input, integrated_gradients, smoothgrad
from drcore.heatmaps.guided import deconvnet, guided_backprop
from drcore.heatmaps.logit_map import local_map, logit_map, logit_map_sensitivity, logit_map_x_sensitivity
from drcore.heatmaps.lrp import lrp_alpha_beta, lrp_epsilon
from drcore.heatmaps.occlusion import occlusion, occlusion_outputs
from drcore.heatmaps.sensitivity import sensitivity

HeatmapMethod = Callable[..., torch.Tensor]


@dataclass(frozen=True)
class Registered:
    """A heatmap method, the parameters a run states with its results, and its several-outputs form if any."""

    function: HeatmapMethod
    stated: tuple[str, ...] = ()
    several_outputs: Callable[..., torch.Tensor] | None = None


REGISTRY: dict[str, Registered] = {
    "sensitivity": Registered(sensitivity),
    "gradient_x_input": Registered(gradient_x_input),
    "smoothgrad": Registered(smoothgrad, ("n_samples", "noise_level", "internal_batch_size")),
    "integrated_gradients": Registered(integrated_gradients, ("n_steps", "internal_batch_size")),
    "guided_backprop": Registered(guided_backprop),
    "deconvnet": Registered(deconvnet),
    "lrp_epsilon": Registered(lrp_epsilon),
    "lrp_alpha_beta": Registered(lrp_alpha_beta),
    "grad_cam": Registered(grad_cam),
    "occlusion": Registered(occlusion, ("patch_size", "stride", "perturbations_per_eval"), occlusion_outputs),
    "logit_map": Registered(logit_map),
    "logit_map_sensitivity": Registered(logit_map_sensitivity),
    "logit_map_x_sensitivity": Registered(logit_map_x_sensitivity),
    "local_map": Registered(local_map),
}
#: The method functions by name.
METHODS: dict[str, HeatmapMethod] = {name: entry.function for name, entry in REGISTRY.items()}

DEFAULT_METHOD = "sensitivity"

__all__ = ["DEFAULT_METHOD", "METHODS", "REGISTRY", "HeatmapMethod", "Registered", "UnsupportedModel",
           "card_map_output", "card_method", "card_reading", "compute_heatmaps", "get_method", "method_parameters"]


def get_method(name: str) -> HeatmapMethod:
    """The heatmap method registered under ``name``."""
    try:
        return METHODS[name]
    except KeyError:
        raise UnknownName(f"unknown heatmap method {name!r}; known: {', '.join(sorted(METHODS))}") from None


def card_method(card: ModelCard, output: str | None = None) -> str:
    """The heatmap method a model card states for ``output``: its choice for that output (``heatmap["methods"]``),
    else its one method (``heatmap["method"]``), else :data:`DEFAULT_METHOD`."""
    chosen = card.heatmap.get("methods", {}).get(output) if output is not None else None
    return chosen or card.heatmap.get("method", DEFAULT_METHOD)


def card_map_output(card: ModelCard, output: str) -> str:
    """The output whose map the card reads, by :func:`card_method`, to explain ``output``: its choice for that
    output (``heatmap["map_outputs"]``, e.g. the any-lesion output's map judged against each lesion type, the
    protocol of Quellec et al. 2017), else ``output`` itself."""
    return card.heatmap.get("map_outputs", {}).get(output, output)


def card_reading(card: ModelCard, output: str, method: str | None = None) -> tuple[str, str]:
    """How ``output`` is explained: (the output whose map is computed, the method). Without ``method``, the
    card's reading (:func:`card_map_output`, :func:`card_method`); with one, that method on ``output``'s own map."""
    if method is not None:
        return output, method
    return card_map_output(card, output), card_method(card, output)


def method_parameters(name: str) -> dict[str, Any]:
    """The parameters method ``name`` states with its results, at the function's own defaults."""
    get_method(name)
    entry = REGISTRY[name]
    signature = inspect.signature(entry.function).parameters
    return {parameter: signature[parameter].default for parameter in entry.stated}


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
