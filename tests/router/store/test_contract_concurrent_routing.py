"""Assignment and agents' actions from two nodes at once (issue 21: "never
over capacity and never offered twice"), on every backend of BACKENDS.

On PostgreSQL the two nodes are two ``PostgresStore`` instances on one
database, each with its pool, every call fired at once; each race fails
without the locks its methods' docstrings name (``router.routing.store``,
``router.conversations.store``). SQLite is one node (its one writer), so
there both "nodes" are the one store and the races pass by construction: the
same contract, the same assertions."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Iterable
from datetime import timedelta
from typing import TypeVar

import pytest

from router.models import ConversationStatus, ConversationView, Delivery, Presence
from router.routing.store import ReleasedOffer
from router.store.base import Store
from router.store.errors import ConflictError, NotFound
from router.store.postgres import PostgresStore
from tests.router.routing.test_store_contract import online, queue
from tests.router.store.test_contract import T0, inbound, ingest, outbound

T = TypeVar("T")

CONVERSATIONS = 40
CAPACITY = 3  # small beside the queue: most offers meet a full agent or a conversation already offered
OPEN = {ConversationStatus.QUEUED, ConversationStatus.BOT, ConversationStatus.ASSIGNED}
LATER = T0 + timedelta(minutes=5)


@pytest.fixture
async def nodes(store: Store) -> AsyncIterator[tuple[Store, Store]]:
    """Two nodes on one database: on PostgreSQL a second store on the
    first's database; SQLite is one node, so both are the one store."""
    if not isinstance(store, PostgresStore):
        yield store, store
        return
    async with PostgresStore(store.dsn) as other:
        yield store, other


async def at_once(calls: Iterable[Awaitable[T]]) -> list[T | ConflictError]:
    """Every call started together; a refusal (``ConflictError``) is an
    answer, any other error fails the test."""
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException) and not isinstance(outcome, ConflictError):
            raise outcome
    return outcomes  # type: ignore[return-value]  # only answers and refusals are left


async def test_offers_from_two_nodes_never_overfill_an_agent_nor_offer_a_conversation_twice(
    nodes: tuple[Store, Store],
) -> None:
    a, b = nodes
    queued = [await queue(a, f"u{i}", 0, T0) for i in range(CONVERSATIONS)]
    agents = [await online(a, f"agent{i}") for i in range(4)]
    # each node offers every conversation to every agent, the two in opposite orders, all at once:
    # the same conversation to two agents, and two conversations to the same agent, from both
    offers = [(node, c, agent) for c in queued for node, order in ((a, agents), (b, agents[::-1])) for agent in order]
    outcomes = await at_once(node.offer(c, agent.id, CAPACITY, T0) for node, c, agent in offers)
    won = [view for view in outcomes if isinstance(view, ConversationView)]
    offered = Counter(view.id for view in won)
    assert [c for c, n in offered.items() if n > 1] == []  # no conversation offered to two agents
    per_agent = Counter(view.agent_id for view in won)
    assert all(n <= CAPACITY for n in per_agent.values()), per_agent
    # and nothing was refused that had room: every agent is exactly full, each offer as it answered
    assert await a.agent_loads() == {agent.id: {"chat": CAPACITY} for agent in agents}
    for view in won:
        assert (await b.get_conversation(view.id)).agent_id == view.agent_id


async def test_an_agent_taking_a_conversation_another_node_offers_keeps_it(nodes: tuple[Store, Store]) -> None:
    a, b = nodes
    queued = [await queue(a, f"u{i}", 0, T0) for i in range(CONVERSATIONS)]
    ann, bob = await online(a, "ann"), await online(a, "bob")
    # the assigner on node a offers each conversation to ann while bob takes it in the console on node b
    offers = [a.offer(c, ann.id, CONVERSATIONS, T0) for c in queued]
    takes = [b.set_conversation_state(c, ConversationStatus.ASSIGNED, bob.id, LATER, expected=OPEN) for c in queued]
    outcomes = await at_once([*offers, *takes])
    assert all(isinstance(t, ConversationView) for t in outcomes[len(queued):])  # a take is always accepted
    for c in queued:  # so it is bob's, opened, whenever the offer came: an offer never overwrites a take
        view = await a.get_conversation(c)
        assert (view.status, view.agent_id, view.opened_at) == (ConversationStatus.ASSIGNED, bob.id, LATER)
    assert await b.agent_loads() == {bob.id: {"chat": CONVERSATIONS}}


