"""The one place where drx chooses the compute device."""

import os

import torch


def default_device() -> torch.device:
    """CUDA when available, else CPU; ``DRX_DEVICE`` (e.g. ``cpu``, ``cuda:1``) overrides."""
    requested = os.environ.get("DRX_DEVICE", "").strip()
    if requested:
        return torch.device(requested)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
