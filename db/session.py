"""Engines, sessions, schema migrations and retried transactions.

``make_engine(url)`` builds an :class:`~sqlalchemy.engine.Engine`. For SQLite
it creates the database file's folder, and every new connection gets::

    PRAGMA journal_mode=WAL        readers never block the writer
    PRAGMA busy_timeout=30000      a writer waits up to 30 s for another one
    PRAGMA foreign_keys=ON         SQLite ignores foreign keys otherwise

Any other URL (e.g. ``postgresql+psycopg://user@host/drx``) is passed through
unchanged.

``init_database(url)`` brings the schema to the newest Alembic revision
(:func:`upgrade`; a no-op costing one small query when it is already there)
and returns a ``sessionmaker``. The migrations live in ``db/migrations/``
inside the package and are configured in code (:func:`alembic_config`): no
``alembic.ini`` is needed. A database created before migrations existed (by
``Base.metadata.create_all``: drx tables but no ``alembic_version``) is
stamped at :data:`INITIAL_REVISION` instead of being created again.
Concurrent starts are safe: a migration runs in one transaction that holds
the database's write lock (SQLite ``BEGIN IMMEDIATE``) or a transaction-level
advisory lock (PostgreSQL), and re-reads the revision once it has the lock.

``run_in_transaction(sessions, fn)`` runs ``fn(session)`` in a transaction
and retries it, from a fresh session, when it failed only because of another
writer: SQLite "database is locked"/busy, PostgreSQL serialization failures
and deadlocks, unique violations and :class:`~db.errors.GradeConflict`.

A malformed URL, a driver that is not installed, or a database that cannot
be opened or migrated raises :class:`db.errors.DatabaseConfigError`, whose
message names ``DRX_DATABASE_URL``. Passwords never appear in messages.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional, TypeVar

from sqlalchemy import CheckConstraint, create_engine, event, func, inspect, select
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from db.errors import DatabaseConfigError, GradeConflict
from db.models import Base
from db.settings import DATABASE_URL_ENV

__all__ = [
    "SQLITE_BUSY_TIMEOUT_MS",
    "MIGRATIONS_DIR",
    "INITIAL_REVISION",
    "make_engine",
    "init_database",
    "upgrade",
    "current_revision",
    "head_revision",
    "schema_differences",
    "alembic_config",
    "configure_migration_context",
    "is_retryable",
    "run_in_transaction",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: how long (ms) a SQLite connection waits for a lock before giving up
SQLITE_BUSY_TIMEOUT_MS = 30_000


def _describe(url: URL | str) -> str:
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    return repr(url)


def _parse(url: str | URL) -> URL:
    if isinstance(url, URL):
        return url
    if not isinstance(url, str) or not url.strip():
        raise DatabaseConfigError(
            f"empty database URL {url!r}: set {DATABASE_URL_ENV} to a SQLAlchemy URL such as "
            "'sqlite:////path/to/drx.sqlite3' or 'postgresql+psycopg://user@host/drx', "
            "or leave it unset for the default SQLite file"
        )
    try:
        return make_url(url.strip())
    except ArgumentError as exc:
        # The text may contain a password: do not echo it.
        raise DatabaseConfigError(
            f"{DATABASE_URL_ENV} is not a valid SQLAlchemy URL; expected e.g. "
            "'sqlite:////path/to/drx.sqlite3' or 'postgresql+psycopg://user@host/drx'"
        ) from exc


def _sqlite_file(url: URL) -> Path | None:
    """The file behind a SQLite URL, or None for in-memory / URI databases."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    if str(url.query.get("uri", "")).lower() in {"true", "1"}:
        return None
    return Path(database).expanduser()


