"""PostgreSQL's one-statement ingest of a known sender's message
(``router.ingest.postgres_batch``, migration 6): it takes the common case,
and leaves, with nothing written, every case the full ingest transaction
has more to do for; several go in one call, each with its own outcome. The
outcomes themselves are the contract suite's
(tests/router/ingest/test_store_contract*.py), which runs every path."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from router.identity.types import ClaimPlan, IdentityPlan, KeyRef, MergeRequest
from router.ingest.inbound import stored_form
from router.ingest.postgres_batch import _row, ingest_known, ingest_known_many, known_path
from router.ingest.store import Ingested
from router.models import ConversationStatus, IdentityRef, InboundMessage, Message
from router.store.errors import IntegrityViolation
from router.store.postgres import PostgresStore
from tests.conftest import HANG
from tests.router.store.test_contract import QUEUE, T0, inbound
from tests.router.store.test_pg_merge_races import waiting_for_a_lock

LATER = T0 + timedelta(minutes=1)


@pytest.fixture
async def pg(pg_database: str) -> AsyncIterator[PostgresStore]:
    async with PostgresStore(pg_database) as store:
        yield store


def _item(message: InboundMessage, claims: tuple[ClaimPlan, ...] = ()) -> tuple[tuple[object, ...], Message]:
    stored = stored_form(message, LATER)
    return _row(stored, message.sender, message.sender_name, LATER, claims), stored


async def _known(store: PostgresStore, message: InboundMessage, claims: tuple[ClaimPlan, ...] = ()
                 ) -> Ingested | None:
    return await store._pg.write_statement(ingest_known, *_item(message, claims))


async def _known_many(store: PostgresStore, *messages: InboundMessage) -> list[Ingested | None]:
    return await store._pg.write_statement(ingest_known_many, [_item(m) for m in messages])


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



async def test_several_messages_in_one_call_each_get_their_own_outcome_in_order(pg: PostgresStore) -> None:
    first = await _routed(pg, inbound("m1", sender="u1", text="one"))
    second = await _routed(pg, inbound("m2", sender="u2", text="two"))
    before = await _stored_ids(pg)
    outcomes = await _known_many(pg, inbound("m3", sender="u1", text="three"), inbound("m4", sender="stranger"),
                                 inbound("m2", sender="u2"), inbound("m5", sender="u2", text="five"),
                                 inbound("m6", sender="u1", text="six"))
    three, stranger, redelivered, five, six = outcomes
    assert stranger is None and redelivered is None  # left to the full transaction
    assert three is not None and six is not None and five is not None
    assert three.conversation is not None and three.conversation.id == first
    assert six.conversation is not None and six.conversation.last_message_text == "six"
    assert five.conversation is not None and five.conversation.id == second
    assert await _stored_ids(pg) == before | {o.message.id for o in (three, five, six)}
    assert [m.text for m in await pg.list_messages(first, 10)] == ["one", "three", "six"]
    assert (await pg.get_conversation(first)).last_message_text == "six"


async def test_a_nul_in_a_batch_is_stored_as_alone(pg: PostgresStore) -> None:
    """Array values miss the connection's codecs: the batch replaces NUL itself, in text and JSON."""
    conversation = await _routed(pg, inbound("m1"))
    nul = inbound("m2", text="a\x00b").model_copy(update={"extras": {"note": "c\x00d"}})
    outcomes = await _known_many(pg, nul, inbound("m3", text="fine"))
    assert all(o is not None for o in outcomes)
    stored = await pg.list_messages(conversation, 10)
    assert [m.text for m in stored] == ["hi", "a\ufffdb", "fine"]
    assert stored[1].extras == {"note": "c\ufffdd"}


async def test_concurrent_messages_are_gathered_and_a_refused_batch_is_stored_one_by_one(pg: PostgresStore) -> None:
    """What arrives while a call is in flight goes in the next, together; a batch the
    database refuses (here one message reusing a stored id) is run again message by
    message: the others are stored, the bad one fails alone."""
    conversation = await _routed(pg, inbound("m1"))
    taken = (await pg.list_messages(conversation, 1))[0].id
    messages = [inbound(f"n{n}", text=f"t{n}") for n in range(30)]
    results = await asyncio.gather(*(pg.ingest(m, LATER) for m in messages))
    assert all(r.conversation is not None and r.conversation.id == conversation for r in results)
    assert pg._known_ingests.batches >= 1
    clash = stored_form(inbound("n99"), LATER).model_copy(update={"id": taken})
    batches = pg._known_ingests.batches
    fine = [inbound(f"k{n}", text=f"k{n}") for n in range(10)]
    # all reach the store before its first call goes: one batch
    outcomes = await asyncio.gather(pg._known_ingests.ingest(pg._pg, clash, clash.sender, None, LATER),  # type: ignore[arg-type]
                                    *(pg.ingest(m, LATER) for m in fine), return_exceptions=True)
    assert isinstance(outcomes[0], IntegrityViolation)
    assert all(isinstance(o, Ingested) for o in outcomes[1:]), outcomes
    assert pg._known_ingests.batches == batches + 1
    assert len(await pg.list_messages(conversation, 100)) == 1 + 30 + 10


