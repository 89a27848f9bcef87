"""The store an identity pipeline test runs on: SQLite, or PostgreSQL under
OMNIROUTER_TEST_STORE=postgres (a fresh database on the session's server),
so that the bot's code offers, checks and merges pass on both backends."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from router.store.base import Store
from router.store.postgres import PostgresStore
from router.store.sqlite import SQLiteStore
from tests.conftest import TEST_STORE
from tests.postgres_server import fresh_database


@contextlib.asynccontextmanager
async def fresh_store(request: pytest.FixtureRequest, path: Path) -> AsyncIterator[Store]:
    """A new, empty store: the SQLite file ``path``, or a database of its own."""
    if TEST_STORE != "postgres":
        async with SQLiteStore(path) as store:
            yield store
        return
    with fresh_database(request.getfixturevalue("pg_server")) as dsn:
        async with PostgresStore(dsn) as store:
            yield store
