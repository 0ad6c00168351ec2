"""Alembic environment of the drx schema.

Run by Alembic, never imported. Normally the caller (:func:`db.session.upgrade`
and friends) hands over an open connection in
``config.attributes["connection"]`` and owns its transaction; the migrations
then run inside that transaction. Without one (an ``alembic`` command line
with its own ini file), the URL comes from the ini's ``sqlalchemy.url`` or
else from ``DRX_DATABASE_URL`` / the default SQLite file.
"""

from __future__ import annotations

from alembic import context

from db.models import Base
from db.session import configure_migration_context, make_engine
from db.settings import Settings

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or Settings.from_env().database_url


def run_migrations_offline() -> None:
    """Write the SQL to stdout instead of running it (``alembic upgrade --sql``)."""
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **configure_migration_context(),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, **configure_migration_context())
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(_url())
    try:
        with engine.begin() as connection:
            context.configure(
                connection=connection, target_metadata=target_metadata, **configure_migration_context()
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
