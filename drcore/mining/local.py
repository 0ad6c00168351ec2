"""The local engine: one machine, one device; worker processes decode while the model runs.

A ``torch.utils.data.DataLoader`` with ``workers`` processes reads and prepares
batches ahead (``prefetch`` batches each), so decoding overlaps with the
model in the main process. The run's timings say where the time went:
``wait_for_input`` (the model idle, waiting for decoded batches),
``model`` (forward + heatmap), ``postprocess`` (hot spots, heatmap encoding),
``write`` (store entries and Parquet parts), and ``decode_in_workers`` (the
workers' own time, which overlaps with the rest).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from drcore.device import default_device
from drcore.mining.pipeline import Miner, MiningSettings, Record, read_record
from drcore.mining.results import ResultsFolder, run_record
from drcore.models import load_model


class _Records(Dataset):
    def __init__(self, paths: Sequence[Path], input_size: int) -> None:
        self.paths, self.input_size = list(paths), input_size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> Record:
        return read_record(self.paths[index], self.input_size)


def _one_thread(_: int) -> None:
    torch.set_num_threads(1)  # a decoding worker leaves the cores to the model and the other workers


def default_split(workers: int | None, threads: int | None) -> tuple[int, int]:
    """Decoding processes and model threads: by default half the cores each (at least one)."""
    cores = os.cpu_count() or 1
    workers = max(1, cores // 2) if workers is None else workers
    return workers, max(1, cores - workers) if threads is None else threads


def _as_list(records: list[Record]) -> list[Record]:
    return records


def mine_local(
    files: Sequence[Path],
    out: Path,
    settings: MiningSettings,
    *,
    workers: int | None = None,
    threads: int | None = None,
    prefetch: int = 2,
    device: torch.device | None = None,
    progress: bool = True,
) -> dict:
    """Mine ``files`` into ``out`` (see :mod:`drcore.mining.results`); returns the manifest.

    ``workers`` decoding processes (default: half the cores) and ``threads`` for the model
    (default: the other cores): more threads than cores would make both wait on each other.
    """
    started = time.time()
    workers, threads = default_split(workers, threads)
    loaded = load_model(settings.model)
    device = device or default_device()
    settings = settings.resolved(loaded, device.type)
    miner = Miner(loaded, settings, device)
    folder = ResultsFolder(out, loaded.card.outputs)
    done = folder.begin(miner.identity)
    todo = [path for path in files if str(path) not in done]
    loader = DataLoader(_Records(todo, loaded.card.input_size), batch_size=settings.batch_size,
                        num_workers=workers, collate_fn=_as_list, worker_init_fn=_one_thread if workers else None,
                        prefetch_factor=prefetch if workers else None)
    timings = {"wait_for_input": 0.0, "write": 0.0, "decode_in_workers": 0.0}
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    with tqdm(total=len(todo), desc="mining", unit="image", disable=not progress) as bar:
        batches = iter(loader)
        while True:
            waited = time.perf_counter()
            records = next(batches, None)
            timings["wait_for_input"] += time.perf_counter() - waited
            if records is None:
                break
            result = miner.process(records)
            written = time.perf_counter()
            folder.write(result.rows, result.entries)
            timings["write"] += time.perf_counter() - written
            timings["decode_in_workers"] += sum(record.decode_s for record in records)
            bar.update(len(records))
    torch.set_num_threads(previous_threads)
    timings.update(model=miner.model_s, postprocess=miner.postprocess_s)
    run = run_record("local", started, len(todo), len(files) - len(todo), timings, workers=workers, threads=threads,
                     device=str(miner.device), batch_size=settings.batch_size, precision_check=miner.precision_check,
                     torch=torch.__version__)
    return folder.finish(run)
