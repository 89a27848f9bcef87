"""The PostgreSQL server ends the store's connections (a restart, a failover,
``pg_terminate_backend``): the next write on one of them is an outage
(``StoreUnavailable``, which every caller handles: a 503, a worker's backoff),
never a driver's error that the callers do not know, and the write after it
goes through on a fresh connection. The outbox worker, whose every pass
starts with a write (its claim), died of it and sent nothing more."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
import pytest

from router.models import utcnow
from router.store.errors import StoreUnavailable
from router.store.postgres import PostgresStore
from tests.conftest import HANG, eventually
from tests.router.cluster.helpers import Link

ROUNDS = 5
POOL = 2  # connections, each of which may fail one write after the server ended it
SILENCE = 1.0  # seconds: the statement timeout of a store whose link goes silent (a node's is a minute)


async def test_a_write_on_a_connection_the_server_ended_is_an_outage_then_writes_go_on(pg_database: str) -> None:
    store = PostgresStore(pg_database, pool_size=POOL)
    await store.open()
    admin = await asyncpg.connect(pg_database)
    try:
        for _ in range(ROUNDS):
            await store.claim_outbox("node-1", 10, utcnow(), timedelta(seconds=60))  # the pool's connection is in use
            await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                                " WHERE application_name = 'omnirouter' AND pid <> pg_backend_pid()")
            outages = 0
            while True:
                try:
                    await store.claim_outbox("node-1", 10, utcnow(), timedelta(seconds=60))
                    break  # over: a fresh connection
                except StoreUnavailable:
                    outages += 1  # a connection the server ended: an outage, said as such
                assert outages <= POOL, "still failing once every ended connection was dropped"
    finally:
        await admin.close()
        await store.close()


async def test_a_database_gone_silent_is_an_outage_within_the_statement_timeout(pg_database: str) -> None:
    """The link to the database goes silent (no error, no answer: a network partition):
    a write is an outage once the statement timeout has passed, not a request hanging for
    ever, and the node says so on /healthz (ping); once the link is back, writes go on."""
    host, port = _host_port(pg_database)
    link = Link(host, port)
    through = pg_database.replace(f"{host}:{port}", f"127.0.0.1:{await link.start()}")
    store = PostgresStore(through, pool_size=POOL, statement_timeout=SILENCE)
    await store.open()
    try:
        await store.ping()
        link.hold()
        with pytest.raises(StoreUnavailable, match="did not answer in time"):
            await asyncio.wait_for(store.claim_outbox("node-1", 10, utcnow(), timedelta(seconds=60)), HANG)
        with pytest.raises(StoreUnavailable):
            await asyncio.wait_for(store.ping(), HANG)
        link.flowing.set()
        link.cut()  # what a silent link ends in: the server's keepalive gives up on it

        async def stores() -> bool:
            try:
                await store.ping()
            except StoreUnavailable:
                return False
            return True

        await eventually(stores, "writes to go through again")
    finally:
        link.flowing.set()
        await asyncio.wait_for(store.close(), HANG)
        await link.close()


def _host_port(dsn: str) -> tuple[str, int]:
    where = dsn.split("@", 1)[1].split("/", 1)[0]
    host, port = where.rsplit(":", 1)
    return host, int(port)
