"""Retried transactions (``db.session.run_in_transaction``) and a small run
of the concurrency benchmark (``benchmarks/db_concurrency.py``): several
processes correcting grades at once lose nothing and see no lock error."""

from __future__ import annotations

import hashlib
import sqlite3
import sys
import threading
import time
from pathlib import Path

import psycopg.errors
import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError, OperationalError

from db.errors import GradeConflict, InvalidGrade
from db.models import Account, Annotation, CandidateDecision, Grade, Grader, Image
from db.repository import current_grade, get_or_create_grader, grade_history, register_image, _save_grade
from db.session import init_database, is_retryable, make_engine, run_in_transaction
from db.settings import sqlite_url_for

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _wrapped(cls, original: BaseException):
    return cls("INSERT ...", {}, original)


# --- is_retryable ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "exc",
    [
        GradeConflict("changed by another session"),
        _wrapped(OperationalError, sqlite3.OperationalError("database is locked")),
        _wrapped(OperationalError, sqlite3.OperationalError("database table is locked")),
        _wrapped(IntegrityError, sqlite3.IntegrityError("UNIQUE constraint failed: image.content_sha256")),
        _wrapped(OperationalError, psycopg.errors.SerializationFailure("could not serialize access")),
        _wrapped(OperationalError, psycopg.errors.DeadlockDetected("deadlock detected")),
        _wrapped(IntegrityError, psycopg.errors.UniqueViolation("duplicate key value")),
    ],
    ids=["grade-conflict", "sqlite-locked", "sqlite-table-locked", "sqlite-unique", "pg-serialization",
         "pg-deadlock", "pg-unique"],
)
def test_retryable_errors(exc):
    assert is_retryable(exc)


@pytest.mark.parametrize(
    "exc",
    [
        InvalidGrade("icdr_grade must be 0-4"),
        ValueError("nope"),
        _wrapped(IntegrityError, sqlite3.IntegrityError("CHECK constraint failed: ck_grade_icdr_grade_range")),
        _wrapped(IntegrityError, sqlite3.IntegrityError("FOREIGN KEY constraint failed")),
        _wrapped(IntegrityError, psycopg.errors.CheckViolation("violates check constraint")),
        _wrapped(IntegrityError, psycopg.errors.ForeignKeyViolation("violates foreign key constraint")),
        _wrapped(OperationalError, sqlite3.OperationalError("unable to open database file")),
    ],
    ids=["invalid-grade", "value-error", "sqlite-check", "sqlite-fk", "pg-check", "pg-fk", "sqlite-cannot-open"],
)
def test_errors_that_are_not_retried(exc):
    assert not is_retryable(exc)


def test_real_sqlite_busy_error_is_retryable(tmp_path):
    path = tmp_path / "busy.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN IMMEDIATE")
    engine = make_engine(sqlite_url_for(path), connect_args={"timeout": 0})
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA busy_timeout=0")
            with pytest.raises(OperationalError) as info:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
        assert "locked" in str(info.value)
        assert is_retryable(info.value)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        engine.dispose()


# --- run_in_transaction ---------------------------------------------------------------------


def _locked() -> OperationalError:
    return _wrapped(OperationalError, sqlite3.OperationalError("database is locked"))


def test_run_in_transaction_commits_and_returns(session_factory):
    grader = run_in_transaction(session_factory, lambda s: get_or_create_grader(s, "dr. a"))
    assert grader.name == "dr. a"  # still loaded after the session closed
    with session_factory() as session:
        assert session.scalars(select(Grader.name)).all() == ["dr. a"]


def test_run_in_transaction_retries_from_a_fresh_session(session_factory):
    calls: list[int] = []
    retried: list[tuple[str, int]] = []

    def fn(session):
        calls.append(id(session))
        get_or_create_grader(session, f"attempt {len(calls)}")
        if len(calls) < 3:
            raise GradeConflict("try again")
        return len(calls)

    result = run_in_transaction(
        session_factory, fn, base_delay_s=0.001, on_retry=lambda exc, n: retried.append((type(exc).__name__, n))
    )
    assert result == 3
    assert retried == [("GradeConflict", 1), ("GradeConflict", 2)]
    with session_factory() as session:  # the failed attempts were rolled back
        assert session.scalars(select(Grader.name)).all() == ["attempt 3"]


