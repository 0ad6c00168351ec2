"""The ``drx`` command line, one module per subcommand.

Each module ``drx.cli.<module>`` has ``add_parser(commands, summary)`` and ``run(arguments) -> int`` and
imports the libraries it needs itself: ``drx --help`` builds one line per subcommand and loads no model or
database library, and ``drx NAME ...`` loads only what NAME uses. The workflows themselves live in the
application layer (:mod:`drx`); a subcommand parses, calls one of them and prints. May import drcore, db
and the rest of drx; nothing imports it.
"""

import argparse
import os
import sys
from collections.abc import Sequence
from importlib import import_module

from drcore.errors import DrxError

#: Subcommand -> (its module in this package, its line in ``drx --help``), in the order of that list.
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("train", "train a model with image-level labels"),
    "models": ("models", "list architectures and bundled models"),
    "compact": ("compact", "store a checkpoint as int8 deltas from its pretrained weights, about a quarter "
                "of the size"),
    "heatmap": ("heatmap", "write heatmaps of photographs as .npy arrays with .json records"),
    "evaluate": ("evaluate", "compare heatmap methods x models against expert masks"),
    "import": ("importing", "register a data set's photographs and expert masks, or a COCO file's lesions, "
               "in the database"),
    "user": ("user", "manage accounts: add, passwd, disable, enable, role, list, unlock"),
    "export": ("export", "export corrections: COCO JSON (polygons), PNG masks per lesion type, CSV of grades and "
               "decisions"),
    "mine": ("mine", "mine an archive: scores, hot spots and heatmaps as Parquet and arrays"),
    "db": ("database", "database schema: upgrade, current, check (see drx db --help)"),
    "demo": ("demo", "write the synthetic demo photographs to a folder"),
    "serve": ("serve", "serve the app (on a first start, make the admin account and print its one-time password)"),
    "discover": ("discover", "group the hot spots of an image set and write a report"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``drx`` parser with ``command``'s options in full and one line for every other subcommand.

    ``None`` builds every subcommand in full (each loads its libraries).
    """
    parser = argparse.ArgumentParser(prog="drx", description="Deep image mining for diabetic retinopathy screening.")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, (module, summary) in COMMANDS.items():
        if command is None or name == command:
            import_module(f"drx.cli.{module}").add_parser(commands, summary)
        else:
            commands.add_parser(name, help=summary)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``drx`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["db"]:  # the database commands parse their own arguments, --help included
        from drx.cli.database import main as database_main

        return database_main(argv[1:])
    if argv[:2] == ["import", "coco"]:  # parsed on its own: refusing a bad file loads no model library
        from drx.cli.importing import coco_main

        return coco_main(argv[2:])
    command = next((word for word in argv if not word.startswith("-")), "")
    arguments = build_parser(command).parse_args(argv)
    try:
        return arguments.handler(arguments)
    except DrxError as error:
        print(f"drx {arguments.command}: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader left (`drx models | head -1`): stop quietly, as the Python docs advise
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when exiting
        return 1

