"""The heatmap criterion's effect, end to end: train variants, choose lambda, evaluate every method.

    python benchmarks/criterion_study.py --out study/ [--variants 0 l1:0.2 hoyer:0.5 hoyer:2] \
        [--synthetic 1500] [--crops 24] [--epochs 8] [--jobs 15] [--quick]

1. Builds one training set (IDRiD grading photographs at image level, the DiaretDB1
   train split at image level plus random crops labelled from the consensus masks,
   synthetic photographs) and trains the same architecture once per variant
   (``0`` = plain training, ``PENALTY:WEIGHT`` = the heatmap criterion), in parallel.
2. Chooses lambda on the DiaretDB1 *train* split only: the variant with a heatmap
   term whose sensitivity maps have the best mean CPM over the four lesion types.
3. Evaluates on the DiaretDB1 test split: every heatmap method for the plain model
   and for the chosen one, the sensitivity map for the other variants.

Writes ``study/<variant>.safetensors`` checkpoints, ``study/selection.json``,
``study/rows.json`` (one EvaluationResult dict per model and method) and
``study/timings.json``. Evaluation runs are processes of their own (heatmaps on
the GPU when there is one, bootstrap on the CPU), ``--jobs`` at a time.
"""

import argparse
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch

from drcore.heatmaps import METHODS

SLOW_METHODS = ("occlusion", "integrated_gradients", "smoothgrad", "lrp_alpha_beta")


def variant_name(text: str) -> str:
    """``plain`` for ``0``, else the text with ``:`` replaced (``hoyer:0.5`` -> ``hoyer-0.5``)."""
    return "plain" if text == "0" else text.replace(":", "-")


def parse_variant(text: str) -> tuple[str, float]:
    """``0`` (plain), or ``PENALTY:WEIGHT`` such as ``hoyer:0.5``."""
    if text == "0":
        return "l1", 0.0
    penalty, weight = text.split(":")
    return penalty, float(weight)


def _config(arguments: argparse.Namespace, variant: str):
    from drcore.training import TrainingConfig

    penalty, weight = parse_variant(variant)
    return TrainingConfig(
        synthetic_images=arguments.synthetic, idrid_grading=True, diaretdb1=True, diaretdb1_crops=arguments.crops,
        epochs=arguments.epochs, input_size=arguments.input_size, workers=arguments.workers,
        heatmap_penalty=penalty, heatmap_weight=weight,
    )


def _train_one(job: tuple[argparse.Namespace, str, str]) -> dict:
    from drcore.training import train

    arguments, variant, data_path = job
    torch.set_num_threads(2)
    data = torch.load(data_path, weights_only=False)
    started = time.time()
    name = variant_name(variant)
    card = train(_config(arguments, variant), arguments.out / name, name=f"drx-study-{name}", data=data,
                 log=lambda line: print(f"[{name}] {line}", flush=True))
    seconds = time.time() - started
    return {"variant": variant, "seconds": seconds, "images_per_s": len(data[0]) * arguments.epochs / seconds,
            "validation": card.training["curve"][-1]}


def _evaluate_one(job: tuple[str, str, str, int, bool]) -> dict:
    from drcore.datasets import read
    from drcore.device import default_device
    from drcore.evaluation import EvaluationSettings, evaluate
    from drcore.models import load_model

    checkpoint, method, split, resamples, quick = job
    torch.set_num_threads(1)
    samples = read("diaretdb1", split=split)
    if quick:
        samples = samples[:6]
    loaded = load_model(checkpoint)
    loaded.model.to(default_device())
    settings = EvaluationSettings(method=method, n_resamples=resamples, pixel_auc_resamples=min(100, resamples))
    started = time.time()
    result = evaluate(loaded, samples, dataset="diaretdb1", split=split, settings=settings, progress=False)
    row = result.to_dict()
    row["checkpoint"] = Path(checkpoint).stem
    row["seconds"] = time.time() - started
    print(f"evaluated {row['checkpoint']} / {method} on {split} in {row['seconds']:.0f} s", flush=True)
    return row


