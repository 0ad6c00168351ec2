"""Schema migrations: Alembic revisions in ``db/migrations/``, configured in code (no ``alembic.ini``).

:func:`upgrade` brings a database to the newest revision (a no-op costing one
small query when it is already there). A database created before migrations
existed (by ``Base.metadata.create_all``: drx tables but no ``alembic_version``)
is stamped at :data:`INITIAL_REVISION` instead of being created again.
Concurrent starts are safe: a migration runs in one transaction that holds the
database's write lock (SQLite ``BEGIN IMMEDIATE``) or a transaction-level
advisory lock (PostgreSQL), and re-reads the revision once it has the lock.
:func:`schema_differences` compares a database with the models.
"""

from __future__ import annotations

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional

from sqlalchemy import CheckConstraint, func, inspect, select
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from db.errors import DatabaseConfigError
from db.models import Base
from db.settings import DATABASE_URL_ENV
from db.engine import _describe, _engine_for, _open_error

__all__ = ["INITIAL_REVISION", "MIGRATIONS_DIR", "alembic_config", "configure_migration_context", "current_revision",
           "head_revision", "schema_differences", "upgrade"]

log = logging.getLogger(__name__)

#: the Alembic script folder, shipped inside the package
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

#: the revision that creates the schema ``create_all`` used to create
INITIAL_REVISION = "0001"

#: the tables of :data:`INITIAL_REVISION` (what ``create_all`` made before
#: migrations existed). Fixed for ever: later revisions do not change it.
_INITIAL_TABLES = frozenset(
    {"image", "grader", "model", "heatmap_run", "grade", "ground_truth", "evaluation_run"}
)

#: key of the PostgreSQL advisory lock that serialises migrations ("drxmigr")
_PG_MIGRATION_LOCK_KEY = 0x6472786D69677200

_script_lock = threading.Lock()
_script_directory: Any = None


def configure_migration_context() -> dict[str, Any]:
    """Keyword arguments for ``context.configure`` shared by every caller
    (``env.py``, :func:`schema_differences`, :func:`db.cli` revision).

    ``render_as_batch``: autogenerate writes ``op.batch_alter_table`` blocks,
    which SQLite needs for most ALTERs (copy-and-move) and which PostgreSQL
    runs as plain ALTER statements, so one revision serves both.
    """
    return {
        "render_as_batch": True,
        "compare_type": True,
        "compare_server_default": True,
    }


def alembic_config(connection: Optional[Connection] = None) -> Any:
    """An ``alembic.config.Config`` built in code (no ini file) for the
    migrations in :data:`MIGRATIONS_DIR`; ``connection`` (if given) is handed
    to ``env.py`` through ``config.attributes["connection"]`` and the
    migrations run inside its transaction, which the caller commits."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    # new revision files are named NNNN_slug.py (ids are given by db.cli)
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _scripts() -> Any:
    """The (cached) Alembic ``ScriptDirectory``: parsing the revision files
    once per process keeps :func:`upgrade` cheap when nothing is to do."""
    global _script_directory
    with _script_lock:
        if _script_directory is None:
            from alembic.script import ScriptDirectory

            _script_directory = ScriptDirectory.from_config(alembic_config())
        return _script_directory


def head_revision() -> str:
    """The newest revision of the migrations shipped with this drx."""
    head = _scripts().get_current_head()
    assert head is not None, "no migrations found in " + str(MIGRATIONS_DIR)
    return head


def _current_heads(connection: Connection) -> tuple[str, ...]:
    from alembic.runtime.migration import MigrationContext

    return tuple(MigrationContext.configure(connection).get_current_heads())


def current_revision(url_or_engine: str | URL | Engine) -> Optional[str]:
    """The revision the database is at (None: never migrated, or empty)."""
    engine, owned = _engine_for(url_or_engine)
    try:
        with engine.connect() as connection:
            heads = _current_heads(connection)
    except (DBAPIError, SQLAlchemyError) as exc:
        raise _open_error(engine, exc) from exc
    finally:
        if owned:
            engine.dispose()
    return heads[0] if heads else None


def _check_known(engine: Engine, heads: tuple[str, ...]) -> None:
    from alembic.util import CommandError

    scripts = _scripts()
    for head in heads:
        try:
            known = scripts.get_revision(head) is not None
        except CommandError:
            known = False
        if not known:
            raise DatabaseConfigError(
                f"the database {_describe(engine.url)} ({DATABASE_URL_ENV}) is at schema revision "
                f"{head!r}, which this version of drx does not know (was it written by a newer "
                "drx?): upgrade drx, or point DRX_DATABASE_URL at another database"
            )


@contextmanager
def _locked_migration(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that no other migration can run beside;
    committed when the block ends without error, rolled back otherwise.

    SQLite: foreign keys are switched off for the migration (the pragma is a
    no-op inside a transaction, and batch copy-and-move of a referenced table
    needs it off), ``BEGIN IMMEDIATE`` takes the write lock (waiting up to the
    busy timeout), and ``PRAGMA foreign_key_check`` must come back empty
    before the commit. PostgreSQL: ``pg_advisory_xact_lock``, released at
    the end of the transaction. DDL is transactional on both.
    """
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            if sqlite:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            elif connection.dialect.name == "postgresql":
                connection.execute(select(func.pg_advisory_xact_lock(_PG_MIGRATION_LOCK_KEY)))
            yield connection
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise DatabaseConfigError(
                        f"the migration of {_describe(engine.url)} would break foreign keys "
                        f"({broken[:5]!r}); nothing was changed"
                    )
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
        finally:
            if sqlite:
                try:
                    connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                    connection.commit()
                except Exception:  # never hand a connection without FKs back to the pool
                    connection.invalidate()
                    raise


