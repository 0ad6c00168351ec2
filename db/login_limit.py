"""Brute-force protection: every login attempt is a :class:`~db.login_models.LoginAttempt` row; too many
failures lock the typed name for a while.

The rule, per name as typed (stripped; names without an account are limited
alike, so a lockout tells nothing about which names exist): when
:data:`MAX_FAILED_ATTEMPTS` failures fall within :data:`LOCKOUT` of each other
with no success or admin unlock after them, further attempts are refused,
even with the right password, until :data:`LOCKOUT` after the most recent of
those failures. A refused attempt is recorded as ``refused``, which is no
failure: a lockout ends at a fixed time however often someone keeps trying,
and after it the name has :data:`MAX_FAILED_ATTEMPTS` tries again.
``unlock`` (``drx user unlock``) ends a lockout at once by appending an
``unlocked`` row.

Times come from this module's ``utcnow`` (tests replace it), stored in
``created_at``; "after" means a higher row id (insertion order).

API (each takes a :class:`~sqlalchemy.orm.Session`; :func:`db.accounts.authenticate` uses them)::

    attempt_name(name) -> str                                   # how a typed name is stored
    locked_until(session, name) -> datetime | None              # when its lockout ends; None: not locked
    record_attempt(session, name, succeeded) -> datetime | None # records it, or a refusal when locked
    record_refusal(session, name) -> None
    unlock(session, name) -> datetime | None                    # the lockout it ended, if any
    too_many_attempts(until) -> TooManyAttempts                 # the error, with the minutes to wait
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any, Optional

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.errors import TooManyAttempts
from db.login_models import LoginAttempt
from db.models import utcnow
from db.repository import GRADER_NAME_MAX

__all__ = [
    "MAX_FAILED_ATTEMPTS",
    "LOCKOUT",
    "attempt_name",
    "locked_until",
    "record_attempt",
    "record_refusal",
    "unlock",
    "too_many_attempts",
]

#: failures of one name within :data:`LOCKOUT` of each other that lock it
MAX_FAILED_ATTEMPTS = 5
#: the window those failures must fall in, and how long the lockout lasts after the last of them
LOCKOUT = timedelta(minutes=15)
#: kinds of row after which earlier failures no longer count
_RESETS = ("succeeded", "unlocked")


def attempt_name(name: Any) -> str:
    """``name`` as login attempts store it: stripped like account look-ups, cut to the longest
    account name; anything but a string is stored as the empty name."""
    return name.strip()[:GRADER_NAME_MAX] if isinstance(name, str) else ""


def locked_until(session: Session, name: str) -> Optional[datetime]:
    """When the lockout of ``name`` (an :func:`attempt_name`) ends, or None when it is not locked now."""
    now = utcnow()
    last_reset = (
        select(func.coalesce(func.max(LoginAttempt.id), 0))
        .where(LoginAttempt.name == name, LoginAttempt.kind.in_(_RESETS))
        .scalar_subquery()
    )
    # a lockout still running began with a failure at most 2 x LOCKOUT ago
    failures = list(session.scalars(
        select(LoginAttempt.created_at)
        .where(LoginAttempt.name == name, LoginAttempt.kind == "failed", LoginAttempt.id > last_reset,
               LoginAttempt.created_at > now - 2 * LOCKOUT)
        .order_by(LoginAttempt.created_at)
    ))
    ends = [last + LOCKOUT for first, last in zip(failures, failures[MAX_FAILED_ATTEMPTS - 1:])
            if last - first <= LOCKOUT]
    until = max(ends, default=None)
    return until if until is not None and until > now else None


def _add(session: Session, name: str, kind: str) -> None:
    session.add(LoginAttempt(name=name, kind=kind, created_at=utcnow()))
    session.flush()


def record_attempt(session: Session, name: str, succeeded: bool) -> Optional[datetime]:
    """Record a checked attempt of ``name``; when another attempt locked it meanwhile, record a
    refusal instead and return when that lockout ends (the caller then refuses the login)."""
    until = locked_until(session, name)
    _add(session, name, "refused" if until is not None else "succeeded" if succeeded else "failed")
    return until


def record_refusal(session: Session, name: str) -> None:
    """Record an attempt of ``name`` refused, unchecked, because the name was locked."""
    _add(session, name, "refused")


def unlock(session: Session, name: str) -> Optional[datetime]:
    """End ``name``'s lockout (and its count of failures) with an ``unlocked`` row; returns
    when the lockout would have ended, or None when it was not locked."""
    until = locked_until(session, name)
    _add(session, name, "unlocked")
    return until


def too_many_attempts(until: datetime) -> TooManyAttempts:
    """The error refusing a login until ``until``; its message names the minutes to wait (rounded up)."""
    minutes = max(1, math.ceil((until - utcnow()).total_seconds() / 60))
    return TooManyAttempts(
        f"too many failed logins for this name; try again in {minutes} minute{'s' if minutes != 1 else ''}",
        until, minutes,
    )
