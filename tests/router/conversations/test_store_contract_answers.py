"""A bot turn's answer is stored only after the answer it read
(``AnswerMark``, router/conversations/store.py), on every backend of
tests/router/store/test_contract.py: two turns on one conversation (on two
nodes) never both answer the same messages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from router.conversations.store import AnswerMark
from router.models import ConversationStatus, CoreMeta, Direction, RouteDecision
from router.store.base import Store
from router.store.errors import AnsweredMeanwhile, ConflictError
from router.store.postgres import PostgresStore
from tests.router.store.test_contract import QUEUE, T0, StoreFactory, inbound, outbound
from tests.router.store.test_contract_concurrent import MANY

BOT = QUEUE.model_copy(update={"status": ConversationStatus.BOT})
HANDOFF = RouteDecision(status=ConversationStatus.QUEUED, team="support", priority=10, reason="bot handoff")


async def with_the_bot(store: Store, sender: str = "u1") -> tuple[str, str | None]:
    stored, _ = await store.insert_inbound(inbound(f"{sender}-1", sender=sender), T0)
    assert stored.sender is not None
    customer = await store.resolve_identity(stored.sender, None, T0)
    view, _ = await store.attach_to_conversation(stored.id, customer.id, stored.channel, BOT, T0)
    return view.id, view.customer_id


async def answer(store: Store, conversation_id: str, customer_id: str | None, text: str,
                 after: AnswerMark | None, aside: bool = False) -> str:
    message, payload = outbound(conversation_id, customer_id, text=text)
    message = message.model_copy(update={"core": CoreMeta(aside=aside)})
    stored, _ = await store.enqueue_outbound(message, payload, None, T0, expected={ConversationStatus.BOT},
                                             after=after)
    return stored.id


async def answers(store: Store, conversation_id: str) -> list[str]:
    return [m.text for m in await store.list_messages(conversation_id, 50) if m.direction is Direction.OUT]


async def test_the_latest_answer_is_the_latest_outbound_message_not_said_aside(store: Store) -> None:
    conversation_id, customer_id = await with_the_bot(store)
    assert await store.last_answer(conversation_id) is None
    first = await answer(store, conversation_id, customer_id, "hello", None)
    assert await store.last_answer(conversation_id) == first
    await answer(store, conversation_id, customer_id, "your phone number?", None, aside=True)
    assert await store.last_answer(conversation_id) == first  # said aside: it answers nothing
    second = await answer(store, conversation_id, customer_id, "anything else?", None)
    assert await store.last_answer(conversation_id) == second


async def test_an_answer_after_an_answer_it_did_not_read_is_refused_and_nothing_is_stored(store: Store) -> None:
    conversation_id, customer_id = await with_the_bot(store)
    read = AnswerMark(await store.last_answer(conversation_id))
    mine = await answer(store, conversation_id, customer_id, "answer of the first turn", read)
    # a turn's next text goes after its own first one
    mine_second = await answer(store, conversation_id, customer_id, "and its second text", AnswerMark(mine))
    with pytest.raises(AnsweredMeanwhile):  # a second turn that read what the first answered
        await answer(store, conversation_id, customer_id, "answer of the second turn", read)
    assert await answers(store, conversation_id) == ["answer of the first turn", "and its second text"]
    assert len(await store.pending_outbox(10)) == 2
    # an aside stored meanwhile is no answer: the turn's answer still goes
    await answer(store, conversation_id, customer_id, "a code was sent", None, aside=True)
    await answer(store, conversation_id, customer_id, "third", AnswerMark(mine_second))


async def test_a_handoff_after_an_answer_it_did_not_read_is_refused_and_nothing_changes(store: Store) -> None:
    conversation_id, customer_id = await with_the_bot(store)
    read = AnswerMark(None)
    await answer(store, conversation_id, customer_id, "answered by the other turn", read)
    with pytest.raises(AnsweredMeanwhile):
        await store.reroute_conversation(conversation_id, HANDOFF, T0, expected={ConversationStatus.BOT}, after=read)
    assert (await store.get_conversation(conversation_id)).status is ConversationStatus.BOT
    current = AnswerMark(await store.last_answer(conversation_id))
    view = await store.reroute_conversation(conversation_id, HANDOFF, T0, expected={ConversationStatus.BOT},
                                            after=current)
    assert view.status is ConversationStatus.QUEUED


@pytest.fixture
async def nodes(store: Store, store_factory: StoreFactory) -> AsyncIterator[tuple[Store, Store]]:
    """Two nodes on one database: a second store beside ``store`` on
    PostgreSQL; on SQLite (one node by design) the same store twice."""
    if not isinstance(store, PostgresStore):
        yield store, store
        return
    async with store_factory() as second:
        yield store, second


async def test_turns_on_two_nodes_that_read_the_same_messages_store_one_answer(
    nodes: tuple[Store, Store],
) -> None:
    for round_ in range(MANY):
        conversation_id, customer_id = await with_the_bot(nodes[0], sender=f"u{round_}")
        read = AnswerMark(await nodes[1].last_answer(conversation_id))
        outcomes = await asyncio.gather(
            *(answer(nodes[n % 2], conversation_id, customer_id, f"answer {n}", read) for n in range(MANY)),
            return_exceptions=True)
        assert sum(isinstance(o, str) for o in outcomes) == 1, outcomes
        assert all(isinstance(o, (str, ConflictError)) for o in outcomes), outcomes
        assert len(await answers(nodes[0], conversation_id)) == 1