def test_run_in_transaction_gives_up_after_its_attempts(session_factory):
    calls = []

    def fn(session):
        calls.append(1)
        raise _locked()

    with pytest.raises(OperationalError, match="database is locked"):
        run_in_transaction(session_factory, fn, attempts=4, base_delay_s=0.001)
    assert len(calls) == 4


def test_run_in_transaction_does_not_retry_other_errors(session_factory):
    calls = []

    def fn(session):
        calls.append(1)
        get_or_create_grader(session, "dr. rolled back")
        raise InvalidGrade("icdr_grade must be 0-4")

    with pytest.raises(InvalidGrade):
        run_in_transaction(session_factory, fn)
    assert len(calls) == 1
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Grader)) == 0


def test_run_in_transaction_rejects_zero_attempts(session_factory):
    with pytest.raises(ValueError):
        run_in_transaction(session_factory, lambda s: None, attempts=0)


def test_conflicting_edit_is_retried_on_the_new_current_grade(session_factory):
    """Two sessions supersede the same grade: the loser gets GradeConflict,
    and its retry re-reads and supersedes the winner's row."""
    def setup(session):
        image = register_image(
            session, content_sha256=hashlib.sha256(b"c").hexdigest(), file_name="c.png", width=9, height=9,
            size_bytes=1, source="upload",
        )
        grader = get_or_create_grader(session, "dr. a")
        _save_grade(session, image=image, grader=grader, icdr_grade=0, referable=False)
        return image.id, grader.id

    image_id, grader_id = run_in_transaction(session_factory, setup)
    attempts = []

    def someone_else_saves(session, flush_context, instances):
        with session_factory() as other, other.begin():
            _save_grade(other, image=other.get(Image, image_id), grader=other.get(Grader, grader_id),
                       icdr_grade=1, referable=False)

    def edit(session):
        attempts.append(1)
        if len(attempts) == 1:  # another session commits between our read and our insert
            event.listen(session, "before_flush", someone_else_saves, once=True)
        image, grader = session.get(Image, image_id), session.get(Grader, grader_id)
        return _save_grade(session, image=image, grader=grader, icdr_grade=4, referable=True)

    if session_factory.kw["bind"].dialect.name == "sqlite":
        # BEGIN IMMEDIATE would make the nested writer wait for us (a self-deadlock):
        # run the unit as SQLite's default deferred transaction instead.
        row = run_in_transaction(session_factory, edit, write=False)
    else:
        row = run_in_transaction(session_factory, edit)
    assert len(attempts) == 2
    with session_factory() as session:
        history = grade_history(session, session.get(Image, image_id), session.get(Grader, grader_id))
    assert [g.icdr_grade for g in history] == [0, 1, 4]
    assert history[-1].id == row.id and row.supersedes_id == history[1].id


def test_sqlite_writer_waits_for_the_lock_instead_of_failing(tmp_path):
    sessions = init_database(sqlite_url_for(tmp_path / "wait.sqlite3"))
    holder_ready, release = threading.Event(), threading.Event()

    def hold_write_lock():
        with sessions() as session, session.begin():
            session.connection().exec_driver_sql("BEGIN IMMEDIATE")
            get_or_create_grader(session, "holder")
            holder_ready.set()
            release.wait(5)

    thread = threading.Thread(target=hold_write_lock)
    thread.start()
    try:
        assert holder_ready.wait(5)
        threading.Timer(0.5, release.set).start()
        retried = []
        started = time.perf_counter()
        grader = run_in_transaction(
            sessions, lambda s: get_or_create_grader(s, "waiter"), on_retry=lambda e, n: retried.append(e)
        )
        waited = time.perf_counter() - started
    finally:
        release.set()
        thread.join()
        sessions.kw["bind"].dispose()
    assert grader.name == "waiter"
    assert retried == []  # waited on the busy timeout, no error at all
    assert waited >= 0.4


# --- the benchmark, small -------------------------------------------------------------------


