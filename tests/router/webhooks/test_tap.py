"""What the tap queues: the events this node published (never one relayed
from another node, which that node queues), under the webhook type an
integrator subscribes to, and nothing at all while no subscription wants
their type; a change of subscriptions made on any node is heard at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from router import events
from router.bus import EventBus
from router.metrics import Metrics
from router.models import ConversationStatus, ConversationView
from router.store.sqlite import SQLiteStore
from router.webhooks.events import translate
from router.webhooks.service import WebhookTap
from router.webhooks.types import Subscription
from tests.router.store.test_contract import T0


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    async with SQLiteStore(tmp_path / "tap.db") as s:
        yield s


def conversation(status: ConversationStatus = ConversationStatus.QUEUED, cid: str = "conv_1") -> ConversationView:
    return ConversationView(id=cid, customer_id="cus_1", status=status, channel="webchat", created_at=T0,
                            updated_at=T0, last_message_at=T0)


async def subscribe(store: SQLiteStore, events_: list[str]) -> None:
    sub = Subscription(id="wh_a", url="https://crm.example.com/", events=events_,  # type: ignore[arg-type]
                       created_at=T0, updated_at=T0)
    await store.create_webhook(sub, "whsec")


def test_the_core_events_heard_and_their_names() -> None:
    opened = translate(events.conversation_created(conversation()), T0)
    assert opened is not None and opened.event.type == "conversation.opened"
    resolved = translate(events.conversation_updated(conversation(ConversationStatus.RESOLVED)), T0)
    assert resolved is not None and resolved.event.type == "conversation.resolved"
    assert resolved.order_key == "conversation:conv_1"
    assert translate(events.conversation_updated(conversation(ConversationStatus.ASSIGNED)), T0) is None
    assert translate(events.rules_reloaded("v1"), T0) is None
    a, b = (translate(events.conversation_assigned(conversation()), T0) for _ in range(2))
    assert a is not None and b is not None and a.event.id != b.event.id  # each event its own id


async def test_only_this_nodes_events_of_a_subscribed_type_are_queued(store: SQLiteStore) -> None:
    bus, wakeup = EventBus(), asyncio.Event()
    tap = WebhookTap(store, Metrics(), wakeup)
    bus.taps.append(tap)
    await tap.flush()  # reads the subscribed types: none
    bus.publish(events.conversation_created(conversation()))
    await tap.flush()
    assert tap.written == 0 and not wakeup.is_set()

    await subscribe(store, ["conversation.opened"])
    # another node says it subscribed: heard from the relayed event, and queued from now on
    bus.publish_local(events.webhooks_changed())
    bus.publish(events.conversation_created(conversation(cid="conv_2")))
    bus.publish(events.conversation_assigned(conversation(cid="conv_2")))  # no subscription wants it
    bus.publish_local(events.conversation_created(conversation(cid="conv_3")))  # another node's: it queues it
    await tap.flush()
    [queued] = await store.list_webhook_deliveries(None, None, 10)
    assert queued.event_type == "conversation.opened" and queued.order_key == "conversation:conv_2"
    assert tap.written == 1 and wakeup.is_set()


async def test_a_resolution_reported_again_is_delivered_once(store: SQLiteStore) -> None:
    """A resolved conversation labelled or snoozed is published again as updated: one
    ``conversation.resolved`` per resolution; resolved again after a reopen, a new one."""
    await subscribe(store, ["conversation.resolved"])
    resolved = conversation(ConversationStatus.RESOLVED).model_copy(update={"resolved_at": T0})
    again = conversation(ConversationStatus.RESOLVED).model_copy(update={"resolved_at": T0, "labels": ["vip"]})
    later = conversation(ConversationStatus.RESOLVED).model_copy(update={"resolved_at": T0 + timedelta(hours=1)})
    queued = [translate(events.conversation_updated(v), T0) for v in (resolved, again, later)]
    assert await store.enqueue_webhooks([q for q in queued if q is not None], T0) == 2


async def test_a_reopen_is_heard_once_per_reopen(store: SQLiteStore) -> None:
    """A customer's reopen publishes the conversation updated, queued with its ``reopened_at``:
    one ``conversation.reopened``; reported again (labelled, snoozed), nothing; reopened again, a new one."""
    await subscribe(store, ["conversation.reopened"])
    reopened = conversation().model_copy(update={"reopened_at": T0, "reopens": 1})
    again = reopened.model_copy(update={"labels": ["vip"]})
    later = conversation().model_copy(update={"reopened_at": T0 + timedelta(days=1), "reopens": 2})
    queued = [translate(events.conversation_updated(v), T0) for v in (reopened, again, later)]
    assert {q.event.type for q in queued if q is not None} == {"conversation.reopened"}
    assert queued[0] is not None and queued[0].order_key == "conversation:conv_1"
    assert queued[0].event.data["conversation"]["reopened_at"] is not None
    assert await store.enqueue_webhooks([q for q in queued if q is not None], T0) == 2
    # an open conversation never reopened, or an agent's own Reopen (theirs at once), is not a reopen
    assert translate(events.conversation_updated(conversation()), T0) is None
    taken = conversation(ConversationStatus.ASSIGNED).model_copy(update={"reopened_at": T0})
    assert translate(events.conversation_updated(taken), T0) is None
