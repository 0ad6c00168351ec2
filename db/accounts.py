"""Accounts: who can log in, with which role; passwords hashed by argon2.

A user IS a grader row (:class:`db.models.Grader`) that has an account chain
(:class:`db.models.Account`): every change of role, password or state is a
new version; nothing is updated or deleted. Graders from before accounts
keep their grades and can be given an account later under the same name.

Roles, least to most privileged (each may do what the previous may):
``grader`` (grade, decide, draw: only their own rows), ``reviewer``
(adjudicate, assign work), ``admin`` (manage accounts and models).

Passwords are hashed with argon2id (``argon2-cffi``, its default RFC 9106
parameters); the clear password is never stored, logged or put in an error
message. Every login attempt is recorded and too many failures lock the
name for a while (:mod:`db.login_limit`). ``by=None`` in a management
function means the local command line or the app's first start (trusted:
whoever can run it owns the database); the app always passes the logged-in
:class:`User`.

API (all but ``authenticate`` take a :class:`~sqlalchemy.orm.Session`; run
writes through :func:`db.session.run_in_transaction`)::

    create_account(session, name, password, *, role="grader", by=None, must_change_password=False) -> User
    authenticate(sessions, name, password) -> User     # UnknownAccount / WrongPassword / AccountDisabled /
                                                       # TooManyAttempts; records the attempt (db.login_limit)
    unlock_logins(session, name, *, by=None) -> datetime | None  # end a lockout; the end it lifted
    change_password(session, user, old_password, new_password) -> User
    reset_password(session, name, new_password, *, by=None) -> User   # must change at next login
    set_role(session, name, role, *, by=None) -> User
    disable_account(session, name, *, by=None) -> User
    enable_account(session, name, *, by=None) -> User
    list_accounts(session) -> list[AccountInfo]
    account_history(session, name) -> list[AccountChange]             # oldest first, for audits
    require_role(session, user, role="grader") -> Account           # PermissionDenied
    role_at_least(role, required) -> bool                            # grader < reviewer < admin
    has_active_admin(session) -> bool
    ensure_first_admin(sessions, *, name="admin", announce=print) -> str | None
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Optional

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.chains import current_versions, insert_version
from db import login_limit
from db.errors import (
    AccountDisabled,
    AccountExists,
    AuthenticationFailed,
    InvalidValue,
    NotFound,
    PermissionDenied,
    UnknownAccount,
    WrongPassword,
)
from db.models import Account, Grader
from drcore.vocabulary import ROLES
from db.names import clean_name
from db.repository import find_grader, get_or_create_grader
from db.rows import one_of
from drcore.limits import MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS
from db.session import run_in_transaction

__all__ = [
    "PASSWORD_MIN_LENGTH",
    "User",
    "AccountInfo",
    "create_account",
    "authenticate",
    "change_password",
    "reset_password",
    "set_role",
    "disable_account",
    "enable_account",
    "unlock_logins",
    "list_accounts",
    "AccountChange",
    "account_history",
    "require_role",
    "role_at_least",
    "has_active_admin",
    "ensure_first_admin",
]

PASSWORD_MIN_LENGTH = MIN_PASSWORD_CHARS
_HASHER = PasswordHasher()
#: verified against when the name is unknown, so that a failed login takes
#: as long whether or not the name exists
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class User:
    """A logged-in user: the grader row's id and name, the role when logging in.

    Safe to keep in a web session (no secret inside). Repository functions
    re-read the account from the database before every write, so a role
    taken away or an account disabled takes effect at once.
    """

    id: int
    name: str
    role: str
    must_change_password: bool = False

    def __repr__(self) -> str:
        return f"User(id={self.id!r}, name={self.name!r}, role={self.role!r})"


@dataclass(frozen=True)
class AccountInfo:
    """One account as the admin page lists it."""

    grader_id: int
    name: str
    role: str
    disabled: bool
    must_change_password: bool
    created_at: datetime
    changed_at: datetime


def role_at_least(role: str, required: str) -> bool:
    """Whether ``role`` includes the rights of ``required`` (grader < reviewer < admin)."""
    return ROLES.index(role) >= ROLES.index(required)


def _password(password: Any) -> str:
    """``password`` when it may be one (checked before it is hashed)."""
    if not isinstance(password, str):
        raise InvalidValue(f"a password must be a string, got {type(password).__name__}")
    if len(password) < PASSWORD_MIN_LENGTH:
        raise InvalidValue(f"a password needs at least {PASSWORD_MIN_LENGTH} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise InvalidValue(f"a password may have at most {MAX_PASSWORD_CHARS:,} characters")
    return password


def _current(session: Session, grader_id: int) -> Optional[Account]:
    return session.scalars(current_versions(Account, Account.grader_id == grader_id)).first()


def _account_named(session: Session, name: Any) -> tuple[Grader, Account]:
    if not isinstance(name, str) or not name.strip():
        raise InvalidValue(f"an account name must be a non-empty string, got {name!r}")
    grader = find_grader(session, name)
    account = None if grader is None else _current(session, grader.id)
    if grader is None or account is None:
        raise NotFound(f"no account called {name.strip()!r}")
    return grader, account


def _user(grader: Grader, account: Account) -> User:
    return User(grader.id, grader.name, account.role, account.must_change_password)


def require_role(session: Session, user: Any, role: str = "grader") -> Account:
    """The current account of ``user``; raises :class:`PermissionDenied` when
    it does not exist, is disabled, or its role is below ``role``."""
    if not isinstance(user, User):
        raise PermissionDenied(f"an action needs a logged-in user, got {user!r}")
    account = _current(session, user.id)
    if account is None:
        raise PermissionDenied(f"{user.name!r} has no account")
    if account.disabled:
        raise PermissionDenied(f"the account {user.name!r} is disabled")
    if not role_at_least(account.role, role):
        raise PermissionDenied(f"{user.name!r} is a {account.role}; this needs the {role} role")
    return account


def _require_admin(session: Session, by: Optional[User]) -> Optional[int]:
    """The acting admin's grader id (None: the local command line)."""
    if by is None:
        return None
    require_role(session, by, "admin")
    return by.id


