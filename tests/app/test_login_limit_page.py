"""The login page after too many failed logins: the lockout message in an st.error, the app keeps serving."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

from db.login_limit import MAX_FAILED_ATTEMPTS

APP = str(Path(__file__).resolve().parents[2] / "app.py")
PASSWORD = "alice's long password"
LOCKED = "Login refused: too many failed logins for this name; try again in 15 minutes."


def _log_in(app: AppTest, name: str, password: str) -> list[str]:
    """Submit the login form; the error messages shown after it (no exception allowed)."""
    app.text_input(key="login_name").input(name)
    app.text_input(key="login_password").input(password)
    next(button for button in app.button if button.label == "Log in").click().run()
    assert not app.exception, app.exception
    return [message.value for message in app.error]


def test_the_login_page_shows_the_lockout_and_keeps_serving(make_user) -> None:
    make_user("alice", password=PASSWORD)
    app = AppTest.from_file(APP, default_timeout=120).run()
    for _ in range(MAX_FAILED_ATTEMPTS):
        assert _log_in(app, "alice", "a wrong guess") == ["Unknown name or wrong password."]
    assert _log_in(app, "alice", PASSWORD) == [LOCKED]  # the right password, refused
    for _ in range(MAX_FAILED_ATTEMPTS):  # an unknown name reads the same
        assert _log_in(app, "nobody", "a wrong guess") == ["Unknown name or wrong password."]
    assert _log_in(app, "nobody", "a wrong guess") == [LOCKED]
    # still the login page, still answering: another account logs in
    assert [title.value for title in app.title] == ["drx · DR heatmap review"]
    make_user("bob", password=PASSWORD)
    assert _log_in(app, "bob", PASSWORD) == []
    assert "Logged in as bob" in [text.value for text in app.sidebar.text]
