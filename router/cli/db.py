"""``omnirouter db migrate``: the configured store's pending schema migrations
applied on demand (``omnirouter run`` applies them on start too; this is for a
deployment step before the nodes start). ``omnirouter db copy --from
sqlite:PATH --to postgres:URL``: an SQLite store moved to PostgreSQL
(``router.store.pg_copy``)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

from router.plurals import counted

# registered without importing what the commands need: their handlers import it


URL_EXAMPLE = "postgresql://user:password@host:5432/database"


class DbError(Exception):
    """A reason the command did nothing, for the terminal."""


def _sqlite_version(path: Path) -> int:
    if not path.is_file():
        return 0
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


async def _migrate(config_dir: Path) -> tuple[str, int, int]:
    """``(where, version before, version now)``."""
    from router.server.app import make_store  # noqa: PLC0415
    from router.server.settings import load_settings  # noqa: PLC0415
    from router.store.migrations import MIGRATIONS  # noqa: PLC0415
    from router.store.postgres import PostgresStore  # noqa: PLC0415
    from router.store.sqlite import SQLiteStore  # noqa: PLC0415

    settings = load_settings(config_dir)
    settings.store.writer = "thread"  # one short job: no writer process of its own
    store = make_store(settings, Path.cwd())
    if isinstance(store, PostgresStore):
        # opening applies what is pending under the cluster's migration lock, and says what it found there
        async with store:
            before, now = store.schema_versions
        return store.where, before, now
    assert isinstance(store, SQLiteStore)
    where, latest = store.path, len(MIGRATIONS)
    before = await asyncio.to_thread(_sqlite_version, Path(store.path)) if store.path != ":memory:" else 0
    if before > latest:
        raise DbError(f"{where} has schema version {before}, newer than this omnirouter ({latest}); upgrade omnirouter")
    async with store:  # opening applies what is pending (SQLite: one writer)
        pass
    return where, before, latest


def _migrate_command(args: argparse.Namespace) -> int:
    from router.store.errors import StoreError, StoreMisconfigured, StoreUnavailable  # noqa: PLC0415
    from router.yamlconf import ConfigError  # noqa: PLC0415

    try:
        where, before, now = asyncio.run(_migrate(Path(args.config)))
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    except (StoreMisconfigured, StoreUnavailable) as exc:
        print(f"omnirouter db migrate: {_store_problem(exc)}; nothing was changed", file=sys.stderr)
        return 1
    except (DbError, StoreError, RuntimeError) as exc:
        print(f"omnirouter db migrate: {exc}", file=sys.stderr)
        return 1
    done = f"{counted(now - before, 'migration', 'migrations')} applied" if now > before else "nothing to apply"
    print(f"{where}: schema version {now} ({done})")
    return 0


def _store_problem(exc: Exception) -> str:
    """What stopped a command before it changed anything, as ``omnirouter run`` says it."""
    from router.server.app import DATABASE_URL  # noqa: PLC0415
    from router.store.errors import StoreUnavailable  # noqa: PLC0415

    if isinstance(exc, StoreUnavailable):  # its reason says what cannot be reached: said once
        return exc.reason
    return f"the database's URL ({DATABASE_URL} or --to): {exc}; give its libpq URL ({URL_EXAMPLE})"


def _endpoints(source: str, target: str) -> tuple[Path, str]:
    kind, _, path = source.partition(":")
    if kind != "sqlite" or not path:
        raise DbError(f"--from {source!r}: give the SQLite store as sqlite:PATH")
    kind, _, dsn = target.partition(":")
    if kind != "postgres":
        raise DbError(f"--to {target!r}: give the database as postgres:URL ({URL_EXAMPLE})")
    from router.server.app import DATABASE_URL  # noqa: PLC0415

    # from the environment, the URL (and its password) stays out of the shell's history
    dsn = dsn or os.environ.get(DATABASE_URL, "").strip()
    if not dsn:
        raise DbError(f"--to postgres: names no database, and {DATABASE_URL} is not set")
    if not dsn.startswith(("postgresql://", "postgres://")):  # the driver's own words named its class
        given = "--to's URL" if target != "postgres:" else DATABASE_URL
        raise DbError(f"{given} is no PostgreSQL URL: give it as {URL_EXAMPLE}")
    return Path(path), dsn


def _progress(table: str, done: int, total: int) -> None:
    print(f"{table}: {done}/{total} rows", file=sys.stderr, flush=True)


def _copy_command(args: argparse.Namespace) -> int:
    from router.store.errors import StoreError, StoreMisconfigured, StoreUnavailable  # noqa: PLC0415
    from router.store.pg_copy import CopyError, copy_store  # noqa: PLC0415
    from router.store.postgres import redacted  # noqa: PLC0415

    try:
        path, dsn = _endpoints(args.source, args.target)
        copied = asyncio.run(copy_store(path, dsn, redacted(dsn), _progress))
    except (StoreMisconfigured, StoreUnavailable) as exc:
        print(f"omnirouter db copy: {_store_problem(exc)}; nothing was copied", file=sys.stderr)
        return 1
    except (DbError, CopyError, StoreError) as exc:
        print(f"omnirouter db copy: {exc}", file=sys.stderr)
        return 1
    print(f"copied {sum(copied.values())} rows of {len(copied)} tables from {path} to {redacted(dsn)}")
    return 0


def add_commands(sub: Any) -> None:
    """Register ``db`` and its subcommands on the main parser's subparsers."""
    db = sub.add_parser("db", help="the store's schema and data")
    cmds = db.add_subparsers(dest="db_command", required=True)
    migrate = cmds.add_parser(
        "migrate", help="apply the configured store's pending schema migrations",
        description="Applies what is pending (nodes starting together migrate once) and says the schema version.",
    )
    migrate.add_argument("--config", default="config", help="configuration folder of the store (default: config/)")
    migrate.set_defaults(func=_migrate_command)
    copy = cmds.add_parser(
        "copy", help="copy an SQLite store into an empty PostgreSQL database",
        description="Every table, in one transaction: all of it is copied or nothing. Stop the service first; "
                    "a database that already holds data is refused. postgres: without a URL reads "
                    "OMNIROUTER_DATABASE_URL.",
    )
    copy.add_argument("--from", dest="source", required=True, metavar="sqlite:PATH", help="the SQLite store")
    copy.add_argument("--to", dest="target", required=True, metavar="postgres:URL",
                      help="the empty PostgreSQL database")
    copy.set_defaults(func=_copy_command)
