"""Outbox entries written straight into a store of either backend, for the
tests of claims and of several workers on one outbox. Queueing is the outbound
path's (``enqueue_outbound``, another slice, which needs a conversation and a
customer); these tests need only the entries: a message of no conversation
and its entry, rows shaped as that path writes them."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from router.models import Author, Delivery, Direction, Message, OutboundMessage, new_id
from router.store.base import Store
from router.store.pg_engine import PgConn
from router.store.pg_rows import insert_message
from router.store.postgres import PostgresStore
from router.store.rows import INSERT_MESSAGE, message_params, ts
from router.store.sqlite import SQLiteStore


def _sqlite_unit(conn: sqlite3.Connection, message: Message, payload: OutboundMessage, entry_id: str) -> None:
    conn.execute(INSERT_MESSAGE, message_params(message))
    conn.execute(
        "INSERT INTO outbox (id, message_id, conversation_id, payload, status, next_attempt_at, created_at)"
        " VALUES (?, ?, NULL, ?, 'pending', ?, ?)",
        (entry_id, message.id, payload.model_dump_json(), ts(message.created_at), ts(message.created_at)),
    )


async def _pg_unit(conn: PgConn, message: Message, payload: OutboundMessage, entry_id: str) -> None:
    await insert_message(conn, message)
    await conn.execute(
        "INSERT INTO outbox (id, message_id, conversation_id, payload, status, next_attempt_at, created_at)"
        " VALUES ($1, $2, NULL, $3, 'pending', $4, $4)",
        entry_id, message.id, payload.model_dump_json(), message.created_at,
    )


async def queue(store: Store, recipient: str, text: str, at: datetime, channel: str = "scripted") -> str:
    """A pending reply to ``recipient``, written at ``at``: its entry's id."""
    message = Message(id=new_id("msg"), conversation_id=None, customer_id=None, direction=Direction.OUT,
                      author=Author.AGENT, channel=channel, text=text, created_at=at, delivery=Delivery.PENDING)
    payload = OutboundMessage(message_id=message.id, channel=channel, recipient=recipient, author=Author.AGENT,
                              text=text, created_at=at)
    entry_id = new_id("out")
    if isinstance(store, SQLiteStore):
        await store._w.call(_sqlite_unit, message, payload, entry_id)
    elif isinstance(store, PostgresStore):
        await store._pg.write(_pg_unit, message, payload, entry_id)
    else:
        raise TypeError(f"no way to queue into {type(store).__name__}")
    return entry_id


async def delivery(store: Store, message_id: str) -> tuple[Delivery, str | None]:
    """A message's delivery state and the platform's id of it (read here, as
    reading messages is another slice's)."""
    if isinstance(store, PostgresStore):
        row = await store._pg.read(_pg_delivery, message_id)
    elif isinstance(store, SQLiteStore):
        row = await store._r.call(_sqlite_delivery, message_id)
    else:
        raise TypeError(f"no way to read {type(store).__name__}")
    return Delivery(row[0]), row[1]


async def _pg_delivery(conn: PgConn, message_id: str) -> tuple[str, str | None]:
    row = await conn.fetchrow("SELECT delivery, external_id FROM messages WHERE id = $1", message_id)
    assert row is not None
    return row["delivery"], row["external_id"]


def _sqlite_delivery(conn: sqlite3.Connection, message_id: str) -> tuple[str, str | None]:
    row = conn.execute("SELECT delivery, external_id FROM messages WHERE id = ?", (message_id,)).fetchone()
    assert row is not None
    return row[0], row[1]
