"""Accounts: argon2 hashes (never the password, in rows or logs), login errors,
roles, disabled accounts, the first admin; SQLite and PostgreSQL."""

from __future__ import annotations

import logging

import pytest
from argon2 import PasswordHasher
from sqlalchemy import String, Text, inspect, select

from corrections_world import INJECTIONS, PASSWORDS, build_world
from db import accounts
from db.errors import (
    AccountDisabled,
    AccountExists,
    AuthenticationFailed,
    InvalidValue,
    PermissionDenied,
    TooManyAttempts,
    UnknownAccount,
    WrongPassword,
)
from db.geometry import Geometry
from db.login_limit import MAX_FAILED_ATTEMPTS
from db.login_models import LoginAttempt
from db.models import Account, Base, Grade, Grader
from db.annotations import add_annotation
from db.repository import get_or_create_grader, _save_grade


def _every_text_value(sessions) -> list[str]:
    """Every string stored in every column of every table."""
    values = []
    with sessions() as session:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, (String, Text))]
            for row in session.execute(select(*columns)) if columns else []:
                values.extend(v for v in row if isinstance(v, str))
    return values


def test_passwords_are_argon2_hashes_never_stored_or_logged(session_factory, caplog):
    caplog.set_level(logging.DEBUG)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)  # log every statement with its parameters
    try:
        world = build_world(session_factory)
        user = accounts.authenticate(session_factory, "dr. a", PASSWORDS["dr. a"])
        world.run(lambda s: accounts.change_password(s, user, PASSWORDS["dr. a"], "a-new-password-2"))
        world.run(lambda s: accounts.reset_password(s, "dr. b", "b-reset-password-3"))
        for guess in [f"wrong-guess-{k}" for k in range(MAX_FAILED_ATTEMPTS)]:
            with pytest.raises(WrongPassword):  # failed login attempts are recorded...
                accounts.authenticate(session_factory, "dr. r", guess)
        with pytest.raises(TooManyAttempts):  # ...and so is a refused one
            accounts.authenticate(session_factory, "dr. r", PASSWORDS["dr. r"])
    finally:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    guesses = [f"wrong-guess-{k}" for k in range(MAX_FAILED_ATTEMPTS)]
    secrets = [*PASSWORDS.values(), "a-new-password-2", "b-reset-password-3", *guesses]
    stored = _every_text_value(session_factory)
    log_text = "\n".join(record.getMessage() for record in caplog.records)
    with session_factory() as session:
        hashes = list(session.scalars(select(Account.password_hash)))
    assert len(hashes) == 4 + 2  # four accounts, two new versions
    assert all(h.startswith("$argon2id$") for h in hashes)
    # the hashes verify against the right passwords with an independent hasher instance
    assert PasswordHasher().verify(hashes[1], PASSWORDS["dr. a"])
    assert hashes[0] in log_text  # the statements and their parameters were logged...
    with session_factory() as session:  # the attempts are in the scanned rows, by name only
        attempts = list(session.execute(select(LoginAttempt.name, LoginAttempt.kind).order_by(LoginAttempt.id)))
    assert attempts == [("dr. a", "succeeded"), *[("dr. r", "failed")] * len(guesses), ("dr. r", "refused")]
    for secret in secrets:  # ...but no password, anywhere
        assert not any(secret in value for value in stored)
        assert secret not in log_text
        assert secret not in repr(world.a) and secret not in caplog.text


def test_login_errors_are_typed(session_factory):
    world = build_world(session_factory)
    user = accounts.authenticate(session_factory, "dr. a", PASSWORDS["dr. a"])
    assert (user.id, user.name, user.role) == (world.a.id, "dr. a", "grader")
    with pytest.raises(WrongPassword):
        accounts.authenticate(session_factory, "dr. a", PASSWORDS["dr. b"])
    with pytest.raises(UnknownAccount):
        accounts.authenticate(session_factory, "nobody", PASSWORDS["dr. a"])
    with pytest.raises(AuthenticationFailed):
        accounts.authenticate(session_factory, "dr. a", None)
    with session_factory() as session, session.begin():  # a grader from before accounts cannot log in
        get_or_create_grader(session, "dr. legacy")
    with pytest.raises(UnknownAccount):
        accounts.authenticate(session_factory, "dr. legacy", "whatever-password")


