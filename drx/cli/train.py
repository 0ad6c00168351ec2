"""``drx train``: train a model with image-level labels (every field of :class:`drcore.training.TrainingConfig`
that has a line in :data:`TRAINING_HELP` is an option)."""

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from drcore.training import TrainingConfig


TRAINING_HELP = {
    "architecture": "registered architecture (drx models lists them)",
    "input_size": "side of the square model input, in pixels",
    "epochs": "passes over the training examples",
    "batch_size": "examples per optimisation step (over all processes under torchrun)",
    "micro_batches": "split each process's share of a batch into this many parts, gradients accumulated",
    "learning_rate": "peak learning rate of the one-cycle schedule",
    "weight_decay": "weight decay (decoupled for AdamW, L2 for SGD)",
    "optimiser": "adamw, or sgd (momentum 0.9)",
    "heatmap_weight": "lambda: the heatmap term starts at this multiple of the classification loss (0 = plain training)",
    "heatmap_penalty": "l1 (the paper's sparsity term) or hoyer (scale-free L1/L2 ratio)",
    "colour_jitter": "largest relative change of each colour channel's contrast",
    "mixed_precision": "bfloat16 autocast on CUDA (ignored on the CPU)",
    "seed": "seeds photographs, initial weights, order and augmentation",
    "workers": "processes generating synthetic photographs",
    "synthetic_images": "synthetic photographs to generate (with --synthetic)",
    "synthetic_width": "width of the generated photographs, in pixels",
    "retina_every": "every n-th synthetic photograph is drawn on the CC0 retina photograph (0 = never)",
    "diaretdb1": "the DiaretDB1 train split at image level (not redistributable)",
    "diaretdb1_crops": "random crops per DiaretDB1 photograph, labelled by the lesion types they contain",
    "idrid_grading": "the 413 IDRiD graded photographs, weak labels from their ICDR and DME grades",
    "idrid_segmentation": "the 54 IDRiD segmentation photographs, labelled by which lesion types they have",
    "csv": "a CSV with columns image,level (Kaggle/EyePACS layout): any lesion = level >= 1",
    "csv_images": "folder of the CSV's photographs (default: the CSV's folder)",
    "validation_fraction": "share of the real photographs held out for the validation AUC",
    "initial_model": "start from this model's weights (a bundled name or a checkpoint path; same architecture; "
                     "with --corrections: the default model unless given, whose architecture and input size are kept)",
    "corrections": "DATABASE_URL: fine-tune on the graders' adjudicated corrections in this drx database "
                   "(photographs by content hash; see drx.corrections_training), no other source",
    "region_weight": "weight of the logit-map term from confirmed, drawn and rejected lesions (--corrections)",
    "local_head_epochs": "then train the model's stride-8 local head this many epochs (0 = not; drcore.local_head)",
    "local_head_input_size": "side of the photographs the local head trains on, in pixels",
    "local_head_learning_rate": "peak learning rate of the local head's one-cycle schedule",
    "inference_input_size": "then run the model at this input size: the card's input size and referable-DR operating "
                            "point, chosen on the validation photographs prepared at it (0 = the training size)",
}


def _add_training_arguments(train: argparse.ArgumentParser) -> None:
    from drcore.training import PRESETS, TrainingConfig

    train.add_argument("--preset", choices=sorted(PRESETS), default=None,
                       help="start from a named recipe (default: the bundled default model's); other flags change it")
    defaults = TrainingConfig()
    for item in dataclasses.fields(TrainingConfig):
        if item.name not in TRAINING_HELP:
            continue
        flag, value = "--" + item.name.replace("_", "-"), getattr(defaults, item.name)
        if isinstance(value, bool):
            action = argparse.BooleanOptionalAction if value else "store_true"
            train.add_argument(flag, action=action, default=value, help=TRAINING_HELP[item.name])
        else:
            kind = str if item.name in ("csv", "csv_images", "architecture", "heatmap_penalty",
                                        "initial_model", "corrections") else type(value)
            train.add_argument(flag, type=kind, default=value, help=TRAINING_HELP[item.name])


