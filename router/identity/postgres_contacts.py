"""PostgreSQL's side of ``Store.last_contacts``: per channel the customer's
latest inbound message, and the intent the bot answered it with (as
``sqlite_contacts``; ``seq`` orders messages stored in the same instant, as
``rowid`` does there)."""

from __future__ import annotations

import json
from datetime import datetime

from router.identity.contacts import ChannelContact, preview
from router.store.pg_engine import PgConn

# how far after the customer's message the bot's answer is looked for
_FOLLOWING = 10


async def _answered_intent(conn: PgConn, conversation_id: str | None, created_at: datetime, seq: int) -> str | None:
    """The intent of the bot's answer to the message (before the customer wrote again)."""
    if conversation_id is None:
        return None
    rows = await conn.fetch(
        "SELECT direction, author, core FROM messages WHERE conversation_id = $1"
        " AND (created_at, seq) > ($2, $3) ORDER BY created_at, seq LIMIT $4",
        conversation_id, created_at, seq, _FOLLOWING,
    )
    for direction, author, core in rows:
        if direction == "in":
            return None
        record = json.loads(core).get("bot") if author == "bot" else None
        if isinstance(record, dict) and record.get("kind") == "answer" and isinstance(record.get("intent"), str):
            return str(record["intent"])
    return None


async def last_contacts(conn: PgConn, customer_id: str) -> list[ChannelContact]:
    rows = await conn.fetch(
        "SELECT DISTINCT ON (channel) id, channel, conversation_id, text, extras->'description' AS description,"
        " created_at, seq FROM messages WHERE customer_id = $1 AND direction = 'in'"
        " ORDER BY channel, created_at DESC, seq DESC",
        customer_id,
    )
    found = []
    for r in rows:
        description = None if r["description"] is None else json.loads(r["description"])
        found.append(ChannelContact(
            channel=r["channel"], at=r["created_at"], conversation_id=r["conversation_id"], message_id=r["id"],
            intent=await _answered_intent(conn, r["conversation_id"], r["created_at"], r["seq"]),
            # a message without words (a photo, a contact) shows the connector's description, as lists do
            preview=preview(r["text"] or (description if isinstance(description, str) else "")),
        ))
    return sorted(found, key=lambda c: c.at, reverse=True)
