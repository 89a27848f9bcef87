"""The notes' SQL on SQLite. Mixed into ``SQLiteStore``, which gives it the
writer and reader connections; storage and atomicity only, the rules are in
``router.notes.service``."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from router.notes.models import Mention, Note
from router.notes.rows import NOTE_COLUMNS, mention_row, note_row
from router.notes.store import NoteStore
from router.store.engine import Connections
from router.store.errors import NotFound
from router.store.rows import execute as _execute
from router.store.rows import fetch_all as _all
from router.store.rows import fetch_one as _one
from router.store.rows import ts

_MENTIONED = "(SELECT json_group_array(agent_id) FROM note_mentions WHERE note_id = n.id) AS mentions"


def _add(conn: sqlite3.Connection, note: Note) -> None:
    if _one(conn, "SELECT 1 FROM conversations WHERE id = ?", (note.conversation_id,)) is None:
        raise NotFound(f"conversation {note.conversation_id}")
    created = ts(note.created_at)
    conn.execute(
        "INSERT INTO notes (id, conversation_id, agent_id, agent_name, text, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        (note.id, note.conversation_id, note.agent_id, note.agent_name, note.text, created),
    )
    conn.executemany(
        "INSERT INTO note_mentions (note_id, agent_id, conversation_id, created_at) VALUES (?, ?, ?, ?)",
        [(note.id, agent_id, note.conversation_id, created) for agent_id in note.mentions],
    )


class SQLiteNotes(NoteStore, Connections):
    async def add_note(self, note: Note) -> None:
        await self._w.call(_add, note)

    async def conversation_notes(self, conversation_id: str, limit: int) -> list[Note]:
        rows = await self._r.call(
            _all,
            # ties in time in the order written (rowid), as PostgreSQL's seq has them
            f"SELECT * FROM (SELECT {NOTE_COLUMNS}, n.rowid AS seq, {_MENTIONED} FROM notes n WHERE n.conversation_id"
            " = ? ORDER BY n.created_at DESC, n.rowid DESC LIMIT ?) ORDER BY created_at, seq",
            (conversation_id, limit),
        )
        return [note_row(r) for r in rows]

    async def agent_mentions(self, agent_id: str, limit: int) -> list[Mention]:
        rows = await self._r.call(
            _all,
            f"SELECT {NOTE_COLUMNS}, {_MENTIONED}, m.agent_id AS mentioned, m.read_at,"
            " c.customer_id, cu.display_name AS customer_name FROM note_mentions m JOIN notes n ON n.id = m.note_id"
            " JOIN conversations c ON c.id = n.conversation_id JOIN customers cu ON cu.id = c.customer_id"
            " WHERE m.agent_id = ? ORDER BY m.created_at DESC, n.rowid DESC LIMIT ?",
            (agent_id, limit),
        )
        return [mention_row(r) for r in rows]

    async def unread_mentions(self, agent_id: str) -> int:
        row = await self._r.call(
            _one, "SELECT count(*) FROM note_mentions WHERE agent_id = ? AND read_at IS NULL", (agent_id,))
        return int(row[0]) if row is not None else 0

    async def mark_mentions_read(self, agent_id: str, conversation_id: str, now: datetime) -> int:
        return await self._w.call(
            _execute,
            "UPDATE note_mentions SET read_at = ? WHERE agent_id = ? AND conversation_id = ? AND read_at IS NULL",
            (ts(now), agent_id, conversation_id),
        )
