"""The heatmap criterion's effect, end to end: train variants, choose lambda, evaluate every method.

    python benchmarks/criterion_study.py --out study/ [--variants 0 hoyer:0.5 hoyer:1 shippable/0] \
        [--synthetic 1200] [--crops 24] [--epochs 6] [--jobs 11] [--export DIR] [--quick]
    python benchmarks/criterion_study.py --render study/study.json [--report evaluation/criterion-study]

1. Builds the training sets once (IDRiD grading photographs at image level, the DiaretDB1
   train split at image level plus random crops labelled from the consensus masks,
   synthetic photographs; ``shippable/`` variants leave DiaretDB1 out, so that their
   weights may be redistributed) and trains the same architecture once per variant
   (``0`` = plain training, ``PENALTY:WEIGHT`` = the heatmap criterion), in parallel.
2. Chooses lambda on the DiaretDB1 *train* split only: within each group (with and
   without DiaretDB1), the variant with a heatmap term whose sensitivity maps have the
   best mean CPM over the four lesion types.
3. Evaluates on the DiaretDB1 test split: every heatmap method for the plain model
   and for the chosen one (with DiaretDB1), the sensitivity map for every other variant.

Work starts as soon as what it needs exists: the plain model's test evaluation runs
while the criterion variants still train. A rerun with the same ``--out`` continues:
trained variants and finished evaluations are kept, a cut training resumes from its
last epoch. Writes ``<variant>.safetensors`` checkpoints with their cards and
``study.json`` (training, selection, one EvaluationResult dict per model, method and
split, timings); ``--export DIR`` keeps ``DIR/study.json.gz`` and ``DIR/checkpoints.tar``
(cards and weights, no resume states) current after every step, so that a run cut
short still leaves what it finished.
"""

import argparse
import gzip
import json
import os
import tarfile
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch

from drcore.atomic import atomic_write
from drcore.heatmaps import METHODS

SHIPPABLE = "shippable/"
SLOW_METHODS = ("occlusion", "integrated_gradients", "smoothgrad", "lrp_alpha_beta", "lrp_epsilon")


@dataclass(frozen=True)
class Variant:
    """One training run: its data group and criterion."""

    text: str

    @property
    def shippable(self) -> bool:
        return self.text.startswith(SHIPPABLE)

    @property
    def criterion(self) -> tuple[str, float]:
        """``("l1", 0.0)`` for plain training, else (penalty, weight) from ``PENALTY:WEIGHT``."""
        spec = self.text.removeprefix(SHIPPABLE)
        if spec == "0":
            return "l1", 0.0
        penalty, weight = spec.split(":")
        return penalty, float(weight)

    @property
    def plain(self) -> bool:
        return self.criterion[1] == 0.0

    @property
    def name(self) -> str:
        """``plain``, ``hoyer-0.5``, ``shippable-plain``, ...: the checkpoint's file stem."""
        spec = self.text.removeprefix(SHIPPABLE)
        base = "plain" if spec == "0" else spec.replace(":", "-")
        return f"shippable-{base}" if self.shippable else base


def training_config(arguments: argparse.Namespace, variant: Variant):
    """The variant's TrainingConfig: the same for every variant but for the data group and criterion."""
    from drcore.training import TrainingConfig

    penalty, weight = variant.criterion
    return TrainingConfig(
        synthetic_images=arguments.synthetic, idrid_grading=True, diaretdb1=not variant.shippable,
        diaretdb1_crops=0 if variant.shippable else arguments.crops, epochs=arguments.epochs,
        input_size=arguments.input_size, workers=arguments.workers, heatmap_penalty=penalty, heatmap_weight=weight,
    )


