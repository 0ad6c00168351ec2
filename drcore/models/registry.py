"""Architectures by name: one factory builds any of them."""

from collections.abc import Callable

from torch import nn

from drcore.errors import UnknownName
from drcore.models.efficientnet_lite import EfficientNetLiteFundus
from drcore.models.smallnet import SmallFundusNet

ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {
    "small-fundus-net": SmallFundusNet,
    "efficientnet-lite0": EfficientNetLiteFundus,
}


def build_model(architecture: str, **params: object) -> nn.Module:
    """Build an untrained model of a registered architecture."""
    try:
        factory = ARCHITECTURES[architecture]
    except KeyError:
        known = ", ".join(sorted(ARCHITECTURES))
        raise UnknownName(f"unknown architecture {architecture!r}; known: {known}") from None
    return factory(**params)
