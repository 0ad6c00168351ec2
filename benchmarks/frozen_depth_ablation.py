"""Ablation of one lever of the default recipe: how much of the ImageNet trunk stays frozen.

The default (``drx train --preset default``) keeps the stem and the first 11
MBConv blocks of EfficientNet-Lite0 at their ImageNet weights, caches their
output once per photograph and trains the rest (stages 6-7 and the stride-16
logit map) on it: what makes CPU training at 768 px affordable. This script
trains the same recipe with fewer frozen blocks (``--frozen``, e.g. 8: stage 5
trainable too), everything else equal (data, labels, epochs, seed), and judges
it by a rule fixed before any figure of it was seen:

- IDRiD validation (the recipe's 47 held-out photographs, at the 768 px it
  trains at, its last epoch): any-lesion and referable-DR AUC at least the
  shipped default's (``drx-idrid-v3``'s curve);
- DiaretDB1 **train** split (28 photographs, the card's 1280 px, sigma 10 px):
  mean CPM over the four lesion types, each with its best reading
  (``default_model_study.choose``'s per-type rule over the own, any-lesion and
  referable-DR maps), at least the shipped default's plus 0.01.

Only a variant that passes both would be run on the DiaretDB1 test split
(``default_model_study.py test``), once. Steps:

1. ``train``: the recipe with ``--frozen`` blocks frozen, without the local
   head's stage (resumable: run it again after an interruption);
2. ``card``: the variant with the shipped default's local head (it reads the
   frozen stage-3 features, the same in both) and the default's card settings
   (1280 px, heatmap post-processing), as ``OUT/frozenF-1280``;
3. ``choose``: ``default_model_study.choose`` at sigma 10 px (the non-lesion
   outputs' method fixed to ``logit_map``, as ``make model``) on the variant
   and on the shipped default, in one run;
4. ``verdict``: both criteria beside the default's, written to
   ``OUT/verdict.json``.

    python benchmarks/frozen_depth_ablation.py --frozen 8 --out runs/frozen-depth train card choose verdict
"""

import argparse
import dataclasses
import importlib.util
import json
from pathlib import Path

from drcore.lesions import ANY_LESION, LESION_TYPES, REFERABLE_DR
from drcore.models import DEFAULT_MODEL, load_model
from drcore.models.checkpoint import save_checkpoint
from drcore.training import PRESETS, TrainingConfig, train

SIGMA_PX = 10.0
SINGLE_METHOD = "logit_map"
#: the train-split mean CPM a variant must add to the default's
MIN_GAIN = 0.01
STUDY = Path(__file__).with_name("default_model_study.py")


def _study():
    spec = importlib.util.spec_from_file_location("default_model_study", STUDY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def recipe(frozen: int) -> TrainingConfig:
    """The default recipe with ``frozen`` blocks frozen, no local-head stage, run at its training size."""
    default = PRESETS["default"]
    return dataclasses.replace(default, architecture_params={**default.architecture_params, "frozen_blocks": frozen},
                               local_head_epochs=0, inference_input_size=0)


def train_variant(frozen: int, out: Path) -> None:
    """Train (or resume) the variant's image-level part."""
    stem = out / f"frozen{frozen}"
    if not stem.with_suffix(".safetensors").exists():
        train(recipe(frozen), stem, name=f"{DEFAULT_MODEL}-frozen{frozen}", resume=True)


def card_variant(frozen: int, out: Path) -> Path:
    """The variant with the default's local head and card settings; returns its stem."""
    default, variant = load_model(DEFAULT_MODEL), load_model(out / f"frozen{frozen}")
    local = {key: value for key, value in default.model.state_dict().items() if key.startswith("local.")}
    variant.model.load_state_dict(local, strict=False)
    card = dataclasses.replace(default.card, name=variant.card.name, architecture_params=variant.card.architecture_params,
                               training={**variant.card.training, "local_head": default.card.training["local_head"]},
                               operating_points={}, metrics={}, sha256="")
    stem = out / f"frozen{frozen}-1280"
    save_checkpoint(variant.model, card, stem)
    return stem


def choose_both(frozen: int, out: Path) -> None:
    """``default_model_study.choose`` at sigma 10 px on the variant and on the shipped default, side by side."""
    for label, model in ((f"frozen{frozen}", str(out / f"frozen{frozen}-1280")), ("default", DEFAULT_MODEL)):
        folder = out / f"choose-{label}"
        if not (folder / "choose.json").exists():
            folder.mkdir(exist_ok=True)
            _study().choose(model, folder, sigmas=(SIGMA_PX,), single=SINGLE_METHOD)


def verdict(frozen: int, out: Path) -> dict:
    """Both criteria for the variant beside the shipped default's; writes ``OUT/verdict.json``."""
    cards = {"default": load_model(DEFAULT_MODEL).card, "variant": load_model(out / f"frozen{frozen}").card}
    folders = {"default": "choose-default", "variant": f"choose-frozen{frozen}"}
    cpm = {name: _best_per_type(json.loads((out / folder / "choose.json").read_text())["train_cpm_at_chosen_sigma"])
           for name, folder in folders.items()}
    validation = {name: {output: card.training["curve"][-1][f"val_auc_{output}"] for output in (ANY_LESION, REFERABLE_DR)}
                  for name, card in cards.items()}
    means = {name: sum(values.values()) / len(LESION_TYPES) for name, values in cpm.items()}
    passes = {"validation": all(validation["variant"][key] >= validation["default"][key] for key in validation["default"]),
              "train_cpm": means["variant"] >= means["default"] + MIN_GAIN}
    document = {"frozen_blocks": frozen, "validation_auc_768": validation, "train_cpm_per_type": cpm,
                "train_mean_cpm": means, "passes": passes, "adopt": all(passes.values()),
                "variant_training_s": cards["variant"].training.get("duration_s")}
    (out / "verdict.json").write_text(json.dumps(document, indent=1))
    print(json.dumps(document, indent=1))
    return document


def _best_per_type(cpm_by_source: dict) -> dict[str, float]:
    """Per lesion type, the train CPM of the reading ``default_model_study``'s rule picks."""
    readings = _study().per_type_readings(cpm_by_source, SINGLE_METHOD)
    return {name: cpm_by_source[source][method][name] or 0.0 for name, (source, method) in readings.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("steps", nargs="+", choices=["train", "card", "choose", "verdict"])
    parser.add_argument("--frozen", type=int, default=8, help="MBConv blocks kept at ImageNet weights (default 11)")
    parser.add_argument("--out", default="runs/frozen-depth", help="folder for checkpoints and results")
    arguments = parser.parse_args()
    out = Path(arguments.out)
    out.mkdir(parents=True, exist_ok=True)
    for step in arguments.steps:
        if step == "train":
            train_variant(arguments.frozen, out)
        elif step == "card":
            card_variant(arguments.frozen, out)
        elif step == "choose":
            choose_both(arguments.frozen, out)
        else:
            verdict(arguments.frozen, out)


if __name__ == "__main__":
    main()
