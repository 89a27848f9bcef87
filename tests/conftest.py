"""Shared fixtures: a real app on a real port with a real SQLite file."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from argon2 import PasswordHasher

from agents_ui.sessions import ADMIN_SEED
from router.accounts import service
from router.config import Settings
from router.server.app import DATABASE_URL, create_app
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.postgres_server import Server, fresh_database, start_server

ADMIN_PASSWORD = "correct horse battery staple"

AppClient = Callable[..., Awaitable[TestClient[web.Request, web.Application]]]

T = TypeVar("T")

# How long a test waits for something that must happen (a frame, a process's
# exit, a row): a hang detector, never a speed assertion. A busy 2-core machine
# can be many times slower than an idle one; whatever comes, comes long before.
HANG = 120.0


async def eventually(probe: Callable[[], Awaitable[T | None]], what: str, seconds: float = HANG) -> T:
    """Poll until ``probe`` returns something, without guessing a sleep;
    ``seconds`` is a hang detector."""
    deadline = time.monotonic() + seconds
    while True:
        found = await probe()
        if found is not None and found is not False:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


# argon2 at its production cost takes 0.3-1.6 s per hash or check on 2 cores, and
# almost every test seeds an admin and logs in: tests in this process hash with
# the least cost instead (the same code, the same library, cheaper parameters).
# A test of the cost itself is marked real_password_hashing; the services the
# browser and signal tests start as processes keep the real cost.
QUICK_ARGON2 = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "real_password_hashing: hash passwords at argon2's production cost")


@pytest.fixture(autouse=True)
def quick_password_hashing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.node.get_closest_marker("real_password_hashing") is None:
        monkeypatch.setattr(service, "_hasher", QUICK_ARGON2)


# OMNIROUTER_TEST_STORE=postgres runs every test of the app on PostgreSQL (a database of
# each test's own on the session's server) instead of SQLite: the whole suite as the
# PostgreSQL backend's acceptance run, beside the store's contract suite that runs on both
TEST_STORE = os.environ.get("OMNIROUTER_TEST_STORE", "sqlite")


def sqlite_only(postgres_twin: str) -> pytest.MarkDecorator:
    """For a test of a mechanism SQLite's setup alone has (its file, its writer process, the
    in-memory login counter's clock): skipped under OMNIROUTER_TEST_STORE=postgres, whose
    twin ``postgres_twin`` names."""
    return pytest.mark.skipif(TEST_STORE == "postgres", reason=f"SQLite's own; on PostgreSQL: {postgres_twin}")


@pytest.fixture
def settings(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    s = Settings()
    if TEST_STORE == "postgres":
        s.store.backend = "postgres"
        monkeypatch.setenv(DATABASE_URL, request.getfixturevalue("pg_database"))
    s.store.path = str(tmp_path / "omnirouter.db")
    # a thread: the default process costs ~0.3 s to start and stop, in each of
    # hundreds of tests; the process is tested by the store's contract suite,
    # tests/router/store/test_sqlite.py, the signal tests and the browser tests
    s.store.writer = "thread"
    s.outbox.backoff_initial = 0.01
    s.outbox.backoff_max = 0.05
    s.outbox.max_attempts = 3
    return s


@pytest.fixture
def make_client(
    settings: Settings,
    aiohttp_client: Callable[..., Awaitable[TestClient[web.Request, web.Application]]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AppClient:
    """Start the whole service (store, router, connectors, console) on port 0.

    ``settings`` first: set up before the apps, so torn down after them. On
    PostgreSQL it holds the test's database, which would otherwise be dropped
    while the apps' background tasks (the outbox, the assigner) still use it."""
    monkeypatch.setenv("OMNIROUTER_ADMIN_PASSWORD", ADMIN_PASSWORD)

    async def make(s: Settings | None = None) -> TestClient[web.Request, web.Application]:
        app = create_app(s or settings, base_dir=tmp_path)
        client = await aiohttp_client(app)
        await app[ADMIN_SEED].wait()  # ready as a user finds it: the first start's admin account exists
        return client

    return make


@pytest.fixture
async def client(make_client: AppClient) -> TestClient[web.Request, web.Application]:
    return await make_client()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Server]:
    """One real PostgreSQL server for the whole run (tests/postgres_server.py)."""
    server = start_server()
    yield server
    server.stop()


@pytest.fixture
def pg_database(pg_server: Server) -> Iterator[str]:
    """The DSN of a new, empty database of the test's own on ``pg_server``."""
    with fresh_database(pg_server) as dsn:
        yield dsn


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    """An integrator's webhook endpoint on a free local port (tests/fakes/webhook_receiver.py)."""
    async with WebhookReceiver() as fake:
        yield fake
