"""The Ray engine: the same mining run on Ray Data, from a laptop to a cluster.

The paths become a Ray dataset; ``map_batches`` tasks read and prepare the
photographs (CPU, anywhere in the cluster), then ``map_batches`` with an actor
pool runs the model: each actor loads one model (``gpus_per_actor`` GPUs
each, or CPUs) and returns result rows and compressed heatmaps. The driver
writes everything (store entries, then a Parquet part per batch), so the
workers need no shared file system, and the files are those of the local
engine: same layout, same values.

Start a cluster with ``ray start --head`` on one machine and
``ray start --address HEAD:6379`` on the others, then run
``drx mine ... --engine ray --address HEAD:6379`` on the head (or any node).
Without ``--address`` a local Ray instance is started for the run.
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from drcore.device import default_device
from drcore.mining.pipeline import Miner, MiningSettings, check_settings, read_record
from drcore.mining.results import ResultsFolder, run_record
from drcore.models import load_model

#: Memory reserved by a decoding task: a photograph of up to 60 megapixels and its working copies.
#: Since the model actors reserve none, Ray Data does not fuse decoding into them (it fuses map
#: steps whose resources agree): decoding runs in its own tasks, beside the actors.
DECODING_MEMORY = 1 << 30


def _prepare_batch(batch: dict[str, np.ndarray], input_size: int) -> dict[str, np.ndarray]:
    records = [read_record(path, input_size) for path in batch["path"]]
    return {"record": _objects(records)}


class _ModelActor:
    """One model per actor: batches of records in, result rows and heatmap entries out."""

    def __init__(self, settings: MiningSettings) -> None:
        self.miner = Miner(load_model(settings.model), settings, default_device())

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        records = list(batch["record"])
        result = self.miner.process(records)
        timings = {"model": self.miner.model_s, "postprocess": self.miner.postprocess_s,
                   "decode_in_workers": sum(record.decode_s for record in records)}
        self.miner.model_s = self.miner.postprocess_s = 0.0
        return {"result": np.array([pickle.dumps((result.rows, result.entries, timings))], dtype=object)}


def _objects(items: list) -> np.ndarray:
    array = np.empty(len(items), dtype=object)
    array[:] = items
    return array


def mine_ray(
    files: Sequence[Path],
    out: Path,
    settings: MiningSettings,
    *,
    address: str | None = None,
    actors: int = 1,
    cpus_per_actor: float = 1.0,
    gpus_per_actor: float = 0.0,
    progress: bool = True,
) -> dict:
    """Mine ``files`` into ``out`` with Ray Data (see :mod:`drcore.mining.results`); returns the manifest."""
    import ray

    started = time.time()
    loaded = load_model(settings.model)
    settings = settings.resolved(loaded, "cuda" if gpus_per_actor else "cpu")
    identity = settings.identity(loaded)
    folder = ResultsFolder(out, loaded.card.outputs)
    check_settings(loaded, settings, "cuda" if gpus_per_actor else "cpu")  # fail here, not in an actor
    done = folder.begin(identity)
    todo = [path for path in files if str(path) not in done]
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    timings = {"model": 0.0, "postprocess": 0.0, "decode_in_workers": 0.0, "write": 0.0, "wait_for_results": 0.0}
    with tqdm(total=len(todo), desc="mining (ray)", unit="image", disable=not progress) as bar:
        if todo:
            dataset = ray.data.from_items([{"path": str(path)} for path in todo],
                                          override_num_blocks=max(1, -(-len(todo) // settings.batch_size)))
            dataset = dataset.map_batches(_prepare_batch, fn_kwargs={"input_size": loaded.card.input_size},
                                          batch_size=settings.batch_size,
                                          num_cpus=1, memory=DECODING_MEMORY)
            dataset = dataset.map_batches(_ModelActor, fn_constructor_kwargs={"settings": settings},
                                          batch_size=settings.batch_size,
                                          compute=ray.data.ActorPoolStrategy(size=actors),
                                          num_cpus=cpus_per_actor, num_gpus=gpus_per_actor)
            batches = iter(dataset.iter_batches(batch_size=None, batch_format="numpy"))
            while True:
                waited = time.perf_counter()
                batch = next(batches, None)
                timings["wait_for_results"] += time.perf_counter() - waited
                if batch is None:
                    break
                for result in batch["result"]:
                    rows, entries, actor_timings = pickle.loads(result)
                    written = time.perf_counter()
                    folder.write(rows, entries)
                    timings["write"] += time.perf_counter() - written
                    for key, value in actor_timings.items():
                        timings[key] += value
                    bar.update(len(rows))
    run = run_record("ray", started, len(todo), len(files) - len(todo), timings, address=address, actors=actors,
                     cpus_per_actor=cpus_per_actor, gpus_per_actor=gpus_per_actor, batch_size=settings.batch_size,
                     ray=ray.__version__, torch=torch.__version__)
    return folder.finish(run)
