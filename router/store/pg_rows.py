"""Rows in and out of PostgreSQL that more than one slice writes or reads
(messages, conversations), as ``router.store.rows`` has them for SQLite. The
row mappers themselves are shared: ``rows.message_row`` and
``rows.conversation_row`` take an asyncpg ``Record`` as they take a
``sqlite3.Row`` (``jsonb`` comes back as its text, ``timestamptz`` as an
aware ``datetime``)."""

from __future__ import annotations

import json
from typing import Any

from router.models import ConversationView, Message
from router.store.errors import NotFound
from router.store.pg_engine import PgConn
from router.store.rows import conversation_row

_MESSAGE_COLUMNS = ("id", "conversation_id", "customer_id", "direction", "author", "agent_id", "channel",
                    "external_id", "sender_kind", "sender_value", "text", "attachments", "extras", "core",
                    "created_at", "delivery", "delivery_error")
INSERT_MESSAGE = (f"INSERT INTO messages ({', '.join(_MESSAGE_COLUMNS)})"
                  f" VALUES ({', '.join(f'${n}' for n in range(1, len(_MESSAGE_COLUMNS) + 1))})")


def message_args(m: Message) -> tuple[Any, ...]:
    """The arguments of ``INSERT_MESSAGE`` for ``m``, in its columns' order."""
    return (
        m.id, m.conversation_id, m.customer_id, m.direction.value, m.author.value, m.agent_id, m.channel,
        m.external_id, m.sender.kind if m.sender else None, m.sender.value if m.sender else None, m.text,
        json.dumps([a.model_dump(mode="json") for a in m.attachments]),
        json.dumps(m.extras, ensure_ascii=False),
        m.core.model_dump_json(exclude_defaults=True),  # only what is set: most messages carry none of it
        m.created_at, m.delivery.value, m.delivery_error,
    )


async def insert_message(conn: PgConn, m: Message) -> None:
    await conn.execute(INSERT_MESSAGE, *message_args(m))


# a conversation as every slice returns it: with its customer's name
CONVERSATION_COLUMNS = """c.*, cu.display_name AS customer_name,
        ARRAY(SELECT label FROM conversation_labels l WHERE l.conversation_id = c.id) AS labels"""
CONVERSATION_SELECT = f"""
    SELECT {CONVERSATION_COLUMNS}
    FROM conversations c JOIN customers cu ON cu.id = c.customer_id
"""
# the $2 most recently active conversations of the statuses $1, picked through the
# (status, last_message_at) index one status at a time (router.store.rows.latest_conversations);
# $3: awake only; $4: only this agent's (null: anyone's); $5, $6: after this cursor (null: from the newest)
LATEST_CONVERSATIONS = f"""
    SELECT {CONVERSATION_COLUMNS}
    FROM (SELECT x.id, x.last_message_at FROM unnest($1::text[]) AS s(status)
          CROSS JOIN LATERAL (SELECT id, last_message_at FROM conversations WHERE status = s.status
                              AND (NOT $3 OR snoozed_until IS NULL)
                              AND ($4::text IS NULL OR agent_id = $4::text)
                              AND ($5::timestamptz IS NULL OR (last_message_at, id) < ($5::timestamptz, $6::text))
                              ORDER BY last_message_at DESC, id DESC LIMIT $2) AS x
          ORDER BY x.last_message_at DESC, x.id DESC LIMIT $2) AS p
    JOIN conversations c ON c.id = p.id JOIN customers cu ON cu.id = c.customer_id
    ORDER BY p.last_message_at DESC, p.id DESC
"""


async def conversation_view(conn: PgConn, conversation_id: str) -> ConversationView:
    """One conversation; ``NotFound`` for an unknown id."""
    row = await conn.fetchrow(CONVERSATION_SELECT + " WHERE c.id = $1", conversation_id)
    if row is None:
        raise NotFound(f"conversation {conversation_id}")
    return conversation_row(row)
