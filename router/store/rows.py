"""Rows in and out of sqlite3, whatever the table: timestamps as sortable
text, and one statement's rows. The units of work of every domain use these,
and the mappers of the rows more than one slice reads (messages,
conversations)."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from typing import Any, Protocol

from router.models import (
    Attachment,
    Conversation,
    ConversationView,
    CoreMeta,
    Delivery,
    Direction,
    IdentityRef,
    Message,
)
from router.store.errors import NotFound


class RowLike(Protocol):
    """A row by column name: a ``sqlite3.Row`` or an asyncpg ``Record``."""

    def __getitem__(self, key: str, /) -> Any: ...

    def keys(self) -> Any: ...


def ts(value: datetime) -> str:
    """Fixed-width UTC text, so that string order is time order."""
    utc = value.astimezone(UTC)
    if utc.year < 1000:  # strftime's %Y of such a year is the platform's to pad (or not)
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    # the same text as the strftime above, at two thirds of its cost (several per message)
    return utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_ts(value: str | datetime | None) -> datetime | None:
    return None if value is None else from_ts(value)


def from_ts(value: str | datetime) -> datetime:
    """A stored time: SQLite's text, or PostgreSQL's ``timestamptz`` as asyncpg gives it."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def fetch_one(conn: sqlite3.Connection, sql: str, params: Any = ()) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(sql, params).fetchone()
    return row


def fetch_all(conn: sqlite3.Connection, sql: str, params: Any = ()) -> list[sqlite3.Row]:
    return conn.execute(sql, params).fetchall()


def execute(conn: sqlite3.Connection, sql: str, params: Any = ()) -> int:
    """One statement; the number of rows it changed."""
    return conn.execute(sql, params).rowcount


INSERT_MESSAGE = """
    INSERT INTO messages (id, conversation_id, customer_id, direction, author, agent_id, channel,
        external_id, sender_kind, sender_value, text, attachments, extras, core, created_at,
        delivery, delivery_error)
    VALUES (:id, :conversation_id, :customer_id, :direction, :author, :agent_id, :channel,
        :external_id, :sender_kind, :sender_value, :text, :attachments, :extras, :core,
        :created_at, :delivery, :delivery_error)
"""


def message_params(m: Message) -> dict[str, Any]:
    """The parameters of ``INSERT_MESSAGE`` for ``m``."""
    return {
        "id": m.id,
        "conversation_id": m.conversation_id,
        "customer_id": m.customer_id,
        "direction": m.direction.value,
        "author": m.author.value,
        "agent_id": m.agent_id,
        "channel": m.channel,
        "external_id": m.external_id,
        "sender_kind": m.sender.kind if m.sender else None,
        "sender_value": m.sender.value if m.sender else None,
        "text": m.text,
        # most messages have neither: json.dumps of nothing is these texts, at a tenth of a µs
        "attachments": json.dumps([a.model_dump(mode="json") for a in m.attachments]) if m.attachments else "[]",
        # no NaN nor Infinity, which Python writes and SQLite's JSON functions then refuse to read (the
        # row's routing failed, at every start too): refused here, before anything is written
        "extras": json.dumps(m.extras, ensure_ascii=False, allow_nan=False) if m.extras else "{}",
        # only what is set: most messages carry none of it
        "core": m.core.model_dump_json(exclude_defaults=True),
        "created_at": ts(m.created_at),
        "delivery": m.delivery.value,
        "delivery_error": m.delivery_error,
    }


def message_row(row: RowLike) -> Message:
    """A ``messages`` row; every slice that returns a message maps it here."""
    sender = None
    if row["sender_kind"] is not None:
        sender = IdentityRef(kind=row["sender_kind"], value=row["sender_value"])
    return Message(
        id=row["id"],
        conversation_id=row["conversation_id"],
        customer_id=row["customer_id"],
        direction=Direction(row["direction"]),
        author=row["author"],
        agent_id=row["agent_id"],
        channel=row["channel"],
        external_id=row["external_id"],
        sender=sender,
        text=row["text"],
        attachments=[Attachment.model_validate(a) for a in json.loads(row["attachments"])],
        extras=json.loads(row["extras"]),
        core=CoreMeta.model_validate_json(row["core"]),
        created_at=from_ts(row["created_at"]),
        delivery=Delivery(row["delivery"]),
        delivery_error=row["delivery_error"],
    )


# a conversation as every slice returns it: with its customer's name
CONVERSATION_COLUMNS = """c.*, cu.display_name AS customer_name,
        (SELECT json_group_array(label) FROM conversation_labels WHERE conversation_id = c.id) AS labels"""
