"""`drx mine` over DiaretDB1: images/s of the local and Ray engines, where the time goes, and whether they agree.

    python benchmarks/mine_throughput.py [--images 89] [--batch-size 8] [--model M] [--method M] [--workers W]
                                         [--threads T] [--ray-cpus 2]
    python benchmarks/mine_throughput.py --against CHECKOUT [--turns 2] [--images 89] [--model M] [--workers W]
                                         [--threads T]

Mines the first ``--images`` DiaretDB1 photographs (all 89 by default) into a
fresh folder with each engine, then prints per engine: images/s, the time
split (model, waiting for decoded input, post-processing, writing, decoding
in the workers) and the model's busy share of the wall time; and between the
engines: the largest score difference and whether the hot spots are the same.

With ``--against CHECKOUT`` (another checkout of drx, e.g. ``git worktree add
--detach ../old 8a0e8fe``) it instead runs the local engine of that code and of
this one in turns, each in its own process, with that checkout's default
worker/thread split for it and ``--workers``/``--threads`` (default: this one's)
for this one, and prints both rates, their ratio per turn and whether scores
(largest difference) and hot spots agree. ``--model`` names the bundled model both sides mine with
(default: each checkout's own default model, which may differ between them), ``--method`` the heatmap
method (default: ``sensitivity``, the old ``drx mine`` default, so both sides do the same work).
"""

import argparse
import json
import os
import subprocess
import sys
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


#: run in a subprocess with PYTHONPATH set to the code to time: the local engine, the manifest to stdout
_MINE = """
import json, sys
import drcore
print(drcore.__file__, file=sys.stderr)
from drcore.mining import MiningSettings, archive_files
from drcore.mining.local import mine_local
files, out, batch, model, method, workers, threads = json.loads(sys.argv[1])
manifest = mine_local([__import__("pathlib").Path(f) for f in files], __import__("pathlib").Path(out),
                      MiningSettings(model=model, method=method, batch_size=batch), workers=workers, threads=threads,
                      progress=False)
print(json.dumps(manifest["runs"][-1]))
"""


def _mine_with(code: Path, files: list[Path], out: Path, batch: int, model: str | None, method: str,
               workers: int | None, threads: int | None) -> dict:
    environment = {**os.environ, "PYTHONPATH": str(code)}
    arguments = json.dumps([[str(path) for path in files], str(out), batch, model, method, workers, threads])
    finished = subprocess.run([sys.executable, "-c", _MINE, arguments], env=environment, cwd=code,  # '' is cwd
                              capture_output=True, text=True, check=True)
    run = json.loads(finished.stdout.strip().splitlines()[-1])
    if not finished.stderr.startswith(str(code)):
        raise SystemExit(f"the run imported drx from {finished.stderr.splitlines()[0]}, not from {code}")
    return run


def _agreement(first: Path, second: Path) -> str:
    tables = [pq.read_table(root / "images.parquet").to_pandas() for root in (first, second)]
    scores = [column for column in tables[0] if column.startswith("score_")]
    difference = np.abs(tables[0][scores].to_numpy() - tables[1][scores].to_numpy()).max()
    spots = [pq.read_table(root / "hot_spots.parquet").to_pandas()[["path", "rank", "row", "col"]]
             for root in (first, second)]
    return (f"{len(tables[0])} photographs: max |score difference| {difference:.3g}, "
            f"hot spots identical: {spots[0].equals(spots[1])} ({len(spots[0])} and {len(spots[1])} spots)")


def against(old_code: Path, files: list[Path], arguments: argparse.Namespace, root: Path) -> None:
    """The local engine of ``old_code`` and of this checkout, in turns, on the same files."""
    this_code = Path(__file__).resolve().parents[1]
    rates: dict[str, list[float]] = {"old": [], "new": []}
    for turn in range(arguments.turns):
        order = ("old", "new") if turn % 2 == 0 else ("new", "old")
        for side in order:
            out = root / f"{side}-{turn}"
            if side == "old":
                run = _mine_with(old_code, files, out, arguments.batch_size, arguments.model, arguments.method, None,
                                 None)
            else:
                run = _mine_with(this_code, files, out, arguments.batch_size, arguments.model, arguments.method,
                                 arguments.workers, arguments.threads)
            rates[side].append(run["images_per_s"])
            wall = run["wall_s"]
            split = ", ".join(f"{key} {value:.1f} s" for key, value in run["timings_s"].items())
            print(f"turn {turn} {side} code (workers {run.get('workers')}, threads {run.get('threads')}): "
                  f"{run['processed']} files in {wall:.1f} s = {run['images_per_s']:.3f} images/s; {split}; "
                  f"model busy {run['timings_s']['model'] / wall:.0%}", flush=True)
        print(f"turn {turn}: new / old = {rates['new'][-1] / rates['old'][-1]:.2f}x", flush=True)
    ratios = np.array(rates["new"]) / np.array(rates["old"])
    print(f"median images/s: old {np.median(rates['old']):.3f}, new {np.median(rates['new']):.3f}; "
          f"median ratio of turns {np.median(ratios):.2f}x")
    print("old vs new, first turn: " + _agreement(root / "old-0", root / "new-0"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=89)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--model", default=None, help="bundled model name (default: the default model)")
    parser.add_argument("--method", default="sensitivity",
                        help="heatmap method both sides mine with (default: sensitivity, what issue 21 timed; "
                        "'drx mine' itself defaults to the card's reading)")
    parser.add_argument("--workers", type=int, default=None, help="decoding processes (default: half the cores)")
    parser.add_argument("--threads", type=int, default=None, help="model threads (default: the other cores)")
    parser.add_argument("--ray-cpus", type=int, default=2)
    parser.add_argument("--out", default=None, help="keep the results here (default: a temporary folder)")
    parser.add_argument("--against", type=Path, default=None, help="another drx checkout to compare with")
    parser.add_argument("--turns", type=int, default=2, help="with --against: turns of old and new code")
    arguments = parser.parse_args()
    files = archive_files(dataset_root("diaretdb1") / "images")[: arguments.images]
    settings = MiningSettings(model=arguments.model, method=arguments.method, batch_size=arguments.batch_size)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(arguments.out or scratch)
        if arguments.against:
            against(arguments.against.resolve(), files, arguments, root)
            return
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
