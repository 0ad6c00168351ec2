"""LRP rules as small composable objects (after zennit).

A rule maps the relevance ``R_out`` at a layer's output to the relevance at
its input ``x``. Every layer a rule applies to is linear in ``x`` and is seen
through a *form* ``form(x, weight_fn, bias_fn)``: the layer computed with its
weight and bias passed through ``weight_fn`` / ``bias_fn`` (no bias when
``bias_fn`` is None). With ``z_ij = x_i w_ij``, ``z_j = sum_i z_ij + b_j``:

- ``Epsilon(e)``:  ``R_i = sum_j z_ij / (z_j + e sign(z_j)) R_j``  (``sign(0) = 1``).
  ``e -> 0`` gives LRP-0; the bias keeps its share (conservation needs ``b = 0``).
- ``AlphaBeta(a, b)``: ``R_i = sum_j (a z_ij+ / z_j+  -  b z_ij- / z_j-) R_j`` with
  ``z_ij+ = max(x_i w_ij, 0)`` (the sign of the *product*, so signed inputs
  such as pixels are handled: ``x+ w+ + x- w-``), ``z_j+ = sum_i z_ij+ + max(b_j, 0)``,
  and the negative parts alike (Bach et al. 2015). ``a - b = 1`` conserves
  relevance wherever both ``z_j+`` and ``z_j-`` are non-zero; a unit without
  negative contributions passes on ``a R_j`` (as in zennit), so alpha-beta
  maps do not add up to the logit.
- ``ZBox(l, h)``: the z^B rule for inputs bounded in ``[l, h]`` (Montavon et al.
  2017): ``R_i = sum_j (x_i w_ij - l w_ij+ - h w_ij-) / z_j^B R_j`` without the bias.

Each rule computes ``x * W^T (R_out / z)`` by one vector-Jacobian product of
the form per term ("LRP as a modified gradient"), so it holds for any
convolution or linear layer without writing the transposed layer by hand.
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

Form = Callable[..., torch.Tensor]


def stabilize(z: torch.Tensor, epsilon: float) -> torch.Tensor:
    """``z + epsilon * sign(z)`` with ``sign(0) = 1``: never zero for ``epsilon > 0``."""
    return z + epsilon * torch.where(z >= 0, 1.0, -1.0).to(z.dtype)


def _identity(tensor: torch.Tensor) -> torch.Tensor:
    return tensor


def _positive(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.clamp(min=0)


def _negative(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.clamp(max=0)


def layer_form(module: nn.Module) -> Form:
    """The form of a ``Conv2d`` or ``Linear`` layer."""

    def form(x: torch.Tensor, weight_fn: Callable = _identity, bias_fn: Callable | None = _identity) -> torch.Tensor:
        weight = weight_fn(module.weight)
        bias = bias_fn(module.bias) if bias_fn is not None and module.bias is not None else None
        if isinstance(module, nn.Conv2d):
            return module._conv_forward(x, weight, bias)
        return F.linear(x, weight, bias)

    return form


def _relevance_products(form: Form, terms: list, relevance: torch.Tensor) -> torch.Tensor:
    """``sum_t x_t * VJP(form_t at x_t, relevance / stabilised z)`` for each denominator group.

    ``terms`` is a list of ``(scale, denominator_parts)`` where each part is
    ``(x, weight_fn, bias_fn)``: the parts' outputs add up to the group's ``z``.
    """
    total = None
    with torch.enable_grad():
        for scale, stabilizer, parts in terms:
            inputs = [x.detach().requires_grad_(True) for x, _, _ in parts]
            z = sum(form(x, weight_fn, bias_fn) for x, (_, weight_fn, bias_fn) in zip(inputs, parts))
            gradients = torch.autograd.grad(z, inputs, relevance / stabilize(z.detach(), stabilizer))
            share = sum(x.detach() * gradient for x, gradient in zip(inputs, gradients))
            total = scale * share if total is None else total + scale * share
    return total


class Epsilon:
    """LRP-epsilon; ``epsilon`` must be positive (a tiny one approximates LRP-0)."""

    def __init__(self, epsilon: float = 1e-2) -> None:
        if not epsilon > 0:
            raise ValueError("epsilon must be positive")
        self.epsilon = epsilon

    def __call__(self, form: Form, x: torch.Tensor, relevance: torch.Tensor) -> torch.Tensor:
        return _relevance_products(form, [(1.0, self.epsilon, [(x, _identity, _identity)])], relevance)


class AlphaBeta:
    """LRP-alpha-beta; ``alpha - beta`` must be 1 (default ``alpha=2, beta=1``)."""

    def __init__(self, alpha: float = 2.0, beta: float = 1.0, stabilizer: float = 1e-12) -> None:
        if beta < 0 or abs(alpha - beta - 1.0) > 1e-9:
            raise ValueError(f"alpha-beta needs beta >= 0 and alpha - beta = 1, not alpha={alpha}, beta={beta}")
        self.alpha, self.beta, self.stabilizer = alpha, beta, stabilizer

    def __call__(self, form: Form, x: torch.Tensor, relevance: torch.Tensor) -> torch.Tensor:
        x_pos, x_neg = x.clamp(min=0), x.clamp(max=0)
        positive = [(x_pos, _positive, _positive), (x_neg, _negative, None)]
        negative = [(x_pos, _negative, _negative), (x_neg, _positive, None)]
        terms = [(self.alpha, self.stabilizer, positive)]
        if self.beta:
            terms.append((-self.beta, self.stabilizer, negative))
        return _relevance_products(form, terms, relevance)


class ZBox:
    """The z^B rule for inputs in ``[low, high]`` (first layer on pixels)."""

    def __init__(self, low: float = -1.0, high: float = 1.0, stabilizer: float = 1e-12) -> None:
        if not low < high:
            raise ValueError("ZBox needs low < high")
        self.low, self.high, self.stabilizer = low, high, stabilizer

    def __call__(self, form: Form, x: torch.Tensor, relevance: torch.Tensor) -> torch.Tensor:
        low, high = torch.full_like(x, self.low), torch.full_like(x, self.high)

        def negated(weight_fn: Callable) -> Callable:
            return lambda weight: -weight_fn(weight)

        parts = [(x, _identity, None), (low, negated(_positive), None), (high, negated(_negative), None)]
        return _relevance_products(form, [(1.0, self.stabilizer, parts)], relevance)
