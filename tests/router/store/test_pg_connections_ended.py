"""The PostgreSQL server ends the store's connections (a restart, a failover,
``pg_terminate_backend``): the next write on one of them is an outage
(``StoreUnavailable``, which every caller handles: a 503, a worker's backoff),
never a driver's error that the callers do not know, and the write after it
goes through on a fresh connection. The outbox worker, whose every pass
starts with a write (its claim), died of it and sent nothing more."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from router.models import utcnow
from router.store.errors import StoreUnavailable
from router.store.postgres import PostgresStore

ROUNDS = 5
POOL = 2  # connections, each of which may fail one write after the server ended it


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
