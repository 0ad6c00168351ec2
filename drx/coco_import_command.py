"""``drx import coco FILE [--grader NAME]``: the COCO kind of ``drx import`` (see :mod:`drx.coco_import`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from db.errors import DbError
from drcore.errors import DrxError

__all__ = ["add_arguments", "run", "main"]


def add_arguments(importing: Any) -> None:
    """Add the COCO options to the ``drx import`` parser."""
    importing.add_argument("--grader", default=None,
                           help="coco: grader of annotations that name none (files from other tools)")


def run(arguments: argparse.Namespace) -> int:
    """Import the COCO file ``arguments.path``; returns the exit status."""
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


def main(argv: list[str]) -> int:
    """``drx import coco FILE [--grader NAME]`` on its own (without building the other commands' parsers)."""
    parser = argparse.ArgumentParser(prog="drx import coco", description="Read lesions back from a COCO JSON file "
                                     "(a drx export, or another tool's file with --grader); a bad file imports nothing.")
    parser.add_argument("path", nargs="?", default=None, help="the COCO JSON file")
    add_arguments(parser)
    return run(parser.parse_args(argv))
