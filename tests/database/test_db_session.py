from __future__ import annotations

import sys
from datetime import timezone

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from db.errors import DatabaseConfigError, DbError
from db.models import Base, Grader, HeatmapRun
from db.session import init_database, make_engine
from db.settings import sqlite_url_for


def test_sqlite_engine_uses_wal_busy_timeout_and_foreign_keys(tmp_path):
    engine = make_engine(sqlite_url_for(tmp_path / "a.sqlite3"))
    try:
        # two distinct DBAPI connections: the pragmas are set on every one
        with engine.connect() as first, engine.connect() as second:
            for conn in (first, second):
                assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
                assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000
                assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        engine.dispose()


def test_make_engine_creates_the_parent_folder(tmp_path):
    path = tmp_path / "deep" / "er" / "drx.sqlite3"
    engine = make_engine(sqlite_url_for(path))
    try:
        assert path.parent.is_dir()
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        assert path.is_file()
    finally:
        engine.dispose()


def test_in_memory_sqlite_works(tmp_path):
    factory = init_database("sqlite://")
    with factory() as session:
        assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1
    factory.kw["bind"].dispose()


@pytest.mark.parametrize(
    "url",
    [
        "",
        "   ",
        "not a url",
        "/just/a/path.sqlite3",
        "nosuchdialect://user:s3cret@host/db",
        "postgresql+nosuchdriver://user:s3cret@host/db",
    ],
)
def test_bad_url_gives_database_config_error(url):
    with pytest.raises(DatabaseConfigError) as info:
        make_engine(url)
    message = str(info.value)
    assert "DRX_DATABASE_URL" in message
    assert "s3cret" not in message
    assert isinstance(info.value, DbError)


def test_bad_url_through_init_database():
    with pytest.raises(DatabaseConfigError, match="DRX_DATABASE_URL"):
        init_database("definitely not a url")


def test_missing_driver_gives_database_config_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "pymssql", None)  # the driver cannot be imported, installed or not
    with pytest.raises(DatabaseConfigError, match="not installed") as info:
        make_engine("mssql+pymssql://user:s3cret@host/db")
    assert "DRX_DATABASE_URL" in str(info.value)
    assert "s3cret" not in str(info.value)


def test_unopenable_sqlite_file_gives_database_config_error(tmp_path):
    folder = tmp_path / "is_a_folder"
    folder.mkdir()
    with pytest.raises(DatabaseConfigError, match="DRX_DATABASE_URL"):
        init_database(sqlite_url_for(folder))


def test_init_database_creates_schema_once_and_reopens(tmp_path):
    url = sqlite_url_for(tmp_path / "drx.sqlite3")
    first = init_database(url)
    with first() as session, session.begin():
        session.add(Grader(name="kept"))
    first.kw["bind"].dispose()

    second = init_database(url)  # already at head: nothing to migrate
    engine = second.kw["bind"]
    assert set(inspect(engine).get_table_names()) == {
        "image", "grader", "model", "heatmap_run", "grade", "ground_truth", "evaluation_run",
        "account", "candidate", "candidate_decision", "annotation", "adjudication", "assignment",
        "discovery_session", "discovery_event", "discovery_hot_spot", "discovery_group",
        "discovery_membership", "discovery_group_name", "discovery_mark", "login_attempt", "alembic_version",
    }
    with second() as session:
        grader = session.scalars(select(Grader)).one()
        assert grader.name == "kept"
        assert grader.created_at.tzinfo is not None
        assert grader.created_at.utcoffset() == timezone.utc.utcoffset(None)
    engine.dispose()


def test_every_constraint_and_index_is_named_for_alembic():
    for table in Base.metadata.sorted_tables:
        for constraint in table.constraints:
            name = constraint.name
            assert name, f"unnamed constraint {constraint!r} on {table.name}"
            assert len(str(name)) <= 63
        for index in table.indexes:
            assert index.name and len(str(index.name)) <= 63
    grade = Base.metadata.tables["grade"]
    names = {str(c.name) for c in grade.constraints}
    assert {"pk_grade", "uq_grade_supersedes_id", "ck_grade_icdr_grade_range"} <= names


def test_foreign_keys_are_enforced(session_factory):
    with session_factory() as session:
        with pytest.raises(IntegrityError):
            with session.begin():
                session.add(
                    HeatmapRun(
                        image_id=999,
                        model_id=999,
                        method="gradient",
                        output="referable",
                        parameters_json="{}",
                        device="cpu",
                        duration_s=0.1,
                    )
                )
