"""Who is using the app: the login form, the logged-in user in the session, role checks for pages.

A web session keeps only a :class:`db.accounts.User` (id, name, role; no
secret). Every page run re-reads the account (:func:`current_user`), so an
account disabled or demoted by an admin loses its rights at once, and every
database write checks the role again. Names are shown with ``st.text``
(verbatim, never Markdown or HTML).

Optional single sign-on: when ``.streamlit/secrets.toml`` has an ``[auth]``
section (Streamlit's OIDC configuration), the login page also offers
``st.login``; the provider's e-mail address must be the name of an enabled
local account, which gives the role. Without that section nothing of it is
shown.
"""

from __future__ import annotations

from typing import Optional

import streamlit as st
from sqlalchemy.orm import Session, sessionmaker

from db.accounts import User, role_at_least
from db.errors import AuthenticationFailed, InvalidValue, PermissionDenied, TooManyAttempts
from drcore.limits import MAX_NAME_CHARS, MAX_PASSWORD_CHARS
from drx import accounts

USER_KEY = "user"
ROLE_NAMES = {"grader": "grader", "reviewer": "reviewer", "admin": "admin"}


def single_sign_on_configured() -> bool:
    """Whether secrets configure Streamlit's OIDC login (an ``[auth]`` section); no secrets file: False."""
    try:
        return "auth" in st.secrets
    except FileNotFoundError:  # Streamlit's StreamlitSecretNotFoundError when there is no secrets file
        return False


@st.cache_resource(show_spinner=False)
def first_start(database_url: str, _sessions: sessionmaker[Session]) -> Optional[str]:
    """Once per process and database: make the first admin when there is none.

    The one-time password is printed to the server's console, flushed at once
    (never shown in a page nor logged); the function returns it only for tests.
    """
    return accounts.first_admin(_sessions, lambda line: print(line, flush=True))


def current_user(sessions: sessionmaker[Session]) -> Optional[User]:
    """The logged-in user, refreshed from the database (logged out when the account was disabled)."""
    user = st.session_state.get(USER_KEY)
    if user is None:
        return None
    fresh = accounts.current_account(sessions, user)
    if fresh is None:
        st.session_state.pop(USER_KEY, None)
        st.warning("Your account has been disabled: you were logged out.", icon=":material/lock:")
        return None
    st.session_state[USER_KEY] = fresh
    return fresh


def login_form(sessions: sessionmaker[Session]) -> None:
    """The name and password form; a successful login stores the user and reruns the app."""
    with st.form("login"):
        st.subheader("Log in")
        name = st.text_input("Name", key="login_name", autocomplete="username", max_chars=MAX_NAME_CHARS)
        password = st.text_input("Password", type="password", key="login_password", autocomplete="current-password",
                                 max_chars=MAX_PASSWORD_CHARS)
        submitted = st.form_submit_button("Log in", type="primary")
    if submitted:
        try:
            user = accounts.log_in(sessions, name, password)
        except TooManyAttempts as error:  # the same for names with and without an account
            st.error(f"Login refused: {error}.", icon=":material/lock_clock:")
            return
        except InvalidValue as error:  # a password longer than any password: refused before it is hashed
            st.error(f"Login refused: {error}.", icon=":material/block:")
            return
        except AuthenticationFailed as error:
            # Unknown name and wrong password read alike; a disabled account is told so.
            st.error("This account is disabled: ask an admin." if "disabled" in str(error)
                     else "Unknown name or wrong password.", icon=":material/block:")
            return
        st.session_state[USER_KEY] = user
        st.rerun()
    if single_sign_on_configured():
        _single_sign_on(sessions)


def _single_sign_on(sessions: sessionmaker[Session]) -> None:
    """OIDC through ``st.login`` (configured in secrets); the e-mail must name an enabled local account."""
    if not st.user.is_logged_in:
        st.button("Log in with your organisation", on_click=st.login)
        return
    email = str(st.user.get("email") or "")
    try:  # the names rules of every account: an address holding control characters names none
        name = accounts.organisation_name(email)
    except InvalidValue as error:
        st.error(f"Your organisation account cannot log in here: {error}.")
        st.button("Log out of your organisation", on_click=st.logout)
        return
    match = accounts.organisation_account(sessions, name)
    if match is None:
        st.error("Your organisation account has no drx account here: ask an admin to create one named:")
        st.text(name)
        st.button("Log out of your organisation", on_click=st.logout)
        return
    st.session_state[USER_KEY] = match
    st.rerun()


def password_change_form(sessions: sessionmaker[Session], user: User) -> None:
    """The form a user with a one-time password must fill before anything else."""
    st.info("Your password was set by someone else: choose your own before you go on.", icon=":material/key:")
    with st.form("change_password"):
        old = st.text_input("Current password", type="password", key="old_password", max_chars=MAX_PASSWORD_CHARS)
        new = st.text_input("New password", type="password", key="new_password", max_chars=MAX_PASSWORD_CHARS)
        again = st.text_input("New password again", type="password", key="new_password_again",
                              max_chars=MAX_PASSWORD_CHARS)
        submitted = st.form_submit_button("Change password", type="primary")
    if not submitted:
        return
    if new != again:
        st.error("The two new passwords differ.")
        return
    try:
        st.session_state[USER_KEY] = accounts.change_own_password(sessions, user, old, new)
    except (AuthenticationFailed, InvalidValue, PermissionDenied) as error:
        st.error(f"The password was not changed: {error}")
        return
    st.rerun()


def logout() -> None:
    """Forget the logged-in user (and the organisation sign-in, when there is one)."""
    st.session_state.pop(USER_KEY, None)
    if single_sign_on_configured() and st.user.is_logged_in:
        st.logout()


def may(user: User, role: str) -> bool:
    """Whether ``user``'s role is ``role`` or a more privileged one (what the navigation offers)."""
    return role_at_least(user.role, role)


def require(sessions: sessionmaker[Session], role: str = "grader") -> User:
    """The logged-in user when their role is at least ``role``; otherwise a refusal and the page stops.

    Pages call this first, so a page reached by its URL refuses too.
    """
    user = current_user(sessions)
    if user is None:
        st.error("Log in first.", icon=":material/lock:")
        st.stop()
    if not role_at_least(user.role, role):
        st.error(f"This page is for the {role} role and above; you are logged in as a {user.role}.", icon=":material/block:")
        st.stop()
    return user
