"""Issue 20, account rows: names validated where accounts are made, odd legacy names shown escaped (H4); upper
lengths of passwords and notes refused before hashing or storing (H5); the grade chain written only through a
role check (db.repository keeps no public save_grade)."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import select

from db import accounts
from db.accounts import authenticate, create_account
from db.adjudication import adjudicate
from db.annotations import add_annotation
from db.decisions import decide
from db.errors import AccountExists, InvalidGrade, InvalidValue
from db.geometry import Geometry
from db.grading import grade_image
from db.models import Account, Grade, Grader
from db.repository import get_or_create_grader
from db.session import run_in_transaction
from drcore.limits import MAX_NAME_CHARS, MAX_NOTE_CHARS, MAX_PASSWORD_CHARS
from drx.cli import main
from drx.records import database

from corrections_world import build_world, cheap_hashing  # noqa: F401  (fixture)

HOSTILE_NAMES = {
    "new\nline": "U+000A", "tab\tadmin": "U+0009", "\x1b[31mred": "U+001B", "evil\u202eadmin": "U+202E",
    "zero\u200bwidth": "U+200B", "bell\x07": "U+0007", "line\u2028sep": "U+2028", "x" * (MAX_NAME_CHARS + 1): "at most",
    "\u0430dmin": "mixes letters",  # a Cyrillic а in a Latin name
}


@pytest.mark.parametrize("name, needle", HOSTILE_NAMES.items())
def test_a_name_with_control_invisible_or_mixed_script_characters_is_refused(name, needle, cheap_hashing) -> None:
    """H4: main accepted all of these."""
    with pytest.raises(InvalidValue, match=re.escape(needle)):
        run_in_transaction(database(), lambda s: create_account(s, name, "a-password-1"))
    with pytest.raises(InvalidValue):  # graders named by an imported file too
        run_in_transaction(database(), lambda s: get_or_create_grader(s, name))


def test_names_are_nfkc_and_unique_ignoring_case_and_look_alikes(cheap_hashing) -> None:
    sessions = database()
    run_in_transaction(sessions, lambda s: create_account(s, "admin", "a-password-1", role="admin"))
    for twin in ("Admin", "ADMIN ", "\u0430\u0501\u043c\u0456\u043f"):  # case; a Cyrillic look-alike written wholly in Cyrillic
        with pytest.raises(AccountExists, match="'admin' exists already"):
            run_in_transaction(sessions, lambda s, twin=twin: create_account(s, twin, "a-password-1"))
    user = run_in_transaction(sessions, lambda s: create_account(s, "\uff44\uff52\uff0e \uff42", "a-password-1"))
    assert user.name == "dr. b"  # full-width letters are the same letters
    assert authenticate(sessions, "\uff44\uff52\uff0e \uff42", "a-password-1").name == "dr. b"
    run_in_transaction(sessions, lambda s: create_account(s, "Ωμέγα 北京", "a-password-1"))  # Greek beside CJK
    run_in_transaction(sessions, lambda s: create_account(s, "\u00c9lodie O'Brien-Smith", "a-password-1"))


def test_the_cli_refuses_a_forged_name_and_lists_legacy_names_escaped(monkeypatch, capsys, cheap_hashing) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a-password-1\n"))
    assert main(["user", "add", "x\nadmin\tadmin\tenabled", "--password-stdin"]) == 1
    assert "U+000A" in capsys.readouterr().err

    def legacy(session):  # a name stored before these rules
        grader = Grader(name="old\nadmin\tadmin\tenabled\x1b[2J")
        session.add(grader)
        session.flush()
        session.add(Account(grader_id=grader.id, role="grader", password_hash="x", disabled=False,
                            must_change_password=False))

    run_in_transaction(database(), legacy)
    assert main(["user", "list"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "\x1b" not in out
    assert out.startswith("old\\nadmin\\tadmin\\tenabled\\x1b[2J\tgrader\tenabled")
    from db.names import printable

    assert printable("dr. <b> Ωmega") == "dr. <b> Ωmega"


def test_a_password_over_the_limit_is_refused_before_it_is_hashed(monkeypatch, capsys) -> None:
    """H5: main hashed and stored a 10 MB password."""
    def no_hashing(*args):
        raise AssertionError("hashed")

    huge = "p" * 10_000_000
    sessions = database()
    run_in_transaction(sessions, lambda s: create_account(s, "dr. p", "a-password-1"))
    class NoHashing:
        hash = verify = staticmethod(no_hashing)

    monkeypatch.setattr(accounts, "_HASHER", NoHashing())
    monkeypatch.setattr(accounts, "_verify", no_hashing)
    with pytest.raises(InvalidValue, match="at most 1,024 characters"):
        run_in_transaction(sessions, lambda s: create_account(s, "dr. q", huge))
    with pytest.raises(InvalidValue, match="at most 1,024 characters"):
        authenticate(sessions, "dr. p", huge)
    monkeypatch.setattr("sys.stdin", io.StringIO("p" * (MAX_PASSWORD_CHARS + 1) + "\n"))
    assert main(["user", "passwd", "dr. p", "--password-stdin"]) == 1
    assert "at most 1,024 characters" in capsys.readouterr().err
    with sessions() as session:
        assert len(list(session.scalars(select(Account)))) == 1


def test_a_note_over_the_limit_is_refused_before_it_is_stored(cheap_hashing) -> None:
    """H5: main stored a 50 MB grade note (and another 50 MB row at each re-save)."""
    world = build_world(database())
    long_note = "n" * (MAX_NOTE_CHARS + 1)
    with pytest.raises(InvalidGrade, match="at most 10,000 characters"):
        world.run(lambda s: grade_image(s, world.a, world.image, icdr_grade=1, referable=False, note=long_note))
    with pytest.raises(InvalidValue, match="at most 10,000 characters"):
        world.run(lambda s: decide(s, world.a, world.candidates[0], "rejected", reason="vessel", note=long_note))
    with pytest.raises(InvalidValue, match="at most 10,000 characters"):
        world.run(lambda s: add_annotation(s, world.a, world.image, Geometry.create("circle", [[9, 9]], radius=3),
                                           "haemorrhage", note=long_note))
    with pytest.raises(InvalidValue, match="at most 10,000 characters"):
        world.run(lambda s: adjudicate(s, world.reviewer, world.image, world.a.id, note=long_note))
    world.run(lambda s: grade_image(s, world.a, world.image, icdr_grade=1, referable=False,
                                    note="n" * MAX_NOTE_CHARS))
    with database()() as session:
        assert [len(g.note) for g in session.scalars(select(Grade))] == [MAX_NOTE_CHARS]


def test_grades_are_saved_only_through_the_role_checked_function() -> None:
    """main: db.repository.save_grade took any grader row and checked no role, and db exported it."""
    import db
    import db.repository

    assert not hasattr(db, "save_grade") and not hasattr(db.repository, "save_grade")
    assert "_save_grade" not in db.repository.__all__
