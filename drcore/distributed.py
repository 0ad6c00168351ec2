"""Data-parallel training under ``torchrun``: which process this is, and the process group.

``torchrun --nproc-per-node N -m drx.cli train ...`` (or ``torchrun ... $(which drx) train``)
starts N processes with ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE`` set; each
joins one process group (NCCL on CUDA, Gloo on the CPU) and, on CUDA, uses
the GPU of its local rank. Without those variables training runs in one
process as before.
"""

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from drcore.device import default_device


@dataclass(frozen=True)
class Processes:
    """This process's place among the training processes (rank 0 of 1 without torchrun)."""

    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def leader(self) -> bool:
        """Rank 0: the one process that logs, validates and writes checkpoints."""
        return self.rank == 0

    def all_sum(self, values: list[float]) -> list[float]:
        """Element-wise sum of ``values`` over every process."""
        if not self.distributed:
            return values
        total = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(total)
        return total.tolist()

    def from_leader(self, value: float) -> float:
        """Rank 0's ``value`` on every process."""
        if not self.distributed:
            return value
        shared = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.broadcast(shared, src=0)
        return float(shared.item())

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()


def start_processes() -> Processes:
    """Join the process group when launched by torchrun; otherwise one process on the default device."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Processes(device=default_device())
    device = default_device()
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo", device_id=device
                                if device.type == "cuda" else None)
    return Processes(rank=dist.get_rank(), world_size=dist.get_world_size(), device=device)


def stop_processes(processes: Processes) -> None:
    """Leave the process group (after the last collective operation)."""
    if processes.distributed and dist.is_initialized():
        dist.destroy_process_group()
