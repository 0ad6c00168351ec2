"""`drx user`: accounts from the command line; passwords never echoed."""

import io
import logging

import pytest
from sqlalchemy import select

from db.accounts import authenticate
from db.errors import TooManyAttempts, WrongPassword
from db.login_limit import MAX_FAILED_ATTEMPTS
from db.models import Account
from drx.cli import main
from drx.records import database


def _stdin(monkeypatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))


def test_add_list_disable_enable_and_role(monkeypatch, capsys, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    _stdin(monkeypatch, "first-admin-secret\n")
    assert main(["user", "add", "--admin", "boss", "--password-stdin"]) == 0
    _stdin(monkeypatch, "grader-secret-1\n")
    assert main(["user", "add", "dr. <b>", "--password-stdin"]) == 0
    assert main(["user", "role", "dr. <b>", "reviewer"]) == 0
    assert main(["user", "disable", "dr. <b>"]) == 0
    assert main(["user", "list"]) == 0
    out = capsys.readouterr().out
    assert "created the admin account 'boss'" in out
    assert "boss\tadmin\tenabled" in out and "dr. <b>\treviewer\tdisabled" in out
    assert main(["user", "disable", "boss"]) == 1  # never the last admin
    assert "no enabled admin" in capsys.readouterr().err
    assert main(["user", "enable", "dr. <b>"]) == 0
    with database()() as session:
        assert authenticate(database(), "dr. <b>", "grader-secret-1").role == "reviewer"
        hashes = list(session.scalars(select(Account.password_hash)))
    everything = capsys.readouterr().out + caplog.text
    assert "first-admin-secret" not in everything and "grader-secret-1" not in everything
    assert not any("secret" in value for value in hashes)


def test_bad_input_is_one_clear_message(monkeypatch, capsys) -> None:
    _stdin(monkeypatch, "short\n")
    assert main(["user", "add", "dr. a", "--password-stdin"]) == 1
    assert "at least 8 characters" in capsys.readouterr().err
    assert main(["user", "disable", "nobody"]) == 1
    assert "no account called 'nobody'" in capsys.readouterr().err
    _stdin(monkeypatch, "long-enough-1\n")
    assert main(["user", "add", "dr. a", "--password-stdin"]) == 0
    _stdin(monkeypatch, "long-enough-2\n")
    assert main(["user", "add", "dr. a", "--password-stdin"]) == 1
    assert "has an account already" in capsys.readouterr().err


def test_passwd_makes_the_user_change_it(monkeypatch, capsys) -> None:
    _stdin(monkeypatch, "long-enough-1\n")
    assert main(["user", "add", "dr. a", "--password-stdin"]) == 0
    _stdin(monkeypatch, "given-by-admin-1\n")
    assert main(["user", "passwd", "dr. a", "--password-stdin"]) == 0
    with database()() as session:
        assert authenticate(database(), "dr. a", "given-by-admin-1").must_change_password


def test_unlock_ends_a_lockout(monkeypatch, capsys) -> None:
    _stdin(monkeypatch, "long-enough-1\n")
    assert main(["user", "add", "dr. a", "--password-stdin"]) == 0
    for _ in range(MAX_FAILED_ATTEMPTS):
        with pytest.raises(WrongPassword):
            authenticate(database(), "dr. a", "a wrong guess")
    with pytest.raises(TooManyAttempts):
        authenticate(database(), "dr. a", "long-enough-1")
    assert main(["user", "unlock", "dr. a"]) == 0
    assert "unlocked the logins of 'dr. a' (was locked until " in capsys.readouterr().out
    assert authenticate(database(), "dr. a", "long-enough-1").name == "dr. a"
    assert main(["user", "unlock", "dr. a"]) == 0
    assert "(was not locked)" in capsys.readouterr().out
    assert main(["user", "unlock", "nobody"]) == 1
    assert "no account called 'nobody'" in capsys.readouterr().err
