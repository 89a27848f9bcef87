"""The webhooks' rules: subscriptions an admin manages (``Webhooks``) and the
tap that queues each event this node publishes (``WebhookTap``).

Where an event is queued, and why there: the services publish an event once
the write it reports has committed, so the tap queues it *after* that commit,
from an in-memory queue written to the store in batches (one transaction for
many events). It is the node that published the event that queues it (the
bus calls its taps from ``publish``, never for an event relayed from another
node), and each (subscription, event id) is a unique key, so a batch written
again after an outage that hid its first commit is delivered once. What this
costs: an event published in the instant before the process is killed
(SIGKILL, power) can be lost before it reaches the table; a clean stop drains
the queue first, for ``DRAIN_TIMEOUT`` at most (a store away longer loses what
waits, logged with its count). Queueing in the transaction of every write that publishes
would close that gap at the price of a webhook hook in every slice's SQL."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from aiohttp.abc import AbstractResolver

from router import events
from router.aio import wait_event
from router.bus import Event, EventBus
from router.config import WebhooksConfig
from router.metrics import Metrics
from router.models import utcnow
from router.store.errors import StoreError
from router.webhooks.events import translate, webhook_type
from router.webhooks.guard import check_url
from router.webhooks.signing import new_secret
from router.webhooks.store import WebhookStore
from router.webhooks.types import Queued, Subscription, WebhookDelivery

log = logging.getLogger(__name__)

QUEUE_MAX = 10_000  # events waiting for the store; past that the oldest are dropped (counted)
BATCH = 500  # events per write
REFRESH = 30.0  # seconds between re-reads of the subscribed types (a change on another node is an event too)
RETRY_MAX = 10.0  # seconds at most between writes while the store is away
DRAIN_TIMEOUT = 5.0  # at shutdown, how long the queue may take to reach the store


class Webhooks:
    """An admin's subscriptions. Every change is published
    (``webhooks.changed``) so every node's tap re-reads the subscribed types."""

    def __init__(self, store: WebhookStore, bus: EventBus, config: WebhooksConfig, resolver: AbstractResolver,
                 wakeup: asyncio.Event, clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.bus = bus
        self.config = config
        self.resolver = resolver
        self.wakeup = wakeup
        self.clock = clock

    async def subscribe(self, url: str, event_types: list[str], description: str = "",
                        allow_private: bool = False) -> tuple[Subscription, str]:
        """The new subscription and its secret (shown once). ``UrlRefused``
        for a URL that is not http(s) or points to a private address."""
        await check_url(url, allow_private or self.config.allow_private, self.resolver)
        now = self.clock()
        subscription = Subscription(id=f"wh_{uuid.uuid4().hex[:16]}", url=url, events=_unique(event_types),
                                    description=description, allow_private=allow_private,
                                    created_at=now, updated_at=now)
        secret = new_secret()
        await self.store.create_webhook(subscription, secret)
        self._changed()
        log.info("webhook subscription %s added for %s", subscription.id, ", ".join(subscription.events))
        return subscription, secret

    async def update(self, subscription_id: str, changes: dict[str, Any]) -> Subscription:
        current = await self.store.get_webhook(subscription_id)  # NotFound
        if "events" in changes:
            changes["events"] = _unique(changes["events"])
        updated = current.model_copy(update={**changes, "updated_at": self.clock()})
        if updated.url != current.url or (current.allow_private and not updated.allow_private):
            await check_url(updated.url, updated.allow_private or self.config.allow_private, self.resolver)
        saved = await self.store.update_webhook(updated)
        self._changed()
        return saved

    async def rotate_secret(self, subscription_id: str) -> str:
        """A new secret, shown once; deliveries from now on are signed with it."""
        secret = new_secret()
        await self.store.rotate_webhook_secret(subscription_id, secret, self.clock())
        log.info("webhook subscription %s: its secret was rotated", subscription_id)
        return secret

    async def delete(self, subscription_id: str) -> None:
        await self.store.delete_webhook(subscription_id)
        self._changed()

    async def redeliver(self, delivery_id: str) -> WebhookDelivery:
        delivery = await self.store.redeliver_webhook(delivery_id, self.clock())
        self.wakeup.set()
        self.bus.publish(events.webhook_deliveries())  # the subscriptions are unchanged: nobody re-reads them
        return delivery

    def _changed(self) -> None:
        self.bus.publish(events.webhooks_changed())


def _unique(types: list[str]) -> list[Any]:
    return list(dict.fromkeys(types))


class WebhookTap:
    """Queues each event this node publishes for the subscriptions to its
    type (``bus.taps``); a task writes them to the store in batches and wakes
    the sender. The subscribed types are read at start, on every
    ``webhooks.changed`` (from any node) and every ``REFRESH`` seconds; until
    the first read, every event that webhooks can carry is queued (the store
    matches it to no subscription when there is none)."""

    def __init__(self, store: WebhookStore, metrics: Metrics, wakeup: asyncio.Event,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.metrics = metrics
        self.wakeup = wakeup
        self.clock = clock
        self.types: frozenset[str] | None = None
        self._queue: deque[Queued] = deque()
        self._ready = asyncio.Event()
        self._stale = True
        self.written = 0  # deliveries this node queued (tests, bench)
        self.dropped = 0  # events lost at the queue's cap (tests; the metric counts them too)
        self._stamped: datetime | None = None

    def __call__(self, event: Event, own: bool) -> None:
        if event.type == events.WEBHOOKS_CHANGED:  # from any node
            # until re-read, everything webhooks can carry is queued: a new subscription misses nothing
            self.types = None
            self._stale = True
            self._ready.set()
            return
        if not own:  # the node that published it queues it
            return
        kind = webhook_type(event)
        if kind is None or (self.types is not None and kind not in self.types):
            return
        queued = translate(event, self._stamp())
        if queued is None:
            return
        if len(self._queue) >= QUEUE_MAX:
            self._queue.popleft()
            self.metrics.webhook_events_dropped.inc()
            self.dropped += 1
        self._queue.append(queued)
        self._ready.set()

    def _stamp(self) -> datetime:
        """The body's ``created_at``: strictly increasing for this node's events
        (a clock read twice in one tick, or stepped back, never orders them
        wrongly), so a receiver may order a conversation's events by it."""
        now = self.clock()
        if self._stamped is not None and now <= self._stamped:
            now = self._stamped + timedelta(microseconds=1)
        self._stamped = now
        return now

    async def run(self) -> None:
        failures = 0
        while True:
            if not self._queue and not self._stale:
                self._ready.clear()
                if not await wait_event(self._ready, REFRESH):
                    self._stale = True
            try:
                await self.flush()
                failures = 0
            except StoreError as exc:
                failures += 1
                if failures == 1:  # once per outage: the store logs the outage itself
                    log.warning("webhooks: events could not be queued (%s); they wait in memory", exc)
                await asyncio.sleep(min(RETRY_MAX, 0.5 * 2 ** failures))

    async def flush(self) -> None:
        """Re-read the subscribed types if asked, and write what waits."""
        if self._stale:
            self._stale = False
            try:
                self.types = await self.store.subscribed_event_types()
            except StoreError:
                self._stale = True
                raise
        while self._queue:
            # taken out before the write: an event dropped at the cap meanwhile is never one of these
            batch = [self._queue.popleft() for _ in range(min(BATCH, len(self._queue)))]
            try:
                written = await self.store.enqueue_webhooks(batch, self.clock())
            except BaseException:
                self._put_back(batch)
                raise
            self.written += written
            if written:
                self.wakeup.set()

    def _put_back(self, batch: list[Queued]) -> None:
        """A batch the store did not take goes back in front, as far as the
        cap lets it: what does not fit is the oldest, dropped and counted."""
        room = max(0, QUEUE_MAX - len(self._queue))
        dropped = len(batch) - min(room, len(batch))
        if dropped:
            self.metrics.webhook_events_dropped.inc(dropped)
            self.dropped += dropped
        self._queue.extendleft(reversed(batch[dropped:]))

    async def drain(self) -> None:
        """At a clean stop: what waits reaches the store if it answers in time."""
        try:
            async with asyncio.timeout(DRAIN_TIMEOUT):
                while self._queue:
                    try:
                        await self.flush()
                    except StoreError:
                        await asyncio.sleep(0.5)
        except TimeoutError:
            log.error("webhooks: %d events were lost at shutdown: the store did not take them within %g s",
                      len(self._queue), DRAIN_TIMEOUT)
