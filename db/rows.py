"""Look-ups shared by the correction modules: rows by id or object, with typed errors."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.orm import Session

from db.errors import InvalidValue, NotFound

__all__ = ["fetch", "row_id"]

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
