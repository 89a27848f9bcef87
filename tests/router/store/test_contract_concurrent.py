"""The store contract under concurrent writers: the steps of
router/store/base.py's "What a backend must hold", each started many times at
once, on every backend of BACKENDS.

On SQLite the one writer runs the transactions one after another, so these
pass there by construction; they are the contract a backend with several
writers (PostgreSQL, issue 21: its calls on a pool of connections) must meet,
and each fails there without the lock its method's docstring names."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from router.identity.types import KeyRef, MergeRequest, VerificationCheck, VerificationStart
from router.models import ConversationStatus, Delivery, Presence, Role
from router.store.base import Store
from router.store.errors import ConflictError
from tests.router.routing.test_store_contract import queue
from tests.router.store.test_contract import QUEUE, T0, inbound, ingest, outbound

MANY = 8


async def test_parallel_wrong_guesses_get_max_attempts_and_no_more(store: Store) -> None:
    # a security property: each wrong guess must see the attempts of the one before
    _, conversation_id = await ingest(store, inbound("m1", sender="visitor-1"))
    customer_id = (await store.get_conversation(conversation_id)).customer_id
    await store.start_verification(VerificationStart(
        customer_id, KeyRef("phone", "+79123456789"), "whatsapp", "hash-of-the-code",
        timedelta(minutes=10), timedelta(seconds=60), 5, conversation_id), T0)
    wrong = VerificationCheck(customer_id, "hash-of-a-guess", max_attempts=3)
    answers = await asyncio.gather(*(store.check_verification(wrong, T0) for _ in range(MANY)))
    counted = [a[0] for a in answers if a is not None]
    assert len(counted) == 3  # the rest found no code pending: it died at the third
    [code] = await store.conversation_verifications(conversation_id)
    assert (code.status, code.attempts) == ("failed", 3)


async def test_parallel_first_messages_of_a_new_sender_make_one_customer(store: Store) -> None:
    firsts = await asyncio.gather(*(store.ingest(inbound(f"m{i}", sender="newcomer"), T0) for i in range(MANY)))
    assert len({f.customer.id for f in firsts}) == 1
    assert not any(f.duplicate for f in firsts)


async def test_parallel_deliveries_of_one_message_store_it_once(store: Store) -> None:
    copies = await asyncio.gather(*(store.ingest(inbound("m1", sender="u1"), T0) for _ in range(MANY)))
    assert len({c.message.id for c in copies}) == 1
    assert sum(not c.duplicate for c in copies) == 1


async def test_parallel_routings_of_one_customer_open_one_conversation(store: Store) -> None:
    firsts = [await store.ingest(inbound(f"m{i}", sender="u1"), T0) for i in range(MANY)]
    customer_id = firsts[0].customer.id
    attached = await asyncio.gather(*(store.attach_to_conversation(f.message.id, customer_id, "webchat", QUEUE, T0)
                                      for f in firsts))
    assert len({view.id for view, _ in attached}) == 1
    assert sum(created for _, created in attached) == 1


async def test_parallel_offers_to_one_agent_stay_within_capacity(store: Store) -> None:
    ann = await store.create_agent("ann", "Ann", Role.AGENT, "hash")
    await store.set_presence(ann.id, Presence.ONLINE, T0)
    queued = [await queue(store, f"u{i}", 0, T0) for i in range(MANY)]
    outcomes = await asyncio.gather(*(store.offer(c, ann.id, 3, T0) for c in queued), return_exceptions=True)
    assert sum(not isinstance(o, BaseException) for o in outcomes) == 3
    assert all(isinstance(o, ConflictError) for o in outcomes if isinstance(o, BaseException))
    assert await store.agent_loads() == {ann.id: {"chat": 3}}


async def test_parallel_offers_of_one_conversation_give_it_to_one_agent(store: Store) -> None:
    agents = [await store.create_agent(f"a{i}", f"A{i}", Role.AGENT, "hash") for i in range(MANY)]
    conversation_id = await queue(store, "u1", 0, T0)
    outcomes = await asyncio.gather(*(store.offer(conversation_id, a.id, 5, T0) for a in agents),
                                    return_exceptions=True)
    won = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(won) == 1
    assert (await store.get_conversation(conversation_id)).agent_id == won[0].agent_id


async def test_a_receipt_racing_the_sends_answer_is_applied_whichever_commits_first(store: Store) -> None:
    for n in range(MANY):
        _, conversation_id = await ingest(store, inbound(f"m{n}", sender=f"u{n}"))
        conversation = await store.get_conversation(conversation_id)
        message, payload = outbound(conversation_id, conversation.customer_id)
        await store.enqueue_outbound(message, payload, None, T0)
        [entry] = await store.pending_outbox(1)
        steps = [store.outbox_sent(entry.id, f"SM{n}", T0),
                 store.record_delivery("webchat", f"SM{n}", Delivery.DELIVERED, None, T0)]
        await asyncio.gather(*(steps if n % 2 else reversed(steps)))  # started in either order
        assert (await store.get_message(message.id)).delivery is Delivery.DELIVERED


async def test_two_agents_resolving_at_once_get_one_success(store: Store) -> None:
    _, conversation_id = await ingest(store, inbound())
    open_ = {ConversationStatus.QUEUED, ConversationStatus.ASSIGNED}
    outcomes = await asyncio.gather(*(store.set_conversation_state(
        conversation_id, ConversationStatus.RESOLVED, None, T0, expected=open_) for _ in range(MANY)),
        return_exceptions=True)
    assert sum(not isinstance(o, BaseException) for o in outcomes) == 1
    assert all(isinstance(o, ConflictError) for o in outcomes if isinstance(o, BaseException))


async def test_merging_a_pair_both_ways_at_once_merges_it_once(store: Store) -> None:
    a = (await store.ingest(inbound("m1", sender="u1"), T0)).customer.id
    b = (await store.ingest(inbound("m2", sender="u2"), T0)).customer.id
    outcomes = await asyncio.gather(
        store.merge_customers(MergeRequest(a, b, "agent", None, "same person"), T0),
        store.merge_customers(MergeRequest(b, a, "agent", None, "same person"), T0),
        return_exceptions=True,
    )
    assert sum(not isinstance(o, BaseException) for o in outcomes) == 1
    assert all(isinstance(o, ConflictError) for o in outcomes if isinstance(o, BaseException))
    assert len(await store.customer_merges(a)) == 1
