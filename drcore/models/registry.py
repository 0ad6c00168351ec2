"""Architectures by name: one factory builds any of them, importing its module (and torch) only then."""

from importlib import import_module
from typing import TYPE_CHECKING

from drcore.errors import UnknownName

if TYPE_CHECKING:
    from torch import nn

#: architecture name -> ``module:class`` of the network that builds it
ARCHITECTURES: dict[str, str] = {
    "small-fundus-net": "drcore.models.smallnet:SmallFundusNet",
    "efficientnet-lite0": "drcore.models.efficientnet_lite:EfficientNetLiteFundus",
}


def build_model(architecture: str, **params: object) -> "nn.Module":
    """Build an untrained model of a registered architecture."""
    try:
        module, name = ARCHITECTURES[architecture].split(":")
    except KeyError:
        known = ", ".join(sorted(ARCHITECTURES))
        raise UnknownName(f"unknown architecture {architecture!r}; known: {known}") from None
    return getattr(import_module(module), name)(**params)
