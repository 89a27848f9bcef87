"""Notes and mentions from their rows, a ``sqlite3.Row`` or an asyncpg
``Record`` alike, and the SQL both backends share word for word."""

from __future__ import annotations

import json

from router.notes.models import Mention, Note
from router.store.rows import RowLike, from_ts, parse_ts

# a note's columns, with the ids of the agents it mentions as a JSON array's text
NOTE_COLUMNS = "n.id, n.conversation_id, n.agent_id, n.agent_name, n.text, n.created_at"


def note_row(row: RowLike) -> Note:
    mentioned = row["mentions"]
    return Note(id=row["id"], conversation_id=row["conversation_id"], agent_id=row["agent_id"],
                agent_name=row["agent_name"], text=row["text"], created_at=from_ts(row["created_at"]),
                mentions=json.loads(mentioned) if mentioned else [])


def mention_row(row: RowLike) -> Mention:
    return Mention(note=note_row(row), agent_id=row["mentioned"], read_at=parse_ts(row["read_at"]),
                   customer_id=row["customer_id"], customer_name=row["customer_name"])
