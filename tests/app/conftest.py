"""Fixtures of the page tests: accounts made straight in the test's own database."""

from collections.abc import Callable

import pytest
import streamlit as st

from db.accounts import User, create_account
from db.session import init_database, run_in_transaction
from db.settings import Settings


@pytest.fixture(autouse=True)
def fresh_caches() -> None:
    """Streamlit caches live as long as the process: each page test starts without them (and its own DRX_HOME)."""
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def make_user() -> Callable[..., User]:
    """``make_user(name, role="grader", password=...)``: an account in this test's DRX_HOME database."""

    def make(name: str, role: str = "grader", password: str = "a long enough password") -> User:
        settings = Settings.from_env()
        settings.ensure_home()
        sessions = init_database(settings.database_url)
        return run_in_transaction(sessions, lambda session: create_account(session, name, password, role=role))

    return make
