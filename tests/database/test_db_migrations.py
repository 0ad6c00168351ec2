"""Alembic migrations: the schema they build is the models' schema, on SQLite
and PostgreSQL; old ``create_all`` databases are taken over; starts are
idempotent and safe when concurrent; models and migrations never drift."""

from __future__ import annotations

import hashlib
import multiprocessing
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import CheckConstraint, UniqueConstraint, event, inspect, select, text
from sqlalchemy.engine import Engine

import db
from db.errors import DatabaseConfigError
from db.models import Base, Grade, Grader, Image
from db.repository import grade_history, _save_grade
from db.session import (
    INITIAL_REVISION,
    MIGRATIONS_DIR,
    alembic_config,
    current_revision,
    head_revision,
    init_database,
    make_engine,
    schema_differences,
    upgrade,
)
from db.schema import _PG_MIGRATION_LOCK_KEY
from db.settings import sqlite_url_for

DRX_TABLES = {
    "image", "grader", "model", "heatmap_run", "grade", "ground_truth", "evaluation_run",
    "account", "candidate", "candidate_decision", "annotation", "adjudication", "assignment",
    "discovery_session", "discovery_event", "discovery_hot_spot", "discovery_group",
    "discovery_membership", "discovery_group_name", "discovery_mark", "login_attempt",
}


# --- helpers -------------------------------------------------------------------------


def sha(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


def _normalise_sql(sql: object) -> str:
    """SQL text without case, whitespace, parentheses or casts, for comparing
    what two databases of the same backend report."""
    value = re.sub(r"::\w+( \w+)*", "", str(sql).lower())
    return re.sub(r"[\s()]+", "", value)


def schema_snapshot(engine: Engine) -> dict[str, dict]:
    """Everything inspection reports about the drx tables (not alembic_version)."""
    inspector = inspect(engine)
    snapshot: dict[str, dict] = {}
    for table in sorted(set(inspector.get_table_names()) - {"alembic_version"}):
        columns = {
            c["name"]: (repr(c["type"]), bool(c["nullable"]), _normalise_sql(c.get("default") or ""))
            for c in inspector.get_columns(table)
        }
        pk = inspector.get_pk_constraint(table)
        indexes = sorted(
            (
                i["name"],
                tuple(i["column_names"]),
                bool(i["unique"]),
                tuple(sorted((k, _normalise_sql(v)) for k, v in (i.get("dialect_options") or {}).items())),
            )
            for i in inspector.get_indexes(table)
            if not i.get("duplicates_constraint")
        )
        snapshot[table] = {
            "columns": columns,
            "pk": (pk["name"], tuple(pk["constrained_columns"])),
            "fks": sorted(
                (fk["name"], tuple(fk["constrained_columns"]), fk["referred_table"], tuple(fk["referred_columns"]))
                for fk in inspector.get_foreign_keys(table)
            ),
            "uniques": sorted((u["name"], tuple(u["column_names"])) for u in inspector.get_unique_constraints(table)),
            "indexes": indexes,
            "checks": sorted((c["name"], _normalise_sql(c["sqltext"])) for c in inspector.get_check_constraints(table)),
        }
    return snapshot


def metadata_names() -> dict[str, dict]:
    """The names Base.metadata gives every table's columns, constraints and indexes."""
    expected: dict[str, dict] = {}
    for table in Base.metadata.sorted_tables:
        expected[table.name] = {
            "columns": {c.name for c in table.columns},
            "pk": str(table.primary_key.name),
            "fks": {str(c.name) for c in table.foreign_key_constraints},
            "uniques": {str(c.name) for c in table.constraints if isinstance(c, UniqueConstraint)},
            "checks": {str(c.name) for c in table.constraints if isinstance(c, CheckConstraint)},
            "indexes": {str(i.name) for i in table.indexes},
        }
    return expected


def snapshot_names(snapshot: dict[str, dict]) -> dict[str, dict]:
    return {
        table: {
            "columns": set(info["columns"]),
            "pk": info["pk"][0],
            "fks": {fk[0] for fk in info["fks"]},
            "uniques": {u[0] for u in info["uniques"]},
            "checks": {c[0] for c in info["checks"]},
            "indexes": {i[0] for i in info["indexes"]},
        }
        for table, info in snapshot.items()
    }


def _create_all(url: str) -> None:
    engine = make_engine(url)
    try:
        Base.metadata.create_all(engine)
    finally:
        engine.dispose()


def _pre_migration_database(url: str) -> None:
    """What ``create_all`` made before migrations existed: the revision-0001
    schema without an ``alembic_version`` table."""
    upgrade(url, INITIAL_REVISION)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE alembic_version"))
    finally:
        engine.dispose()


def _version_rows(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))]
    finally:
        engine.dispose()


