"""Reopen on reply through the pipeline (router/ingest/service.py), on every
backend of tests/router/store/test_contract.py: a message stored but not
routed before a crash is reopened into its conversation by the next start's
``resume`` as on the live path, and everyone is told once."""

from __future__ import annotations

from datetime import timedelta

from router.bus import EventBus
from router.config import RoutingConfig
from router.core import Router
from router.metrics import Metrics
from router.models import ConversationStatus, IdentityRef, InboundMessage, Role
from router.routing.decide import DefaultTeamRouting
from router.store.base import Store
from tests.router.store.test_contract import T0


def _message(n: int, text: str) -> InboundMessage:
    return InboundMessage(channel="webchat", external_id=f"m{n}", sender=IdentityRef(kind="webchat", value="v1"),
                          text=text)


async def test_a_message_stored_before_a_crash_reopens_its_conversation_at_the_next_start(store: Store) -> None:
    now = [T0]
    bus = EventBus()
    router = Router(store, bus, DefaultTeamRouting(RoutingConfig()), Metrics(), clock=lambda: now[0])
    ann = await store.create_agent("ann", "Ann", Role.AGENT, "x")
    conv = (await router.on_message(_message(1, "where is my order?"))).conversation_id
    assert conv is not None
    await router.conversations.assign(conv, ann)
    await router.conversations.resolve(conv, ann)
    now[0] += timedelta(hours=2)
    # the node stored the next message and stopped before routing it
    stored = await store.ingest(_message(2, "it has not come"), now[0])
    assert stored.conversation is None
    async with bus.subscribe() as events:
        restarted = Router(store, bus, DefaultTeamRouting(RoutingConfig()), Metrics(), clock=lambda: now[0])
        assert await restarted.ingest.resume() == 1
        told = []
        while not events.queue.empty():
            event = events.queue.get_nowait()
            if event is not None:
                told.append((event.type, event.data["conversation"]["id"]))
    assert told == [("conversation.updated", conv), ("message.created", conv)]
    view = await store.get_conversation(conv)
    assert (view.status, view.reopens, view.preferred_agent_id) == (ConversationStatus.QUEUED, 1, ann.id)
    assert [m.text for m in await store.list_messages(conv, 10)] == ["where is my order?", "it has not come"]
