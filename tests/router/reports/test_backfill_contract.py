"""Conversations from before the event log (router/reports/schema.py), on
every backend of tests/router/store/test_contract.py: the log's migration,
run on a database that has conversations, backfills what is known of them;
and a conversation with no opening in the log gets no first_reply per reply."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import asyncpg
import pytest

from router.models import ConversationStatus, Role
from router.reports import schema
from router.reports.events import Kind
from tests.router.reports.test_figures_contract import SUPPORT, _open, _reply, _resolve, at
from tests.router.store.test_contract import StoreFactory

_DROP_SQLITE = """
DROP TRIGGER conversation_events_opened; DROP TRIGGER conversation_events_changed;
DROP TRIGGER conversation_events_first_reply; DROP TRIGGER conversation_events_unmerged;
DROP TABLE conversation_events;
"""
_DROP_PG = """
DROP TABLE conversation_events;
DROP FUNCTION omnirouter_conversation_events, omnirouter_first_reply, omnirouter_unmerged CASCADE;
"""


async def _as_before_the_log(request: pytest.FixtureRequest, tmp_path: Path, keep: list[str]) -> None:
    """The database as an older omnirouter left it (no log), then the log's migration run on it; the
    events of the conversations not in ``keep`` deleted after (a log that has no opening of them)."""
    backend = request.node.callspec.params["store_factory"]
    forget = "DELETE FROM conversation_events WHERE NOT conversation_id IN ({})"
    if backend.startswith("sqlite"):
        conn = sqlite3.connect(tmp_path / "contract.db")
        try:
            conn.executescript(f"BEGIN;\n{_DROP_SQLITE}\n{schema.SQLITE}\nCOMMIT;")
            conn.execute(forget.format(", ".join("?" * len(keep))), keep)
            conn.commit()
        finally:
            conn.close()
        return
    pg = await asyncpg.connect(request.getfixturevalue("pg_database"))
    try:
        async with pg.transaction():
            await pg.execute(_DROP_PG)
            await pg.execute(schema.POSTGRES)
            await pg.execute(forget.format(", ".join(f"${n + 1}" for n in range(len(keep)))), *keep)
    finally:
        await pg.close()


async def test_the_migration_backfills_and_an_unlogged_conversation_gets_no_first_reply_per_reply(
        request: pytest.FixtureRequest, tmp_path: Path, store_factory: StoreFactory) -> None:
    async with store_factory() as store:
        ann = (await store.create_agent("ann", "Ann", Role.AGENT, "hash")).id
        answered = await _open(store, "u1", at(9, 0), SUPPORT)
        await _reply(store, answered, ann, at(9, 4))
        await _reply(store, answered, ann, at(9, 6))
        await _resolve(store, answered, ann, at(9, 30))
        waiting = await _open(store, "u2", at(10, 0), SUPPORT)
        unlogged = await _open(store, "u3", at(11, 0), SUPPORT)
    await _as_before_the_log(request, tmp_path, keep=[answered, waiting])

    async with store_factory() as store:
        events = await store.events_of(answered)
        assert [(e.kind, e.at, e.agent_id) for e in events] == [
            # never assigned: a resolve keeps the handler (none), not whoever clicked (states.agent_after)
            (Kind.OPENED, at(9, 0), None), (Kind.FIRST_REPLY, at(9, 4), ann), (Kind.RESOLVED, at(9, 30), None)]
        assert events[0].how == "backfill"
        await _reply(store, waiting, ann, at(10, 5))
        await _reply(store, waiting, ann, at(10, 7))
        assert [(e.kind, e.at) for e in await store.events_of(waiting)] == [
            (Kind.OPENED, at(10, 0)), (Kind.FIRST_REPLY, at(10, 5))]
        await _reply(store, unlogged, ann, at(11, 5))
        await _reply(store, unlogged, ann, at(11, 7))
        assert await store.events_of(unlogged) == []  # not one first_reply per reply
        await store.set_conversation_state(unlogged, ConversationStatus.RESOLVED, ann, at(11, 9))
        assert [e.kind for e in await store.events_of(unlogged)] == [Kind.RESOLVED]