def _set_sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def make_engine(url: str | URL, **engine_kwargs: Any) -> Engine:
    """Create an engine for ``url`` (see the module docstring).

    Extra keyword arguments go to :func:`sqlalchemy.create_engine`.
    Raises :class:`DatabaseConfigError` for a bad URL or a missing driver.
    """
    parsed = _parse(url)
    is_sqlite = parsed.get_backend_name() == "sqlite"
    if is_sqlite:
        path = _sqlite_file(parsed)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseConfigError(
                    f"cannot create the folder {str(path.parent)!r} for the SQLite database "
                    f"{_describe(parsed)} ({DATABASE_URL_ENV}): {exc}"
                ) from exc
        connect_args = dict(engine_kwargs.pop("connect_args", {}))
        connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
        engine_kwargs["connect_args"] = connect_args
    try:
        engine = create_engine(parsed, **engine_kwargs)
    except NoSuchModuleError as exc:
        raise DatabaseConfigError(
            f"{DATABASE_URL_ENV}={_describe(parsed)} names an unknown database dialect or driver "
            f"{parsed.drivername!r}; use e.g. 'sqlite' or 'postgresql+psycopg'"
        ) from exc
    except ImportError as exc:
        raise DatabaseConfigError(
            f"{DATABASE_URL_ENV}={_describe(parsed)} needs the Python driver for "
            f"{parsed.drivername!r}, which is not installed ({exc})"
        ) from exc
    except (ArgumentError, TypeError, ValueError) as exc:
        raise DatabaseConfigError(
            f"{DATABASE_URL_ENV}={_describe(parsed)} cannot be used: {exc}"
        ) from exc
    if is_sqlite:
        event.listen(engine, "connect", _set_sqlite_pragmas)
    return engine


def _engine_for(url_or_engine: str | URL | Engine, **engine_kwargs: Any) -> tuple[Engine, bool]:
    """The engine to use and whether this call created it (and must dispose of it)."""
    if isinstance(url_or_engine, Engine):
        return url_or_engine, False
    return make_engine(url_or_engine, **engine_kwargs), True


def _open_error(engine: Engine, exc: BaseException) -> DatabaseConfigError:
    original = getattr(exc, "orig", None) or exc
    return DatabaseConfigError(
        f"cannot open or migrate the database {_describe(engine.url)} ({DATABASE_URL_ENV}): {original}"
    )


# --- migrations ----------------------------------------------------------------

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


def init_database(url: str | URL | Engine, **engine_kwargs: Any) -> sessionmaker[Session]:
    """Open the database at ``url``, bring its schema to the newest revision
    (:func:`upgrade`), and return a ``sessionmaker`` bound to it
    (``sessionmaker.kw["bind"]`` is the engine).

    ``url`` may also be an existing :class:`Engine`. Sessions keep their
    objects loaded after commit (``expire_on_commit=False``), which suits
    pages that show rows after the transaction ends; Grade rows never change,
    so they cannot go stale.

    Raises :class:`DatabaseConfigError` when the URL is bad or the database
    cannot be opened or migrated.
    """
    engine, owned = _engine_for(url, **engine_kwargs)
    try:
        upgrade(engine)
    except BaseException:
        if owned:
            engine.dispose()
        raise
    return sessionmaker(bind=engine, expire_on_commit=False)


# --- retried transactions ---------------------------------------------------------

#: SQLite primary result codes: SQLITE_BUSY, SQLITE_LOCKED (extended codes
#: such as SQLITE_BUSY_SNAPSHOT share the low byte)
_SQLITE_BUSY_CODES = {5, 6}
#: SQLite extended codes of UNIQUE and PRIMARY KEY violations
_SQLITE_UNIQUE_CODES = {2067, 1555}
#: PostgreSQL SQLSTATEs: serialization_failure, deadlock_detected, unique_violation
_PG_RETRY_STATES = {"40001", "40P01", "23505"}
_SQLITE_BUSY_TEXT = ("database is locked", "database table is locked", "database is busy")


def _sqlstate(original: Any) -> Optional[str]:
    return getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)


