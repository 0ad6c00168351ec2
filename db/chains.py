"""Append-only version chains: the query for current versions and the insert of a new one.

Every correction table (see :mod:`db.models`) keeps its history as chains
linked by a UNIQUE ``supersedes_id``. The current version of a chain is the
row no other row supersedes. A new version is inserted, never written over
the old one; when two sessions supersede the same row at once the UNIQUE
constraint lets only one win, and the loser gets :class:`ChangeConflict`
(retried by :func:`db.session.run_in_transaction`).
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from db.errors import ChangeConflict
from db.session import is_retryable

__all__ = ["not_superseded", "current_versions", "insert_version"]

T = TypeVar("T")

_LATER: dict[type, Any] = {}


def not_superseded(model: type) -> Any:
    """SQL condition: the ``model`` row is the head of its chain."""
    later = _LATER.get(model)
    if later is None:
        later = _LATER[model] = aliased(model, name=f"later_{model.__tablename__}")
    return ~exists().where(later.supersedes_id == model.id)


def current_versions(model: type[T], *criteria: Any) -> Select[tuple[T]]:
    """``SELECT`` of the current versions of ``model`` matching ``criteria``, oldest chain first."""
    return select(model).where(*criteria, not_superseded(model)).order_by(model.id)


def insert_version(session: Session, row: T, what: str) -> T:
    """Add ``row`` and flush it. A unique violation (another session
    superseded the same version first) becomes :class:`ChangeConflict`;
    any other integrity error is raised as it is."""
    session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:
        if is_retryable(exc):
            raise ChangeConflict(
                f"{what} was changed by another session at the same time; nothing was saved: reload and try again"
            ) from exc
        raise
    return row
