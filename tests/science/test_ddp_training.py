"""`drx train` under torchrun: two processes give the weights of one process on the same global batch."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from drcore.lesions import MODEL_OUTPUTS
from drcore.models import build_model
from drcore.training import TrainingConfig, train

# 24 synthetic photographs, batches of 8: three optimisation steps, heatmap criterion on.
# SGD: its step is the gradient itself, so the comparison is not blurred by Adam's sign-like first steps.
FLAGS = ["--synthetic", "--input-size", "64", "--epochs", "1", "--batch-size", "8", "--synthetic-images", "24",
         "--synthetic-width", "200", "--workers", "1", "--heatmap-weight", "0.5", "--optimiser", "sgd",
         "--learning-rate", "0.05", "--validation-fraction", "0.1", "--no-mixed-precision"]


def _weights(stem: Path) -> dict[str, torch.Tensor]:
    """Trainable parameters only: BatchNorm running statistics are rank 0's under DDP."""
    names = {name for name, _ in build_model("small-fundus-net", outputs=len(MODEL_OUTPUTS)).named_parameters()}
    return {name: value.double() for name, value in load_file(f"{stem}.safetensors").items() if name in names}


def _largest_difference(a: dict, b: dict) -> float:
    return max((a[name] - b[name]).abs().max().item() for name in a)


def _drx_train(*flags: str, processes: int, cwd: Path) -> None:
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"]
    command = [*launcher, "-m", "drx.cli", "train", *FLAGS, *flags]
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "DRX_DEVICE": "cpu"}
    finished = subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-3000:]


@pytest.mark.slow
def test_two_processes_match_one_process_with_the_same_global_batch(tmp_path: Path) -> None:
    _drx_train("--out", "two", processes=2, cwd=tmp_path)
    _drx_train("--out", "one", "--micro-batches", "2", processes=1, cwd=tmp_path)
    _drx_train("--out", "whole", processes=1, cwd=tmp_path)
    two, one, whole = (_weights(tmp_path / stem) for stem in ("two", "one", "whole"))
    torch.manual_seed(0)  # train() seeds the initial weights with the configured seed, 0
    initial = {name: value.double() for name, value in build_model("small-fundus-net", outputs=len(MODEL_OUTPUTS)).state_dict().items()
               if name in two}
    assert _largest_difference(two, initial) > 1e-3  # the three steps moved the weights
    assert _largest_difference(two, one) < 1e-5
    # BatchNorm over the whole batch of 8 instead of two halves of 4 is a different step: the test can tell
    assert _largest_difference(two, whole) > 1e-4
    assert not (tmp_path / "two.resume.pt").exists()  # rank 0 cleaned up; no other rank wrote


def test_a_batch_too_small_to_split_is_refused(tmp_path: Path) -> None:
    config = TrainingConfig(batch_size=2, micro_batches=3, synthetic_images=4)
    with pytest.raises(ValueError, match="cannot be split"):
        train(config, tmp_path / "model")