async def test_a_reply_racing_a_resolve_on_another_node_is_refused_or_comes_before_it(
    nodes: tuple[Store, Store],
) -> None:
    a, b = nodes
    ann, bob = await online(a, "ann"), await online(a, "bob")
    queued = [await queue(a, f"u{i}", 0, T0) for i in range(CONVERSATIONS)]
    owned = queued[: CONVERSATIONS // 2]  # ann's: she replies as their owner; the rest she takes by replying
    for c in owned:
        await a.offer(c, ann.id, CONVERSATIONS, T0)
    replies = []
    for c in queued:
        view = await a.get_conversation(c)
        message, payload = outbound(c, view.customer_id, text=f"reply to {c}")
        assign_to = None if c in owned else ann.id  # as Conversations.reply: the status ann saw is the one expected
        replies.append((message, a.enqueue_outbound(message, payload, assign_to, LATER, expected={view.status})))
    resolves = [b.set_conversation_state(c, ConversationStatus.RESOLVED, bob.id, LATER, expected=OPEN)
                for c in queued]
    outcomes = await at_once([*(call for _, call in replies), *resolves])
    replied, resolved = outcomes[: len(queued)], outcomes[len(queued):]
    for c, (message, _), reply, done in zip(queued, replies, replied, resolved, strict=True):
        assert isinstance(done, ConversationView)  # a resolve is always accepted, and stays so
        assert (await a.get_conversation(c)).status is ConversationStatus.RESOLVED
        if isinstance(reply, ConflictError):  # refused: nothing of it stored
            with pytest.raises(NotFound):
                await b.get_message(message.id)
        else:  # accepted: stored before the resolve, which shows it as the conversation's last words
            assert (await b.get_message(message.id)).text == message.text
            assert done.last_message_text == message.text


async def test_lapsed_offers_released_by_two_nodes_at_once_go_back_once_and_spare_what_was_taken(
    nodes: tuple[Store, Store],
) -> None:
    a, b = nodes
    ann, bob = await online(a, "ann"), await online(a, "bob")
    queued = [await queue(a, f"u{i}", 0, T0) for i in range(CONVERSATIONS)]
    for c in queued:
        await a.offer(c, ann.id, CONVERSATIONS, T0)
    opened, taken = set(queued[0::3]), set(queued[1::3])  # ann opens a third, bob takes another third
    releases = [node.release_offers(None, LATER, LATER) for node in (a, b, a, b)]
    others: list[Awaitable[object]] = [b.mark_opened(c, ann.id, LATER) for c in opened]
    others += [a.set_conversation_state(c, ConversationStatus.ASSIGNED, bob.id, LATER, expected=OPEN)
               for c in taken]
    outcomes = await at_once([*releases, *others])
    released: list[ReleasedOffer] = [r for batch in outcomes[: len(releases)] for r in batch]  # type: ignore[union-attr]
    ids = [r.conversation.id for r in released]
    assert len(ids) == len(set(ids))  # each offer went back to the queue once, on one node
    assert {r.agent_id for r in released} == {ann.id}
    for c in queued:
        view = await b.get_conversation(c)
        if c in taken:  # a take is never requeued, whether it came before the release or after
            assert (view.status, view.agent_id, view.opened_at) == (ConversationStatus.ASSIGNED, bob.id, LATER)
        elif c in ids:  # released, and not opened by ann after all
            assert (view.status, view.agent_id) == (ConversationStatus.QUEUED, None)
        else:  # kept: only one ann opened before a release reached it
            assert c in opened
            assert (view.status, view.agent_id, view.opened_at) == (ConversationStatus.ASSIGNED, ann.id, LATER)
    assert set(queued) - taken - opened <= set(ids)  # every lapsed offer nobody touched went back



async def test_an_offer_restarting_idle_time_is_not_undone_by_a_presence_change_on_another_node(
    nodes: tuple[Store, Store],
) -> None:
    a, b = nodes
    ann = await online(a, "ann")
    queued = [await queue(a, f"u{i}", 0, T0) for i in range(CONVERSATIONS)]
    for n, c in enumerate(queued):
        # node a offers ann a conversation (her idle time restarts) while node b hears her step away and back
        # (it runs on): each change must read the idle time the offer wrote, or write back the one before it
        offered_at = LATER + timedelta(seconds=n)
        toggles = [b.set_presence(ann.id, presence, T0 + timedelta(minutes=1))
                   for presence in (Presence.AWAY, Presence.ONLINE, Presence.AWAY, Presence.ONLINE)]
        await at_once([a.offer(c, ann.id, CONVERSATIONS, offered_at), *toggles])
        [presence] = await a.list_presence()
        assert presence.idle_since == offered_at


RECEIPTS = 20
# a platform's callbacks for one message, late and out of order, spread over both nodes
CALLBACKS = (Delivery.SENT, Delivery.READ, Delivery.DELIVERED, Delivery.SENT, Delivery.DELIVERED)


async def _sent_later(store: Store, n: int) -> tuple[str, str]:
    """A reply queued in a conversation of its own: its message's id and its outbox entry's."""
    _, conversation_id = await ingest(store, inbound(f"m{n}", sender=f"u{n}"))
    conversation = await store.get_conversation(conversation_id)
    message, payload = outbound(conversation_id, conversation.customer_id)
    await store.enqueue_outbound(message, payload, None, T0)
    [entry] = [e for e in await store.pending_outbox(RECEIPTS * 2) if e.message_id == message.id]
    return message.id, entry.id


async def test_receipts_of_one_message_on_two_nodes_leave_it_in_the_furthest_state(nodes: tuple[Store, Store]) -> None:
    a, b = nodes
    for n in range(RECEIPTS):
        message_id, entry_id = await _sent_later(a, n)
        await a.outbox_sent(entry_id, f"SM{n}", T0)
        # each applies after the other, never over a state the other moved past ("read" back to "delivered")
        await at_once((a, b)[i % 2].record_delivery("webchat", f"SM{n}", state, None, T0)
                      for i, state in enumerate(CALLBACKS))
        assert (await b.get_message(message_id)).delivery is Delivery.READ


async def test_receipts_outrunning_the_sends_answer_on_two_nodes_are_kept_in_the_furthest_state(
    nodes: tuple[Store, Store],
) -> None:
    a, b = nodes
    for n in range(RECEIPTS):
        message_id, entry_id = await _sent_later(a, n)
        # the send's answer is not stored yet: each callback is kept, and a later one never replaced by an earlier
        await at_once((a, b)[i % 2].record_delivery("webchat", f"SM{n}", state, None, T0)
                      for i, state in enumerate(CALLBACKS))
        assert (await a.outbox_sent(entry_id, f"SM{n}", T0)).delivery is Delivery.READ
        assert (await b.get_message(message_id)).delivery is Delivery.READ