# --- the package ----------------------------------------------------------------------


def test_migrations_ship_inside_the_db_package():
    package = Path(db.__file__).resolve().parent
    assert MIGRATIONS_DIR == package / "migrations"
    for name in ("env.py", "script.py.mako", "__init__.py", "versions/__init__.py", "versions/0001_initial.py"):
        assert (MIGRATIONS_DIR / name).is_file(), name
    pyproject = (package.parent / "pyproject.toml").read_text()
    assert "migrations/script.py.mako" in pyproject, "the template must be package data"
    assert re.search(r'"alembic[>=<~ ]', pyproject), "alembic must be a dependency"


def test_revisions_form_one_numbered_line():
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(alembic_config())
    assert scripts.get_heads() == [head_revision()]
    revisions = list(reversed(list(scripts.walk_revisions())))
    assert revisions[0].revision == INITIAL_REVISION and revisions[0].down_revision is None
    for number, revision in enumerate(revisions, start=1):
        assert revision.revision == f"{number:04d}"
        assert Path(revision.path).name.startswith(f"{number:04d}_")
        if number > 1:
            assert revision.down_revision == f"{number - 1:04d}"


def test_next_revision_id_follows_the_head():
    from db.cli import next_revision_id

    assert next_revision_id() == f"{int(head_revision()) + 1:04d}"


# --- what the migrations build ------------------------------------------------------------


def test_upgrade_builds_exactly_the_models_schema(new_database_url: Callable[[], str]):
    migrated, created = new_database_url(), new_database_url()
    assert upgrade(migrated) == head_revision()
    _create_all(created)
    engines = [make_engine(migrated), make_engine(created)]
    try:
        by_migrations, by_create_all = (schema_snapshot(e) for e in engines)
        tables = set(inspect(engines[0]).get_table_names())
    finally:
        for engine in engines:
            engine.dispose()
    assert tables == DRX_TABLES | {"alembic_version"}
    assert by_migrations == by_create_all
    assert snapshot_names(by_migrations) == metadata_names()


def test_grade_keeps_its_chain_constraints(new_database_url: Callable[[], str]):
    url = new_database_url()
    upgrade(url)
    engine = make_engine(url)
    try:
        grade = schema_snapshot(engine)["grade"]
    finally:
        engine.dispose()
    assert ("uq_grade_supersedes_id", ("supersedes_id",)) in grade["uniques"]
    assert (
        "fk_grade_supersedes_id_image_id_grader_id_grade",
        ("supersedes_id", "image_id", "grader_id"),
        "grade",
        ("id", "image_id", "grader_id"),
    ) in grade["fks"]
    chain_root = next(i for i in grade["indexes"] if i[0] == "uq_grade_chain_root")
    assert chain_root[1:3] == (("image_id", "grader_id"), True)
    assert "supersedes_idisnull" in dict(chain_root[3]).values()
    assert {c[0] for c in grade["checks"]} == {"ck_grade_icdr_grade_range", "ck_grade_grade_iff_gradable"}


def test_models_and_migrations_do_not_drift(new_database_url: Callable[[], str]):
    """The `alembic check` of drx: after `upgrade head`, autogenerate finds
    nothing to do. A failure means db/models.py changed without a migration:
    run `python -m db revision -m "..."` and review the new file."""
    url = new_database_url()
    upgrade(url)
    differences = schema_differences(url)
    assert differences == [], (
        "db/models.py and db/migrations differ; add a revision "
        f"(python -m db revision -m '...'): {differences}"
    )


def test_drift_check_sees_columns_partial_indexes_and_checks(new_database_url: Callable[[], str], backend: str):
    """schema_differences is not vacuous: it reports a column the models lack,
    a changed partial-index WHERE, and (PostgreSQL) CHECK constraints, which
    Alembic's autogenerate alone does not compare."""
    url = new_database_url()
    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE grader ADD COLUMN nickname VARCHAR(20)"))
            conn.execute(text("DROP INDEX uq_grade_chain_root"))
            conn.execute(text(
                "CREATE UNIQUE INDEX uq_grade_chain_root ON grade (image_id, grader_id) "
                "WHERE supersedes_id IS NOT NULL"
            ))
            if backend == "postgresql":
                conn.execute(text("ALTER TABLE grade DROP CONSTRAINT ck_grade_icdr_grade_range"))
        differences = schema_differences(engine)
    finally:
        engine.dispose()
    kinds = {(d[0], str(d[2])) for d in differences if isinstance(d, tuple)}
    assert ("remove_column", "grader") in kinds
    assert ("modify_index_where", "uq_grade_chain_root") in kinds
    if backend == "postgresql":
        assert ("add_check_constraint", "ck_grade_icdr_grade_range") in kinds


