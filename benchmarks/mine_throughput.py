"""`drx mine` over DiaretDB1: images/s of the local and Ray engines, where the time goes, and whether they agree.

    python benchmarks/mine_throughput.py [--images 89] [--batch-size 8] [--workers W] [--threads T] [--ray-cpus 2]

Mines the first ``--images`` DiaretDB1 photographs (all 89 by default) into a
fresh folder with each engine, then prints per engine: images/s, the time
split (model, waiting for decoded input, post-processing, writing, decoding
in the workers) and the model's busy share of the wall time; and between the
engines: the largest score difference and whether the hot spots are the same.
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from drcore.datasets import dataset_root
from drcore.mining import MiningSettings, archive_files
from drcore.mining.local import mine_local
from drcore.mining.ray_engine import mine_ray


def _describe(name: str, manifest: dict) -> None:
    run = manifest["runs"][-1]
    timings, wall = run["timings_s"], run["wall_s"]
    split = ", ".join(f"{key} {value:.1f} s" for key, value in timings.items())
    print(f"{name}: {run['processed']} files in {wall:.1f} s = {run['images_per_s']:.3f} images/s; {split}; "
          f"model busy {timings['model'] / wall:.0%} of the wall time")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=89)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--workers", type=int, default=None, help="decoding processes (default: half the cores)")
    parser.add_argument("--threads", type=int, default=None, help="model threads (default: the other cores)")
    parser.add_argument("--ray-cpus", type=int, default=2)
    parser.add_argument("--out", default=None, help="keep the results here (default: a temporary folder)")
    arguments = parser.parse_args()
    files = archive_files(dataset_root("diaretdb1") / "images")[: arguments.images]
    settings = MiningSettings(batch_size=arguments.batch_size)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(arguments.out or scratch)
        local = mine_local(files, root / "local", settings, workers=arguments.workers, threads=arguments.threads)
        _describe("local engine", local)
        import ray

        started = time.perf_counter()
        ray.init(num_cpus=arguments.ray_cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
        print(f"ray start-up {time.perf_counter() - started:.1f} s (not counted below)")
        remote = mine_ray(files, root / "ray", settings, actors=1)
        _describe(f"ray engine ({arguments.ray_cpus} CPUs, 1 actor)", remote)
        ray.shutdown()
        tables = [pq.read_table(root / engine / "images.parquet").to_pandas() for engine in ("local", "ray")]
        scores = [column for column in tables[0] if column.startswith("score_")]
        difference = np.abs(tables[0][scores].to_numpy() - tables[1][scores].to_numpy()).max()
        spots = [pq.read_table(root / engine / "hot_spots.parquet").to_pandas()[["path", "rank", "row", "col"]]
                 for engine in ("local", "ray")]
        print(f"local vs ray over {len(tables[0])} photographs: max |score difference| {difference:.3g}, "
              f"hot spots identical: {spots[0].equals(spots[1])} ({len(spots[0])} spots), "
              f"errors identical: {(root / 'local/errors.csv').read_text() == (root / 'ray/errors.csv').read_text()}")


if __name__ == "__main__":
    main()
