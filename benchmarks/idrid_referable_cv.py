"""Referable-DR ROC AUC by 5-fold cross-validation on the IDRiD grading photographs, two learners side by side.

- ``default``: the default recipe (``drx train --preset default``: EfficientNet-Lite0 from ImageNet, frozen
  trunk, stride-16 logit map, 768 px, weak labels from the ICDR and DME grades), on the grading set only.
- ``baseline``: the quickest alternative a user has (docs/DESIGN): the same ImageNet EfficientNet-Lite0
  fine-tuned end to end for referable DR alone with global average pooling, 384 px, 3 epochs, flips and
  rotations.

Folds are stratified by referable DR (seed 0); each fold's photographs are never seen in its training.
Prints per fold and the mean with a 95 % t interval over folds, and the AUC of the pooled out-of-fold
probabilities with a 95 % percentile bootstrap over images; writes ``OUT/cv.json``. Resumable: a fold whose
result is in ``OUT/cv.json`` is skipped, and an interrupted fold resumes from its last epoch. A learner with a
frozen trunk computes the trunk's features of every photograph once (``OUT/NAME/trunk_all.pt``) for all folds.

    python benchmarks/idrid_referable_cv.py --out runs/idrid-cv [--learners default,baseline] [--folds 5]
"""

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import torch
from scipy import stats
from sklearn.model_selection import StratifiedKFold

from drcore.bootstrap import image_auc_interval
from drcore.datasets import dataset_root, read
from drcore.inference import predict_probabilities
from drcore.lesions import MODEL_OUTPUTS, REFERABLE_DR
from drcore.metrics import image_auc
from drcore.atomic import atomic_write
from drcore.device import default_device
from drcore.models import build_model, load_checkpoint
from drcore.training import PRESETS, TrainingConfig, save_trunk_cache, train, trunk_features
from drcore.training_data import TrainingSet, graded_source
from drcore.weak_labels import grade_labels

LEARNERS: dict[str, TrainingConfig] = {
    "default": dataclasses.replace(PRESETS["default"], idrid_segmentation=False, local_head_epochs=0),
    "baseline": TrainingConfig(
        architecture="efficientnet-lite0", architecture_params={"pretrained": True, "pooling": "avg"},
        input_size=384, epochs=3, batch_size=16, learning_rate=3e-4, colour_jitter=0.1, synthetic_images=0,
        idrid_grading=True,
    ),
}


def _only_referable(labels: torch.Tensor) -> torch.Tensor:
    """The baseline learns referable DR alone: every other label unknown."""
    kept = torch.full_like(labels, float("nan"))
    column = MODEL_OUTPUTS.index(REFERABLE_DR)
    kept[:, column] = labels[:, column]
    return kept


def shared_trunk_features(config: TrainingConfig, data: TrainingSet, path: Path) -> TrainingSet | None:
    """The frozen trunk's features of every photograph, computed once for all folds (None: no frozen trunk)."""
    model = build_model(config.architecture, outputs=len(MODEL_OUTPUTS), **config.architecture_params)
    if not getattr(model, "frozen_blocks", 0):
        return None
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        features = trunk_features(model, data, default_device(), "of every photograph")
        atomic_write(path, lambda temporary: torch.save(features, temporary))
    return torch.load(path, weights_only=False)


def run_fold(name: str, config: TrainingConfig, data: TrainingSet, features: TrainingSet | None,
             train_index: np.ndarray, test_index: np.ndarray, stem: Path) -> np.ndarray:
    """Train on one fold's training part, return its held-out referable-DR probabilities."""
    train_set = data.subset(torch.as_tensor(train_index))
    held_out = data.subset(torch.as_tensor(test_index))
    if name == "baseline":
        train_set = dataclasses.replace(train_set, labels=_only_referable(train_set.labels))
    if features is not None and not stem.with_suffix(".safetensors").exists():
        save_trunk_cache(stem, config, features.subset(torch.as_tensor(train_index)),
                         features.subset(torch.as_tensor(test_index)))
    train(config, stem, data=(train_set, held_out), resume=True)
    loaded = load_checkpoint(stem)
    probabilities = predict_probabilities(loaded.model, held_out.images.float())
    return probabilities[:, loaded.card.outputs.index(REFERABLE_DR)]


def summarise(folds: list[dict]) -> dict:
    aucs = np.array([fold["auc"] for fold in folds])
    half = stats.t.ppf(0.975, len(aucs) - 1) * aucs.std(ddof=1) / np.sqrt(len(aucs)) if len(aucs) > 1 else np.nan
    scores = np.concatenate([fold["probabilities"] for fold in folds])
    labels = np.concatenate([fold["labels"] for fold in folds])
    pooled = image_auc_interval(labels, scores, n_resamples=2000, seed=0)
    return {"mean_auc": float(aucs.mean()), "t_interval": [float(aucs.mean() - half), float(aucs.mean() + half)],
            "pooled_auc": pooled.value, "pooled_interval": [pooled.low, pooled.high], "folds": len(aucs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="runs/idrid-cv")
    parser.add_argument("--learners", default="default,baseline")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--limit", type=int, default=None, help="first N photographs only (a smoke run)")
    parser.add_argument("--epochs", type=int, default=None, help="override every learner's epochs (a smoke run)")
    arguments = parser.parse_args()
    out = Path(arguments.out)
    out.mkdir(parents=True, exist_ok=True)
    record_path = out / "cv.json"
    record = json.loads(record_path.read_text()) if record_path.exists() else {}
    samples = read("idrid_grading", dataset_root("idrid_grading"))[: arguments.limit]
    column = MODEL_OUTPUTS.index(REFERABLE_DR)
    referable = np.array([int(grade_labels(sample.labels["icdr_grade"], sample.labels["macular_edema_risk"])[column])
                          for sample in samples])
    splits = list(StratifiedKFold(arguments.folds, shuffle=True, random_state=0).split(samples, referable))
    for name in arguments.learners.split(","):
        config = LEARNERS[name]
        if arguments.epochs:
            config = dataclasses.replace(config, epochs=arguments.epochs)
        data = graded_source(samples, config.input_size, workers=2)
        features = shared_trunk_features(config, data, out / name / "trunk_all.pt")
        folds = record.setdefault(name, {"folds": []})["folds"]
        for number, (train_index, test_index) in enumerate(splits):
            if number < len(folds):
                continue
            probabilities = run_fold(name, config, data, features, train_index, test_index, out / name / f"fold{number}")
            labels = referable[test_index]
            folds.append({"fold": number, "auc": image_auc(labels, probabilities),
                          "probabilities": probabilities.tolist(), "labels": labels.tolist()})
            record_path.write_text(json.dumps(record))
            print(f"{name} fold {number}: referable-DR AUC {folds[-1]['auc']:.4f}")
        record[name]["summary"] = summarise(folds)
        record_path.write_text(json.dumps(record))
    for name in arguments.learners.split(","):
        summary = record[name]["summary"]
        print(f"{name}: mean AUC {summary['mean_auc']:.3f} (95 % t interval {summary['t_interval'][0]:.3f}-"
              f"{summary['t_interval'][1]:.3f}, {summary['folds']} folds); pooled out-of-fold "
              f"{summary['pooled_auc']:.3f} [{summary['pooled_interval'][0]:.3f}, {summary['pooled_interval'][1]:.3f}]")


if __name__ == "__main__":
    main()
