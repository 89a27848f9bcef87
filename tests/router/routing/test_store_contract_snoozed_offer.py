"""An offer of a snoozed conversation, on every backend of
tests/router/store/test_contract.py: the assigner read the queue before an
agent snoozed it (or a transfer names it), and the store's offer itself refuses
it, so a snoozed conversation is never put in front of an agent
(router/routing/service.py's ``offer_refusal``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from router.models import ConversationStatus, Role
from router.store.base import Store
from router.store.errors import ConflictError
from tests.router.routing.test_assignment import Clock, queue
from tests.router.store.test_contract import BACKENDS

OPEN = frozenset({ConversationStatus.BOT, ConversationStatus.QUEUED, ConversationStatus.ASSIGNED})


@pytest.fixture(params=sorted(BACKENDS))
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    async with BACKENDS[request.param](request, tmp_path)() as s:
        yield s


async def test_a_snoozed_conversation_is_offered_to_nobody_until_it_wakes(store: Store) -> None:
    clock = Clock()
    ann = await store.create_agent("ann", "Ann", Role.AGENT, "h")
    conv = await queue(store, clock)
    await store.snooze(conv, clock() + timedelta(hours=1))
    for expected in (frozenset({ConversationStatus.QUEUED}), OPEN):  # the assigner's offer, a transfer's
        with pytest.raises(ConflictError, match="snoozed"):
            await store.offer(conv, ann.id, 5, clock(), expected=expected)
    view = await store.get_conversation(conv)
    assert (view.status, view.agent_id, view.assigned_at) == (ConversationStatus.QUEUED, None, None)
    assert ann.id not in await store.agent_loads()
    await store.wake(conv)
    assert (await store.offer(conv, ann.id, 5, clock())).agent_id == ann.id


async def test_an_assigned_conversation_snoozed_is_not_transferred_to_another_agent(store: Store) -> None:
    clock = Clock()
    ann = await store.create_agent("ann", "Ann", Role.AGENT, "h")
    bob = await store.create_agent("bob", "Bob", Role.AGENT, "h")
    conv = await queue(store, clock)
    await store.offer(conv, ann.id, 5, clock())
    await store.snooze(conv, clock() + timedelta(hours=1))
    with pytest.raises(ConflictError, match="snoozed"):
        await store.offer(conv, bob.id, 5, clock(), expected=OPEN)
    assert (await store.get_conversation(conv)).agent_id == ann.id