def _train_one(job: tuple[argparse.Namespace, Variant, str]) -> dict:
    from drcore.training import train

    arguments, variant, data_path = job
    torch.set_num_threads(2)
    data = torch.load(data_path, weights_only=False)
    started = time.time()
    card = train(training_config(arguments, variant), arguments.out / variant.name, name=f"drx-study-{variant.name}",
                 data=data, resume=True, log=lambda line: print(f"[{variant.name}] {line}", flush=True))
    seconds = time.time() - started
    return {"variant": variant.text, "seconds": seconds, "images_per_s": len(data[0]) * arguments.epochs / seconds,
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
    row["method"] = method
    row["seconds"] = time.time() - started
    print(f"evaluated {row['checkpoint']} / {method} on {split} in {row['seconds']:.0f} s", flush=True)
    return row


def mean_cpm(result: dict) -> float:
    """Mean CPM over the lesion types of one evaluation (undefined CPMs count as 0)."""
    return float(np.mean([row["cpm"]["value"] or 0.0 for row in result["rows"]]))


def choose(scores: dict[str, float], variants: list[Variant]) -> str | None:
    """The heatmap-criterion variant with the largest train-split score; None until every one has a score."""
    candidates = [variant.text for variant in variants if not variant.plain]
    if not candidates or any(text not in scores for text in candidates):
        return None
    return max(candidates, key=scores.__getitem__)


class Study:
    """The study's state on disk, kept current after every step."""

    def __init__(self, arguments: argparse.Namespace) -> None:
        self.arguments = arguments
        self.variants = [Variant(text) for text in arguments.variants]
        self.path = arguments.out / "study.json"
        state = json.loads(self.path.read_text()) if self.path.exists() else {}
        self.training: dict[str, dict] = state.get("training", {})
        self.rows: list[dict] = state.get("rows", [])
        self.timings: dict[str, float] = state.get("timings", {})
        self.started = time.time()

    def checkpoint(self, variant: Variant) -> Path:
        return self.arguments.out / f"{variant.name}.safetensors"

    def done(self, variant: Variant, method: str, split: str) -> bool:
        return any(row.get("checkpoint") == variant.name and row.get("method") == method and row.get("split") == split
                   and "error" not in row for row in self.rows)

    def scores(self) -> dict[str, float]:
        """Mean train-split sensitivity CPM of each variant evaluated so far."""
        by_name = {variant.name: variant.text for variant in self.variants}
        return {by_name[row["checkpoint"]]: mean_cpm(row) for row in self.rows
                if row.get("split") == "train" and row.get("method") == "sensitivity" and "error" not in row
                and row["checkpoint"] in by_name}

    def chosen(self) -> dict[str, str | None]:
        """The chosen variant of each data group (None while its candidates are being evaluated)."""
        scores = self.scores()
        return {group: choose(scores, [v for v in self.variants if v.shippable == (group == "shippable")])
                for group in ("diaretdb1", "shippable")}

    def save(self) -> None:
        self.timings["last_call_wall_s"] = time.time() - self.started  # this invocation's, a resumed one too
        state = {"rule": "largest mean sensitivity CPM on the DiaretDB1 train split, within each data group",
                 "variants": self.arguments.variants, "chosen": self.chosen(), "mean_train_cpm": self.scores(),
                 "training": self.training, "rows": self.rows, "timings": self.timings,
                 "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"}
        text = json.dumps(state, indent=2)
        atomic_write(self.path, lambda temporary: temporary.write_text(text))
        if self.arguments.export:
            atomic_write(self.arguments.export / "study.json.gz",
                         lambda temporary: temporary.write_bytes(gzip.compress(text.encode(), 6)))

    def export_checkpoints(self) -> None:
        """Cards and weights of the trained variants in one tar (resume states left out)."""
        if not self.arguments.export:
            return

        def write(temporary: Path) -> None:
            with tarfile.open(temporary, mode="w") as archive:
                for variant in self.variants:
                    for suffix in (".safetensors", ".json"):
                        path = self.checkpoint(variant).with_suffix(suffix)
                        if path.exists():
                            archive.add(path, arcname=path.name)

        atomic_write(self.arguments.export / "checkpoints.tar", write)

    def test_jobs(self, variant: Variant) -> list[tuple[str, str]]:
        """(method, split) evaluations a trained variant needs now."""
        jobs = [("sensitivity", "train")]
        chosen = self.chosen()
        group_chosen = chosen["shippable" if variant.shippable else "diaretdb1"]
        if not variant.shippable and (variant.plain or variant.text == group_chosen):
            # the slow methods first, so that none of them is left running alone at the end
            jobs += [(method, "test") for method in sorted(self.arguments.methods, key=lambda m: m not in SLOW_METHODS)]
        elif variant.plain or group_chosen is not None:
            jobs.append(("sensitivity", "test"))
        return jobs


def prepare_data(arguments: argparse.Namespace, variants: list[Variant]) -> dict[bool, str]:
    """Build the training sets of both data groups once (shared sources prepared once) and save them."""
    from drcore.training import build_training_sets

    prepared: dict = {}
    paths = {}
    for shippable in sorted({variant.shippable for variant in variants}):
        example = next(variant for variant in variants if variant.shippable == shippable)
        data = build_training_sets(training_config(arguments, example), prepared)
        paths[shippable] = str(arguments.out / f"data-{'shippable' if shippable else 'diaretdb1'}.pt")
        torch.save(data, paths[shippable])
        print(f"{'shippable' if shippable else 'with DiaretDB1'}: {len(data[0])} training and {len(data[1])} "
              f"validation examples", flush=True)
    return paths


def run(arguments: argparse.Namespace) -> None:
    """Train, select and evaluate, each step as soon as its inputs exist."""
    study = Study(arguments)
    context = get_context("spawn")
    untrained = [variant for variant in study.variants if not study.checkpoint(variant).exists()]
    data_paths: dict[bool, str] = {}
    if untrained:
        started = time.time()
        data_paths = prepare_data(arguments, untrained)
        study.timings["data_s"] = time.time() - started
        study.save()
    submitted: set[tuple[str, str, str]] = set()
    pending: dict[Future, tuple] = {}
    with ProcessPoolExecutor(max(1, len(untrained)), mp_context=context) as trainers, \
            ProcessPoolExecutor(arguments.jobs, mp_context=context) as evaluators:
        for variant in untrained:
            pending[trainers.submit(_train_one, (arguments, variant, data_paths[variant.shippable]))] = ("train", variant)

        def schedule() -> None:
            for variant in study.variants:
                if not study.checkpoint(variant).exists():
                    continue
                for method, split in study.test_jobs(variant):
                    key = (variant.text, method, split)
                    if key in submitted or study.done(variant, method, split):
                        continue
                    submitted.add(key)
                    job = (str(study.checkpoint(variant)), method, split, arguments.resamples, arguments.quick)
                    pending[evaluators.submit(_evaluate_one, job)] = ("evaluate", variant, method, split)

        schedule()
        while pending:
            finished, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            for future in finished:
                task = pending.pop(future)
                try:
                    result = future.result()
                except Exception as error:  # noqa: BLE001 -- one failing step must not cost the others: recorded, not hidden
                    print(f"FAILED {task[0]} {task[1].name} {task[2:]}: {error!r}", flush=True)
                    if task[0] == "evaluate":
                        study.rows.append({"checkpoint": task[1].name, "method": task[2], "split": task[3],
                                           "error": repr(error)})
                    else:
                        study.training[task[1].text] = {"error": repr(error)}
                    study.save()
                    continue
                if task[0] == "train":
                    study.training[task[1].text] = result
                    study.export_checkpoints()
                else:
                    study.rows.append(result)
                study.save()
                print(f"train-split mean CPM so far: {study.scores()}; chosen: {study.chosen()}", flush=True)
            schedule()
    for path in data_paths.values():
        Path(path).unlink(missing_ok=True)
    study.save()


def render(study_path: Path, report: Path | None) -> str:
    """The study as Markdown: the lambda selection, then every method's CPM on the test split for the plain
    and the chosen model, the sensitivity map of every variant, and image-level AUCs; with ``report`` the
    full comparison (every metric, FROC figures) goes to ``report/table.md``, ``table.json``, ``froc.html``."""
    from drcore.evaluation_report import document_rows, format_estimate
    from drcore.vocabulary import LESION_LABELS, LESION_TYPES
    from drx.evaluation_runs import write_report

    study = json.loads(Path(study_path).read_text())
    results = [row for row in study["rows"] if "error" not in row]
    by_key = {(row["checkpoint"], row["method"], row["split"]): row for row in results}
    variants = [Variant(text) for text in study["variants"]]
    chosen = next(v for v in variants if v.text == study["chosen"]["diaretdb1"])
    plain = next(v for v in variants if v.plain and not v.shippable)

    def cell(checkpoint: str, method: str, split: str, lesion_type: str, metric: str) -> str:
        document = by_key.get((checkpoint, method, split))
        if document is None:
            return "not run"
        return format_estimate(next(r for r in document["rows"] if r["lesion_type"] == lesion_type)[metric])

    types = " / ".join(LESION_LABELS[name] for name in LESION_TYPES)
    lines = [f"Selection rule: {study['rule']}; chosen: `{chosen.text}`.", "",
             f"| variant | mean CPM (train split) | CPM on the train split: {types} |", "|---|---|---|"]
    for variant in variants:
        cells = " / ".join(cell(variant.name, "sensitivity", "train", name, "cpm").split(" [")[0]
                           for name in LESION_TYPES)
        score = study["mean_train_cpm"].get(variant.text)
        lines.append(f"| `{variant.text}` | {'n/a' if score is None else f'{score:.3f}'} | {cells} |")
    lines += ["", (f"Lesion-level CPM on the test split (`{plain.text}` = plain, `{chosen.text}` = chosen; the best "
              "non-zero CPM of each lesion type in bold):"), "",
              "| method | model | " + " | ".join(LESION_LABELS[name] for name in LESION_TYPES) + " |",
              "|---|---|" + "---|" * len(LESION_TYPES)]
    methods = list(dict.fromkeys(row["method"] for row in results if row["split"] == "test"))
    best = {name: max((row for row in results if row["split"] == "test"),
                      key=lambda row, name=name: next(r for r in row["rows"] if r["lesion_type"] == name)["cpm"]["value"]
                      or 0.0) for name in LESION_TYPES}
    for method in [m for m in METHODS if m in methods]:
        for variant in (plain, chosen):
            cells = []
            for name in LESION_TYPES:
                text = cell(variant.name, method, "test", name, "cpm")
                winner = best[name]
                top = next(r for r in winner["rows"] if r["lesion_type"] == name)["cpm"]["value"] or 0.0
                cells.append(f"**{text}**" if top > 0 and (winner["checkpoint"], winner["method"]) == (variant.name, method)
                             else text)
            lines.append(f"| {method} | `{variant.text}` | " + " | ".join(cells) + " |")
    for variant in variants:
        if variant not in (plain, chosen):
            cells = " | ".join(cell(variant.name, "sensitivity", "test", name, "cpm") for name in LESION_TYPES)
            lines.append(f"| sensitivity | `{variant.text}` | {cells} |")
    lines += ["", "Image level and sparsity of the sensitivity map on the test split:", "",
              "| variant | any-lesion AUC | image AUC (output): " + types + " | top-1% mass: " + types + " |",
              "|---|---|---|---|"]
    for variant in variants:
        document = by_key.get((variant.name, "sensitivity", "test"))
        if document is None:
            continue
        aucs = " / ".join(cell(variant.name, "sensitivity", "test", name, "image_auc_output").split(" [")[0]
                          for name in LESION_TYPES)
        mass = " / ".join(cell(variant.name, "sensitivity", "test", name, "sparsity_top1") for name in LESION_TYPES)
        lines.append(f"| `{variant.text}` | {format_estimate(document['any_lesion_auc'])} | {aucs} | {mass} |")
    if report:
        write_report(document_rows([row for row in results if row["split"] == "test"]), report)
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, help="the study folder (required unless --render)")
    parser.add_argument("--variants", nargs="+", default=["0", "hoyer:0.5", "hoyer:1", "shippable/0"])
    parser.add_argument("--synthetic", type=int, default=1200)
    parser.add_argument("--crops", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--input-size", type=int, default=512)
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    parser.add_argument("--jobs", type=int, default=max(1, (os.cpu_count() or 2) - 5))
    parser.add_argument("--resamples", type=int, default=300)
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--export", type=Path, help="keep study.json and checkpoints.tar current here")
    parser.add_argument("--quick", action="store_true", help="6 evaluation images: a smoke test of the whole study")
    parser.add_argument("--render", type=Path, metavar="STUDY_JSON", help="train nothing: print the study's tables")
    parser.add_argument("--report", type=Path, help="with --render: write the full comparison here too")
    arguments = parser.parse_args()
    if arguments.render:
        print(render(arguments.render, arguments.report), end="")
        return
    if arguments.out is None:
        parser.error("--out is required")
    arguments.out.mkdir(parents=True, exist_ok=True)
    if arguments.export:
        arguments.export.mkdir(parents=True, exist_ok=True)
    run(arguments)


if __name__ == "__main__":
    main()
