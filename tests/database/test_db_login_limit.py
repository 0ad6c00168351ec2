"""Brute-force protection of logins (db.login_limit through db.accounts.authenticate): every attempt is a
row; 5 failures within 15 minutes lock a name (known or not) until 15 minutes after the last of them;
a success or an admin's unlock ends the run; SQLite and PostgreSQL. The clock is the module's ``utcnow``,
replaced here, so nothing sleeps."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from corrections_world import PASSWORDS, build_world
from db import accounts, login_limit
from db.errors import AppendOnlyViolation, NotFound, PermissionDenied, TooManyAttempts, UnknownAccount, WrongPassword
from db.login_models import LoginAttempt

START = datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)
WRONG = "not-the-password-0"


class Clock:
    """The time ``db.login_limit`` sees: starts at START, moves only when told."""

    def __init__(self) -> None:
        self.now = START

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(login_limit, "utcnow", lambda: fake.now)
    return fake


@pytest.fixture
def world(session_factory):
    return build_world(session_factory)


def _fail(sessions, name: str, times: int, clock: Clock | None = None, error=WrongPassword) -> None:
    """``times`` wrong passwords for ``name`` (a minute apart when a clock is given), each refused with ``error``."""
    for _ in range(times):
        with pytest.raises(error):
            accounts.authenticate(sessions, name, WRONG)
        if clock is not None:
            clock.advance(minutes=1)


def _kinds(sessions, name: str) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(LoginAttempt.kind).where(LoginAttempt.name == name)
                                    .order_by(LoginAttempt.id)))


def test_four_failures_then_the_right_password_works(session_factory, world, clock):
    _fail(session_factory, "dr. a", 4, clock)
    assert accounts.authenticate(session_factory, "dr. a", PASSWORDS["dr. a"]).id == world.a.id
    assert _kinds(session_factory, "dr. a") == ["failed"] * 4 + ["succeeded"]
    with session_factory() as session:  # stored with the module's clock
        times = list(session.scalars(select(LoginAttempt.created_at).order_by(LoginAttempt.id)))
    assert times == [START + timedelta(minutes=k) for k in range(5)]


def test_five_failures_refuse_even_the_right_password_and_say_how_long(session_factory, world, clock):
    _fail(session_factory, "dr. a", 5, clock)  # failures at 9:00 ... 9:04, now 9:05: locked until 9:19
    with pytest.raises(TooManyAttempts, match="try again in 14 minutes") as refused:
        accounts.authenticate(session_factory, "dr. a", PASSWORDS["dr. a"])
    assert refused.value.locked_until == START + timedelta(minutes=4 + 15)
    assert refused.value.minutes == 14
    clock.advance(minutes=13, seconds=30)  # 9:18:30: 30 s left, rounded up to one minute
    with pytest.raises(TooManyAttempts, match="try again in 1 minute$"):
        accounts.authenticate(session_factory, "dr. a", WRONG)
    # a lockout is no failure: the refusals did not move its end
    assert _kinds(session_factory, "dr. a") == ["failed"] * 5 + ["refused"] * 2
    clock.advance(seconds=31)  # 9:19:01
    assert accounts.authenticate(session_factory, "dr. a", PASSWORDS["dr. a"]).id == world.a.id


def test_refusals_during_a_lockout_do_not_extend_it(session_factory, world, clock):
    _fail(session_factory, "dr. a", 5)  # all at 9:00: locked until 9:15
    for _ in range(15):  # keep trying every minute, 9:00 to 9:14
        with pytest.raises(TooManyAttempts):
            accounts.authenticate(session_factory, "dr. a", PASSWORDS["dr. a"])
        clock.advance(minutes=1)
    clock.advance(seconds=1)  # 9:15:01
    assert accounts.authenticate(session_factory, "dr. a", PASSWORDS["dr. a"]).id == world.a.id


def test_the_failures_must_fall_within_fifteen_minutes(session_factory, world, clock):
    _fail(session_factory, "dr. a", 4)  # 9:00
    clock.advance(minutes=15, seconds=1)
    _fail(session_factory, "dr. a", 1)  # 9:15:01: the first four are more than 15 minutes before it
    assert accounts.authenticate(session_factory, "dr. a", PASSWORDS["dr. a"]).id == world.a.id
    _fail(session_factory, "dr. b", 4)  # 9:15:01
    clock.advance(minutes=15)
    _fail(session_factory, "dr. b", 1)  # 9:30:01, exactly 15 minutes later: five within the window
    clock.advance(minutes=10)  # 9:40:01; only one failure in the last 15 minutes, but locked until 9:45:01
    with pytest.raises(TooManyAttempts, match="in 5 minutes"):
        accounts.authenticate(session_factory, "dr. b", PASSWORDS["dr. b"])


def test_a_success_resets_the_count(session_factory, world, clock):
    _fail(session_factory, "dr. a", 4, clock)
    accounts.authenticate(session_factory, "dr. a", PASSWORDS["dr. a"])
    _fail(session_factory, "dr. a", 4, clock)  # eight failures within 15 minutes, but a success between
    assert accounts.authenticate(session_factory, "dr. a", PASSWORDS["dr. a"]).id == world.a.id
    _fail(session_factory, "dr. a", 5, clock)
    with pytest.raises(TooManyAttempts):
        accounts.authenticate(session_factory, "dr. a", PASSWORDS["dr. a"])


def test_an_admin_unlocks_with_an_appended_row(session_factory, world, clock):
    _fail(session_factory, "dr. a", 5, clock)
    with pytest.raises(PermissionDenied):
        world.run(lambda s: accounts.unlock_logins(s, "dr. a", by=world.reviewer))
    with pytest.raises(NotFound):
        world.run(lambda s: accounts.unlock_logins(s, "nobody", by=world.admin))
    lifted = world.run(lambda s: accounts.unlock_logins(s, " dr. a ", by=world.admin))
    assert lifted == START + timedelta(minutes=4 + 15)
    assert accounts.authenticate(session_factory, "dr. a", PASSWORDS["dr. a"]).id == world.a.id
    assert _kinds(session_factory, "dr. a") == ["failed"] * 5 + ["unlocked", "succeeded"]
    assert world.run(lambda s: accounts.unlock_logins(s, "dr. a")) is None  # not locked: nothing lifted


def test_unknown_names_are_limited_alike(session_factory, world, clock):
    _fail(session_factory, "nobody", 3, error=UnknownAccount)
    _fail(session_factory, "  nobody ", 2, error=UnknownAccount)  # looked up stripped, counted stripped
    _fail(session_factory, "dr. a", 5)
    with pytest.raises(TooManyAttempts) as unknown:
        accounts.authenticate(session_factory, "nobody", WRONG)
    with pytest.raises(TooManyAttempts) as known:
        accounts.authenticate(session_factory, "dr. a", PASSWORDS["dr. a"])
    assert str(unknown.value) == str(known.value) == "too many failed logins for this name; try again in 15 minutes"
    assert _kinds(session_factory, "nobody") == ["failed"] * 5 + ["refused"]
    # another name is not affected
    assert accounts.authenticate(session_factory, "dr. b", PASSWORDS["dr. b"]).id == world.b.id


def test_attempt_rows_are_append_only(session_factory, world):
    _fail(session_factory, "dr. a", 1)
    with session_factory() as session:
        row = session.scalars(select(LoginAttempt)).one()
        row.kind = "succeeded"
        with pytest.raises(AppendOnlyViolation):
            session.flush()
        session.rollback()
        session.delete(session.scalars(select(LoginAttempt)).one())
        with pytest.raises(AppendOnlyViolation):
            session.flush()