def _training_config(arguments: argparse.Namespace) -> "TrainingConfig":
    """The preset's configuration (if any) with every flag that differs from drx's defaults applied on top."""
    from drcore.training import PRESETS, TrainingConfig

    defaults = TrainingConfig()
    given = {item.name: getattr(arguments, item.name) for item in dataclasses.fields(TrainingConfig)
             if item.name in TRAINING_HELP}
    if arguments.preset is None:
        return TrainingConfig(**given)
    changed = {name: value for name, value in given.items() if value != getattr(defaults, name)}
    return dataclasses.replace(PRESETS[arguments.preset], **changed)


def _run_corrections(arguments: argparse.Namespace) -> int:
    """``--corrections``: fine-tune on a database's corrections; 2 with another source, 1 on a refusal."""
    from db.errors import DbError
    from drcore.errors import DrxError
    from drcore.models import DEFAULT_MODEL
    from drcore.training import TrainingConfig
    from drx.corrections_training import corrections_config, train_from_corrections

    defaults = TrainingConfig()
    others = [name for name in ("idrid_grading", "idrid_segmentation", "diaretdb1", "csv")
              if getattr(arguments, name) != getattr(defaults, name)]
    if arguments.synthetic or arguments.preset or others:
        print("drx train: --corrections trains on the database's photographs only; drop --synthetic, --preset and "
              "the other sources", file=sys.stderr)
        return 2
    changed = {item.name: getattr(arguments, item.name) for item in dataclasses.fields(TrainingConfig)
               if item.name in TRAINING_HELP and item.name not in ("corrections", "initial_model")
               and getattr(arguments, item.name) != getattr(defaults, item.name)}
    try:
        config = corrections_config(arguments.corrections, arguments.initial_model or DEFAULT_MODEL, **changed)
        done = train_from_corrections(arguments.corrections, Path(arguments.out), config, name=arguments.name,
                                      resume=arguments.resume)
    except (DrxError, DbError) as error:
        print(f"drx train: {error}", file=sys.stderr)
        return 1
    print(f"wrote {arguments.out}.safetensors (sha256 {done.card.sha256[:12]}…) and its card: "
          f"{done.summary.photographs} photographs, {done.summary.decisions} decisions, "
          f"{done.summary.drawings} drawings")
    return 0


def run(arguments: argparse.Namespace) -> int:
    """Train and write the checkpoint and its card; 2 when no source of photographs is chosen."""
    from drcore.training import train

    if arguments.corrections:
        return _run_corrections(arguments)
    config = _training_config(arguments)
    if not arguments.synthetic and arguments.preset is None:
        config = dataclasses.replace(config, synthetic_images=0)
    if not (config.synthetic_images or config.diaretdb1 or config.idrid_grading or config.idrid_segmentation
            or config.csv):
        print("drx train: choose at least one source: --synthetic, --idrid-grading, --idrid-segmentation, "
              "--diaretdb1, --csv or --corrections (or a --preset)", file=sys.stderr)
        return 2
    card = train(config, Path(arguments.out), name=arguments.name, resume=arguments.resume)
    print(f"wrote {arguments.out}.safetensors (sha256 {card.sha256[:12]}…) and its card")
    return 0


def add_parser(commands: argparse._SubParsersAction, summary: str) -> None:
    """Register ``drx train``."""
    train = commands.add_parser("train", help=summary, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    train.add_argument("--synthetic", action="store_true", help="train on freshly generated synthetic photographs")
    train.add_argument("--out", default="drx-model", help="checkpoint stem: writes OUT.safetensors and OUT.json")
    train.add_argument("--name", default=None, help="model name in the card (None: the stem's name)")
    train.add_argument("--resume", action="store_true", help="continue from OUT.resume.pt if a run was interrupted")
    _add_training_arguments(train)
    train.set_defaults(handler=run)
