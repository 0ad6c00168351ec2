"""Fixtures for the db tests.

Every repository test runs against a fresh SQLite file under ``tmp_path``,
and also against PostgreSQL when ``DRX_TEST_POSTGRES_URL`` is set (e.g.
``postgresql+psycopg://drx:drx@localhost/drx_test``; ``eval "$(../shared/tools/pg-test-server
start)"`` starts a throwaway server and sets it). Each PostgreSQL database is
its own schema (via ``search_path``), dropped afterwards. ``new_database_url``
makes more empty databases of the test's backend; ``backend`` names it.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import text
from strictness import unavailable
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from db.models import Grader, Image
from db.repository import get_or_create_grader, register_image
from db.session import init_database, make_engine
from db.settings import sqlite_url_for

POSTGRES_ENV = "DRX_TEST_POSTGRES_URL"


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend of a test: every test using it runs once per backend."""
    if request.param == "postgresql" and not os.environ.get(POSTGRES_ENV, "").strip():
        unavailable(f"{POSTGRES_ENV} is not set: PostgreSQL variant not run")
    return request.param


@pytest.fixture
def new_database_url(backend: str, tmp_path) -> Iterator[Callable[[], str]]:
    """A factory of URLs of new, empty databases of the test's backend: SQLite
    files under ``tmp_path``, or PostgreSQL schemas (dropped afterwards)."""
    schemas: list[str] = []
    admin = make_engine(os.environ[POSTGRES_ENV].strip()) if backend == "postgresql" else None
    count = 0

    def _new() -> str:
        nonlocal count
        count += 1
        if admin is None:
            return sqlite_url_for(tmp_path / f"db{count}" / "drx.sqlite3")
        schema = f"drx_test_{uuid.uuid4().hex[:12]}"
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        schemas.append(schema)
        url = make_url(os.environ[POSTGRES_ENV].strip()).update_query_dict({"options": f"-csearch_path={schema}"})
        return url.render_as_string(hide_password=False)

    try:
        yield _new
    finally:
        if admin is not None:
            with admin.begin() as conn:
                for schema in schemas:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


@pytest.fixture
def database_url(new_database_url: Callable[[], str]) -> str:
    """URL of an empty database, one per test and backend."""
    return new_database_url()


@pytest.fixture
def session_factory(database_url: str) -> Iterator[sessionmaker[Session]]:
    factory = init_database(database_url)
    try:
        yield factory
    finally:
        factory.kw["bind"].dispose()


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as s:
        yield s


def sha(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


@pytest.fixture
def make_image(session: Session) -> Callable[..., Image]:
    def _make(label: str = "fundus-1", **overrides) -> Image:
        values = dict(
            content_sha256=sha(label),
            file_name=f"{label}.png",
            width=1500,
            height=1152,
            size_bytes=123_456,
            source="upload",
        )
        values.update(overrides)
        with session.begin():
            return register_image(session, **values)

    return _make


@pytest.fixture
def make_grader(session: Session) -> Callable[[str], Grader]:
    def _make(name: str = "dr. a") -> Grader:
        with session.begin():
            return get_or_create_grader(session, name)

    return _make
