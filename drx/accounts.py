"""Accounts and work queues, as the Admin page and ``drx user`` manage them.

Every write is one retried transaction (:func:`db.run_in_transaction`). ``admin`` is the logged-in admin
(db checks the role) or None for the command line, which is trusted (whoever runs it owns the database);
a refusal is a :class:`db.errors.DbError` whose message says why.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session, sessionmaker

from db import accounts
from db.accounts import User
from db.models import Grade, Image
from db.names import printable
from db.session import run_in_transaction
from db.work_queue import Progress, assign, progress

__all__ = ["AccountRow", "AdminOverview", "admin_overview", "assign_images", "create_account", "reset_password",
           "set_disabled", "set_role", "unlock_logins"]


@dataclass(frozen=True)
class AccountRow:
    """One account with its work queue's progress and how many photographs it has graded (in its queue or not);
    ``shown`` is the name as a listing prints it."""

    grader_id: int
    name: str
    shown: str
    role: str
    disabled: bool
    must_change_password: bool
    created_at: datetime
    changed_at: datetime
    queue: Progress
    graded: int


@dataclass(frozen=True)
class AdminOverview:
    """Every account, and every known photograph as (id, file name) to assign."""

    accounts: list[AccountRow]
    images: list[tuple[int, str]]


def admin_overview(sessions: sessionmaker[Session]) -> AdminOverview:
    """The accounts (with their queues' progress and the photographs each graded) and the photographs, read in
    one session."""
    with sessions() as session:
        graded = dict(session.execute(select(Grade.grader_id, func.count(distinct(Grade.image_id)))
                                      .group_by(Grade.grader_id)).all())
        rows = [AccountRow(info.grader_id, info.name, printable(info.name), info.role, info.disabled,
                           info.must_change_password, info.created_at, info.changed_at,
                           progress(session, info.grader_id), graded.get(info.grader_id, 0))
                for info in accounts.list_accounts(session)]
        images = [(image_id, file_name) for image_id, file_name in
                  session.execute(select(Image.id, Image.file_name).order_by(Image.id))]
    return AdminOverview(rows, images)


def create_account(sessions: sessionmaker[Session], admin: Optional[User], name: str, password: str, role: str, *,
                   must_change_password: bool = True) -> User:
    """A new account (whose owner must change ``password`` at the first login, unless told otherwise)."""
    return run_in_transaction(sessions, lambda session: accounts.create_account(
        session, name, password, role=role, by=admin, must_change_password=must_change_password))


def reset_password(sessions: sessionmaker[Session], admin: Optional[User], name: str, password: str) -> User:
    """Set the password of the account ``name``; its owner must change it at the next login."""
    return run_in_transaction(sessions, lambda session: accounts.reset_password(session, name, password, by=admin))


def unlock_logins(sessions: sessionmaker[Session], admin: Optional[User], name: str) -> Optional[datetime]:
    """End a lockout after too many failed logins now; returns until when it would have lasted (None: none)."""
    return run_in_transaction(sessions, lambda session: accounts.unlock_logins(session, name, by=admin))


def set_role(sessions: sessionmaker[Session], admin: Optional[User], name: str, role: str) -> User:
    """Give the account ``name`` the role ``role``."""
    return run_in_transaction(sessions, lambda session: accounts.set_role(session, name, role, by=admin))


def set_disabled(sessions: sessionmaker[Session], admin: Optional[User], name: str, disabled: bool) -> User:
    """Disable the account ``name`` (it can no longer log in), or enable it again."""
    change = accounts.disable_account if disabled else accounts.enable_account
    return run_in_transaction(sessions, lambda session: change(session, name, by=admin))


def assign_images(sessions: sessionmaker[Session], admin: User, grader_id: int, image_ids: Sequence[int]) -> int:
    """Add photographs to a grader's work queue, all or none; returns how many."""
    def assign_all(session: Session) -> int:
        for image_id in image_ids:
            assign(session, image_id, grader_id, by=admin)
        return len(image_ids)

    return run_in_transaction(sessions, assign_all)