def _stamp_create_all_database(engine: Engine, connection: Connection) -> None:
    """Stamp a database made by ``create_all`` (drx tables, no revision) at
    :data:`INITIAL_REVISION`, so that the upgrade does not create them again."""
    from alembic import command

    if _current_heads(connection):
        return
    tables = set(inspect(connection).get_table_names())
    present = tables & _INITIAL_TABLES
    if not present:
        return
    missing = _INITIAL_TABLES - tables
    if missing:
        raise DatabaseConfigError(
            f"the database {_describe(engine.url)} ({DATABASE_URL_ENV}) has some drx tables "
            f"({', '.join(sorted(present))}) but not {', '.join(sorted(missing))}, and no "
            "alembic_version table: it was not created by drx; point DRX_DATABASE_URL at an "
            "empty database or at one drx created"
        )
    log.info("stamping %s, created before migrations, at revision %s", _describe(engine.url), INITIAL_REVISION)
    command.stamp(alembic_config(connection), INITIAL_REVISION)


def upgrade(url_or_engine: str | URL | Engine, revision: str = "head") -> Optional[str]:
    """Migrate the database to ``revision`` (default: the newest) and return
    the revision it is at afterwards.

    Idempotent and cheap when there is nothing to do (one read of
    ``alembic_version``, no lock). Otherwise everything happens in one locked
    transaction (see :func:`_locked_migration`): a database made by
    ``create_all`` is stamped first, then the missing revisions run; a
    concurrent start waits for the lock and then finds nothing to do.

    ``url_or_engine``: a URL (an engine is made and disposed of) or an
    :class:`Engine` (left open). Raises :class:`DatabaseConfigError` when the
    database cannot be opened or migrated, or is at a revision this drx does
    not know.
    """
    from alembic import command
    from alembic.util import CommandError

    engine, owned = _engine_for(url_or_engine)
    try:
        if revision == "head":
            with engine.connect() as connection:
                heads = _current_heads(connection)
            _check_known(engine, heads)
            if heads == (head_revision(),):
                return heads[0]
        with _locked_migration(engine) as connection:
            _check_known(engine, _current_heads(connection))
            _stamp_create_all_database(engine, connection)
            command.upgrade(alembic_config(connection), revision)
            heads = _current_heads(connection)
        return heads[0] if heads else None
    except CommandError as exc:
        raise DatabaseConfigError(
            f"cannot migrate the database {_describe(engine.url)} ({DATABASE_URL_ENV}) to "
            f"{revision!r}: {exc}"
        ) from exc
    except (DBAPIError, SQLAlchemyError) as exc:
        raise _open_error(engine, exc) from exc
    finally:
        if owned:
            engine.dispose()


def _normalised_sql(sql: Any) -> str:
    value = re.sub(r"::[a-z_]+( [a-z_]+)*", "", str(sql).lower())  # PostgreSQL casts
    return re.sub(r"[\s()]+", "", value)


def _blind_spot_differences(connection: Connection) -> list[tuple[Any, ...]]:
    """What autogenerate does not compare: CHECK constraints (by name) and the
    WHERE clause of partial indexes (SQLite and PostgreSQL)."""
    inspector = inspect(connection)
    dialect = connection.dialect.name
    existing = set(inspector.get_table_names())
    differences: list[tuple[Any, ...]] = []
    for table in Base.metadata.sorted_tables:
        if table.name not in existing:
            continue  # autogenerate reports the missing table
        wanted = {str(c.name) for c in table.constraints if isinstance(c, CheckConstraint)}
        found = {str(c["name"]) for c in inspector.get_check_constraints(table.name) if c.get("name")}
        differences += [("add_check_constraint", table.name, name) for name in sorted(wanted - found)]
        differences += [("remove_check_constraint", table.name, name) for name in sorted(found - wanted)]
        reflected = {i["name"]: i for i in inspector.get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in reflected or dialect not in ("sqlite", "postgresql"):
                continue
            where = index.dialect_options[dialect].get("where")
            where_sql = "" if where is None else str(where)
            actual = reflected[index.name].get("dialect_options", {}).get(f"{dialect}_where")
            actual_sql = "" if actual is None else str(actual)
            if _normalised_sql(where_sql) != _normalised_sql(actual_sql):
                differences.append(("modify_index_where", table.name, str(index.name), actual_sql, where_sql))
    return differences


def schema_differences(url_or_engine: str | URL | Engine) -> list[Any]:
    """What differs between the database and the models
    (``db.models.Base.metadata``): an empty list when they agree. Run it on a
    database at head to check that every model change has a migration (the
    ``alembic check`` of drx).

    Alembic autogenerate's diffs (tables, columns, types, nullability, server
    defaults, indexes, unique and foreign-key constraints), plus what it does
    not compare: CHECK constraints by name (``("add_check_constraint", table,
    name)`` / ``remove_...``) and the WHERE of partial indexes
    (``("modify_index_where", table, index, in_database, in_models)``).
    """
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    engine, owned = _engine_for(url_or_engine)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"target_metadata": Base.metadata, **configure_migration_context()}
            )
            return list(compare_metadata(context, Base.metadata)) + _blind_spot_differences(connection)
    finally:
        if owned:
            engine.dispose()
