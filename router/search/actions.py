"""Search's actions and its two jobs: labels and snoozes, announced to every
console; the catch-up indexer, which puts what was stored into the search
index off the ingest's transaction; and the snooze sweep, which brings
snoozed conversations back when their time comes. Each job runs on one node
of a cluster, under the leadership the assigner's SLA sweep runs under
(``router.server.search``; one node: it always leads)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from router import events
from router.bus import EventBus
from router.models import ConversationView
from router.search.service import MAX_LABELS, label_name, snooze_until
from router.search.store import SearchStore
from router.store.errors import StoreError, StoreUnavailable

log = logging.getLogger(__name__)

INDEX_BATCH = 200  # documents a round of the indexer takes: a few ms of the writer's time
INDEX_IDLE = 0.5  # seconds between rounds once caught up: how far search lags behind at most, idle
INDEX_BUSY = 0.02  # seconds between rounds while behind: the writer serves the ingest in between
RETRY = 5.0  # seconds before a round that met a store outage runs again
WAKE_EVERY = 5.0  # seconds between looks at the snoozes: a snooze made on another node is seen by then
WAKE_BATCH = 100  # conversations a sweep wakes at once


class Indexer:
    """Indexes what is stored, in rounds, for as long as it runs."""

    def __init__(self, store: SearchStore) -> None:
        self.store = store

    async def run(self) -> None:
        while True:
            try:
                done = await self.store.index_for_search(INDEX_BATCH)
            except StoreUnavailable as exc:  # an outage the store logs once; the index catches up after it
                log.debug("search indexing failed: %s", exc)
                await asyncio.sleep(RETRY)
                continue
            except StoreError as exc:  # a fault of ours or of the data: said, by its kind (never a text)
                cause = exc.__cause__
                log.warning("search indexing failed (%s%s); again in %.0f s", type(exc).__name__,
                            f" from {type(cause).__name__}" if cause is not None else "", RETRY)
                await asyncio.sleep(RETRY)
                continue
            await asyncio.sleep(INDEX_BUSY if done >= INDEX_BATCH else INDEX_IDLE)


class Snoozes:
    """Snooze and wake conversations, and tell every console. ``clock`` is
    the router's (tests move it)."""

    def __init__(self, store: SearchStore, bus: EventBus, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.bus = bus
        self.clock = clock
        # set by a snooze made here: the sweep looks at the earliest time again
        self.wakeup = asyncio.Event()

    async def snooze(self, conversation_id: str, until: datetime) -> ConversationView:
        """``SearchError`` for a time past or too far; the store's errors otherwise."""
        view = await self.store.snooze(conversation_id, snooze_until(until, self.clock()))
        self.bus.publish(events.conversation_updated(view))
        self.wakeup.set()
        return view

    async def wake(self, conversation_id: str) -> ConversationView | None:
        view = await self.store.wake(conversation_id)
        if view is not None:
            self.bus.publish(events.conversation_updated(view))
        return view

    async def sweep(self) -> list[ConversationView]:
        """Wake every snooze due by now; each conversation is announced once."""
        woken: list[ConversationView] = []
        while batch := await self.store.wake_due(self.clock(), WAKE_BATCH):
            for view in batch:
                log.info("conversation %s is back from its snooze", view.id)
                self.bus.publish(events.conversation_updated(view))
            woken += batch
            if len(batch) < WAKE_BATCH:
                break
        return woken

    async def run(self) -> None:
        while True:
            self.wakeup.clear()
            wait = WAKE_EVERY
            try:
                await self.sweep()
                due = await self.store.next_wake()
                if due is not None:
                    wait = min(wait, max(0.0, (due - self.clock()).total_seconds()))
            except StoreError as exc:
                log.debug("the snooze sweep failed: %s", exc)
                wait = RETRY
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), wait)


class Labels:
    """Labels on conversations, announced to every console."""

    def __init__(self, store: SearchStore, bus: EventBus, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.bus = bus
        self.clock = clock

    async def add(self, conversation_id: str, raw_name: str) -> ConversationView:
        view = await self.store.add_label(conversation_id, label_name(raw_name), self.clock(), MAX_LABELS)
        self.bus.publish(events.conversation_updated(view))
        return view

    async def remove(self, conversation_id: str, raw_name: str) -> ConversationView:
        view = await self.store.remove_label(conversation_id, label_name(raw_name))
        self.bus.publish(events.conversation_updated(view))
        return view
