"""The ``login_attempt`` table (revision 0004): one append-only row per login attempt, for brute-force protection.

A row says which name was typed (normalised the way accounts are looked up:
surrounding whitespace stripped), when, and what came of it (``kind``):

- ``failed``: unknown name, wrong password or disabled account;
- ``succeeded``: the user logged in (ends any run of failures before it);
- ``refused``: not checked at all because the name was locked out (does not
  count as a failure, so it never extends a lockout);
- ``unlocked``: an admin lifted the lockout (``drx user unlock``); ends the
  run of failures before it like a success.

One ``kind`` column rather than a ``succeeded`` flag: an unlock and a refusal
are neither successes nor failures. The password is never stored. The ORM
refuses UPDATE and DELETE (:class:`db.errors.AppendOnlyViolation`); see
:mod:`db.login_limit` for the rules.
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from db.models import Base, _in, _Row, register_append_only
from db.repository import GRADER_NAME_MAX

__all__ = ["ATTEMPT_KINDS", "LoginAttempt"]

#: what came of a login attempt (see the module docstring)
ATTEMPT_KINDS = ("failed", "succeeded", "refused", "unlocked")


class LoginAttempt(_Row, Base):
    """One login attempt (or an admin's unlock) for the typed account name ``name``."""

    __tablename__ = "login_attempt"

    #: the name as typed, stripped, cut to the longest account name (longer names cannot exist)
    name: Mapped[str] = mapped_column(String(GRADER_NAME_MAX))
    kind: Mapped[str] = mapped_column(String(16))

    __table_args__ = (
        CheckConstraint(_in("kind", ATTEMPT_KINDS), name="known_kind"),
        Index("ix_login_attempt_name_created_at", "name", "created_at"),
    )

    def __repr__(self) -> str:
        return f"LoginAttempt(id={self.id!r}, name={self.name!r}, kind={self.kind!r}, created_at={self.created_at!r})"


register_append_only((LoginAttempt,), "login attempts are append-only: an unlock is a new 'unlocked' row")
