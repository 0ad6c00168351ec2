"""Sessions: ``init_database(url)`` opens a database, brings its schema to the newest revision and returns a
``sessionmaker``.

The parts live in their own modules and are re-exported here: engines and SQLite set-up (:mod:`db.engine`),
Alembic schema migrations (:mod:`db.schema`) and retried transactions (:mod:`db.transactions`). A malformed
URL, a driver that is not installed, or a database that cannot be opened or migrated raises
:class:`db.errors.DatabaseConfigError`, whose message names ``DRX_DATABASE_URL``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import URL, Engine
from sqlalchemy.orm import Session, sessionmaker

from db.engine import SQLITE_BUSY_TIMEOUT_MS, _engine_for, make_engine
from db.schema import (
    INITIAL_REVISION,
    MIGRATIONS_DIR,
    alembic_config,
    configure_migration_context,
    current_revision,
    head_revision,
    schema_differences,
    upgrade,
)
from db.transactions import is_retryable, run_in_transaction

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
