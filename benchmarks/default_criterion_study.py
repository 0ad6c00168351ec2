"""The paper's heatmap criterion on the default model, measured with a paired bootstrap on DiaretDB1.

The default (``drx-idrid-v2``) trains on cached features of a frozen trunk, so
its heatmap term is the L1 of the sensitivity to those features (stride 16; see
:mod:`drcore.training`). Two variants continue training the shipped default
for ``--epochs`` epochs on the default recipe's data (IDRiD image-level labels
only), identical but for the criterion:

- ``plain``: lambda 0, the control (the same extra training without the term);
- ``heatmap``: the L1 heatmap term at relative weight ``--weight``.

Steps:

1. ``train``: the trunk's features are computed once and shared; each variant
   resumes from its last epoch when cut.
2. ``test``: both variants on the DiaretDB1 test split with the default's card
   settings (logit map, and the paper's sensitivity map, both with the card's
   smoothing and suppression; nothing is chosen on the test split), then per
   lesion type and method ``CPM(heatmap) - CPM(plain)`` with a paired 95 %
   bootstrap over images (:func:`drcore.bootstrap.paired_cpm_difference`).
   Writes ``OUT/test.json`` and ``OUT/test.md``.

Weights trained here stay in ``OUT`` (IDRiD only, so they could ship; none does).

    python benchmarks/default_criterion_study.py --out runs/criterion train test [--epochs 2] [--weight 1.0]
"""

import argparse
import dataclasses
import json
import time
from pathlib import Path

import torch

from drcore.atomic import atomic_write
from drcore.bootstrap import paired_cpm_difference
from drcore.datasets import read
from drcore.device import default_device
from drcore.evaluation import EvaluationSettings, evaluate_many
from drcore.evaluation_report import comparison_markdown, comparison_rows
from drcore.lesions import LESION_LABELS, LESION_TYPES, MODEL_OUTPUTS
from drcore.models import DEFAULT_MODEL, build_model, load_model
from drcore.training import PRESETS, TrainingConfig, build_training_sets, save_trunk_cache, train, trunk_features

METHODS = ("logit_map", "sensitivity")


def variants(arguments: argparse.Namespace) -> dict[str, TrainingConfig]:
    """The two fine-tuning runs: identical recipes, lambda 0 and lambda ``--weight``."""
    base = dataclasses.replace(PRESETS["default"], initial_model=DEFAULT_MODEL, epochs=arguments.epochs,
                               learning_rate=arguments.learning_rate, local_head_epochs=0)
    return {"plain": base, "heatmap": dataclasses.replace(base, heatmap_weight=arguments.weight)}


def train_variants(arguments: argparse.Namespace, out: Path) -> None:
    """Train every variant not trained yet, from trunk features computed once."""
    runs = {name: config for name, config in variants(arguments).items()
            if not (out / f"{name}.safetensors").exists()}
    if not runs:
        return
    shared = out / "trunk_features.pt"
    first = next(iter(runs.values()))
    if not shared.exists():
        train_set, validation = build_training_sets(first)
        model = build_model(first.architecture, outputs=len(MODEL_OUTPUTS), **first.architecture_params)
        features = [trunk_features(model, examples, default_device(), name)
                    for name, examples in (("training", train_set), ("validation", validation))]
        atomic_write(shared, lambda temporary: torch.save(features, temporary))
    features = torch.load(shared, weights_only=False)
    for name, config in runs.items():
        if not (out / f"{name}.resume.pt").exists():
            save_trunk_cache(out / name, config, *features)
        started = time.perf_counter()
        train(config, out / name, name=f"{DEFAULT_MODEL}-{name}", resume=True)
        print(f"{name}: trained in {time.perf_counter() - started:.0f} s")


def test_variants(arguments: argparse.Namespace, out: Path) -> None:
    """Both variants on the DiaretDB1 test split, and the paired CPM differences."""
    card = load_model(DEFAULT_MODEL).card.heatmap
    models = {name: load_model(out / name) for name in variants(arguments)}
    settings = [EvaluationSettings(method=method, smoothing_sigma_px=card["smoothing_sigma_px"],
                                   nms_radius_px=card["nms_radius_px"], n_resamples=1000, pixel_auc_resamples=100)
                for method in METHODS]
    runs = [(models[name], setting) for setting in settings for name in models]
    started = time.perf_counter()
    results = evaluate_many(runs, read("diaretdb1", split="test"), dataset="diaretdb1", split="test", workers=2)
    by_run = {(loaded.card.name, setting.method): result for (loaded, setting), result in zip(runs, results)}
    differences = []
    for method in METHODS:
        plain, heatmap = (by_run[(models[name].card.name, method)] for name in ("plain", "heatmap"))
        for lesion_type in LESION_TYPES:
            interval = paired_cpm_difference(heatmap.matches[lesion_type], plain.matches[lesion_type],
                                             n_resamples=1000, seed=0)
            differences.append({"method": method, "lesion_type": lesion_type, "difference": interval.value,
                                "low": interval.low, "high": interval.high})
    rows = comparison_rows(results)
    document = {"variants": {name: dataclasses.asdict(config) for name, config in variants(arguments).items()},
                "cpm_difference_heatmap_minus_plain": differences, "rows": rows,
                "seconds": round(time.perf_counter() - started, 1)}
    (out / "test.json").write_text(json.dumps(document, indent=1))
    lines = ["| method | lesion type | CPM plain | CPM heatmap term | difference [paired 95 % interval] |",
             "|---|---|---|---|---|"]
    for item in differences:
        cpm = {name: next(row["cpm"]["value"] for row in rows if row["model"] == models[name].card.name
                          and row["method"] == item["method"] and row["lesion_type"] == item["lesion_type"])
               for name in models}
        lines.append(f"| {item['method']} | {LESION_LABELS[item['lesion_type']]} | {cpm['plain']:.3f} | "
                     f"{cpm['heatmap']:.3f} | {item['difference']:+.3f} [{item['low']:+.3f}, {item['high']:+.3f}] |")
    markdown = "\n".join(lines) + "\n\n" + comparison_markdown(rows)
    (out / "test.md").write_text(markdown)
    print(markdown)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("steps", nargs="+", choices=["train", "test"])
    parser.add_argument("--out", default="runs/criterion-study", help="folder for checkpoints and results")
    parser.add_argument("--epochs", type=int, default=2, help="epochs of continued training per variant")
    parser.add_argument("--learning-rate", type=float, default=3e-4, help="peak learning rate of those epochs")
    parser.add_argument("--weight", type=float, default=1.0, help="lambda of the heatmap variant (relative)")
    arguments = parser.parse_args()
    out = Path(arguments.out)
    out.mkdir(parents=True, exist_ok=True)
    for step in arguments.steps:
        {"train": train_variants, "test": test_variants}[step](arguments, out)


if __name__ == "__main__":
    main()
