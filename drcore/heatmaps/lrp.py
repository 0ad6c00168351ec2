"""Layer-wise relevance propagation (Bach et al. 2015; Montavon et al. 2019), written natively.

How relevance moves through the model, layer by layer (top to bottom):

1. Start: ``R = logit_output`` for the explained output, 0 for the others.
2. A pooling head that declares its position weights (:class:`WeightedPool`;
   e.g. ``LogSumExpPool`` ``y = log(mean_p exp(r s_p)) / r``, whose gradient
   is the softmax ``w_p = softmax(r s)_p``, and ``y ~ sum_p w_p s_p`` to first
   order). ``pool_rule="contribution"`` (default) applies the composite's rule
   (epsilon or alpha-beta) to that linear-in-softmax layer with the weights
   ``w`` frozen: for epsilon ``R_p = w_p s_p / (sum_q w_q s_q + e) R``; it
   conserves relevance and is exact for the linear-in-softmax approximation.
   ``pool_rule="softmax"`` gives every position the share of its softmax
   weight, ``R_p = w_p R``: it credits positions whose logit is negative
   whenever ``R > 0``, and relevance given to a position whose logit map has
   no active input (``s_p`` = its bias, 0 without biases) is lost below.
3. ``Conv2d`` / ``Linear``: the rule the :class:`Composite` gives the layer's
   type (``lrp_rules``; the methods use one rule everywhere); the first one in
   module order (the pixels' layer) may use its own: ``first_layer="same"``
   (default), ``"epsilon"`` or ``"zb"`` (z^B with ``low``/``high``, default
   -1/1: drx inputs are clipped to [-1, 1] by colour normalisation). z^B
   sends relevance to pixels that are 0 (the field-of-view's outside) too,
   which is why it is not the default here.
4. ``BatchNorm2d`` after a convolution: folded into it first (``canonizers``).
5. ``ReLU``: relevance passes where the unit was active (it is 0 elsewhere
   anyway). ``MaxPool2d``: winner-take-all, all relevance of a window goes to
   its maximum (the gradient's routing). ``Identity``/``Flatten``/``Dropout``
   (eval): unchanged.

Any other leaf module (an unfolded BatchNorm, another activation, ...) is
refused with ``UnsupportedModel``. Operations outside modules (a residual
``a + b``) cannot be seen: such models are not supported. Channels of the
input relevance are reduced by the signed ``"sum"``, so a map adds up to the
relevance that reached the input (``logit`` minus what biases and
stabilisers absorbed). Everything happens on a private, folded copy of the
model: the caller's model never carries a hook or a changed module.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
from torch import nn

from drcore.errors import UnsupportedModel
from drcore.heatmaps.canonizers import fold_batchnorm
from drcore.heatmaps.lrp_rules import AlphaBeta, Epsilon, Form, ZBox, layer_form
from drcore.heatmaps.sensitivity import reduce_channels
from drcore.heatmaps.surgery import replace_modules

Rule = Callable[[Form, torch.Tensor, torch.Tensor], torch.Tensor]
PASS_THROUGH = (nn.ReLU, nn.MaxPool2d, nn.Identity, nn.Flatten, nn.Dropout)
POOL_RULES = ("contribution", "softmax")
FIRST_LAYER_RULES = ("same", "epsilon", "zb")


@runtime_checkable
class WeightedPool(Protocol):
    """A pooling head ``(N, C, h, w) -> (N, C)`` that LRP can explain: it gives, for its input maps, the
    weights ``w`` over positions ``(N, C, h*w)`` with ``y ~ sum_p w_p s_p`` (its gradient). A model module
    provides the method; the explainer imports no model class."""

    def position_weights(self, maps: torch.Tensor) -> torch.Tensor:
        """The weights over positions, ``(N, C, h*w)``."""


@dataclass(frozen=True)
class Composite:
    """Which rule each layer gets, in zennit's manner: a rule per layer type (the first matching entry of
    ``layer_rules``), and ``first_layer``'s rule, when given, for the first ``Conv2d``/``Linear`` in module
    order (the pixels' layer). A layer whose type has no rule is refused with ``UnsupportedModel``."""

    layer_rules: tuple[tuple[type, Rule], ...]
    first_layer: Rule | None = None

    @classmethod
    def uniform(cls, rule: Rule, first_layer: Rule | None = None) -> "Composite":
        """``rule`` for every ``Conv2d``, ``Linear`` and :class:`WeightedPool` head (``first_layer``: see the class)."""
        return cls(((nn.Conv2d, rule), (nn.Linear, rule), (WeightedPool, rule)), first_layer)

    def rule_for(self, module: nn.Module) -> Rule | None:
        """The rule of ``module``'s type (None: no rule)."""
        return next((rule for layer_type, rule in self.layer_rules if isinstance(module, layer_type)), None)


class _Relevance(torch.autograd.Function):
    """Forward: the layer's own output. Backward: ``propagate(x, R_out)`` instead of the gradient."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, output: torch.Tensor, propagate: Callable) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.propagate = propagate
        return output.clone()

    @staticmethod
    def backward(ctx, relevance: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        (x,) = ctx.saved_tensors
        return ctx.propagate(x, relevance), None, None


class RuleLayer(nn.Module):
    """A ``Conv2d``/``Linear`` layer whose backward applies an LRP rule."""

    def __init__(self, module: nn.Module, rule: Rule) -> None:
        super().__init__()
        self.module, self.rule = module, rule

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _Relevance.apply(x, self.module(x).detach(), self._propagate)

    def _propagate(self, x: torch.Tensor, relevance: torch.Tensor) -> torch.Tensor:
        return self.rule(layer_form(self.module), x, relevance)


class PoolLayer(nn.Module):
    """A :class:`WeightedPool` head with relevance split by ``pool_rule`` (see the module doc)."""

    def __init__(self, pool: nn.Module, rule: Rule, pool_rule: str) -> None:
        super().__init__()
        self.pool, self.rule, self.pool_rule = pool, rule, pool_rule

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        return _Relevance.apply(maps, self.pool(maps).detach(), self._propagate)

    def _propagate(self, maps: torch.Tensor, relevance: torch.Tensor) -> torch.Tensor:
        weights = self.pool.position_weights(maps).detach()
        if self.pool_rule == "softmax":
            return (weights * relevance.unsqueeze(-1)).view_as(maps)

        def form(x: torch.Tensor, weight_fn: Callable = lambda w: w, bias_fn: Callable | None = None) -> torch.Tensor:
            return (weight_fn(weights) * x.flatten(2)).sum(dim=-1)

        return self.rule(form, maps, relevance)


def relevance_model(model: nn.Module, composite: Composite, pool_rule: str = "contribution") -> nn.Module:
    """A folded private copy of ``model`` whose backward pass carries LRP relevance by ``composite``'s rules."""
    if pool_rule not in POOL_RULES:
        raise ValueError(f"pool_rule must be one of {POOL_RULES}, not {pool_rule!r}")
    net = fold_batchnorm(model)
    unsupported = sorted({type(module).__name__ for module in net.modules()
                          if not list(module.children()) and not isinstance(module, PASS_THROUGH)
                          and (not isinstance(module, (nn.Conv2d, nn.Linear, WeightedPool))
                               or composite.rule_for(module) is None)})
    if unsupported:
        raise UnsupportedModel(f"LRP has no rule for {', '.join(unsupported)} (a BatchNorm must follow a Conv2d)")
    layers = [name for name, module in net.named_modules() if isinstance(module, (nn.Conv2d, nn.Linear))]

    def swap(name: str, module: nn.Module) -> nn.Module | None:
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            first = composite.first_layer is not None and name == layers[0]
            return RuleLayer(module, composite.first_layer if first else composite.rule_for(module))
        if isinstance(module, WeightedPool):
            return PoolLayer(module, composite.rule_for(module), pool_rule)
        return None

    replace_modules(net, swap)
    return net


def propagate_relevance(net: nn.Module, batch: torch.Tensor, output: int) -> torch.Tensor:
    """Input relevance ``(N, C, H, W)`` of ``logit_output`` through a ``relevance_model``."""
    inputs = batch.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        logits = net(inputs)
        top = torch.zeros_like(logits)
        top[:, output] = logits[:, output].detach()
        (relevance,) = torch.autograd.grad(logits, inputs, top)
    return relevance.detach()


def lrp(
    model: nn.Module,
    batch: torch.Tensor,
    output: int,
    composite: Composite,
    *,
    pool_rule: str = "contribution",
    channel_reduction: str = "sum",
) -> torch.Tensor:
    """LRP maps ``(N, H, W)`` with any :class:`Composite` (e.g. epsilon on ``Linear``, alpha-beta on ``Conv2d``)."""
    net = relevance_model(model, composite, pool_rule)
    return reduce_channels(propagate_relevance(net, batch, output), channel_reduction)


def _first_rule(first_layer: str, epsilon: float, low: float, high: float) -> Rule | None:
    if first_layer == "same":
        return None
    if first_layer == "epsilon":
        return Epsilon(epsilon)
    if first_layer == "zb":
        return ZBox(low, high)
    raise ValueError(f"first_layer must be one of {FIRST_LAYER_RULES}, not {first_layer!r}")


def lrp_epsilon(
    model: nn.Module,
    batch: torch.Tensor,
    output: int,
    *,
    epsilon: float = 0.1,
    first_layer: str = "same",
    low: float = -1.0,
    high: float = 1.0,
    pool_rule: str = "contribution",
    channel_reduction: str = "sum",
) -> torch.Tensor:
    """LRP-epsilon maps ``(N, H, W)``: the epsilon rule at every layer and the head.

    ``epsilon`` (default 0.1, absolute) is about a tenth of the typical
    pre-activation spread of a BatchNorm-folded layer (std ~ 1), enough to
    absorb weak, contradictory contributions; ``epsilon -> 0`` tends to
    gradient x input (times ``logit / sum_p w_p s_p`` from the head).

    ``first_layer``: ``"same"`` (default), ``"epsilon"`` or ``"zb"`` with
    ``low``/``high``; ``pool_rule``: ``"contribution"`` (default) or ``"softmax"``;
    ``channel_reduction``: signed ``"sum"`` (default). See the module doc.
    """
    composite = Composite.uniform(Epsilon(epsilon), _first_rule(first_layer, epsilon, low, high))
    return lrp(model, batch, output, composite, pool_rule=pool_rule, channel_reduction=channel_reduction)


def lrp_alpha_beta(
    model: nn.Module,
    batch: torch.Tensor,
    output: int,
    *,
    alpha: float = 2.0,
    beta: float = 1.0,
    first_layer: str = "same",
    epsilon: float = 0.1,
    low: float = -1.0,
    high: float = 1.0,
    pool_rule: str = "contribution",
    channel_reduction: str = "sum",
) -> torch.Tensor:
    """LRP-alpha-beta maps ``(N, H, W)``: ``alpha - beta = 1`` (default 2, 1) at every layer and the head.

    ``first_layer``: ``"same"`` (default), ``"epsilon"`` (uses ``epsilon``,
    default 0.1) or ``"zb"`` with ``low``/``high``; ``pool_rule``:
    ``"contribution"`` (alpha-beta on the linear-in-softmax head, default) or
    ``"softmax"``; ``channel_reduction``: signed ``"sum"`` (default).
    """
    composite = Composite.uniform(AlphaBeta(alpha, beta), _first_rule(first_layer, epsilon, low, high))
    return lrp(model, batch, output, composite, pool_rule=pool_rule, channel_reduction=channel_reduction)
