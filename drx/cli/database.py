"""``drx db``: the database schema commands of :mod:`db.cli` (upgrade, current, check), under ``drx``."""

import argparse


def add_parser(commands: argparse._SubParsersAction, summary: str) -> None:
    """List ``drx db`` in ``drx --help``; :func:`main` parses its arguments (``drx db --help``)."""
    commands.add_parser("db", help=summary)


def main(argv: list[str]) -> int:
    """Run ``drx db ARGS``; returns the exit status."""
    from db.cli import main as database_main

    return database_main(argv, prog="drx db")
