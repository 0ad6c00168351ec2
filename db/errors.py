"""Typed errors raised by the ``db`` package.

Pages catch :class:`DbError` (or a subclass) and turn it into one clear
message; every message says what was wrong and, where it helps, what to do.
"""

from __future__ import annotations

__all__ = [
    "DbError",
    "DatabaseConfigError",
    "InvalidValue",
    "InvalidGrade",
    "AppendOnlyViolation",
    "GradeConflict",
]


class DbError(Exception):
    """Base class of every error raised by ``db``."""


class DatabaseConfigError(DbError):
    """The database URL (``DRX_DATABASE_URL``) is malformed, names a driver
    that is not installed, or points at a database that cannot be opened."""


class InvalidValue(DbError, ValueError):
    """A value handed to a repository function is not acceptable.

    Raised before anything is written. Also a :class:`ValueError`.
    """


class InvalidGrade(InvalidValue):
    """A grade's values are invalid (ICDR grade outside 0-4, non-bool flags,
    an ungradable image with a grade, ...). Raised before anything is written."""


class AppendOnlyViolation(DbError):
    """Code tried to UPDATE or DELETE an append-only row (a :class:`Grade`).

    An edit is a new row that supersedes the old one: use
    :func:`db.repository.save_grade`.
    """


class GradeConflict(DbError):
    """Another session saved a change to the same grade at the same time.

    Nothing was written by this attempt; the caller rolls back, reloads the
    current grade and tries again.
    """
