"""``drx export``: write grader corrections as COCO JSON, PNG masks and CSV (see :mod:`drx.corrections_export`).

::

    drx export --out FOLDER [--zip] [--grader NAME ...] [--since DATE] [--until DATE] [--dataset NAME ...]

Dates are ISO 8601 (``2026-11-26`` or ``2026-11-26T14:00``); a bare date
means the whole day, UTC, and times without an offset are UTC.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, time, timezone
from pathlib import Path


__all__ = ["add_parser", "run", "parse_when"]


def parse_when(text: str, *, end_of_day: bool = False) -> datetime:
    """An aware UTC datetime from an ISO date or datetime (a bare date: its start, or its end)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date or date-time: {text!r}") from exc
    if len(text.strip()) <= 10 and end_of_day:
        value = datetime.combine(value.date(), time.max)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def add_parser(commands: argparse._SubParsersAction, summary: str) -> None:
    """Register ``drx export`` on the ``drx`` subcommands."""
    export = commands.add_parser(
        "export", help=summary,
        description="Writes FOLDER/coco.json, FOLDER/masks/<image>/<grader>/<lesion_type>.png, FOLDER/grades.csv and "
        "FOLDER/decisions.csv with the current version of every selected row (deleted lesions left out).",
    )
    export.add_argument("--out", required=True, help="folder to write into (created; a previous export there is "
                        "replaced whole; a folder holding other files is refused)")
    export.add_argument("--zip", action="store_true", help="write FOLDER.zip instead of a folder")
    export.add_argument("--grader", action="append", default=[], help="only this grader (repeat for several)")
    export.add_argument("--since", type=parse_when, help="only versions saved from this date or time (UTC)")
    export.add_argument("--until", type=lambda text: parse_when(text, end_of_day=True),
                        help="only versions saved up to this date (the whole day) or time (UTC)")
    export.add_argument("--dataset", action="append", default=[],
                        help="only images of this data set / source, e.g. diaretdb1, upload (repeat for several)")
    export.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    """Run ``drx export``; returns the exit status."""
    from db.errors import DbError
    from drcore.atomic import atomic_write
    from drcore.errors import DrxError
    from drx.corrections_export import ExportFilter, export_zip, write_export
    from drx.records import database

    selection = ExportFilter(tuple(arguments.grader), arguments.since, arguments.until, tuple(arguments.dataset))
    out = Path(arguments.out)
    try:
        sessions = database()
        if arguments.zip:
            data, summary = export_zip(sessions, selection)
            target = out.with_name(out.name + ".zip")
            atomic_write(target, lambda temporary: temporary.write_bytes(data))
        else:
            summary, target = write_export(sessions, out, selection, progress=True), out
    except (DbError, DrxError, OSError) as error:
        print(f"drx export: {error}", file=sys.stderr)
        return 1
    print(f"wrote {target}: {summary.annotations} annotations on {summary.images} images, {summary.masks} masks, "
          f"{summary.grades} grades, {summary.decisions} decisions")
    return 0
