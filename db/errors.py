"""Typed errors raised by the ``db`` package.

Pages catch :class:`DbError` (or a subclass) and turn it into one clear
message; every message says what was wrong and, where it helps, what to do.
"""

from __future__ import annotations

from datetime import datetime

__all__ = [
    "DbError",
    "DatabaseConfigError",
    "InvalidValue",
    "InvalidGrade",
    "AppendOnlyViolation",
    "GradeConflict",
    "ChangeConflict",
    "PermissionDenied",
    "AuthenticationFailed",
    "UnknownAccount",
    "WrongPassword",
    "AccountDisabled",
    "TooManyAttempts",
    "AccountExists",
    "NotFound",
    "NothingToUndo",
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
    :func:`db.grading.grade_image`.
    """


class GradeConflict(DbError):
    """Another session saved a change to the same grade at the same time.

    Nothing was written by this attempt; the caller rolls back, reloads the
    current grade and tries again.
    """


class ChangeConflict(DbError):
    """Another session changed the same correction (annotation, decision,
    adjudication, assignment, account) at the same time. Nothing was written
    by this attempt; :func:`db.session.run_in_transaction` retries it (the
    cause is a unique violation)."""


class PermissionDenied(DbError):
    """The acting user may not do this: a grader changing another grader's
    rows, a grader adjudicating, a non-admin managing accounts, a disabled
    account writing anything. Raised before anything is written."""


class AuthenticationFailed(DbError):
    """Login refused. Show one message for every subclass (do not tell an
    attacker which names exist)."""


class UnknownAccount(AuthenticationFailed):
    """No account has this name."""


class WrongPassword(AuthenticationFailed):
    """The password does not match the account's hash."""


class AccountDisabled(AuthenticationFailed):
    """The account is disabled: it cannot log in or write."""


class TooManyAttempts(AuthenticationFailed):
    """Too many failed logins for this name lately: the attempt was refused
    without checking the password (see :mod:`db.login_limit`). The message
    says how many minutes to wait; ``locked_until`` is when the lockout ends
    (aware UTC) and ``minutes`` the wait, rounded up. Said alike for names
    with and without an account."""

    def __init__(self, message: str, locked_until: datetime, minutes: int) -> None:
        super().__init__(message)
        self.locked_until = locked_until
        self.minutes = minutes


class AccountExists(InvalidValue):
    """An account with this name exists already."""


class NotFound(DbError, LookupError):
    """The row, annotation, account or image asked for does not exist."""


class NothingToUndo(DbError):
    """The user has no action left to undo on this image, or the version has
    nothing before it to restore."""
