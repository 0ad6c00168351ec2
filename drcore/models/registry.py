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


def register_architecture(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator adding a model factory to the registry under ``name``."""

    def add(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in ARCHITECTURES:
            raise ValueError(f"architecture {name!r} is already registered")
        ARCHITECTURES[name] = factory
        return factory

    return add


def build_model(architecture: str, **params: object) -> nn.Module:
    """Build an untrained model of a registered architecture."""
    try:
        factory = ARCHITECTURES[architecture]
    except KeyError:
        known = ", ".join(sorted(ARCHITECTURES))
        raise UnknownName(f"unknown architecture {architecture!r}; known: {known}") from None
    return factory(**params)