def mean_cpm(result: dict) -> float:
    """Mean CPM over the lesion types of one evaluation (undefined CPMs count as 0)."""
    return float(np.mean([row["cpm"]["value"] or 0.0 for row in result["rows"]]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--variants", nargs="+", default=["0", "l1:0.2", "hoyer:0.5", "hoyer:2"])
    parser.add_argument("--synthetic", type=int, default=1500)
    parser.add_argument("--crops", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--input-size", type=int, default=512)
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    parser.add_argument("--jobs", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    parser.add_argument("--resamples", type=int, default=300)
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--quick", action="store_true", help="6 evaluation images: a smoke test of the whole study")
    arguments = parser.parse_args()
    arguments.out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    context = get_context("spawn")

    from drcore.training import build_training_sets

    started = time.time()
    data = build_training_sets(_config(arguments, "0"))
    data_path = arguments.out / "data.pt"
    torch.save(data, data_path)
    timings["data_s"] = time.time() - started
    print(f"{len(data[0])} training and {len(data[1])} validation examples in {timings['data_s']:.0f} s", flush=True)

    started = time.time()
    with ProcessPoolExecutor(len(arguments.variants), mp_context=context) as pool:
        trained = list(pool.map(_train_one, [(arguments, variant, str(data_path)) for variant in arguments.variants]))
    timings["training_s"] = time.time() - started
    data_path.unlink()
    checkpoints = {item["variant"]: str(arguments.out / f"{variant_name(item['variant'])}.safetensors")
                   for item in trained}

    started = time.time()
    with ProcessPoolExecutor(arguments.jobs, mp_context=context) as pool:
        selection_runs = list(pool.map(_evaluate_one, [(checkpoints[variant], "sensitivity", "train",
                                                        arguments.resamples, arguments.quick)
                                                       for variant in arguments.variants]))
        scores = {variant: mean_cpm(run) for variant, run in zip(arguments.variants, selection_runs)}
        candidates = [variant for variant in arguments.variants if variant != "0"]
        chosen = max(candidates, key=scores.__getitem__) if candidates else "0"
        (arguments.out / "selection.json").write_text(json.dumps(
            {"rule": "largest mean sensitivity CPM on the DiaretDB1 train split", "mean_train_cpm": scores,
             "chosen": chosen, "training": trained, "train_split_rows": selection_runs}, indent=2))
        print(f"train-split mean CPM: {scores}; chosen: {chosen}", flush=True)
        jobs = [(checkpoints[variant], method, "test", arguments.resamples, arguments.quick)
                for variant in dict.fromkeys(["0", chosen])
                for method in arguments.methods]
        jobs += [(checkpoints[variant], "sensitivity", "test", arguments.resamples, arguments.quick)
                 for variant in arguments.variants if variant not in ("0", chosen)]
        jobs.sort(key=lambda job: job[1] not in SLOW_METHODS)  # the long runs first, so that none is left alone at the end
        rows = []
        futures = {pool.submit(_evaluate_one, job): job for job in jobs}
        for future in as_completed(futures):
            try:
                rows.append(future.result())
            except Exception as error:  # one failing method must not cost the others: recorded, not hidden
                checkpoint, method = futures[future][:2]
                rows.append({"checkpoint": Path(checkpoint).stem, "method": method, "error": repr(error)})
                print(f"FAILED {Path(checkpoint).stem} / {method}: {error!r}", flush=True)
            (arguments.out / "rows.json").write_text(json.dumps(rows, indent=2))  # kept current: a cut run keeps its rows
    timings["evaluation_s"] = time.time() - started
    (arguments.out / "timings.json").write_text(json.dumps(
        {**timings, "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"}, indent=2))
    print(json.dumps(timings), flush=True)


if __name__ == "__main__":
    main()
