"""Retried transactions: ``run_in_transaction(sessions, fn)`` runs ``fn(session)`` in a transaction and
retries it, from a fresh session, when it failed only because of another writer: SQLite "database is
locked"/busy, PostgreSQL serialization failures and deadlocks, unique violations and
:class:`~db.errors.GradeConflict`.
"""

from __future__ import annotations

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any, Optional, TypeVar

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from db.errors import GradeConflict

__all__ = ["is_retryable", "run_in_transaction"]

T = TypeVar("T")

#: SQLite primary result codes: SQLITE_BUSY, SQLITE_LOCKED (extended codes
#: such as SQLITE_BUSY_SNAPSHOT share the low byte)
_SQLITE_BUSY_CODES = {5, 6}
#: SQLite extended codes of UNIQUE and PRIMARY KEY violations
_SQLITE_UNIQUE_CODES = {2067, 1555}
#: PostgreSQL SQLSTATEs: serialization_failure, deadlock_detected, unique_violation
_PG_RETRY_STATES = {"40001", "40P01", "23505"}
_SQLITE_BUSY_TEXT = ("database is locked", "database table is locked", "database is busy")


def _sqlstate(original: Any) -> Optional[str]:
    return getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)


def is_retryable(exc: BaseException) -> bool:
    """Whether ``exc`` means "another writer got there first; try again":

    - :class:`~db.errors.GradeConflict` (a concurrent edit of the same grade);
    - SQLite busy/locked (``database is locked``, including the
      ``SQLITE_BUSY_SNAPSHOT`` a WAL reader gets when it tries to write after
      another connection committed) and UNIQUE violations (two sessions
      inserting the same image or grader);
    - PostgreSQL serialization failures (40001), deadlocks (40P01) and unique
      violations (23505).

    Anything else (a CHECK or foreign-key violation, invalid values, a lost
    connection) is not retried.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, GradeConflict):
            return True
        if isinstance(exc, DBAPIError):
            original = exc.orig
            code = getattr(original, "sqlite_errorcode", None)
            if code is not None:
                if (code & 0xFF) in _SQLITE_BUSY_CODES:
                    return True
                if isinstance(exc, IntegrityError) and code in _SQLITE_UNIQUE_CODES:
                    return True
            elif _sqlstate(original) in _PG_RETRY_STATES:
                return True
            message = str(original).lower()
            if any(text in message for text in _SQLITE_BUSY_TEXT):
                return True
            if isinstance(exc, IntegrityError) and "unique constraint failed" in message:
                return True
        exc = exc.__cause__  # type: ignore[assignment]  # explicit chaining only
    return False


def _begin_write(session: Session) -> None:
    """Take SQLite's write lock at the start of the transaction
    (``BEGIN IMMEDIATE``), so that a read-then-write transaction waits in the
    busy handler for the lock instead of failing with ``SQLITE_BUSY_SNAPSHOT``
    when another writer commits between its read and its write."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    dbapi_connection = connection.connection.dbapi_connection
    if not getattr(dbapi_connection, "in_transaction", False):  # e.g. a session joined to an outer one
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def run_in_transaction(
    sessions: sessionmaker[Session],
    fn: Callable[[Session], T],
    *,
    attempts: int = 10,
    write: bool = True,
    base_delay_s: float = 0.005,
    max_delay_s: float = 0.5,
    on_retry: Optional[Callable[[BaseException, int], None]] = None,
) -> T:
    """Run ``fn(session)`` in a new session and transaction, commit, and
    return its result; retry the whole unit when it failed for a reason that
    :func:`is_retryable` accepts.

    Every attempt gets a fresh session, so ``fn`` re-reads the state it acts
    on (the current grade, an image someone else just registered); ``fn``
    must therefore do everything the transaction needs, not rely on objects
    loaded by a previous attempt. Between attempts it sleeps a jittered,
    exponentially growing delay (``base_delay_s`` doubling up to
    ``max_delay_s``). After ``attempts`` tries the last error is raised; any
    other error is raised at once, after rollback. ``on_retry(exc, attempt)``
    is called before each retry (e.g. to count them).

    ``write=True`` (default): on SQLite the transaction starts with
    ``BEGIN IMMEDIATE`` (see :func:`_begin_write`), so writers queue on the
    busy timeout rather than fail; use ``write=False`` for read-only units.
    Objects returned by ``fn`` stay loaded after the session closes when the
    sessionmaker has ``expire_on_commit=False`` (as :func:`init_database`'s
    has).

    Example::

        grade = run_in_transaction(Session, lambda s: grade_image(s, user, image_id, icdr_grade=2, referable=True))
    """
    if attempts < 1:
        raise ValueError(f"attempts must be >= 1, got {attempts}")
    attempt = 1
    while True:
        try:
            with sessions() as session:
                with session.begin():
                    if write:
                        _begin_write(session)
                    return fn(session)
        except Exception as exc:
            if attempt >= attempts or not is_retryable(exc):
                raise
            if on_retry is not None:
                on_retry(exc, attempt)
            delay = min(max_delay_s, base_delay_s * (2 ** (attempt - 1)))
            time.sleep(delay * random.uniform(0.5, 1.5))
            attempt += 1
