"""The ``drx`` command line."""

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from drcore.errors import DrxError
from drx import coco_import_command

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
    "initial_model": "start from this model's weights (a bundled name or a checkpoint path; same architecture)",
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
                                        "initial_model") else type(value)
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


def _train(arguments: argparse.Namespace) -> int:
    from drcore.training import train

    config = _training_config(arguments)
    if not arguments.synthetic and arguments.preset is None:
        config = dataclasses.replace(config, synthetic_images=0)
    if not (config.synthetic_images or config.diaretdb1 or config.idrid_grading or config.idrid_segmentation
            or config.csv):
        print("drx train: choose at least one source: --synthetic, --idrid-grading, --idrid-segmentation, "
              "--diaretdb1 or --csv (or a --preset)", file=sys.stderr)
        return 2
    card = train(config, Path(arguments.out), name=arguments.name, resume=arguments.resume)
    print(f"wrote {arguments.out}.safetensors (sha256 {card.sha256[:12]}…) and its card")
    return 0


def _models(arguments: argparse.Namespace) -> int:
    from drcore.models import ARCHITECTURES, DEFAULT_MODEL, bundled_models, load_model

    print("architectures: " + ", ".join(sorted(ARCHITECTURES)))
    for name in bundled_models():
        card = load_model(name).card
        default = " (default)" if name == DEFAULT_MODEL else ""
        print(f"{name}{default}: {card.architecture}, input {card.input_size} px, outputs {', '.join(card.outputs)}")
        print(f"  sha256 {card.sha256}")
        print(f"  {card.limitations}")
    return 0


def _heatmap(arguments: argparse.Namespace) -> int:
    from drcore.device import default_device
    from drcore.heatmap_export import collect_images, export_heatmaps
    from drcore.models import load_model

    loaded = load_model(arguments.model)
    loaded.model.to(default_device())
    images = collect_images(arguments.inputs)
    if not images:
        print("drx heatmap: no photographs found (JPEG, PNG or TIFF)", file=sys.stderr)
        return 1
    failures = export_heatmaps(
        images, Path(arguments.out), loaded, method=arguments.method, output=arguments.output,
        batch_size=arguments.batch_size,
    )
    for failure in failures:
        print(f"drx heatmap: skipped {failure.image}: {failure.reason}", file=sys.stderr)
    print(f"wrote {len(images) - len(failures)} heatmaps to {arguments.out}")
    return 1 if failures else 0


def _import(arguments: argparse.Namespace) -> int:
    from drcore.datasets import dataset_root, read
    from drcore.heatmap_export import collect_images
    from drx.records import database, import_folder, import_samples

    if arguments.kind == "coco":
        return coco_import_command.run(arguments)
    if arguments.kind == "folder":
        if arguments.path is None:
            print("drx import folder: give the folder to import", file=sys.stderr)
            return 2
        summary = import_folder(database(), collect_images([arguments.path]))
    else:
        names = ["diaretdb1"] if arguments.kind == "diaretdb1" else ["idrid_segmentation", "idrid_grading"]
        if arguments.kind == "idrid" and arguments.path is not None:
            path = Path(arguments.path)
            names = ["idrid_grading"] if (path / "labels").is_dir() else ["idrid_segmentation"]
        samples = [sample for name in names for sample in read(name, arguments.path or dataset_root(name))]
        summary = import_samples(database(), samples, source=arguments.kind)
    print(f"{summary.images} photographs: {summary.images_added} new, {summary.images - summary.images_added} "
          f"already known; {summary.ground_truths_added} new ground-truth masks")
    return 0


def _demo(arguments: argparse.Namespace) -> int:
    from drcore.synthetic import write_demo_images

    for path in write_demo_images(Path(arguments.out), count=arguments.count):
        print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every ``drx`` subcommand."""
    from drx import evaluate_command, export_command, mine_command, user_command  # they import model libraries

    parser = argparse.ArgumentParser(prog="drx", description="Deep image mining for diabetic retinopathy screening.")
    formatter = argparse.ArgumentDefaultsHelpFormatter
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a model with image-level labels", formatter_class=formatter)
    train.add_argument("--synthetic", action="store_true", help="train on freshly generated synthetic photographs")
    train.add_argument("--out", default="drx-model", help="checkpoint stem: writes OUT.safetensors and OUT.json")
    train.add_argument("--name", default=None, help="model name in the card (None: the stem's name)")
    train.add_argument("--resume", action="store_true", help="continue from OUT.resume.pt if a run was interrupted")
    _add_training_arguments(train)
    train.set_defaults(handler=_train)

    models = commands.add_parser("models", help="list architectures and bundled models")
    models.set_defaults(handler=_models)

    heatmap = commands.add_parser(
        "heatmap", help="write heatmaps of photographs as .npy arrays with .json records", formatter_class=formatter,
        description="For every photograph writes OUT/<stem>.npy (float32, the photograph's height x width, raw "
        "values, 0 outside the field of view) and OUT/<stem>.json (image, model and sha256, method, output, "
        "the model's probability for every output and, where the model has one, referable_dr: probability, "
        "the card's threshold and the decision 'refer' / 'no referable DR').",
    )
    heatmap.add_argument("inputs", nargs="+", metavar="IMAGE_OR_FOLDER", help="photographs, or folders searched recursively")
    heatmap.add_argument("--out", required=True, help="folder to write into")
    heatmap.add_argument("--model", default=None, help="bundled model name or checkpoint path (default: the bundled default)")
    heatmap.add_argument("--method", default=None,
                         help="heatmap method (default: the model card's, else sensitivity)")
    heatmap.add_argument("--output", default=None,
                         help="model output to explain (default: the card's, else referable_dr if the model has it, "
                         "else the first)")
    heatmap.add_argument("--batch-size", type=int, default=8, help="photographs per model batch")
    heatmap.set_defaults(handler=_heatmap)

    evaluate_command.add_parser(commands)

    importing = commands.add_parser(
        "import", help="register a data set's photographs and expert masks, or a COCO file's lesions, in the database",
        description="Files are referenced where they are, never copied; importing twice adds nothing.",
    )
    importing.add_argument("kind", choices=["diaretdb1", "idrid", "folder", "coco"])
    importing.add_argument("path", nargs="?", default=None,
                           help="the data set's folder (default: its DRX_*_ROOT), or the COCO JSON file")
    coco_import_command.add_arguments(importing)
    importing.set_defaults(handler=_import)
    user_command.add_parser(commands)
    export_command.add_parser(commands)

    mine_command.add_parser(commands)

    commands.add_parser("db", help="database schema: upgrade, current, check (see drx db --help)")

    demo = commands.add_parser("demo", help="write the synthetic demo photographs to a folder", formatter_class=formatter)
    demo.add_argument("--out", default="demo-images", help="folder to write into")
    demo.add_argument("--count", type=int, default=6, help="how many photographs")
    demo.set_defaults(handler=_demo)

    from drx import discover_command

    discover_command.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``drx`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["db"]:  # the database commands parse their own arguments, --help included
        from db.cli import main as database_main

        return database_main(argv[1:], prog="drx db")
    if argv[:2] == ["import", "coco"]:  # parsed on its own: refusing a bad file loads no model library
        return coco_import_command.main(argv[2:])
    arguments = build_parser().parse_args(argv)
    try:
        return arguments.handler(arguments)
    except DrxError as error:
        print(f"drx {arguments.command}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
