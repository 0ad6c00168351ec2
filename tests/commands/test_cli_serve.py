"""``make run`` (``drx serve``) prints the first admin's one-time password as the server starts, before any
browser visit, and that password logs in; a second start prints none."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from db.accounts import authenticate
from db.session import init_database
from db.settings import Settings

REPOSITORY = Path(__file__).resolve().parents[2]
PASSWORD_LINE = re.compile(r"drx: no admin account existed; created 'admin' with the one-time password (\S+) ")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        return probe.getsockname()[1]


def _serve_until_healthy(port: int, timeout_s: float = 120) -> str:
    """Start ``drx serve``, wait until Streamlit answers its health check (no page is ever opened), stop it and
    return what it printed."""
    server = subprocess.Popen([sys.executable, "-m", "drx.cli", "serve", "--port", str(port), "--",
                               "--server.headless", "true"], cwd=REPOSITORY, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, env=os.environ | {"PYTHONUNBUFFERED": "1"},
                              start_new_session=True)
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://localhost:{port}/_stcore/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            raise AssertionError(f"drx serve did not answer on port {port} within {timeout_s} s")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        printed, _ = server.communicate(timeout=30)
    return printed


def test_the_one_time_password_is_printed_when_the_server_starts() -> None:
    printed = _serve_until_healthy(_free_port())
    found = PASSWORD_LINE.findall(printed)
    assert len(found) == 1, printed
    assert printed.index("one-time password") < printed.index("You can now view your Streamlit app")
    user = authenticate(init_database(Settings.from_env().database_url), "admin", found[0])
    assert user.role == "admin" and user.must_change_password
    # the second start: the admin exists, no new password
    again = _serve_until_healthy(_free_port())
    assert "one-time password" not in again and "an admin account exists" in again


def test_make_run_serves_through_drx_serve() -> None:
    recipe = (REPOSITORY / "Makefile").read_text().split("\nrun: install\n", 1)[1].split("\n\n", 1)[0]
    assert recipe.strip() == "$(BIN)/drx serve --address localhost --port $(PORT)"
