"""The part of an unmerge that cannot be read back from the merge's snapshot,
on PostgreSQL (``sqlite_unmerge`` on SQLite): what happened while the two
customers were one. Messages either side sent meanwhile go back to their
sender's side, and a conversation whose contents changed is summed up again
from what it holds (its channel is the channel its customer last wrote
from, not the other side's). Runs in ``_unmerge``'s transaction, under its
locks."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from router.identity.rules import Said, return_target, returned_messages, summary
from router.models import DESCRIPTION_EXTRA as DESCRIPTION
from router.store.pg_engine import PgConn

log = logging.getLogger(__name__)


async def _conversations(conn: PgConn, customer_id: str) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(
        "SELECT id, status, created_at FROM conversations WHERE customer_id = $1 ORDER BY seq",
        customer_id)]


async def _written_since(conn: PgConn, customer_id: str, since: datetime) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT m.id, m.direction, m.sender_kind, m.sender_value, m.core->>'identity' AS identity,"
        " m.conversation_id, c.customer_id AS owner FROM messages m"
        " LEFT JOIN conversations c ON c.id = m.conversation_id"
        " WHERE m.customer_id = $1 AND m.created_at >= $2 ORDER BY m.seq", customer_id, since,
    )
    # the stored identity is the normalised one (core.identity) when the sender was written otherwise
    return [{"id": m["id"], "direction": m["direction"],
             "sender": (m["sender_kind"], m["identity"] or m["sender_value"]),
             "conversation_id": m["conversation_id"], "owner": m["owner"]} for m in rows]


async def return_later_messages(conn: PgConn, snapshot: dict[str, Any], since: datetime) -> set[str]:
    """Messages sent while merged go back to their sender's side
    (``rules.returned_messages``); returns the conversations that lost or
    gained messages."""
    theirs = {(i["kind"], i["value"]) for i in snapshot["identities"]}
    merged_id, survivor_id = snapshot["merged"]["id"], snapshot["survivor"]["id"]
    targets = {side: return_target(await _conversations(conn, side)) for side in (merged_id, survivor_id)}
    moves, touched = returned_messages(await _written_since(conn, survivor_id, since), theirs, merged_id,
                                       survivor_id, targets)
    await conn.executemany("UPDATE messages SET customer_id = $1, conversation_id = $2 WHERE id = $3", moves)
    if moves:
        log.info("%d message(s) sent during the merge went back to their sender's side", len(moves))
    return touched


async def _newest_first(conn: PgConn, conversation_id: str) -> Iterator[Said]:
    rows = await conn.fetch("SELECT created_at, text, channel, direction, author, extras, core FROM messages"
                            " WHERE conversation_id = $1 ORDER BY created_at DESC, seq DESC", conversation_id)
    return (Said(r["created_at"], r["text"], r["channel"], r["direction"], r["author"],
                 automatic=json.loads(r["core"]).get("automatic"),
                 description=json.loads(r["extras"]).get(DESCRIPTION)) for r in rows)


async def settle(conn: PgConn, conversation_ids: set[str], now: datetime) -> None:
    """Sum each conversation up again from the messages it holds now (``rules.summary``)."""
    for conversation_id in sorted(conversation_ids):
        channel, last = summary(await _newest_first(conn, conversation_id))
        if channel is not None:
            await conn.execute("UPDATE conversations SET channel = $1 WHERE id = $2", channel, conversation_id)
        if last is not None:
            await conn.execute("UPDATE conversations SET last_message_at = $1, last_message_text = $2 WHERE id = $3",
                               *last, conversation_id)
        await conn.execute("UPDATE conversations SET updated_at = $1 WHERE id = $2", now, conversation_id)
