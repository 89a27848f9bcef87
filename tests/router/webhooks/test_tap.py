"""What the tap queues: the events this node published (never one relayed
from another node, which that node queues), under the webhook type an
integrator subscribes to, and nothing at all while no subscription wants
their type; a change of subscriptions made on any node is heard at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from router import events
from router.bus import EventBus
from router.metrics import Metrics
from router.models import ConversationStatus, ConversationView
from router.store.errors import StoreUnavailable
from router.store.sqlite import SQLiteStore
from router.webhooks import service
from router.webhooks.events import translate
from router.webhooks.service import WebhookTap
from router.webhooks.types import Queued, Subscription
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
class Stalling:
    """The store, but each write of queued events waits until ``go`` is set
    and then fails (``fail``) or goes through: a slow store, then an outage."""

    def __init__(self, store: SQLiteStore) -> None:
        self.store = store
        self.go = asyncio.Event()
        self.started = asyncio.Event()
        self.fail = False

    async def subscribed_event_types(self) -> frozenset[str]:
        return await self.store.subscribed_event_types()

    async def enqueue_webhooks(self, batch: list[Queued], now: datetime) -> int:
        self.started.set()
        await self.go.wait()
        if self.fail:
            raise StoreUnavailable("the store is away")
        return await self.store.enqueue_webhooks(batch, now)


@pytest.mark.parametrize("fail", [False, True])
async def test_every_event_at_the_cap_is_written_or_counted_as_dropped(
        store: SQLiteStore, monkeypatch: pytest.MonkeyPatch, fail: bool) -> None:
    """Events keep coming while a batch is being written and the queue is at
    its cap: each published event ends up queued in the store, waiting, or
    counted as dropped; none vanishes uncounted."""
    monkeypatch.setattr(service, "QUEUE_MAX", 6)
    monkeypatch.setattr(service, "BATCH", 4)
    await subscribe(store, ["conversation.opened"])
    slow = Stalling(store)
    bus = EventBus()
    tap = WebhookTap(slow, Metrics(), asyncio.Event())  # type: ignore[arg-type]
    bus.taps.append(tap)
    for n in range(6):
        bus.publish(events.conversation_created(conversation(cid=f"conv_{n}")))
    flushing = asyncio.create_task(tap.flush())
    await slow.started.wait()  # a batch of 4 is being written: 2 wait, room for 4 more
    for n in range(6, 12):  # 6 more: 2 over the cap while the batch is out
        bus.publish(events.conversation_created(conversation(cid=f"conv_{n}")))
    slow.fail = fail
    slow.go.set()
    if fail:
        with pytest.raises(StoreUnavailable):
            await flushing
        slow.fail = False
        await tap.flush()
    else:
        await flushing
    queued = await store.list_webhook_deliveries(None, None, 100)
    dropped = tap.metrics.webhook_events_dropped._value.get()
    assert len(queued) == tap.written and len(queued) + dropped == 12
    # the oldest are what the cap drops: those waiting when the cap was reached (and, when the write
    # failed, the batch that could not go back in front of the newer ones)
    kept = range(6, 12) if fail else [*range(4), *range(6, 12)]
    assert sorted(q.order_key for q in queued) == sorted(f"conversation:conv_{n}" for n in kept)


async def test_a_nodes_events_carry_strictly_increasing_times_whatever_its_clock_does(store: SQLiteStore) -> None:
    """Receivers are told to order a conversation's events by the body's
    ``created_at``: a clock that stands still or steps back never ties or
    reverses them."""
    await subscribe(store, ["conversation.opened", "conversation.assigned"])
    readings = iter([T0, T0, T0 - timedelta(seconds=5), T0 + timedelta(seconds=1)])
    tap = WebhookTap(store, Metrics(), asyncio.Event(), clock=lambda: next(readings, T0))
    bus = EventBus()
    bus.taps.append(tap)
    await tap.flush()
    for publish in (events.conversation_created, events.conversation_assigned, events.conversation_assigned,
                    events.conversation_assigned):
        bus.publish(publish(conversation()))
    await tap.flush()
    claim = await store.claim_webhooks("n1", 10, T0 + timedelta(hours=1), timedelta(minutes=1))
    assert len(claim.deliveries) == 1  # one at a time per conversation; the bodies are read from the table
    bodies = await store._r.call(lambda c: [datetime.fromisoformat(r[0]) for r in c.execute(
        "SELECT json_extract(body, '$.created_at') FROM webhook_deliveries ORDER BY seq")])
    assert len(bodies) == 4 and all(a < b for a, b in pairwise(bodies))