def _active_admins(session: Session) -> list[Account]:
    return list(session.scalars(current_versions(Account, Account.role == "admin", Account.disabled.is_(False))))


def has_active_admin(session: Session) -> bool:
    """Whether at least one enabled admin account exists."""
    return bool(_active_admins(session))


def create_account(
    session: Session,
    name: str,
    password: str,
    *,
    role: str = "grader",
    by: Optional[User] = None,
    must_change_password: bool = False,
) -> User:
    """Give ``name`` an account (inserting the grader row if new) and return it as a :class:`User`.

    An existing grader without an account (from before accounts) keeps its
    grades and gets the account. Raises :class:`AccountExists` when the name
    has an account, :class:`InvalidValue` for a bad name, role or a password
    shorter than :data:`PASSWORD_MIN_LENGTH`, :class:`PermissionDenied` when
    ``by`` is not an admin.
    """
    role = one_of(role, ROLES, "role")
    password = _password(password)
    clean_name(name)  # before the role check: a bad name is told as such
    actor = _require_admin(session, by)
    grader = get_or_create_grader(session, name)
    if _current(session, grader.id) is not None:
        raise AccountExists(f"{grader.name!r} has an account already")
    account = Account(
        grader_id=grader.id, role=role, password_hash=_HASHER.hash(password), disabled=False,
        must_change_password=bool(must_change_password), changed_by_id=actor,
    )
    insert_version(session, account, f"the account {grader.name!r}")
    return _user(grader, account)


