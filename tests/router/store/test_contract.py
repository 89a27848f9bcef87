"""One contract, every backend: callers rely on these behaviours, whatever
the store is made of."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from router.models import (
    Author,
    ConversationStatus,
    Delivery,
    Direction,
    IdentityRef,
    InboundMessage,
    Message,
    OutboundMessage,
    RouteDecision,
    new_id,
)
from router.store.base import Store
from router.store.errors import NotFound
from router.store.postgres import PostgresStore
from router.store.sqlite import SQLiteStore

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
QUEUE = RouteDecision(status=ConversationStatus.QUEUED, team="support", reason="test")

StoreFactory = Callable[[], Store]


def _sqlite(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    return lambda: SQLiteStore(tmp_path / "contract.db")


def _sqlite_process(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    return lambda: SQLiteStore(tmp_path / "contract.db", writer="process")


def _postgres(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    dsn: str = request.getfixturevalue("pg_database")  # a database of the test's own (tests/conftest.py)
    return lambda: PostgresStore(dsn)


# SQLite's writer in a thread of the server (the default) and in a process of its own; a real PostgreSQL server
BACKENDS: dict[str, Callable[[pytest.FixtureRequest, Path], StoreFactory]] = {
    "sqlite": _sqlite, "sqlite-process": _sqlite_process, "postgres": _postgres,
}


def inbound(external_id: str = "m1", sender: str = "u1", channel: str = "webchat", text: str = "hi") -> InboundMessage:
    return InboundMessage(
        channel=channel, external_id=external_id, sender=IdentityRef(kind="webchat", value=sender), text=text
    )


async def ingest(store: Store, msg: InboundMessage, now: datetime = T0) -> tuple[Message, str]:
    stored, _ = await store.insert_inbound(msg, now)
    assert stored.sender is not None
    customer = await store.resolve_identity(stored.sender, None, now)
    conv, _ = await store.attach_to_conversation(stored.id, customer.id, stored.channel, QUEUE, now)
    return stored, conv.id


async def test_ping_answers_while_the_store_can_take_messages(store: Store) -> None:
    await store.ping()  # raises StoreError when it cannot (tests/router/test_app.py: /healthz)
    await store.insert_inbound(inbound(), T0)
    await store.ping()


async def test_identity_resolves_to_one_customer(store: Store) -> None:
    ref = IdentityRef(kind="webchat", value="v-1")
    assert await store.find_identity(ref) is None
    a = await store.resolve_identity(ref, "Анна", T0)
    b = await store.resolve_identity(ref, None, T0)
    assert a.id == b.id and b.display_name == "Анна"
    renamed = await store.resolve_identity(ref, "Anna K.", T0)
    assert renamed.id == a.id and renamed.display_name == "Anna K."
    assert [i.ref for i in await store.customer_identities(a.id)] == [ref]


def outbound(
    conv_id: str, customer_id: str | None, recipient: str = "u1", text: str = "ok"
) -> tuple[Message, OutboundMessage]:
    message = Message(
        id=new_id("msg"), conversation_id=conv_id, customer_id=customer_id, direction=Direction.OUT,
        author=Author.AGENT, channel="webchat", text=text, created_at=T0, delivery=Delivery.PENDING,
    )
    payload = OutboundMessage(
        message_id=message.id, channel="webchat", recipient=recipient, author=Author.AGENT, text=text, created_at=T0
    )
    return message, payload


async def test_data_and_secrets_survive_reopening(store_factory: StoreFactory) -> None:
    async with store_factory() as s:
        secret = await s.secret("webchat")
        _, conv_id = await ingest(s, inbound())
    async with store_factory() as s:
        assert await s.secret("webchat") == secret
        assert await s.secret("other") != secret
        assert (await s.get_conversation(conv_id)).status is ConversationStatus.QUEUED
        with pytest.raises(NotFound):
            await s.get_customer("cus_missing")


# -- identity: keys, claims, merges ---------------------------------------------------------









































