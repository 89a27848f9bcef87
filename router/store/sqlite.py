"""The embedded store: SQLite in WAL mode through aiosqlite.

One writer connection guarded by an asyncio lock (SQLite has one writer at a
time anyway, and the lock keeps our explicit transactions from interleaving)
and one reader connection, which WAL lets run beside the writer.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import sqlite3
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import aiosqlite

from router.models import (
    Agent,
    Attachment,
    ChannelIdentity,
    Conversation,
    ConversationStatus,
    ConversationView,
    Customer,
    Delivery,
    Direction,
    IdentityRef,
    InboundMessage,
    Message,
    OutboundMessage,
    OutboxEntry,
    Role,
    RouteDecision,
    new_id,
)
from router.store.base import ConflictError, NotFound, Store
from router.store.migrations import MIGRATIONS

log = logging.getLogger(__name__)

Synchronous = Literal["off", "normal", "full"]
_PREVIEW = 200


def ts(value: datetime) -> str:
    """Fixed-width UTC text, so that string order is time order."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_ts(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _message(row: sqlite3.Row) -> Message:
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
        created_at=_ts(row["created_at"]),
        delivery=Delivery(row["delivery"]),
        delivery_error=row["delivery_error"],
    )


_CONV_FIELDS = set(Conversation.model_fields)


def _conversation(row: sqlite3.Row) -> ConversationView:
    data: dict[str, Any] = {k: row[k] for k in row.keys() if k in _CONV_FIELDS}  # noqa: SIM118 (a Row is no dict)
    return ConversationView(
        **data,
        customer_name=row["customer_name"],
        last_message_text=row["last_message_text"],
    )


def _customer(row: sqlite3.Row) -> Customer:
    return Customer(
        id=row["id"],
        display_name=row["display_name"],
        attributes=json.loads(row["attributes"]),
        created_at=_ts(row["created_at"]),
        updated_at=_ts(row["updated_at"]),
    )


def _agent(row: sqlite3.Row) -> Agent:
    return Agent(
        id=row["id"],
        username=row["username"],
        display_name=row["display_name"],
        role=Role(row["role"]),
        created_at=_ts(row["created_at"]),
    )


_CONV_SELECT = """
    SELECT c.*, cu.display_name AS customer_name
    FROM conversations c JOIN customers cu ON cu.id = c.customer_id
"""

_INSERT_MESSAGE = """
    INSERT INTO messages (id, conversation_id, customer_id, direction, author, agent_id, channel,
        external_id, sender_kind, sender_value, text, attachments, extras, created_at, delivery,
        delivery_error)
    VALUES (:id, :conversation_id, :customer_id, :direction, :author, :agent_id, :channel,
        :external_id, :sender_kind, :sender_value, :text, :attachments, :extras, :created_at,
        :delivery, :delivery_error)
"""


def _message_params(m: Message) -> dict[str, Any]:
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
        "attachments": json.dumps([a.model_dump(mode="json") for a in m.attachments]),
        "extras": json.dumps(m.extras, ensure_ascii=False),
        "created_at": ts(m.created_at),
        "delivery": m.delivery.value,
        "delivery_error": m.delivery_error,
    }


def _preview(text: str) -> str:
    return text[:_PREVIEW]