def authenticate(sessions: sessionmaker[Session], name: str, password: str) -> User:
    """The :class:`User` called ``name`` when ``password`` is right; records the attempt.

    A login is its own unit of work (it takes the sessionmaker): the attempt
    is committed whether or not it succeeds (:mod:`db.login_limit`, never the
    password). Raises :class:`UnknownAccount`, :class:`WrongPassword` or
    :class:`AccountDisabled` (all :class:`AuthenticationFailed`: show one
    message for all), and :class:`TooManyAttempts`, without checking the
    password, while the name is locked after too many failures (names with
    and without an account alike). An unknown name costs one hash
    verification too, so timing does not tell which names exist. The hash
    is verified outside any transaction.
    """
    if isinstance(password, str) and len(password) > MAX_PASSWORD_CHARS:  # refused before any hashing
        raise InvalidValue(f"a password has at most {MAX_PASSWORD_CHARS:,} characters: this one is not right")
    key = login_limit.attempt_name(name)
    until = run_in_transaction(sessions, lambda session: login_limit.locked_until(session, key), write=False)
    if until is not None:
        run_in_transaction(sessions, lambda session: login_limit.record_refusal(session, key))
        raise login_limit.too_many_attempts(until)
    user, failure = _check_password(sessions, name, password)
    until = run_in_transaction(sessions, lambda session: login_limit.record_attempt(session, key, failure is None))
    if until is not None:
        raise login_limit.too_many_attempts(until)
    if failure is not None:
        raise failure
    return user


def _check_password(
    sessions: sessionmaker[Session], name: Any, password: Any
) -> tuple[Optional[User], Optional[AuthenticationFailed]]:
    """The user when ``password`` is right for ``name``, else the error to raise (hash checked out of transactions)."""
    def read(session: Session) -> Optional[tuple[User, str, bool]]:
        grader = find_grader(session, name) if isinstance(name, str) and name.strip() else None
        account = None if grader is None else _current(session, grader.id)
        return None if account is None else (_user(grader, account), account.password_hash, account.disabled)

    found = run_in_transaction(sessions, read, write=False)
    if found is None:
        _verify(_DUMMY_HASH, password if isinstance(password, str) else "")
        return None, UnknownAccount("unknown name or wrong password")
    user, password_hash, disabled = found
    if not isinstance(password, str) or not _verify(password_hash, password):
        return None, WrongPassword("unknown name or wrong password")
    if disabled:
        return None, AccountDisabled(f"the account {user.name!r} is disabled; ask an admin")
    return user, None


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _new_version(session: Session, grader: Grader, previous: Account, actor: Optional[int], **changes: Any) -> User:
    values = dict(
        grader_id=previous.grader_id, role=previous.role, password_hash=previous.password_hash,
        disabled=previous.disabled, must_change_password=previous.must_change_password,
    )
    values.update(changes)
    row = Account(**values, changed_by_id=actor, supersedes_id=previous.id)
    insert_version(session, row, f"the account {grader.name!r}")
    return _user(grader, row)


def change_password(session: Session, user: User, old_password: str, new_password: str) -> User:
    """``user`` changes their own password (the old one must be right); clears ``must_change_password``."""
    account = require_role(session, user)
    if not isinstance(old_password, str) or not _verify(account.password_hash, old_password):
        raise WrongPassword("the current password is wrong")
    grader = session.get(Grader, user.id)
    return _new_version(
        session, grader, account, user.id, password_hash=_HASHER.hash(_password(new_password)),
        must_change_password=False,
    )


def reset_password(session: Session, name: str, new_password: str, *, by: Optional[User] = None) -> User:
    """An admin (or the command line) sets ``name``'s password; they must change it after logging in."""
    actor = _require_admin(session, by)
    grader, account = _account_named(session, name)
    return _new_version(
        session, grader, account, actor, password_hash=_HASHER.hash(_password(new_password)),
        must_change_password=True,
    )


def _keeps_an_admin(session: Session, account: Account, role: str, disabled: bool) -> None:
    losing = account.role == "admin" and not account.disabled and (role != "admin" or disabled)
    if losing and len(_active_admins(session)) <= 1:
        raise PermissionDenied("refusing to leave no enabled admin account")


def set_role(session: Session, name: str, role: str, *, by: Optional[User] = None) -> User:
    """Give ``name`` the role ``role`` (admin only; the last enabled admin stays admin)."""
    role = one_of(role, ROLES, "role")
    actor = _require_admin(session, by)
    grader, account = _account_named(session, name)
    if account.role == role:
        return _user(grader, account)
    _keeps_an_admin(session, account, role, account.disabled)
    return _new_version(session, grader, account, actor, role=role)


