"""Database writes from a page: one retried transaction, refusals shown as one message, the app keeps serving."""

from collections.abc import Callable
from typing import Any

import streamlit as st
from sqlalchemy.orm import Session, sessionmaker

from db.errors import DbError
from db.session import run_in_transaction
from drx.ui.text import verbatim


def attempt(action: Callable[[], Any], what: str) -> bool:
    """Run an application function that writes; True when it did.

    On a refusal (any :class:`db.errors.DbError`) nothing is written, the message says why (``what`` names the
    action: "The account was not created: ...") and the result is False.
    """
    try:
        action()
    except DbError as error:
        st.error(f"{what} {verbatim(str(error))}", icon=":material/block:")
        return False
    return True


def write(sessions: sessionmaker[Session], work: Callable[[Session], Any], what: str) -> bool:
    """Run ``work`` in a transaction (retried when the database is busy); True when it was committed.

    On a refusal (any :class:`db.errors.DbError`) nothing is written, the
    message says why (``what`` names the action: "The decision was not
    saved: ...") and the result is False.
    """
    return attempt(lambda: run_in_transaction(sessions, work), what)


def fresh(session: Session, row: Any) -> Any:
    """``row`` (loaded by an earlier session) loaded again in ``session``."""
    return session.get(type(row), row.id)
