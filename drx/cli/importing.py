"""``drx import``: register a data set's photographs and expert masks, a folder of photographs, or a COCO
file's lesions (``drx import coco FILE [--grader NAME]``, see :mod:`drx.coco_import`) in the database."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DESCRIPTION = "Files are referenced where they are, never copied; importing twice adds nothing."


def add_parser(commands: argparse._SubParsersAction, summary: str) -> None:
    """Register ``drx import``."""
    importing = commands.add_parser("import", help=summary, description=DESCRIPTION)
    importing.add_argument("kind", choices=["diaretdb1", "idrid", "folder", "coco"])
    importing.add_argument("path", nargs="?", default=None,
                           help="the data set's folder (default: its DRX_*_ROOT), or the COCO JSON file")
    _add_coco_arguments(importing)
    importing.set_defaults(handler=run)


def _add_coco_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--grader", default=None,
                        help="coco: grader of annotations that name none (files from other tools)")


def run(arguments: argparse.Namespace) -> int:
    """Import what ``arguments.kind`` names; returns the exit status."""
    if arguments.kind == "coco":
        return _run_coco(arguments)
    from drcore.datasets import dataset_root, read
    from drcore.heatmap_export import collect_images
    from drx.records import database, import_folder, import_samples

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


def _run_coco(arguments: argparse.Namespace) -> int:
    from db.errors import DbError
    from drcore.errors import DrxError
    from drx.coco_import import import_coco
    from drx.records import database

    if arguments.path is None:
        print("drx import coco: give the COCO JSON file to import", file=sys.stderr)
        return 2
    try:
        summary = import_coco(database(), Path(arguments.path), default_grader=arguments.grader)
    except (DbError, DrxError) as error:
        print(f"drx import coco: {error}", file=sys.stderr)
        return 1
    print(f"{summary.annotations} annotations: {summary.added} added, {summary.already_present} already present; "
          f"{summary.images_registered} images registered")
    return 0


def coco_main(argv: list[str]) -> int:
    """``drx import coco FILE [--grader NAME]`` on its own (without building the other commands' parsers)."""
    parser = argparse.ArgumentParser(prog="drx import coco", description="Read lesions back from a COCO JSON file "
                                     "(a drx export, or another tool's file with --grader); a bad file imports nothing.")
    parser.add_argument("path", nargs="?", default=None, help="the COCO JSON file")
    _add_coco_arguments(parser)
    return _run_coco(parser.parse_args(argv))