def disable_account(session: Session, name: str, *, by: Optional[User] = None) -> User:
    """Disable ``name``: it can no longer log in or write (admin only; never the last enabled admin)."""
    actor = _require_admin(session, by)
    grader, account = _account_named(session, name)
    if account.disabled:
        return _user(grader, account)
    _keeps_an_admin(session, account, account.role, True)
    return _new_version(session, grader, account, actor, disabled=True)


def enable_account(session: Session, name: str, *, by: Optional[User] = None) -> User:
    """Enable a disabled account again (admin only)."""
    actor = _require_admin(session, by)
    grader, account = _account_named(session, name)
    if not account.disabled:
        return _user(grader, account)
    return _new_version(session, grader, account, actor, disabled=False)


def unlock_logins(session: Session, name: str, *, by: Optional[User] = None) -> Optional[datetime]:
    """Let ``name`` log in again at once after too many failures (admin only): appends an ``unlocked``
    attempt row, which also clears the count of failures. Returns when the lockout would have ended
    (None: it was not locked). :class:`NotFound` when ``name`` has no account."""
    _require_admin(session, by)
    grader, _ = _account_named(session, name)
    return login_limit.unlock(session, login_limit.attempt_name(grader.name))


def list_accounts(session: Session) -> list[AccountInfo]:
    """Every account's current version, by name."""
    rows = session.execute(
        current_versions(Account).add_columns(Grader).join(Grader, Grader.id == Account.grader_id).order_by(None)
        .order_by(Grader.name)
    ).all()
    result = []
    for account, grader in rows:
        first = session.scalars(
            select(Account.created_at).where(Account.grader_id == grader.id).order_by(Account.id).limit(1)
        ).one()
        result.append(AccountInfo(
            grader.id, grader.name, account.role, account.disabled, account.must_change_password, first,
            account.created_at,
        ))
    return result


@dataclass(frozen=True)
class AccountChange:
    """One version of an account, for an audit: when, by whom, the state it set (never the hash)."""

    at: datetime
    changed_by: str
    role: str
    disabled: bool
    password_changed: bool


def account_history(session: Session, name: str) -> list[AccountChange]:
    """Every version of ``name``'s account, oldest first (``changed_by`` "command line" when no user made it)."""
    grader, _ = _account_named(session, name)
    names = dict(session.execute(select(Grader.id, Grader.name)).all())
    rows = list(session.scalars(select(Account).where(Account.grader_id == grader.id).order_by(Account.id)))
    return [
        AccountChange(row.created_at, names.get(row.changed_by_id, "command line"), row.role, row.disabled,
                      previous is None or previous.password_hash != row.password_hash)
        for previous, row in zip([None, *rows[:-1]], rows)
    ]


def ensure_first_admin(
    sessions: sessionmaker[Session], *, name: str = "admin", announce: Callable[[str], Any] = print
) -> Optional[str]:
    """On a first start with no enabled admin, make one with a one-time password.

    Creates the account ``name`` (role admin, ``must_change_password``), or,
    when ``name`` has an account already, resets it to admin with a new
    one-time password; calls ``announce`` (default: print to the console,
    never the log) with a line that shows the password, and returns the
    password. Returns None and does nothing when an enabled admin exists.
    Safe when several app processes start at once: only one creates it.
    """
    password = secrets.token_urlsafe(12)

    def make(session: Session) -> bool:
        if has_active_admin(session):
            return False
        grader = find_grader(session, name)
        account = None if grader is None else _current(session, grader.id)
        if account is None:
            create_account(session, name, password, role="admin", must_change_password=True)
        else:
            _new_version(
                session, grader, account, None, role="admin", disabled=False,
                password_hash=_HASHER.hash(password), must_change_password=True,
            )
        return True

    if not run_in_transaction(sessions, make):
        return None
    announce(
        f"drx: no admin account existed; created {name!r} with the one-time password {password} "
        "(change it after logging in)"
    )
    return password
