"""Following the event log on PostgreSQL, where sequence numbers are drawn
in one order and committed in another: an event whose transaction is still
running when a later-drawn one is read is not passed over, it is read once
its transaction commits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from router.reports.events import Kind
from router.store.postgres import PostgresStore
from tests.router.store.test_contract import T0, inbound, ingest


@pytest.fixture
async def pg(pg_database: str) -> AsyncIterator[PostgresStore]:
    async with PostgresStore(pg_database) as store:
        yield store


async def test_an_event_committed_after_a_later_one_is_still_read(pg: PostgresStore) -> None:
    _, slow = await ingest(pg, inbound("s1", sender="u1"), T0)
    cursor = await pg.event_cursor()
    async with pg._pg.pool.acquire() as conn, conn.transaction():
        # this transaction draws its event's seq first, and commits last
        await conn.execute("UPDATE conversations SET status = 'resolved', resolved_at = $1, updated_at = $1"
                           " WHERE id = $2", T0 + timedelta(seconds=5), slow)
        _, fast = await ingest(pg, inbound("f1", sender="u2"), T0 + timedelta(seconds=6))
        found, cursor = await pg.events_after(cursor, 100)
        assert found == []  # the fast one waits behind the transaction still running
    found, cursor = await pg.events_after(cursor, 100)
    assert [(e.conversation_id, e.kind) for e in found] == [(slow, Kind.RESOLVED), (fast, Kind.OPENED),
                                                            (fast, Kind.QUEUED)]
    assert await pg.events_after(cursor, 100) == ([], cursor)