def test_migrated_database_enforces_the_constraints(new_database_url: Callable[[], str]):
    sessions = init_database(new_database_url())
    try:
        with sessions() as session, session.begin():
            image = Image(
                content_sha256=sha("x"), file_name="x.png", width=10, height=10, size_bytes=1, source="t"
            )
            grader = Grader(name="dr. a")
            session.add_all([image, grader])
            session.flush()
            _save_grade(session, image=image, grader=grader, icdr_grade=1, referable=False)
            current = _save_grade(session, image=image, grader=grader, icdr_grade=3, referable=True)
        with sessions() as session:
            # a second root for the same (image, grader): the partial unique index refuses it
            with pytest.raises(Exception), session.begin():
                session.add(Grade(image_id=image.id, grader_id=grader.id, icdr_grade=2, referable=True))
        with sessions() as session:
            with pytest.raises(Exception), session.begin():  # CHECK icdr_grade_range
                session.add(
                    Grade(image_id=image.id, grader_id=grader.id, icdr_grade=7, referable=True,
                          supersedes_id=current.id)
                )
        with sessions() as session:
            assert [g.icdr_grade for g in grade_history(session, image, grader)] == [1, 3]
    finally:
        sessions.kw["bind"].dispose()


# --- taking over, idempotence, refusals -------------------------------------------------


def test_create_all_database_is_stamped_and_keeps_its_rows(new_database_url: Callable[[], str]):
    url = new_database_url()
    _pre_migration_database(url)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                Image.__table__.insert(),
                dict(content_sha256=sha("old"), file_name="old.png", width=5, height=5, size_bytes=9,
                     source="upload", created_at=db.models.utcnow()),
            )
            conn.execute(Grader.__table__.insert(), dict(name="dr. old", created_at=db.models.utcnow()))
        before = schema_snapshot(engine)
    finally:
        engine.dispose()
    assert current_revision(url) is None

    sessions = init_database(url)  # must not try to create the tables again
    try:
        assert current_revision(url) == head_revision()
        assert _version_rows(url) == [head_revision()]
        engine = sessions.kw["bind"]
        taken_over = schema_snapshot(engine)
        assert {table: taken_over[table] for table in before if table != "grade"} == {
            table: value for table, value in before.items() if table != "grade"
        }
        fresh_url = new_database_url()
        upgrade(fresh_url)
        fresh = make_engine(fresh_url)
        try:
            assert taken_over == schema_snapshot(fresh)  # the same schema as a migrated database
        finally:
            fresh.dispose()
        with sessions() as session, session.begin():
            image = session.scalars(select(Image)).one()
            grader = session.scalars(select(Grader)).one()
            assert (image.file_name, grader.name) == ("old.png", "dr. old")
            _save_grade(session, image=image, grader=grader, icdr_grade=0, referable=False)
        with sessions() as session:
            assert len(grade_history(session, image, grader)) == 1
    finally:
        sessions.kw["bind"].dispose()


def test_init_database_twice_is_a_no_op(new_database_url: Callable[[], str]):
    url = new_database_url()
    first = init_database(url)
    with first() as session, session.begin():
        session.add(Grader(name="kept"))
    first.kw["bind"].dispose()

    engine = make_engine(url)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda conn, cursor, sql, *rest: statements.append(sql))
    try:
        started = time.perf_counter()
        second = init_database(engine)
        elapsed = time.perf_counter() - started
        writes = [s for s in statements if not re.match(r"\s*(select|pragma|show)\b", s, re.IGNORECASE)]
        assert writes == [], f"an up-to-date start must only read, it ran {writes}"
        assert elapsed < 2.0
        with second() as session:
            assert session.scalars(select(Grader.name)).all() == ["kept"]
        assert _version_rows(url) == [head_revision()]
    finally:
        engine.dispose()


def test_upgrade_keeps_a_given_engine_open():
    engine = make_engine("sqlite://")
    try:
        assert upgrade(engine) == head_revision()
        assert upgrade(engine) == head_revision()
        assert DRX_TABLES <= set(inspect(engine).get_table_names())
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1  # switched back on
    finally:
        engine.dispose()


