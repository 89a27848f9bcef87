"""The notes' SQL on PostgreSQL, as ``router.notes.sqlite`` has it. Mixed
into ``PostgresStore``, which gives it the pool (``router.store.pg_engine``).
A note takes no lock of its own (``router.notes.store``): its inserts' foreign
keys share-lock the conversation and the agents, which nothing here waits on."""

from __future__ import annotations

from datetime import datetime

from router.notes.models import Mention, Note
from router.notes.rows import NOTE_COLUMNS, mention_row, note_row
from router.notes.store import NoteStore
from router.store.errors import NotFound
from router.store.pg_engine import PgConn, PgConnections, rows_changed

_MENTIONED = ("(SELECT COALESCE(json_agg(agent_id ORDER BY agent_id), '[]')::text FROM note_mentions"
              " WHERE note_id = n.id) AS mentions")


async def _add(conn: PgConn, note: Note) -> None:
    if await conn.fetchval("SELECT 1 FROM conversations WHERE id = $1", note.conversation_id) is None:
        raise NotFound(f"conversation {note.conversation_id}")
    await conn.execute(
        "INSERT INTO notes (id, conversation_id, agent_id, agent_name, text, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        note.id, note.conversation_id, note.agent_id, note.agent_name, note.text, note.created_at,
    )
    if note.mentions:
        await conn.executemany(
            "INSERT INTO note_mentions (note_id, agent_id, conversation_id, created_at) VALUES ($1, $2, $3, $4)",
            [(note.id, agent_id, note.conversation_id, note.created_at) for agent_id in note.mentions],
        )


async def _notes(conn: PgConn, conversation_id: str, limit: int) -> list[Note]:
    rows = await conn.fetch(
        f"SELECT * FROM (SELECT {NOTE_COLUMNS}, n.seq, {_MENTIONED} FROM notes n WHERE n.conversation_id = $1"
        " ORDER BY n.created_at DESC, n.seq DESC LIMIT $2) latest ORDER BY created_at, seq",
        conversation_id, limit,
    )
    return [note_row(r) for r in rows]


async def _mentions(conn: PgConn, agent_id: str, limit: int) -> list[Mention]:
    rows = await conn.fetch(
        f"SELECT {NOTE_COLUMNS}, {_MENTIONED}, m.agent_id AS mentioned, m.read_at,"
        " c.customer_id, cu.display_name AS customer_name FROM note_mentions m JOIN notes n ON n.id = m.note_id"
        " JOIN conversations c ON c.id = n.conversation_id JOIN customers cu ON cu.id = c.customer_id"
        " WHERE m.agent_id = $1 ORDER BY m.created_at DESC, n.seq DESC LIMIT $2",
        agent_id, limit,
    )
    return [mention_row(r) for r in rows]


async def _unread(conn: PgConn, agent_id: str) -> int:
    count = await conn.fetchval(
        "SELECT count(*) FROM note_mentions WHERE agent_id = $1 AND read_at IS NULL", agent_id)
    return int(count or 0)


async def _mark_read(conn: PgConn, agent_id: str, conversation_id: str, now: datetime) -> int:
    return rows_changed(await conn.execute(
        "UPDATE note_mentions SET read_at = $1 WHERE agent_id = $2 AND conversation_id = $3 AND read_at IS NULL",
        now, agent_id, conversation_id,
    ))


class PostgresNotes(NoteStore, PgConnections):
    async def add_note(self, note: Note) -> None:
        await self._pg.write(_add, note)

    async def conversation_notes(self, conversation_id: str, limit: int) -> list[Note]:
        return await self._pg.read(_notes, conversation_id, limit)

    async def agent_mentions(self, agent_id: str, limit: int) -> list[Mention]:
        return await self._pg.read(_mentions, agent_id, limit)

    async def unread_mentions(self, agent_id: str) -> int:
        return await self._pg.read(_unread, agent_id)

    async def mark_mentions_read(self, agent_id: str, conversation_id: str, now: datetime) -> int:
        return await self._pg.write_statement(_mark_read, agent_id, conversation_id, now)
