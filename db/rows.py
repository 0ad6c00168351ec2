"""Look-ups and checks shared by the correction modules: rows by id or object, choices, notes; typed errors."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.orm import Session

from db.errors import InvalidValue, NotFound
from drcore.limits import MAX_NOTE_CHARS

__all__ = ["fetch", "row_id", "one_of", "note_text"]

T = TypeVar("T")


def row_id(value: Any, model: type, what: str) -> int:
    """The id of ``value``: an int id or a ``model`` row (stored)."""
    if isinstance(value, model):
        if value.id is None:
            raise InvalidValue(f"{what} {value!r} is not stored")
        return value.id
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidValue(f"{what} must be a {model.__name__} row or its id, got {value!r}")
    return value


def fetch(session: Session, model: type[T], value: Any, what: str) -> T:
    """The ``model`` row ``value`` names (row or id), loaded in ``session``; :class:`NotFound` if absent."""
    identifier = row_id(value, model, what)
    row = session.get(model, identifier)
    if row is None:
        raise NotFound(f"no {what} with id {identifier}")
    return row


def one_of(value: Any, choices: tuple[str, ...], what: str) -> str:
    """``value`` when it is one of ``choices``; :class:`InvalidValue` naming them otherwise."""
    if value not in choices:
        raise InvalidValue(f"{what} must be one of {', '.join(choices)}; got {value!r}")
    return value


def note_text(value: Any, error: type[InvalidValue] = InvalidValue) -> str:
    """A free-text note, stored verbatim (any string of at most :data:`drcore.limits.MAX_NOTE_CHARS` characters
    without NUL);
    ``error`` is raised otherwise, before anything is stored."""
    if not isinstance(value, str):
        raise error(f"a note must be a string, got {type(value).__name__}")
    if len(value) > MAX_NOTE_CHARS:
        raise error(f"a note may have at most {MAX_NOTE_CHARS:,} characters, got {len(value):,}")
    if "\x00" in value:  # PostgreSQL text cannot hold it: refused alike on every database
        raise error("a note may not hold a NUL character (U+0000)")
    return value
