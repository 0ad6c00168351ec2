"""``drx user``: manage accounts from the command line (trusted: whoever runs it owns the database).

::

    drx user add NAME [--admin | --role ROLE] [--password-stdin]   create an account (password prompted twice)
    drx user passwd NAME [--password-stdin]                         set a password (changed at next login)
    drx user disable NAME / drx user enable NAME                    an admin account is never the last to go
    drx user role NAME ROLE                                         grader, reviewer or admin
    drx user list                                                   name, role, state
    drx user unlock NAME                                            end a lockout after too many failed logins

Passwords are read with ``getpass`` (never echoed) or as the first line of
standard input with ``--password-stdin``; they are never printed or logged.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from db.errors import DbError, InvalidValue
from db.login_limit import LOCKOUT, MAX_FAILED_ATTEMPTS
from drcore.vocabulary import ROLES

__all__ = ["add_parser", "run"]

LOCKOUT_MINUTES = int(LOCKOUT.total_seconds() // 60)


def add_parser(commands: argparse._SubParsersAction, summary: str) -> None:
    """Register ``drx user`` on the ``drx`` subcommands."""
    user = commands.add_parser("user", help=summary,
                               description=__doc__.split("\n\n")[0])
    actions = user.add_subparsers(dest="user_action", required=True)
    add = actions.add_parser("add", help="create an account (the password is prompted)")
    add.add_argument("name")
    roles = add.add_mutually_exclusive_group()
    roles.add_argument("--admin", action="store_true", help="same as --role admin")
    roles.add_argument("--role", choices=ROLES, default="grader", help="the account's role")
    add.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    passwd = actions.add_parser("passwd", help="set a password; the user must change it after logging in")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    for name, text in (("disable", "disable an account: it can no longer log in"), ("enable", "enable an account again")):
        actions.add_parser(name, help=text).add_argument("name")
    role = actions.add_parser("role", help="change an account's role")
    role.add_argument("name")
    role.add_argument("role", choices=ROLES)
    actions.add_parser("list", help="list the accounts")
    actions.add_parser(
        "unlock", help="let an account log in again at once after too many failed logins",
        description=f"After {MAX_FAILED_ATTEMPTS} failed logins within {LOCKOUT_MINUTES} minutes a name is "
                    f"refused until {LOCKOUT_MINUTES} minutes after the last of them; this ends the lockout now "
                    "and clears the count.",
    ).add_argument("name")
    user.set_defaults(handler=run)


def _password(arguments: argparse.Namespace) -> str:
    if arguments.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise InvalidValue("the two passwords differ")
    return first


def run(arguments: argparse.Namespace) -> int:
    """Run one ``drx user`` action (as the trusted command line: no admin named); returns the exit status."""
    from drx import accounts
    from drx.records import database

    action, name = arguments.user_action, getattr(arguments, "name", "")
    try:
        sessions = database()
        if action == "list":
            for info in accounts.admin_overview(sessions).accounts:
                state = "disabled" if info.disabled else "enabled"
                print(f"{info.shown}\t{info.role}\t{state}\tsince {info.created_at:%Y-%m-%d %H:%M} UTC")
        elif action == "add":
            password, role = _password(arguments), "admin" if arguments.admin else arguments.role
            user = accounts.create_account(sessions, None, name, password, role, must_change_password=False)
            print(f"created the {user.role} account {user.name!r}")
        elif action == "passwd":
            user = accounts.reset_password(sessions, None, name, _password(arguments))
            print(f"set the password of {user.name!r} (to be changed at the next login)")
        elif action == "unlock":
            until = accounts.unlock_logins(sessions, None, name)
            state = "was not locked" if until is None else f"was locked until {until:%Y-%m-%d %H:%M} UTC"
            print(f"unlocked the logins of {name.strip()!r} ({state})")
        elif action == "role":
            user = accounts.set_role(sessions, None, name, arguments.role)
            print(f"{user.name!r} is now a {user.role}")
        else:
            accounts.set_disabled(sessions, None, name, action == "disable")
            print(f"{action}d the account {name.strip()!r}")
        return 0
    except DbError as error:
        print(f"drx user {action}: {error}", file=sys.stderr)
        return 1
