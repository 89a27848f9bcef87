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

from router.identity.rules import summary
from router.models import DESCRIPTION_EXTRA as DESCRIPTION

log = logging.getLogger(__name__)

def _target(conn: sqlite3.Connection, customer_id: str) -> str | None:
    """Where a customer's returning message goes: their open conversation, or their latest."""
    row = conn.execute("SELECT id FROM conversations WHERE customer_id = ?"
                       " ORDER BY status = 'resolved', created_at DESC, rowid DESC LIMIT 1", (customer_id,)).fetchone()
    return str(row[0]) if row is not None else None


def return_later_messages(conn: sqlite3.Connection, snapshot: dict[str, Any], since: str) -> set[str]:
    """Messages sent while merged go back to the side whose identity sent
    them (the merged customer's identities are in the snapshot; any other is
    the survivor's), into a conversation of that side. Returns the
    conversations that lost or gained messages."""
    theirs = {(i["kind"], i["value"]) for i in snapshot["identities"]}
    merged_id, survivor_id = snapshot["merged"]["id"], snapshot["survivor"]["id"]
    later = conn.execute(
        "SELECT m.id, m.sender_kind, m.sender_value, m.extras, m.conversation_id, c.customer_id AS owner"
        " FROM messages m LEFT JOIN conversations c ON c.id = m.conversation_id"
        " WHERE m.customer_id = ? AND m.direction = 'in' AND m.created_at >= ?", (survivor_id, since),
    ).fetchall()
    targets = {merged_id: _target(conn, merged_id), survivor_id: _target(conn, survivor_id)}
    touched: set[str] = set()
    moves: list[tuple[str, str | None, str]] = []
    for m in later:
        # the stored identity is the normalised one (extras.identity) when the sender was written otherwise
        sender = (m["sender_kind"], json.loads(m["extras"]).get("identity") or m["sender_value"])
        side = merged_id if sender in theirs else survivor_id
        if side == survivor_id and m["owner"] in (survivor_id, None):
            continue  # the survivor's own, in the survivor's own conversation
        target = m["conversation_id"] if m["owner"] == side else targets[side]
        if target is None:
            continue  # that side has no conversation to take it back
        moves.append((side, target, m["id"]))
        touched |= {target, m["conversation_id"]} - {None}
    conn.executemany("UPDATE messages SET customer_id = ?, conversation_id = ? WHERE id = ?", moves)
    if moves:
        log.info("%d message(s) sent during the merge went back to their sender's side", len(moves))
    return touched


def _newest_first(conn: sqlite3.Connection, conversation_id: str) -> Iterator[dict[str, Any]]:
    rows = conn.execute("SELECT created_at, text, channel, direction, author, extras FROM messages"
                        " WHERE conversation_id = ? ORDER BY created_at DESC, rowid DESC", (conversation_id,))
    for r in rows:
        extras = json.loads(r["extras"])
        yield {**dict(r), "extras": extras, "description": extras.get(DESCRIPTION)}


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
