"""Accounts and work queues, as the Admin page and ``drx user`` manage them, and logging in (the login gate).

Every write is one retried transaction (:func:`db.run_in_transaction`). ``admin`` is the logged-in admin
(db checks the role) or None for the command line, which is trusted (whoever runs it owns the database);
a refusal is a :class:`db.errors.DbError` whose message says why.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session, sessionmaker

from db import accounts
from db.accounts import User
from db.errors import PermissionDenied
from db.models import Grade, Image
from db.names import clean_name, printable
from db.session import run_in_transaction
from db.work_queue import Progress, assign, progress

__all__ = ["AccountRow", "AdminOverview", "admin_overview", "assign_images", "change_own_password", "create_account",
           "current_account", "first_admin", "log_in", "organisation_account", "organisation_name", "reset_password",
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


def first_admin(sessions: sessionmaker[Session], announce: Callable[[str], object]) -> Optional[str]:
    """On a first start with no enabled admin, make one with a one-time password, which ``announce`` is given
    (and which is returned, for tests); None when there is an admin."""
    return accounts.ensure_first_admin(sessions, announce=announce)


def log_in(sessions: sessionmaker[Session], name: str, password: str) -> User:
    """The user called ``name`` when ``password`` is right (the attempt is recorded). Raises
    :class:`db.errors.AuthenticationFailed` (unknown name or wrong password alike; a disabled account says so),
    :class:`db.errors.TooManyAttempts` and :class:`db.errors.InvalidValue` (a password longer than any)."""
    return accounts.authenticate(sessions, name, password)


def current_account(sessions: sessionmaker[Session], user: User) -> Optional[User]:
    """``user`` as the database has them now (role, must change password); None when the account is disabled or
    gone."""
    try:
        with sessions() as session:
            account = accounts.require_role(session, user)
    except PermissionDenied:
        return None
    return User(user.id, user.name, account.role, account.must_change_password)


def organisation_name(email: str) -> str:
    """The account name an organisation's e-mail address gives (single sign-on), by the rules of every name.
    Raises :class:`db.errors.InvalidValue` for an address no account could be named (e.g. control characters)."""
    return clean_name(email, "the organisation's e-mail address")


def organisation_account(sessions: sessionmaker[Session], name: str) -> Optional[User]:
    """The enabled account called ``name`` (:func:`organisation_name`); None when there is none."""
    with sessions() as session:
        match = next((info for info in accounts.list_accounts(session) if info.name == name and not info.disabled),
                     None)
    return None if match is None else User(match.grader_id, match.name, match.role)


def change_own_password(sessions: sessionmaker[Session], user: User, old: str, new: str) -> User:
    """``user`` changes their own password (``old`` must be right); returns the user, no longer bound to change it."""
    return run_in_transaction(sessions, lambda session: accounts.change_password(session, user, old, new))