CONVERSATION_SELECT = f"""
    SELECT {CONVERSATION_COLUMNS}
    FROM conversations c JOIN customers cu ON cu.id = c.customer_id
"""


def latest_conversations(arms: int, awake_only: bool = False, *, mine: bool = False, after: bool = False) -> str:
    """The ``limit`` most recently active conversations of ``arms`` statuses
    (parameters: for each status in turn, the status, the agent's id with
    ``mine``, the cursor's time and id with ``after``, and ``limit``;
    then ``limit``), picked through the (status, last_message_at) index one
    status at a time: one ORDER BY over several statuses sorted every open
    conversation, each with its customer and labels, to keep 200 of them (0.8 s
    at 50,000 open). With ``awake_only``, snoozed ones are left out before the
    limit, so a page is full; with ``mine``, other agents' ones; with ``after``,
    those up to the cursor (``ListCursor``: newest first, ties by id)."""
    awake = " AND snoozed_until IS NULL" if awake_only else ""
    own = " AND agent_id = ?" if mine else ""
    # a row value, so the (status[, agent_id], last_message_at, id) index seeks to the cursor
    # instead of walking down from the newest row (an OR of the two is no range SQLite seeks by)
    older = " AND (last_message_at, id) < (?, ?)" if after else ""
    picked = " UNION ALL ".join(
        f"SELECT * FROM (SELECT id, last_message_at FROM conversations WHERE status = ?{awake}{own}{older}"
        " ORDER BY last_message_at DESC, id DESC LIMIT ?)" for _ in range(arms))
    return (f"SELECT {CONVERSATION_COLUMNS} FROM ({picked} ORDER BY last_message_at DESC, id DESC LIMIT ?) p"
            " CROSS JOIN conversations c ON c.id = p.id JOIN customers cu ON cu.id = c.customer_id"
            " ORDER BY p.last_message_at DESC, p.id DESC")


_CONV_FIELDS = set(Conversation.model_fields)


def conversation_row(row: RowLike) -> ConversationView:
    """A row of ``CONVERSATION_SELECT``."""
    data: dict[str, Any] = {k: row[k] for k in row.keys() if k in _CONV_FIELDS}  # noqa: SIM118 (a Row is no dict)
    if isinstance(data.get("skills"), str):
        data["skills"] = json.loads(data["skills"])
    return ConversationView(
        **data,
        customer_name=row["customer_name"],
        last_message_text=row["last_message_text"],
        labels=_labels(row),
    )


def _labels(row: RowLike) -> list[str] | None:
    """A row's labels: SQLite's JSON array, PostgreSQL's array; None when it was read without them."""
    if "labels" not in row.keys():  # noqa: SIM118 (a Row is no dict)
        return None
    value = row["labels"]
    return sorted(json.loads(value) if isinstance(value, str) else value)


# a conversation as plain values, in this order (``VIEW_VALUES``): what the writer process sends
# back instead of a ``ConversationView``, whose pickling and unpickling cost ~24 µs against ~1.5
# for the tuple (measured); the server builds the model (``view_of``)
_VIEW_NAMES = (*Conversation.model_fields, "last_message_text", "customer_name", "labels")
VIEW_VALUES = ", ".join(_VIEW_NAMES[:-2]) + """,
    (SELECT display_name FROM customers WHERE customers.id = conversations.customer_id),
    (SELECT json_group_array(label) FROM conversation_labels WHERE conversation_id = conversations.id)"""


def view_of(values: tuple[Any, ...]) -> ConversationView:
    """A row of ``VIEW_VALUES``. Validated: pydantic's own parsing of the row's
    text (~5 µs) costs less than ``model_construct`` after converting each
    column in Python (~6 µs, measured)."""
    data = dict(zip(_VIEW_NAMES, values, strict=True))
    data["skills"] = json_value(data["skills"])
    data["labels"] = sorted(json_value(data["labels"]))
    return ConversationView.model_validate(data)


def json_value(text: str) -> Any:
    """``json.loads``, the empty object and list, which most rows hold, without it (~0.7 µs each)."""
    if text == "{}":
        return {}
    return [] if text == "[]" else json.loads(text)


def conversation_view(conn: sqlite3.Connection, conversation_id: str) -> ConversationView:
    """One conversation; ``NotFound`` for an unknown id."""
    row = fetch_one(conn, CONVERSATION_SELECT + " WHERE c.id = ?", (conversation_id,))
    if row is None:
        raise NotFound(f"conversation {conversation_id}")
    return conversation_row(row)