PHONE = ClaimPlan(KeyRef("phone", "+79123456789"), "webchat:claimed_phone", "8 912 345-67-89")
EMAIL = ClaimPlan(KeyRef("email", "anna@example.com"), "webchat:claimed_email", "anna@example.com")


async def test_claims_made_before_record_nothing_and_a_new_one_is_left_to_the_full_path(pg: PostgresStore) -> None:
    """A visitor who gave their phone sends it with every message: once recorded, it is no
    write, so their messages take the one call; a claim not recorded yet is the resolution's."""
    sender = IdentityRef(kind="webchat", value="u1")
    first = await pg.ingest(inbound("m1"), T0, IdentityPlan(identity=sender, claims=(PHONE,)))
    await pg.attach_to_conversation(first.message.id, first.customer.id, "webchat", QUEUE, T0)
    assert await _known(pg, inbound("m2"), (PHONE,)) is not None
    before = await _stored_ids(pg)
    assert await _known(pg, inbound("m3"), (PHONE, EMAIL)) is None
    assert await _stored_ids(pg) == before
    step = await pg.ingest(inbound("m3"), LATER, IdentityPlan(identity=sender, claims=(PHONE, EMAIL)))
    assert {(c.kind, c.value) for c in await pg.customer_claims(step.customer.id)} == {
        ("phone", "+79123456789"), ("email", "anna@example.com")}
    assert await _known(pg, inbound("m4"), (EMAIL, PHONE)) is not None


def test_claims_that_merge_by_config_and_proofs_are_never_the_functions() -> None:
    sender = IdentityRef(kind="webchat", value="u1")
    assert known_path(IdentityPlan(identity=sender, claims=(PHONE,)), [])
    assert not known_path(IdentityPlan(identity=sender, claims=(PHONE,), merge_claims=frozenset({"phone"})), [])
    assert not known_path(IdentityPlan(identity=sender, proven=(PHONE,)), [])
    assert not known_path(None, ["an earlier message"])


async def test_a_claim_of_a_key_the_customer_holds_proven_is_no_claim(pg: PostgresStore) -> None:
    whatsapp = IdentityRef(kind="whatsapp", value="+79123456789")
    message = inbound("w1").model_copy(update={"channel": "whatsapp", "sender": whatsapp})
    first = await pg.ingest(message, T0, IdentityPlan(identity=whatsapp, key=PHONE.key))
    await pg.attach_to_conversation(first.message.id, first.customer.id, "whatsapp", QUEUE, T0)
    assert await _known(pg, message.model_copy(update={"external_id": "w2"}), (PHONE,)) is not None
    assert await pg.customer_claims(first.customer.id) == []  # as the full path: nothing recorded


async def test_a_message_whose_caller_went_away_before_its_batch_left_is_not_stored(pg: PostgresStore) -> None:
    """As a write cancelled before it ran: a site-chat socket that closed while its message
    waited for the call in flight got no ack, and the widget sends it again."""
    conversation = await _routed(pg, inbound("m1"))
    kept = asyncio.create_task(pg.ingest(inbound("m2", text="kept"), LATER))
    gone = asyncio.create_task(pg.ingest(inbound("m3", text="gone"), LATER))
    await asyncio.sleep(0)  # both wait for the store's call, which has not left yet
    gone.cancel()
    assert (await asyncio.wait_for(kept, HANG)).conversation is not None
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert [m.text for m in await pg.list_messages(conversation, 10)] == ["hi", "kept"]


async def test_a_batch_takes_its_messages_in_the_order_of_their_customers_ids(pg: PostgresStore) -> None:
    """The order a merge locks customers in (router.store.base): a batch that locked a later
    customer first could hold what a merge of the two waits for while waiting for the merge."""
    await _routed(pg, inbound("a1", sender="u1"))
    await _routed(pg, inbound("b1", sender="u2"))
    ids = {s: (await pg.find_identity(IdentityRef(kind="webchat", value=s))) for s in ("u1", "u2")}
    low, high = sorted(ids, key=lambda s: ids[s].id)  # type: ignore[union-attr]
    outcomes = await _known_many(pg, inbound("h2", sender=high), inbound("l2", sender=low),
                                 inbound("h3", sender=high))
    assert [o.customer.id for o in outcomes if o is not None] == [ids[high].id, ids[low].id, ids[high].id]  # type: ignore[union-attr]
    async with pg._pg.pool.acquire() as conn:
        stored = [r[0] for r in await conn.fetch(
            "SELECT external_id FROM messages WHERE external_id IN ('h2', 'l2', 'h3') ORDER BY seq")]
    assert stored == ["l2", "h2", "h3"]
