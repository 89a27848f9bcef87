"""The part of an unmerge that cannot be read back from the merge's snapshot:
what happened while the two customers were one. Messages either side sent
meanwhile go back to their sender's side, and a conversation whose contents
changed is summed up again from what it holds (its channel is the channel
its customer last wrote from, not the other side's)."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from typing import Any

from router.identity.rules import Said, return_target, returned_messages, summary
from router.models import DESCRIPTION_EXTRA as DESCRIPTION

log = logging.getLogger(__name__)

def _conversations(conn: sqlite3.Connection, customer_id: str) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(
        "SELECT id, status, created_at FROM conversations WHERE customer_id = ? ORDER BY rowid", (customer_id,))]


def _written_since(conn: sqlite3.Connection, customer_id: str, since: str) -> Iterator[dict[str, Any]]:
    rows = conn.execute(
        "SELECT m.id, m.direction, m.sender_kind, m.sender_value, m.core, m.conversation_id,"
        " c.customer_id AS owner FROM messages m LEFT JOIN conversations c ON c.id = m.conversation_id"
        " WHERE m.customer_id = ? AND m.created_at >= ?", (customer_id, since),
    )
    for m in rows:
        # the stored identity is the normalised one (core.identity) when the sender was written otherwise
        sender = (m["sender_kind"], json.loads(m["core"]).get("identity") or m["sender_value"])
        yield {"id": m["id"], "direction": m["direction"], "sender": sender, "conversation_id": m["conversation_id"],
               "owner": m["owner"]}


def return_later_messages(conn: sqlite3.Connection, snapshot: dict[str, Any], since: str) -> set[str]:
    """Messages sent while merged go back to their sender's side
    (``rules.returned_messages``); returns the conversations that lost or
    gained messages."""
    theirs = {(i["kind"], i["value"]) for i in snapshot["identities"]}
    merged_id, survivor_id = snapshot["merged"]["id"], snapshot["survivor"]["id"]
    targets = {side: return_target(_conversations(conn, side)) for side in (merged_id, survivor_id)}
    moves, touched = returned_messages(_written_since(conn, survivor_id, since), theirs, merged_id, survivor_id,
                                       targets)
    conn.executemany("UPDATE messages SET customer_id = ?, conversation_id = ? WHERE id = ?", moves)
    if moves:
        log.info("%d message(s) sent during the merge went back to their sender's side", len(moves))
    return touched


def _newest_first(conn: sqlite3.Connection, conversation_id: str) -> Iterator[Said]:
    rows = conn.execute("SELECT created_at, text, channel, direction, author, extras, core FROM messages"
                        " WHERE conversation_id = ? ORDER BY created_at DESC, rowid DESC", (conversation_id,))
    for r in rows:
        yield Said(r["created_at"], r["text"], r["channel"], r["direction"], r["author"],
                   automatic=json.loads(r["core"]).get("automatic"),
                   description=json.loads(r["extras"]).get(DESCRIPTION))


def settle(conn: sqlite3.Connection, conversation_ids: set[str], now: str) -> None:
    """Sum each conversation up again from the messages it holds now (``rules.summary``)."""
    for conversation_id in sorted(conversation_ids):
        channel, last = summary(_newest_first(conn, conversation_id))
        if channel is not None:
            conn.execute("UPDATE conversations SET channel = ? WHERE id = ?", (channel, conversation_id))
        if last is not None:
            conn.execute("UPDATE conversations SET last_message_at = ?, last_message_text = ? WHERE id = ?",
                         (*last, conversation_id))
        conn.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id))
