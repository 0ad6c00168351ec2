"""The one place where drx chooses the compute device."""

import os

import torch


def default_device() -> torch.device:
    """CUDA when available, else CPU; ``DRX_DEVICE`` (e.g. ``cpu``, ``cuda:1``) overrides.

    On CUDA, TensorFloat-32 is switched off: heatmaps are gradients, and TF32
    convolutions change them by several per cent against the CPU's float32.
    """
    requested = os.environ.get("DRX_DEVICE", "").strip()
    device = torch.device(requested or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda":
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    return device
