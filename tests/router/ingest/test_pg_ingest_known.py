"""PostgreSQL's one-statement ingest of a known sender's message
(``router.ingest.postgres._ingest_known``, migration 6): it takes the common
case, and leaves, with nothing written, every case the full ingest
transaction has more to do for. The outcomes themselves are the contract
suite's (tests/router/ingest/test_store_contract*.py), which runs both paths."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from router.identity.types import MergeRequest
from router.ingest.inbound import stored_form
from router.ingest.postgres import _ingest_known
from router.ingest.store import Ingested
from router.models import ConversationStatus, IdentityRef, InboundMessage
from router.store.postgres import PostgresStore
from tests.conftest import HANG
from tests.router.store.test_contract import QUEUE, T0, inbound
from tests.router.store.test_pg_merge_races import waiting_for_a_lock

LATER = T0 + timedelta(minutes=1)


@pytest.fixture
async def pg(pg_database: str) -> AsyncIterator[PostgresStore]:
    async with PostgresStore(pg_database) as store:
        yield store


async def _known(store: PostgresStore, message: InboundMessage) -> Ingested | None:
    stored = stored_form(message, LATER)
    return await store._pg.write_statement(_ingest_known, stored, message.sender, message.sender_name, LATER)


async def _routed(store: PostgresStore, message: InboundMessage) -> str:
    """A first message, through the full ingest and routing: the sender is known from then on."""
    step = await store.ingest(message, T0)
    view, _ = await store.attach_to_conversation(step.message.id, step.customer.id, message.channel, QUEUE, T0)
    return view.id


async def _stored_ids(store: PostgresStore) -> set[str]:
    async with store._pg.pool.acquire() as conn:
        return {r[0] for r in await conn.fetch("SELECT id FROM messages")}


async def test_a_known_senders_message_is_filed_in_their_open_conversation(pg: PostgresStore) -> None:
    conversation = await _routed(pg, inbound("m1", text="first"))
    step = await _known(pg, inbound("m2", text="second"))
    assert step is not None and not step.duplicate
    assert step.conversation is not None and step.conversation.id == conversation
    assert step.message.conversation_id == conversation and step.message.customer_id == step.customer.id
    # touched as the full path touches it: what the queue's preview shows
    assert step.conversation.last_message_text == "second" and step.conversation.last_message_at == LATER
    assert [m.text for m in await pg.list_messages(conversation, 10)] == ["first", "second"]
    assert (await pg.get_conversation(conversation)).last_message_text == "second"


async def test_a_message_after_the_conversation_was_resolved_waits_for_routing(pg: PostgresStore) -> None:
    conversation = await _routed(pg, inbound("m1"))
    await pg.set_conversation_state(conversation, ConversationStatus.RESOLVED, None, T0)
    step = await _known(pg, inbound("m2", text="again"))
    assert step is not None and step.conversation is None and step.message.conversation_id is None
    assert [m.id for m in await pg.unrouted_messages(10)] == [step.message.id]


async def test_the_name_kept_or_none_is_no_change_and_a_new_one_is_left_to_the_full_path(pg: PostgresStore) -> None:
    named = inbound("m1").model_copy(update={"sender_name": "Anna"})
    await _routed(pg, named)
    assert await _known(pg, named.model_copy(update={"external_id": "m2"})) is not None
    assert await _known(pg, inbound("m3")) is not None  # no name given: the kept one stands
    before = await _stored_ids(pg)
    renamed = named.model_copy(update={"external_id": "m4", "sender_name": "Anna K."})
    assert await _known(pg, renamed) is None
    assert await _stored_ids(pg) == before
    step = await pg.ingest(renamed, LATER)
    assert step.customer.display_name == "Anna K." and step.conversation is not None


async def test_what_the_full_transaction_handles_is_left_to_it_with_nothing_written(pg: PostgresStore) -> None:
    await _routed(pg, inbound("m1", sender="u1"))
    await _routed(pg, inbound("m2", sender="u2"))
    before = await _stored_ids(pg)
    # a sender seen for the first time: the resolution creates them
    assert await _known(pg, inbound("m3", sender="newcomer")) is None
    # a redelivery: the first copy answers
    assert await _known(pg, inbound("m1", sender="u1")) is None
    # an identity left on a merged customer (as a store written before identities moved with
    # a merge has them): the full path follows the chain to the survivor
    u1 = await pg.find_identity(IdentityRef(kind="webchat", value="u1"))
    u2 = await pg.find_identity(IdentityRef(kind="webchat", value="u2"))
    assert u1 is not None and u2 is not None
    await pg.merge_customers(MergeRequest(survivor_id=u2.id, merged_id=u1.id, source="agent", actor=None,
                                          reason="test"), T0)
    async with pg._pg.pool.acquire() as conn:
        await conn.execute("UPDATE identities SET customer_id = $1 WHERE kind = 'webchat' AND value = 'u1'", u1.id)
    assert await _known(pg, inbound("m5", sender="u1")) is None
    assert await _stored_ids(pg) == before
    step = await pg.ingest(inbound("m5", sender="u1"), LATER)
    assert step.customer.id == u2.id and step.conversation is not None


async def test_a_conversation_resolved_while_the_message_waited_for_it_is_not_written_into(
    pg: PostgresStore,
) -> None:
    """The message is filed in the open conversation as it is inserted; when an agent's resolve
    held that conversation then, the message is taken out again and waits for routing."""
    conversation = await _routed(pg, inbound("m1"))
    async with pg._pg.pool.acquire() as agent, pg._pg.pool.acquire() as watcher, agent.transaction():
        await agent.execute("SELECT 1 FROM conversations WHERE id = $1 FOR UPDATE", conversation)
        ingesting = asyncio.create_task(_known(pg, inbound("m2", text="late")))
        # from outside the agent's transaction, which sees pg_stat_activity as it first read it
        await waiting_for_a_lock(watcher)
        await agent.execute("UPDATE conversations SET status = 'resolved' WHERE id = $1", conversation)
    step = await asyncio.wait_for(ingesting, HANG)
    assert step is not None and step.conversation is None and step.message.conversation_id is None
    assert [m.id for m in await pg.unrouted_messages(10)] == [step.message.id]
    assert [m.text for m in await pg.list_messages(conversation, 10)] == ["hi"]

