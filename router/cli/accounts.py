"""``omnirouter agents set-password USERNAME``: a console account's password
set from the terminal, so a lost admin password never means deleting data.

It writes to the same store the service uses, SQLite or PostgreSQL (through
its own short connection, like ``customers import``): safe while the service
runs, and the new password works at the next login, since every login reads
the stored hash. The account's console sessions end with the old password."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from router.plurals import counted

# the console's own bounds (agents_ui.schemas.NewAgentBody)
MIN_LENGTH = 8
MAX_LENGTH = 1024


class AccountsError(Exception):
    """A reason the password was not set, for the terminal."""


def _from_terminal() -> str:
    import getpass  # noqa: PLC0415

    first = getpass.getpass("New password: ")
    if getpass.getpass("Again: ") != first:
        raise AccountsError("the two passwords differ; nothing was changed")
    return first


def read_password(env: str | None) -> str:
    """From the variable ``env`` when given (scripts), else twice from the
    terminal, else the first line of stdin (``echo … | omnirouter …``)."""
    if env is not None:
        value = os.environ.get(env)
        if value is None:
            raise AccountsError(f"the environment variable {env} is not set")
        password = value
    elif sys.stdin.isatty():
        password = _from_terminal()
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < MIN_LENGTH:
        raise AccountsError(f"the password is shorter than {MIN_LENGTH} characters; nothing was changed")
    if len(password) > MAX_LENGTH:
        raise AccountsError(f"the password is longer than {MAX_LENGTH} characters; nothing was changed")
    return password


def _store_path(config_dir: Path) -> tuple[Any, Path | None]:
    from router.server.settings import load_settings  # noqa: PLC0415

    settings = load_settings(config_dir)
    settings.store.writer = "thread"  # one short write: no writer process of its own
    if settings.store.backend == "postgres":  # a database server's: nothing of it on this disk to look for
        return settings, None
    path = Path(settings.store.path)
    path = path if path.is_absolute() else Path.cwd() / path
    if settings.store.path == ":memory:" or not path.exists():
        # opening would create an empty store: the password would set nothing the service sees
        raise AccountsError(f"no store at {path}: start the service once (it creates the 'admin' account), "
                            "or give the --config folder it runs with")
    return settings, path


async def _set_password(config_dir: Path, username: str, password: str) -> int:
    """Sessions ended; ``AccountsError`` for an unknown username."""
    from router.accounts.service import UnknownAccount, set_password  # noqa: PLC0415
    from router.agents.service import WeakPassword  # noqa: PLC0415
    from router.server.app import make_store  # noqa: PLC0415

    settings, _ = _store_path(config_dir)
    async with make_store(settings, Path.cwd()) as store:
        try:
            return await set_password(store, username, password)
        except UnknownAccount as exc:
            known = ", ".join(exc.known) or "none"
            raise AccountsError(f"no console account {username!r} (accounts: {known}); nothing was changed") from exc
        except WeakPassword as exc:
            raise AccountsError(f"{exc}; nothing was changed") from exc


def _set_password_command(args: argparse.Namespace) -> int:
    from router.store.errors import StoreError  # noqa: PLC0415
    from router.yamlconf import ConfigError  # noqa: PLC0415

    config_dir = Path(args.config)
    try:
        _store_path(config_dir)  # before asking for a password that could not be set
        password = read_password(args.password_env)
        ended = asyncio.run(_set_password(config_dir, args.username, password))
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    except AccountsError as exc:
        print(f"omnirouter agents set-password: {exc}", file=sys.stderr)
        return 1
    except (EOFError, KeyboardInterrupt):
        print("\nomnirouter agents set-password: cancelled; nothing was changed", file=sys.stderr)
        return 1
    except StoreError as exc:  # unreachable, refusing writes
        print(f"omnirouter agents set-password: the store failed: {exc}; nothing was changed", file=sys.stderr)
        return 1
    sessions = counted(ended, "console session", "console sessions")
    print(f"the password of {args.username!r} is set; {sessions} of it ended")
    return 0


def add_commands(sub: Any) -> None:
    """Register ``agents`` and its subcommands on the main parser's subparsers."""
    agents = sub.add_parser("agents", help="console accounts")
    cmds = agents.add_subparsers(dest="agents_command", required=True)
    setpw = cmds.add_parser(
        "set-password", help="set a console account's password (e.g. a lost admin password)",
        description="Asks twice on a terminal; reads one line from stdin when it is not a terminal; or takes "
                    "the password from an environment variable (--password-env). Works whether or not the "
                    "service runs; the account's console sessions end.",
    )
    setpw.add_argument("username", help="the account, e.g. admin")
    setpw.add_argument("--config", default="config", help="configuration folder of the store (default: config/)")
    setpw.add_argument("--password-env", metavar="VAR", help="read the password from this environment variable")
    setpw.set_defaults(func=_set_password_command)
