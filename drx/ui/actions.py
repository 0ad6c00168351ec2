"""Writes from a page: an application function's refusal shown as one message, the app keeps serving."""

from collections.abc import Callable
from typing import Any

import streamlit as st

from db.errors import DbError
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
