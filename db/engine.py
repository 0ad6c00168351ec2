"""Engines: ``make_engine(url)`` builds an :class:`~sqlalchemy.engine.Engine`.

For SQLite it creates the database file's folder, and every new connection gets::

    PRAGMA journal_mode=WAL        readers never block the writer
    PRAGMA busy_timeout=30000      a writer waits up to 30 s for another one
    PRAGMA foreign_keys=ON         SQLite ignores foreign keys otherwise

Any other URL (e.g. ``postgresql+psycopg://user@host/drx``) is passed through
unchanged. A malformed URL or a driver that is not installed raises
:class:`db.errors.DatabaseConfigError`, whose message names ``DRX_DATABASE_URL``;
passwords never appear in messages.
"""

from __future__ import annotations

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from db.errors import DatabaseConfigError
from db.settings import DATABASE_URL_ENV

__all__ = ["SQLITE_BUSY_TIMEOUT_MS", "make_engine"]

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