class SQLiteStore(Store):
    def __init__(self, path: str | Path, synchronous: Synchronous = "normal") -> None:
        self.path = str(path)
        self.synchronous = synchronous
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()

    # -- lifecycle ------------------------------------------------------------
    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        conn.row_factory = sqlite3.Row
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute(f"PRAGMA synchronous={self.synchronous.upper()}")
        await conn.execute("PRAGMA foreign_keys=ON")
        await conn.execute("PRAGMA busy_timeout=5000")
        return conn

    async def open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._writer = await self._connect()
        await self._migrate(self._writer)
        self._reader = await self._connect()
        await self._reader.execute("PRAGMA query_only=ON")

    async def _migrate(self, conn: aiosqlite.Connection) -> None:
        async with conn.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        version = int(row[0]) if row else 0
        if version > len(MIGRATIONS):
            raise RuntimeError(
                f"{self.path} has schema version {version}, newer than this omnirouter "
                f"({len(MIGRATIONS)}); upgrade omnirouter"
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            log.info("applying schema migration %d to %s", number, self.path)
            # executescript commits on its own; the version bump is part of the script
            await conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")

    async def close(self) -> None:
        for conn in (self._reader, self._writer):
            if conn is not None:
                await conn.close()
        self._reader = self._writer = None

    @property
    def _w(self) -> aiosqlite.Connection:
        if self._writer is None:
            raise RuntimeError("store is not open")
        return self._writer

    @property
    def _r(self) -> aiosqlite.Connection:
        if self._reader is None:
            raise RuntimeError("store is not open")
        return self._reader

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._write_lock:
            conn = self._w
            await conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                await conn.execute("ROLLBACK")
                raise
            await conn.execute("COMMIT")

    async def _one(
        self, conn: aiosqlite.Connection, sql: str, params: Iterable[Any] | dict[str, Any] = ()
    ) -> sqlite3.Row | None:
        async with conn.execute(sql, params) as cur:
            row: sqlite3.Row | None = await cur.fetchone()
        return row

    async def _all(
        self, conn: aiosqlite.Connection, sql: str, params: Iterable[Any] | dict[str, Any] = ()
    ) -> list[sqlite3.Row]:
        async with conn.execute(sql, params) as cur:
            return list(await cur.fetchall())

    # -- secrets -----------------------------------------------------------
    async def secret(self, name: str) -> bytes:
        key = f"secret:{name}"
        async with self._tx() as conn:
            await conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (key, secrets.token_bytes(32)),
            )
            row = await self._one(conn, "SELECT value FROM meta WHERE key = ?", (key,))
        assert row is not None
        return bytes(row[0])

    # -- ingest -----------------------------------------------------------------
    async def insert_inbound(self, message: InboundMessage, received_at: datetime) -> tuple[Message, bool]:
        stored = Message(
            id=new_id("msg"),
            conversation_id=None,
            customer_id=None,
            direction=Direction.IN,
            author="customer",
            channel=message.channel,
            external_id=message.external_id,
            sender=message.sender,
            text=message.text,
            attachments=message.attachments,
            extras=message.extras | ({"sender_name": message.sender_name} if message.sender_name else {}),
            created_at=received_at,
        )
        async with self._tx() as conn:
            async with conn.execute(
                _INSERT_MESSAGE.replace("INSERT", "INSERT OR IGNORE", 1), _message_params(stored)
            ) as cur:
                inserted = cur.rowcount == 1
            if inserted:
                return stored, False
            row = await self._one(
                conn,
                "SELECT * FROM messages WHERE channel = ? AND external_id = ? AND direction = 'in'",
                (message.channel, message.external_id),
            )
        assert row is not None
        return _message(row), True

    async def resolve_identity(self, ref: IdentityRef, display_name: str | None, now: datetime) -> Customer:
        found = await self.find_identity(ref)
        if found is not None and (display_name is None or found.display_name == display_name):
            return found
        async with self._tx() as conn:
            row = await self._one(
                conn,
                "SELECT c.* FROM identities i JOIN customers c ON c.id = i.customer_id "
                "WHERE i.kind = ? AND i.value = ?",
                (ref.kind, ref.value),
            )
            if row is None:
                customer_id = new_id("cus")
                await conn.execute(
                    "INSERT INTO customers (id, display_name, created_at, updated_at) VALUES (?, ?, ?, ?)",
                    (customer_id, display_name, ts(now), ts(now)),
                )
                await conn.execute(
                    "INSERT INTO identities (kind, value, customer_id, created_at) VALUES (?, ?, ?, ?)",
                    (ref.kind, ref.value, customer_id, ts(now)),
                )
            else:
                customer_id = row["id"]
                if display_name:
                    await conn.execute(
                        "UPDATE customers SET display_name = ?, updated_at = ? WHERE id = ?",
                        (display_name, ts(now), customer_id),
                    )
            row = await self._one(conn, "SELECT * FROM customers WHERE id = ?", (customer_id,))
        assert row is not None
        return _customer(row)

    async def find_identity(self, ref: IdentityRef) -> Customer | None:
        row = await self._one(
            self._r,
            "SELECT c.* FROM identities i JOIN customers c ON c.id = i.customer_id "
            "WHERE i.kind = ? AND i.value = ?",
            (ref.kind, ref.value),
        )
        return None if row is None else _customer(row)

    async def attach_to_conversation(
        self, message_id: str, customer_id: str, channel: str, route: RouteDecision, now: datetime
    ) -> tuple[Conversation, bool]:
        async with self._tx() as conn:
            msg = await self._one(conn, "SELECT conversation_id, text FROM messages WHERE id = ?", (message_id,))
            if msg is None:
                raise NotFound(f"message {message_id}")
            if msg["conversation_id"] is not None:
                conv_row = await self._one(conn, _CONV_SELECT + " WHERE c.id = ?", (msg["conversation_id"],))
                assert conv_row is not None
                return _conversation(conv_row), False
            open_row = await self._one(
                conn, "SELECT id FROM conversations WHERE customer_id = ? AND status != 'resolved'", (customer_id,)
            )
            created = open_row is None
            if created:
                conversation_id = new_id("conv")
                await conn.execute(
                    "INSERT INTO conversations (id, customer_id, status, team, priority, channel, route_reason,"
                    " created_at, updated_at, last_message_at, last_message_text)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (conversation_id, customer_id, route.status.value, route.team, route.priority, channel,
                     route.reason, ts(now), ts(now), ts(now), _preview(msg["text"])),
                )
            else:
                assert open_row is not None
                conversation_id = open_row["id"]
                await conn.execute(
                    "UPDATE conversations SET channel = ?, updated_at = ?, last_message_at = ?,"
                    " last_message_text = ? WHERE id = ?",
                    (channel, ts(now), ts(now), _preview(msg["text"]), conversation_id),
                )
            await conn.execute(
                "UPDATE messages SET conversation_id = ?, customer_id = ? WHERE id = ?",
                (conversation_id, customer_id, message_id),
            )
            conv_row = await self._one(conn, _CONV_SELECT + " WHERE c.id = ?", (conversation_id,))
        assert conv_row is not None
        return _conversation(conv_row), created

    async def unrouted_messages(self, limit: int) -> list[Message]:
        rows = await self._all(
            self._r,
            "SELECT * FROM messages WHERE conversation_id IS NULL AND direction = 'in'"
            " ORDER BY created_at LIMIT ?",
            (limit,),
        )
        return [_message(r) for r in rows]

    # -- conversations -------------------------------------------------------------
    async def get_conversation(self, conversation_id: str) -> ConversationView:
        row = await self._one(self._r, _CONV_SELECT + " WHERE c.id = ?", (conversation_id,))
        if row is None:
            raise NotFound(f"conversation {conversation_id}")
        return _conversation(row)

    async def list_conversations(
        self, statuses: list[ConversationStatus] | None, limit: int
    ) -> list[ConversationView]:
        if statuses:
            marks = ", ".join("?" for _ in statuses)
            sql = f"{_CONV_SELECT} WHERE c.status IN ({marks}) ORDER BY c.last_message_at DESC LIMIT ?"
            params: list[Any] = [s.value for s in statuses] + [limit]
        else:
            sql = f"{_CONV_SELECT} ORDER BY c.last_message_at DESC LIMIT ?"
            params = [limit]
        return [_conversation(r) for r in await self._all(self._r, sql, params)]

    async def count_conversations(self) -> dict[ConversationStatus, int]:
        rows = await self._all(self._r, "SELECT status, COUNT(*) FROM conversations GROUP BY status")
        counts = {status: 0 for status in ConversationStatus}
        for row in rows:
            counts[ConversationStatus(row[0])] = row[1]
        return counts

    async def set_conversation_state(
        self,
        conversation_id: str,
        status: ConversationStatus,
        agent_id: str | None,
        now: datetime,
        *,
        expected: set[ConversationStatus] | None = None,
    ) -> ConversationView:
        async with self._tx() as conn:
            row = await self._one(conn, "SELECT status FROM conversations WHERE id = ?", (conversation_id,))
            if row is None:
                raise NotFound(f"conversation {conversation_id}")
            current = ConversationStatus(row["status"])
            if expected is not None and current not in expected:
                raise ConflictError(f"conversation {conversation_id} is {current.value}")
            resolved_at = ts(now) if status is ConversationStatus.RESOLVED else None
            await conn.execute(
                "UPDATE conversations SET status = ?, agent_id = ?, updated_at = ?, resolved_at = ? WHERE id = ?",
                (status.value, agent_id, ts(now), resolved_at, conversation_id),
            )
            conv_row = await self._one(conn, _CONV_SELECT + " WHERE c.id = ?", (conversation_id,))
        assert conv_row is not None
        return _conversation(conv_row)

    async def list_messages(self, conversation_id: str, limit: int) -> list[Message]:
        rows = await self._all(
            self._r,
            "SELECT * FROM (SELECT *, rowid AS seq FROM messages WHERE conversation_id = ?"
            " ORDER BY created_at DESC, rowid DESC LIMIT ?) ORDER BY created_at, seq",
            (conversation_id, limit),
        )
        return [_message(r) for r in rows]

    async def customer_messages(self, customer_id: str, limit: int) -> list[Message]:
        rows = await self._all(
            self._r,
            "SELECT * FROM (SELECT *, rowid AS seq FROM messages WHERE customer_id = ?"
            " ORDER BY created_at DESC, rowid DESC LIMIT ?) ORDER BY created_at, seq",
            (customer_id, limit),
        )
        return [_message(r) for r in rows]

    async def last_inbound(self, conversation_id: str) -> Message | None:
        row = await self._one(
            self._r,
            "SELECT * FROM messages WHERE conversation_id = ? AND direction = 'in'"
            " ORDER BY created_at DESC, rowid DESC LIMIT 1",
            (conversation_id,),
        )
        return None if row is None else _message(row)

    # -- outbound / outbox -------------------------------------------------------------
    async def enqueue_outbound(
        self, message: Message, payload: OutboundMessage, assign_to: str | None, now: datetime
    ) -> tuple[Message, ConversationView]:
        if message.conversation_id is None:
            raise ValueError("an outbound message belongs to a conversation")
        async with self._tx() as conn:
            conv = await self._one(conn, "SELECT status FROM conversations WHERE id = ?", (message.conversation_id,))
            if conv is None:
                raise NotFound(f"conversation {message.conversation_id}")
            await conn.execute(_INSERT_MESSAGE, _message_params(message))
            await conn.execute(
                "INSERT INTO outbox (id, message_id, conversation_id, payload, status, next_attempt_at, created_at)"
                " VALUES (?, ?, ?, ?, 'pending', ?, ?)",
                (new_id("out"), message.id, message.conversation_id, payload.model_dump_json(), ts(now), ts(now)),
            )
            if assign_to is not None:
                await conn.execute(
                    "UPDATE conversations SET status = 'assigned', agent_id = ? WHERE id = ?",
                    (assign_to, message.conversation_id),
                )
            await conn.execute(
                "UPDATE conversations SET updated_at = ?, last_message_at = ?, last_message_text = ? WHERE id = ?",
                (ts(now), ts(now), _preview(message.text), message.conversation_id),
            )
            conv_row = await self._one(conn, _CONV_SELECT + " WHERE c.id = ?", (message.conversation_id,))
        assert conv_row is not None
        return message, _conversation(conv_row)

    async def pending_outbox(self, limit: int) -> list[OutboxEntry]:
        rows = await self._all(
            self._r,
            "SELECT * FROM outbox WHERE status = 'pending' ORDER BY created_at, rowid LIMIT ?",
            (limit,),
        )
        return [
            OutboxEntry(
                id=r["id"],
                message_id=r["message_id"],
                conversation_id=r["conversation_id"],
                payload=OutboundMessage.model_validate_json(r["payload"]),
                attempts=r["attempts"],
                next_attempt_at=_ts(r["next_attempt_at"]),
                status=r["status"],
                last_error=r["last_error"],
            )
            for r in rows
        ]

    async def _finish_outbox(
        self, entry_id: str, status: str, attempts: int | None, delivery: Delivery, error: str | None,
        external_id: str | None,
    ) -> Message:
        async with self._tx() as conn:
            row = await self._one(conn, "SELECT message_id, attempts FROM outbox WHERE id = ?", (entry_id,))
            if row is None:
                raise NotFound(f"outbox entry {entry_id}")
            await conn.execute(
                "UPDATE outbox SET status = ?, attempts = ?, last_error = ? WHERE id = ?",
                (status, attempts if attempts is not None else row["attempts"] + 1, error, entry_id),
            )
            await conn.execute(
                "UPDATE messages SET delivery = ?, delivery_error = ?,"
                " external_id = COALESCE(?, external_id) WHERE id = ?",
                (delivery.value, error, external_id, row["message_id"]),
            )
            msg = await self._one(conn, "SELECT * FROM messages WHERE id = ?", (row["message_id"],))
        assert msg is not None
        return _message(msg)

    async def outbox_sent(self, entry_id: str, external_id: str | None, now: datetime) -> Message:
        return await self._finish_outbox(entry_id, "sent", None, Delivery.SENT, None, external_id)

    async def outbox_retry(self, entry_id: str, attempts: int, next_attempt_at: datetime, error: str) -> None:
        async with self._tx() as conn:
            await conn.execute(
                "UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ?",
                (attempts, ts(next_attempt_at), error, entry_id),
            )

    async def outbox_dead(self, entry_id: str, attempts: int, reason: str, now: datetime) -> Message:
        return await self._finish_outbox(entry_id, "dead", attempts, Delivery.FAILED, reason, None)

    # -- customers ----------------------------------------------------------------
    async def get_customer(self, customer_id: str) -> Customer:
        row = await self._one(self._r, "SELECT * FROM customers WHERE id = ?", (customer_id,))
        if row is None:
            raise NotFound(f"customer {customer_id}")
        return _customer(row)

    async def customer_identities(self, customer_id: str) -> list[ChannelIdentity]:
        rows = await self._all(
            self._r, "SELECT * FROM identities WHERE customer_id = ? ORDER BY created_at", (customer_id,)
        )
        return [
            ChannelIdentity(
                customer_id=r["customer_id"],
                ref=IdentityRef(kind=r["kind"], value=r["value"]),
                verified=bool(r["verified"]),
                source=r["source"],
                created_at=_ts(r["created_at"]),
            )
            for r in rows
        ]

    async def customer_conversations(self, customer_id: str) -> list[ConversationView]:
        rows = await self._all(
            self._r, _CONV_SELECT + " WHERE c.customer_id = ? ORDER BY c.created_at DESC", (customer_id,)
        )
        return [_conversation(r) for r in rows]

    # -- agents and sessions ------------------------------------------------------------
    async def create_agent(self, username: str, display_name: str, role: Role, password_hash: str) -> Agent:
        agent = Agent(
            id=new_id("agt"), username=username, display_name=display_name, role=role,
            created_at=datetime.now(UTC),
        )
        try:
            async with self._tx() as conn:
                await conn.execute(
                    "INSERT INTO agents (id, username, display_name, role, password_hash, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (agent.id, username, display_name, role.value, password_hash, ts(agent.created_at)),
                )
        except sqlite3.IntegrityError as exc:
            raise ConflictError(f"username {username!r} is taken") from exc
        return agent

    async def agent_credentials(self, username: str) -> tuple[Agent, str] | None:
        row = await self._one(self._r, "SELECT * FROM agents WHERE username = ?", (username,))
        return None if row is None else (_agent(row), row["password_hash"])

    async def set_password_hash(self, agent_id: str, password_hash: str) -> None:
        async with self._tx() as conn:
            await conn.execute("UPDATE agents SET password_hash = ? WHERE id = ?", (password_hash, agent_id))

    async def get_agent(self, agent_id: str) -> Agent:
        row = await self._one(self._r, "SELECT * FROM agents WHERE id = ?", (agent_id,))
        if row is None:
            raise NotFound(f"agent {agent_id}")
        return _agent(row)

    async def list_agents(self) -> list[Agent]:
        return [_agent(r) for r in await self._all(self._r, "SELECT * FROM agents ORDER BY username")]

    async def create_session(self, token_hash: str, agent_id: str, expires_at: datetime) -> None:
        async with self._tx() as conn:
            await conn.execute(
                "INSERT INTO sessions (token_hash, agent_id, expires_at) VALUES (?, ?, ?)",
                (token_hash, agent_id, ts(expires_at)),
            )

    async def session_agent(self, token_hash: str, now: datetime) -> Agent | None:
        row = await self._one(
            self._r,
            "SELECT a.* FROM sessions s JOIN agents a ON a.id = s.agent_id"
            " WHERE s.token_hash = ? AND s.expires_at > ?",
            (token_hash, ts(now)),
        )
        return None if row is None else _agent(row)

    async def delete_session(self, token_hash: str) -> None:
        async with self._tx() as conn:
            await conn.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))
