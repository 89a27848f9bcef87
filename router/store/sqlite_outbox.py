"""The outbox's SQL for SQLite beyond queueing and finishing an entry: how
far a message sent in parts got, and what a finished entry keeps. Each
function is one step of a transaction run on the writer connection."""

from __future__ import annotations

import sqlite3


def record_part(conn: sqlite3.Connection, entry_id: str, parts_sent: int, external_id: str | None) -> None:
    """``parts_sent`` platform calls of a pending entry went out; a retry,
    even after a restart, resumes after them."""
    conn.execute(
        "UPDATE outbox SET parts_sent = ?, part_external_id = ? WHERE id = ? AND status = 'pending'",
        (parts_sent, external_id, entry_id),
    )


def keep_shown_text(conn: sqlite3.Connection, entry_id: str) -> None:
    """A finished (sent or dead) entry keeps only the text its stored message
    shows. The platform got the whole text; what the conversation masks (a
    one-time code) is then in no table. For every other message the two are
    the same and nothing is written."""
    conn.execute(
        "UPDATE outbox SET payload = json_set(outbox.payload, '$.text', m.text) FROM messages AS m"
        " WHERE outbox.id = ? AND m.id = outbox.message_id AND json_extract(outbox.payload, '$.text') IS NOT m.text",
        (entry_id,),
    )
