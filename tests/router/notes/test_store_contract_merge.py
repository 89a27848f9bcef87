"""Notes through a customer merge and its undo, on every backend of
tests/router/store/test_contract.py. A merge folds the newer open
conversation into the older one: the notes written beside it (and the
mentions they made) go with its messages, so the agent working the kept
conversation sees them and a mention opens the thread they belong to; the
unmerge puts every note and mention back exactly."""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import timedelta

from router.identity.types import MergeRequest
from router.models import ConversationStatus, Role
from router.store.base import Store
from router.store.pg_engine import PgConn
from router.store.postgres import PostgresStore
from router.store.sqlite import SQLiteStore
from tests.router.identity.test_store_contract import _customer_with_conversation
from tests.router.notes.test_store_contract import note
from tests.router.store.test_contract import T0

Rows = dict[str, dict[str, dict[str, object]]]
# every notes table a merge moves, and how a row of it is named
_TABLES = {"notes": "id", "note_mentions": "note_id || ':' || agent_id"}


async def _pg_rows(conn: PgConn) -> Rows:
    rows: Rows = {}
    for table, name in _TABLES.items():
        found = [dict(r) for r in await conn.fetch(f"SELECT {name} AS _name, * FROM {table}")]
        rows[table] = {str(r.pop("_name")): r for r in found}
    return rows


async def _note_rows(store: Store) -> Rows:
    """Every row, every column, of the notes and their mentions, read from the database itself."""
    if isinstance(store, PostgresStore):
        return await store._pg.read(_pg_rows)
    assert isinstance(store, SQLiteStore)
    with contextlib.closing(sqlite3.connect(store.path)) as db:
        db.row_factory = sqlite3.Row
        rows: Rows = {}
        for table, name in _TABLES.items():
            found = [dict(r) for r in db.execute(f"SELECT {name} AS _name, * FROM {table}")]
            rows[table] = {str(r.pop("_name")): r for r in found}
        return rows


async def test_a_folded_conversations_notes_and_mentions_follow_it_and_come_back(store: Store) -> None:
    a, conv_a, _ = await _customer_with_conversation(store, "anna-web", T0)
    b, conv_b, _ = await _customer_with_conversation(store, "anna-tg", T0 + timedelta(minutes=5), "telegram")
    ann = await store.create_agent("ann", "Ann", Role.AGENT, "hash")
    bob = await store.create_agent("bob", "Bob", Role.AGENT, "hash")
    kept_note = note(conv_a, ann.id, "already on conv_a", at=400)
    folded = [note(conv_b, ann.id, "@bob the courier lost it", [bob.id], at=600),
              note(conv_b, ann.id, "refund approved", at=700)]
    for n in (kept_note, *folded):
        await store.add_note(n)
    before = await _note_rows(store)

    record = await store.merge_customers(MergeRequest(a, b, "agent", "agt_1", "same person"), T0 + timedelta(hours=1))
    convs = {c.id: c.status for c in await store.customer_conversations(a)}
    assert convs[conv_b] is ConversationStatus.RESOLVED and convs[conv_a] is not ConversationStatus.RESOLVED
    # the kept thread shows every note, in time order; the closed one none
    assert [n.id for n in await store.conversation_notes(conv_a, 10)] == [kept_note.id, *(n.id for n in folded)]
    assert await store.conversation_notes(conv_b, 10) == []
    # Bob's mention opens the thread the note is in now, and opening it reads the mention
    assert [m.note.conversation_id for m in await store.agent_mentions(bob.id, 10)] == [conv_a]
    moved = await _note_rows(store)
    assert {r["conversation_id"] for r in moved["note_mentions"].values()} == {conv_a}

    await store.unmerge_customers(record.id, "agt_1", "two people", T0 + timedelta(hours=2))
    assert await _note_rows(store) == before
    assert [n.id for n in await store.conversation_notes(conv_b, 10)] == [n.id for n in folded]
    assert [n.id for n in await store.conversation_notes(conv_a, 10)] == [kept_note.id]
    assert await store.mark_mentions_read(bob.id, conv_b, T0 + timedelta(hours=3)) == 1