@pytest.fixture
def benchmark(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # spawned processes inherit sys.path
    sys.modules.pop("db_concurrency", None)
    import db_concurrency

    return db_concurrency


@pytest.mark.parametrize("shared_grader", [False, True], ids=["grader-per-process", "one-shared-grader"])
@pytest.mark.parametrize("kind", ["corrections", "grades"])
def test_concurrent_corrections_lose_nothing(benchmark, database_url, shared_grader, kind):
    """4 processes x 50 corrections (spawned), on a fresh database that they
    also migrate concurrently: exactly 200 rows (grades, or annotations and
    decisions), unbroken chains, no error (no 'database is locked') escapes
    the retry policy."""
    result = benchmark.run_benchmark(
        database_url, processes=4, corrections=50, images=3, shared_grader=shared_grader, kind=kind, timeout_s=240
    )
    assert result.problems == []
    assert result.escaped == []
    assert result.rows == 200
    sessions = init_database(database_url)
    try:
        with sessions() as session:
            if kind == "grades":
                assert session.scalar(select(func.count()).select_from(Grade)) == 200
            else:  # even corrections are decisions, odd ones annotations
                assert session.scalar(select(func.count()).select_from(CandidateDecision)) == 100
                assert session.scalar(select(func.count()).select_from(Annotation)) == 100
                assert session.scalar(select(func.count()).select_from(Account)) == (1 if shared_grader else 4)
            graders = session.scalar(select(func.count()).select_from(Grader))
            assert graders == (1 if shared_grader else 4)
            assert session.scalar(select(func.count()).select_from(Image)) == 3
    finally:
        sessions.kw["bind"].dispose()


def test_verify_catches_a_broken_chain(benchmark, session_factory):
    """The benchmark's verification is not vacuous: a second root, a lost and
    an unexpected correction are all reported."""
    tag = "t" * 10

    def write(session):
        image = register_image(
            session, content_sha256=hashlib.sha256(b"v").hexdigest(), file_name="v.png", width=9, height=9,
            size_bytes=1, source="benchmark",
        )
        grader = get_or_create_grader(session, f"bench-{tag}-grader-0")
        _save_grade(session, image=image, grader=grader, icdr_grade=0, referable=False, note="p0-c0")
        _save_grade(session, image=image, grader=grader, icdr_grade=1, referable=False, note="p0-c5")
        other = register_image(
            session, content_sha256=hashlib.sha256(b"w").hexdigest(), file_name="w.png", width=9, height=9,
            size_bytes=1, source="benchmark",
        )
        _save_grade(session, image=other, grader=grader, icdr_grade=2, referable=True, note="p0-c1")

    run_in_transaction(session_factory, write)
    rows, problems = benchmark.verify(session_factory, tag=tag, processes=1, corrections=3)
    assert rows == 3
    text = "\n".join(problems)
    assert "expected exactly 3" not in text
    assert "1 corrections lost" in text  # p0-c2
    assert "1 unexpected rows" in text  # p0-c5


def test_verify_catches_lost_and_duplicated_corrections(benchmark, session_factory):
    """The corrections verification is not vacuous either: a lost and a
    duplicated correction are reported (the chains themselves are guarded by
    the database: see tests/database/test_db_annotations.py)."""
    from db.accounts import create_account
    from db.annotations import add_annotation
    from db.geometry import Geometry

    tag = "u" * 10

    def write(session):
        user = create_account(session, f"bench-{tag}-grader-0", "bench-password")
        image = register_image(session, content_sha256=hashlib.sha256(b"d").hexdigest(), file_name="d.png",
                               width=99, height=99, size_bytes=1, source="benchmark")
        for note in ("p0-c0", "p0-c0"):
            add_annotation(session, user, image, Geometry.create("rectangle", [[1, 1], [5, 5]]), "other", note)

    run_in_transaction(session_factory, write)
    rows, problems = benchmark.verify(session_factory, tag=tag, processes=1, corrections=2, kind="corrections")
    text = "\n".join(problems)
    assert rows == 2
    assert "1 corrections lost" in text  # p0-c1
    assert "1 corrections saved more than once" in text  # p0-c0
