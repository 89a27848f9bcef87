"""The durable outbox worker: delivers stored outbound messages through their
connector, retries transient failures with exponential backoff (honouring a
platform's ``retry_after``), and dead-letters with the reason after the last
try. Messages to one recipient leave in the order they were written."""

from __future__ import annotations

import asyncio
import functools
import logging
import random
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from router import events
from router.aio import wait_event
from router.bus import EventBus
from router.config import OutboxConfig
from router.connector import (
    Connector,
    DeliveryError,
    PermanentError,
    RateLimited,
    RecipientAway,
    SendProgress,
    TransientError,
)
from router.metrics import Metrics
from router.models import Message, OutboxEntry, utcnow
from router.outbox.store import OutboxStore
from router.redaction import redact
from router.store.errors import StoreUnavailable

log = logging.getLogger(__name__)

SEND_TIMEOUT = 30.0
IDLE_POLL = 30.0
OUTAGE_POLL = 30.0  # seconds at most between passes while the store is down


def backoff_delay(attempt: int, initial: float, maximum: float) -> float:
    """Full-jitter exponential backoff (AWS architecture blog's variant)."""
    ceiling = min(maximum, initial * 2 ** (attempt - 1))
    return random.uniform(ceiling / 2, ceiling)


class OutboxWorker:
    def __init__(
        self,
        store: OutboxStore,
        bus: EventBus,
        connectors: Mapping[str, Connector[Any]],
        config: OutboxConfig,
        metrics: Metrics,
        wakeup: asyncio.Event,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.bus = bus
        self.connectors = connectors
        self.config = config
        self.metrics = metrics
        self.wakeup = wakeup
        self.clock = clock

    async def run(self) -> None:
        outage = 0  # passes in a row the store refused
        while True:
            # cleared before the pass, so a reply queued while it runs wakes the next one
            self.wakeup.clear()
            try:
                delay = await self.run_once()
                outage = 0
            except StoreUnavailable:
                # the store logs its outage once; the worker outlives it and
                # tries again ever less often (what was sent but not recorded
                # as sent goes again: the connectors' ids make that harmless
                # where the platform allows)
                outage += 1
                delay = backoff_delay(outage, self.config.backoff_initial, min(OUTAGE_POLL, self.config.backoff_max))
            # woken early by a new reply, or on time for the next retry
            await wait_event(self.wakeup, delay)

    async def run_once(self) -> float:
        """Send what is due; return seconds until something else may be due."""
        entries = await self.store.pending_outbox(self.config.batch)
        queues: dict[tuple[str, str], list[OutboxEntry]] = {}
        for entry in entries:
            queues.setdefault((entry.payload.channel, entry.payload.recipient), []).append(entry)
        waits = await asyncio.gather(*(self._drain(q) for q in queues.values()))
        if len(entries) == self.config.batch:
            return 0.0  # there may be more right now
        return min([IDLE_POLL, *(w for w in waits if w is not None)])

    async def _drain(self, queue: list[OutboxEntry]) -> float | None:
        """Send one recipient's entries in order; stop at the first not yet due
        or failed one. Returns seconds until that one is due again."""
        for entry in queue:
            wait = (entry.next_attempt_at - self.clock()).total_seconds()
            if wait > 0:
                return wait
            retry_in = await self._deliver(entry)
            if retry_in is not None:
                return retry_in
        return None

    async def _deliver(self, entry: OutboxEntry) -> float | None:
        channel = entry.payload.channel
        connector = self.connectors.get(channel)
        attempts = entry.attempts + 1
        # each part of a message sent in parts is stored as it goes: a retry,
        # even after a restart, resumes after it instead of sending it again
        progress = SendProgress(entry.parts_sent, entry.part_external_id,
                                functools.partial(self.store.outbox_part_sent, entry.id))
        try:
            if connector is None:
                raise PermanentError(f"no enabled connector named {channel!r}")
            async with asyncio.timeout(SEND_TIMEOUT):
                result = await connector.send(entry.payload, progress)
        except TimeoutError:
            error = TransientError(f"no answer within {SEND_TIMEOUT:g}s")
            return await self._failed(entry, attempts, error, progress.done)
        except RecipientAway:
            # not a failure: it waits, out of the queue, until the connector says they have it
            await self.store.outbox_wait(entry.id)
            self.metrics.messages_out.labels(channel, "waiting").inc()
            log.info("message %s on %s: its recipient is not connected here; it waits for the node that has them"
                     " or for their return", entry.message_id, channel)
            return None
        except DeliveryError as exc:
            return await self._failed(entry, attempts, exc, progress.done)
        message = await self.store.outbox_sent(entry.id, result.external_id, self.clock())
        self.metrics.messages_out.labels(channel, "sent").inc()
        log.info("message %s sent on %s (conversation %s)", entry.message_id, channel, entry.conversation_id)
        self._publish(message)
        return None

    async def _failed(self, entry: OutboxEntry, attempts: int, error: DeliveryError, parts_sent: int) -> float | None:
        channel = entry.payload.channel
        # the agent reads it: never a credential from a library's error text
        error.reason = redact(error.reason)
        if isinstance(error, TransientError) and attempts < self.config.max_attempts:
            delay = backoff_delay(attempts, self.config.backoff_initial, self.config.backoff_max)
            if isinstance(error, RateLimited):
                delay = max(delay, error.retry_after)
            next_at = self.clock() + timedelta(seconds=delay)
            await self.store.outbox_retry(entry.id, attempts, next_at, error.reason)
            self.metrics.messages_out.labels(channel, "retry").inc()
            log.warning(
                "message %s on %s failed (attempt %d, retry in %.1fs): %s",
                entry.message_id, channel, attempts, delay, error.reason,
            )
            return delay
        reason = error.reason
        if not isinstance(error, PermanentError):
            reason = f"gave up after {attempts} attempts: {reason}"
        if parts_sent:
            # the customer has the beginning: the agent should know which part is missing
            reason = f"{reason} (after {parts_sent} part(s) of it had been delivered)"
        message = await self.store.outbox_dead(entry.id, attempts, reason, self.clock())
        self.metrics.messages_out.labels(channel, "failed").inc()
        log.error("message %s on %s dead-lettered (conversation %s): %s",
                  entry.message_id, channel, entry.conversation_id, reason)
        self._publish(message)
        # a dead entry no longer blocks the recipient's later messages
        return 0.0

    def _publish(self, message: Message) -> None:
        self.bus.publish(events.message_updated(message))