def is_retryable(exc: BaseException) -> bool:
    """Whether ``exc`` means "another writer got there first; try again":

    - :class:`~db.errors.GradeConflict` (a concurrent edit of the same grade);
    - SQLite busy/locked (``database is locked``, including the
      ``SQLITE_BUSY_SNAPSHOT`` a WAL reader gets when it tries to write after
      another connection committed) and UNIQUE violations (two sessions
      inserting the same image or grader);
    - PostgreSQL serialization failures (40001), deadlocks (40P01) and unique
      violations (23505).

    Anything else (a CHECK or foreign-key violation, invalid values, a lost
    connection) is not retried.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, GradeConflict):
            return True
        if isinstance(exc, DBAPIError):
            original = exc.orig
            code = getattr(original, "sqlite_errorcode", None)
            if code is not None:
                if (code & 0xFF) in _SQLITE_BUSY_CODES:
                    return True
                if isinstance(exc, IntegrityError) and code in _SQLITE_UNIQUE_CODES:
                    return True
            elif _sqlstate(original) in _PG_RETRY_STATES:
                return True
            message = str(original).lower()
            if any(text in message for text in _SQLITE_BUSY_TEXT):
                return True
            if isinstance(exc, IntegrityError) and "unique constraint failed" in message:
                return True
        exc = exc.__cause__  # type: ignore[assignment]  # explicit chaining only
    return False


def _begin_write(session: Session) -> None:
    """Take SQLite's write lock at the start of the transaction
    (``BEGIN IMMEDIATE``), so that a read-then-write transaction waits in the
    busy handler for the lock instead of failing with ``SQLITE_BUSY_SNAPSHOT``
    when another writer commits between its read and its write."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    dbapi_connection = connection.connection.dbapi_connection
    if not getattr(dbapi_connection, "in_transaction", False):  # e.g. a session joined to an outer one
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def run_in_transaction(
    sessions: sessionmaker[Session],
    fn: Callable[[Session], T],
    *,
    attempts: int = 10,
    write: bool = True,
    base_delay_s: float = 0.005,
    max_delay_s: float = 0.5,
    on_retry: Optional[Callable[[BaseException, int], None]] = None,
) -> T:
    """Run ``fn(session)`` in a new session and transaction, commit, and
    return its result; retry the whole unit when it failed for a reason that
    :func:`is_retryable` accepts.

    Every attempt gets a fresh session, so ``fn`` re-reads the state it acts
    on (the current grade, an image someone else just registered); ``fn``
    must therefore do everything the transaction needs, not rely on objects
    loaded by a previous attempt. Between attempts it sleeps a jittered,
    exponentially growing delay (``base_delay_s`` doubling up to
    ``max_delay_s``). After ``attempts`` tries the last error is raised; any
    other error is raised at once, after rollback. ``on_retry(exc, attempt)``
    is called before each retry (e.g. to count them).

    ``write=True`` (default): on SQLite the transaction starts with
    ``BEGIN IMMEDIATE`` (see :func:`_begin_write`), so writers queue on the
    busy timeout rather than fail; use ``write=False`` for read-only units.
    Objects returned by ``fn`` stay loaded after the session closes when the
    sessionmaker has ``expire_on_commit=False`` (as :func:`init_database`'s
    has).

    Example::

        grade = run_in_transaction(Session, lambda s: grade_image(s, user, image_id, icdr_grade=2, referable=True))
    """
    if attempts < 1:
        raise ValueError(f"attempts must be >= 1, got {attempts}")
    attempt = 1
    while True:
        try:
            with sessions() as session:
                with session.begin():
                    if write:
                        _begin_write(session)
                    return fn(session)
        except Exception as exc:
            if attempt >= attempts or not is_retryable(exc):
                raise
            if on_retry is not None:
                on_retry(exc, attempt)
            delay = min(max_delay_s, base_delay_s * (2 ** (attempt - 1)))
            time.sleep(delay * random.uniform(0.5, 1.5))
            attempt += 1