def test_disabled_account_cannot_log_in_or_write_until_enabled(session_factory):
    world = build_world(session_factory)
    world.run(lambda s: accounts.disable_account(s, "dr. a", by=world.admin))
    with pytest.raises(AccountDisabled):
        accounts.authenticate(session_factory, "dr. a", PASSWORDS["dr. a"])
    square = Geometry.create("rectangle", [[1, 1], [5, 5]])
    with pytest.raises(PermissionDenied, match="disabled"):  # a session opened before still cannot write
        world.run(lambda s: add_annotation(s, world.a, world.image, square, "other"))
    world.run(lambda s: accounts.enable_account(s, "dr. a", by=world.admin))
    with session_factory() as session:
        assert accounts.authenticate(session_factory, "dr. a", PASSWORDS["dr. a"]).id == world.a.id
        states = [(row.disabled, row.changed_by_id) for row in
                  session.scalars(select(Account).where(Account.grader_id == world.a.id).order_by(Account.id))]
    assert states == [(False, world.admin.id), (True, world.admin.id), (False, world.admin.id)]
    world.run(lambda s: accounts.reset_password(s, "dr. a", "reset-by-cli-1"))
    with session_factory() as session:
        audit = [(c.changed_by, c.disabled, c.password_changed) for c in accounts.account_history(session, "dr. a")]
    assert audit == [("root", False, True), ("root", True, False), ("root", False, False),
                     ("command line", False, True)]


def test_only_admins_manage_accounts_and_one_admin_always_remains(session_factory):
    world = build_world(session_factory)
    for actor in (world.a, world.reviewer):
        with pytest.raises(PermissionDenied, match="admin role"):
            world.run(lambda s: accounts.create_account(s, "dr. c", "c-password-1", by=actor))
        with pytest.raises(PermissionDenied):
            world.run(lambda s: accounts.disable_account(s, "dr. b", by=actor))
        with pytest.raises(PermissionDenied):
            world.run(lambda s: accounts.set_role(s, "dr. b", "admin", by=actor))
    with pytest.raises(PermissionDenied, match="no enabled admin"):
        world.run(lambda s: accounts.disable_account(s, "root", by=world.admin))
    with pytest.raises(PermissionDenied, match="no enabled admin"):
        world.run(lambda s: accounts.set_role(s, "root", "grader", by=world.admin))
    promoted = world.run(lambda s: accounts.set_role(s, "dr. r", "admin", by=world.admin))
    assert promoted.role == "admin"
    world.run(lambda s: accounts.disable_account(s, "root", by=promoted))  # another admin remains now
    with pytest.raises(PermissionDenied, match="disabled"):
        world.run(lambda s: accounts.create_account(s, "dr. c", "c-password-1", by=world.admin))
    with pytest.raises(AccountExists):
        world.run(lambda s: accounts.create_account(s, "dr. a", "a-password-9", by=promoted))
    with pytest.raises(InvalidValue, match="at least 8"):
        world.run(lambda s: accounts.create_account(s, "dr. c", "short", by=promoted))
    with pytest.raises(InvalidValue, match="role"):
        world.run(lambda s: accounts.create_account(s, "dr. c", "c-password-1", role="root", by=promoted))


def test_legacy_grader_gets_an_account_and_keeps_grades(session_factory, make_image):
    image = make_image()
    with session_factory() as session, session.begin():
        legacy = get_or_create_grader(session, "dr. legacy")
        _save_grade(session, image=image, grader=legacy, icdr_grade=1, referable=False)
    with session_factory() as session, session.begin():
        created = accounts.create_account(session, "dr. legacy", "legacy-password-1")
    with session_factory() as session:
        assert created.id == legacy.id
        assert session.scalars(select(Grade.grader_id)).all() == [legacy.id]
        assert session.scalar(select(Grader.id).where(Grader.name == "dr. legacy")) == legacy.id


@pytest.mark.parametrize("name", INJECTIONS)
def test_injection_names_are_stored_verbatim(session_factory, name):
    with session_factory() as session, session.begin():
        accounts.create_account(session, name, "inject-password-1")
    with session_factory() as session:
        assert accounts.authenticate(session_factory, name, "inject-password-1").name == name
        assert [info.name for info in accounts.list_accounts(session)] == [name]
        assert set(inspect(session.get_bind()).get_table_names()) >= {"annotation", "grade", "account"}


def test_first_admin_gets_a_one_time_password_once(session_factory, caplog):
    caplog.set_level(logging.DEBUG)
    printed: list[str] = []
    password = accounts.ensure_first_admin(session_factory, announce=printed.append)
    assert password is not None and len(password) >= 12
    assert len(printed) == 1 and password in printed[0]
    assert password not in caplog.text
    assert accounts.ensure_first_admin(session_factory, announce=printed.append) is None
    assert len(printed) == 1
    admin = accounts.authenticate(session_factory, "admin", password)
    assert (admin.role, admin.must_change_password) == ("admin", True)
    with session_factory() as session, session.begin():
        changed = accounts.change_password(session, admin, password, "my-own-password-1")
    assert not changed.must_change_password
    with pytest.raises(WrongPassword):
        accounts.authenticate(session_factory, "admin", password)


def test_concurrent_first_starts_make_one_admin(session_factory):
    import threading

    passwords: list = []
    errors: list = []

    def start():
        try:
            passwords.append(accounts.ensure_first_admin(session_factory, announce=lambda line: None))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sorted(p is None for p in passwords) == [False, True, True, True]
    with session_factory() as session:
        assert [(info.name, info.role) for info in accounts.list_accounts(session)] == [("admin", "admin")]
