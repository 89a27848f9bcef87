"""SQLite's side of ``Store.last_contacts``: per channel the customer's
latest inbound message, and the intent the bot answered it with."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

from router.identity.contacts import ChannelContact, preview

# how far after the customer's message the bot's answer is looked for
_FOLLOWING = 10


def _answered_intent(conn: sqlite3.Connection, conversation_id: str | None, created_at: str, rowid: int
                     ) -> str | None:
    """The intent of the bot's answer to the message (before the customer wrote again)."""
    if conversation_id is None:
        return None
    rows = conn.execute(
        "SELECT direction, author, core FROM messages WHERE conversation_id = ?"
        " AND (created_at > ? OR (created_at = ? AND rowid > ?)) ORDER BY created_at, rowid LIMIT ?",
        (conversation_id, created_at, created_at, rowid, _FOLLOWING),
    ).fetchall()
    for direction, author, core in rows:
        if direction == "in":
            return None
        record = json.loads(core).get("bot") if author == "bot" else None
        if isinstance(record, dict) and record.get("kind") == "answer" and isinstance(record.get("intent"), str):
            return str(record["intent"])
    return None


def last_contacts(conn: sqlite3.Connection, customer_id: str) -> list[ChannelContact]:
    # SQLite takes the bare columns of an aggregate query from the row holding the MAX
    rows = conn.execute(
        "SELECT id, channel, conversation_id, text, json_extract(extras, '$.description'), created_at, rowid,"
        " MAX(created_at || printf('%020d', rowid))"
        " FROM messages WHERE customer_id = ? AND direction = 'in' GROUP BY channel",
        (customer_id,),
    ).fetchall()
    found = [
        ChannelContact(channel=channel, at=datetime.fromisoformat(created_at), conversation_id=conversation_id,
                       message_id=message_id, intent=_answered_intent(conn, conversation_id, created_at, rowid),
                       preview=preview(text or (description if isinstance(description, str) else "")))
        # a message without words (a photo, a contact) shows the connector's description, as conversation lists do
        for message_id, channel, conversation_id, text, description, created_at, rowid, _ in rows
    ]
    return sorted(found, key=lambda c: c.at, reverse=True)