def test_partial_drx_schema_without_revision_is_refused(new_database_url: Callable[[], str]):
    url = new_database_url()
    engine = make_engine(url)
    try:
        Base.metadata.tables["grader"].create(engine)
    finally:
        engine.dispose()
    with pytest.raises(DatabaseConfigError, match="not created by drx") as info:
        init_database(url)
    assert "DRX_DATABASE_URL" in str(info.value)


def test_unrelated_tables_do_not_count_as_a_create_all_database(new_database_url: Callable[[], str]):
    url = new_database_url()
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE someone_elses (id INTEGER PRIMARY KEY)"))
    finally:
        engine.dispose()
    assert upgrade(url) == head_revision()


def test_database_from_a_newer_drx_is_refused(new_database_url: Callable[[], str]):
    url = new_database_url()
    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    finally:
        engine.dispose()
    with pytest.raises(DatabaseConfigError, match="newer drx"):
        init_database(url)


def test_downgrade_to_base_and_upgrade_again(new_database_url: Callable[[], str]):
    from alembic import command

    url = new_database_url()
    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn), "base")
        assert set(inspect(engine).get_table_names()) & DRX_TABLES == set()
        assert current_revision(engine) is None
        assert upgrade(engine) == head_revision()
        assert DRX_TABLES <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_offline_mode_writes_the_sql(capsys):
    from alembic import command

    config = alembic_config()
    config.set_main_option("sqlalchemy.url", "postgresql+psycopg://nobody@localhost/none")
    command.upgrade(config, "head", sql=True)
    out = capsys.readouterr().out
    assert "CREATE TABLE grade" in out
    assert "CREATE UNIQUE INDEX uq_grade_chain_root" in out and "WHERE supersedes_id IS NULL" in out


# --- concurrent first starts -------------------------------------------------------------


def test_concurrent_first_starts_migrate_once(new_database_url: Callable[[], str], backend: str):
    """Four processes open a fresh database at once: all succeed, one migrates.

    The test holds the migration lock (SQLite's write lock, PostgreSQL's
    advisory lock) while they start, so that they all queue on it."""
    url = new_database_url()
    holder = make_engine(url)
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=upgrade, args=(url,)) for _ in range(4)]
    try:
        with holder.connect() as conn:
            if backend == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.execute(text(f"SELECT pg_advisory_lock({_PG_MIGRATION_LOCK_KEY})"))
            for process in processes:
                process.start()
            time.sleep(3.0)  # let them import, find no revision and wait for the lock
            if backend == "sqlite":
                conn.rollback()
            else:
                conn.execute(text(f"SELECT pg_advisory_unlock({_PG_MIGRATION_LOCK_KEY})"))
                conn.commit()
        for process in processes:
            process.join(timeout=120)
        assert [p.exitcode for p in processes] == [0, 0, 0, 0]
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
        holder.dispose()
    assert _version_rows(url) == [head_revision()]
    assert schema_differences(url) == []


# --- command line --------------------------------------------------------------------------


def test_cli_upgrade_current_and_check(tmp_path, capsys):
    from db.cli import main

    url = sqlite_url_for(tmp_path / "cli.sqlite3")
    assert main(["current", "--url", url]) == 0
    assert "none" in capsys.readouterr().out
    assert main(["upgrade", "--url", url]) == 0
    assert head_revision() in capsys.readouterr().out
    assert main(["current", "--url", url]) == 0
    assert capsys.readouterr().out.strip() == head_revision()
    assert main(["check"]) == 0
    assert "agree" in capsys.readouterr().out
    assert main(["check", "--url", url]) == 0


def test_cli_reports_errors_without_a_traceback(capsys):
    from db.cli import main

    assert main(["upgrade", "--url", "nosuchdialect://user:s3cret@host/db"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and "DRX_DATABASE_URL" in err and "s3cret" not in err


def test_python_dash_m_db_uses_drx_database_url(tmp_path, monkeypatch):
    url = sqlite_url_for(tmp_path / "env.sqlite3")
    monkeypatch.setenv("DRX_DATABASE_URL", url)
    done = subprocess.run(
        [sys.executable, "-m", "db", "upgrade"], capture_output=True, text=True, check=True,
        cwd=Path(db.__file__).resolve().parents[1],
    )
    assert head_revision() in done.stdout
    assert current_revision(url) == head_revision()
