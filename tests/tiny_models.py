"""Checkpoints small enough for tests that train."""

import dataclasses
from pathlib import Path

import numpy as np
import torch

from drcore.training import PRESETS, train
from drcore.training_data import TrainingSet
from drcore.weak_labels import grade_labels


def tiny_default(stem: Path) -> None:
    """The default model's architecture and recipe at 64 px, one step on random photographs (``stem`` + files)."""
    generator = torch.Generator().manual_seed(0)
    data = TrainingSet(torch.randn(6, 3, 64, 64, generator=generator).half(),
                       torch.from_numpy(np.stack([grade_labels(grade, 0) for grade in (0, 2, 3, 1, 0, 4)])))
    train(dataclasses.replace(PRESETS["default"], input_size=64, epochs=1, batch_size=6, workers=1), stem,
          data=(data, data), log=lambda message: None)
