"""``drx serve``: make the first admin when there is none, print its one-time password, then serve the app.

``make run`` calls it, so the password is on the console as soon as the server starts, before anyone opens
a browser (Streamlit runs ``app.py`` only when the first browser session connects). Options after ``--`` go
to ``streamlit run`` unchanged.
"""

import argparse
import os
import sys
from pathlib import Path

#: The Streamlit app served: ``app.py`` at the top of the checkout that holds this package.
APP = Path(__file__).resolve().parents[2] / "app.py"


def add_parser(commands: argparse._SubParsersAction, summary: str) -> None:
    """Register ``drx serve``."""
    serve = commands.add_parser("serve", help=summary, description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    serve.add_argument("--address", default="localhost", help="address the server listens on")
    serve.add_argument("--port", type=int, default=8501, help="port the server listens on")
    serve.add_argument("streamlit_options", nargs=argparse.REMAINDER,
                       help="after --: options passed to streamlit run (e.g. -- --server.headless true)")
    serve.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    """Open the database (schema brought up to date), make the first admin if needed, then become the server."""
    from db.accounts import ensure_first_admin
    from db.session import init_database
    from db.settings import Settings

    if not APP.is_file():
        print(f"drx serve: {APP} not found: serve from a checkout of drx (make run)", file=sys.stderr)
        return 1
    settings = Settings.from_env()
    settings.ensure_home()
    sessions = init_database(settings.database_url)
    if ensure_first_admin(sessions, announce=lambda line: print(line, flush=True)) is None:
        print("drx: an admin account exists; log in with it (drx user passwd NAME resets a password)", flush=True)
    sessions.kw["bind"].dispose()
    options = [option for option in arguments.streamlit_options if option != "--"]
    os.execv(sys.executable, [sys.executable, "-m", "streamlit", "run", str(APP), "--server.address",
                              arguments.address, "--server.port", str(arguments.port), *options])
