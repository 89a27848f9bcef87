"""The durable outbox worker: delivers stored outbound messages through their
connector, retries transient failures with exponential backoff (honouring a
platform's ``retry_after``), and dead-letters with the reason after the last
try. Messages to one recipient leave in the order they were written.

Every node runs one. It claims what it sends (``OutboxStore.claim_outbox``):
each entry is leased to it for ``LEASE``, one per recipient at a time, so N
nodes send each reply once and a recipient's replies in order. A node that
dies mid-send leaves its lease to run out; another node then resumes the
entry, which the platform may get twice: counted
(``omnirouter_outbox_resends_total``), and harmless where the connector gives
the platform an idempotency key derived from the message (VK's
``random_id``). Telegram's Bot API, Twilio and SMTP take none.

A live node never sends an entry twice: a send the platform accepted whose
record the store then refused (an outage) is recorded again, with backoff,
while the node's lease lasts, and kept in memory after that, so that the
node's next claim of the entry records it instead of sending it again."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import random
import secrets
import socket
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from router import events
from router.aio import wait_event
from router.bus import EventBus
from router.config import OutboxConfig
from router.connector import (
    Cause,
    Connector,
    DeliveryError,
    PermanentError,
    RateLimited,
    RecipientAway,
    SendProgress,
    TransientError,
    with_cause,
)
from router.metrics import Metrics
from router.models import Message, OutboundMessage, OutboxEntry, utcnow
from router.notes.guard import is_note_id
from router.outbox.store import LeaseLost, OutboxStore
from router.redaction import redact, without_addresses, without_quotes
from router.store.errors import NotFound, StoreError, StoreUnavailable

log = logging.getLogger(__name__)

SEND_TIMEOUT = 30.0
# how long a claimed entry stays this node's. A send is cut off after SEND_TIMEOUT (its
# parts and the platform's pacing included) and then recorded, so a fixed lease of twice
# that outlasts every send of a live node: no renewal to write while a send is slow,
# and none that a stalled process could miss. The other side of it: a dead node's
# entries go again after at most this long. Nodes' clocks must agree to well within
# the margin (NTP does)
LEASE = timedelta(seconds=2 * SEND_TIMEOUT)
IDLE_POLL = 30.0
# a message the platform keeps asking to wait for longer than this is dead-lettered
RATE_LIMITED_FOR = timedelta(hours=24)
# while sends are in flight, how often a pass claims again for retries falling due meanwhile
IN_FLIGHT_POLL = 1.0
OUTAGE_POLL = 30.0  # seconds at most between passes while the store is down
# a delivered send whose record failed is recorded again this often at most, so that its
# message shows as sent soon after the store is back (each try is one refused write)
RECORD_RETRY_MAX = 5.0
# the node stops retrying such a record this long before its lease runs out: past it another
# node may claim the entry, and a pass holding it would keep this node's other sends waiting
RECORD_MARGIN = timedelta(seconds=5)
# delivered sends kept unrecorded at most (oldest dropped first): an entry whose record did
# commit although its answer was lost, or that another node took over, is never claimed
# here again, and would otherwise stay for ever
UNRECORDED_KEPT = 10_000


def backoff_delay(attempt: int, initial: float, maximum: float) -> float:
    """Full-jitter exponential backoff (AWS architecture blog's variant)."""
    ceiling = min(maximum, initial * 2 ** (attempt - 1))
    return random.uniform(ceiling / 2, ceiling)


async def run_passes(
    name: str,
    run_once: Callable[[], Awaitable[float]],
    wakeup: asyncio.Event,
    logger: logging.Logger,
    outage_delay: Callable[[int], float],
    *,
    outlive_faults: bool = False,
) -> None:
    """A sender's loop (the outbox's, the webhooks'), until cancelled: a pass
    (``run_once``: seconds until something else may be due), then a wait that
    ``wakeup`` cuts short, for a new entry or on time for the next retry.

    ``wakeup`` is cleared before each pass, so what is queued while it runs
    wakes the next one. A pass the store refused does not end the loop: the
    passes go on ever less often (``outage_delay`` of how many failed in a
    row), for a dead worker would leave everything unsent while /healthz says
    ok. The store logs its own outage once; another refusal (a bug, a lock
    order broken) is logged here. ``outlive_faults``: any other error of a
    pass is logged and outlived too; without it, it ends the loop."""
    outage = 0  # passes in a row that failed
    while True:
        wakeup.clear()
        try:
            delay = await run_once()
            outage = 0
        except StoreError as exc:
            if not isinstance(exc, StoreUnavailable):
                logger.error("%s: the store refused a step of a pass: %s", name, exc, exc_info=exc)
            outage += 1
            delay = outage_delay(outage)
        except Exception as exc:  # cancellation is no Exception: it still ends the loop
            if not outlive_faults:
                raise
            logger.error("%s: a pass of the sender failed; it goes on", name, exc_info=exc)
            outage += 1
            delay = outage_delay(outage)
        await wait_event(wakeup, delay)


@dataclass(frozen=True, slots=True)
class Delivered:
    """What the platform answered to a send this node has not recorded yet."""

    external_id: str | None
    at: datetime


def worker_id() -> str:
    """A name for a worker no other running worker has (host, process, and a
    random part for several workers in one process, as tests make)."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"


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
        node: str | None = None,
    ) -> None:
        self.store = store
        self.bus = bus
        self.connectors = connectors
        self.config = config
        self.metrics = metrics
        self.wakeup = wakeup
        self.clock = clock
        # whom the entries it sends are leased to: unique among the running workers
        # (a node's id names its worker; reusing it after a restart resumes its leases at once)
        self.node = node or worker_id()
        # one pass at a time: a claim then finds none of this worker's sends in flight
        self._pass = asyncio.Lock()
        # entry id -> a send the platform accepted that the store could not record within the
        # lease: the next claim of the entry here records it rather than sending it again
        self._unrecorded: OrderedDict[str, Delivered] = OrderedDict()

    async def run(self) -> None:
        # the store's outage: passes ever less often (what was sent but not recorded as sent is
        # recorded when the store is back, never sent again by this node: Delivered)
        await run_passes("outbox", self.run_once, self.wakeup, log, lambda outage: backoff_delay(
            outage, self.config.backoff_initial, min(OUTAGE_POLL, self.config.backoff_max)))

    async def run_once(self) -> float:
        """Send what is due, claiming again as each send ends or a new entry
        comes; return, when nothing is left in flight or due, the seconds until
        something else may be due.

        A send never waits for another: a platform that does not answer holds
        its own recipients' next messages (one in flight per recipient), not
        every channel's until its timeout, as a pass that sent a batch and
        waited for all of it did. A claim returns the entries still in flight
        here too (leased to this node, each its recipient's first): they are
        left to their send. Every send ends before the pass does, whatever
        fails: a later pass's claim would take an entry still in flight again
        and send it twice."""
        async with self._pass:
            sending: dict[str, asyncio.Task[None]] = {}
            failures: list[BaseException] = []
            try:
                while True:
                    if failures:  # a write the store refused: the sends in flight end, then the pass fails
                        if sending:
                            await self._next_change(sending, failures)
                            continue
                        raise failures[0]
                    limit = self.config.batch + len(sending)
                    now = self.clock()
                    claim = await self.store.claim_outbox(self.node, limit, now, LEASE)
                    fresh = [e for e in claim.entries if e.id not in sending]
                    for entry in fresh:
                        sending[entry.id] = asyncio.create_task(
                            self._deliver(entry, entry.id in claim.resumed, now + LEASE))
                    if not sending:
                        if claim.next_due is None:
                            return IDLE_POLL
                        return min(IDLE_POLL, max(0.0, (claim.next_due - self.clock()).total_seconds()))
                    if fresh and len(claim.entries) >= limit:
                        continue  # more may be claimable at once
                    await self._next_change(sending, failures)
            except BaseException:
                await self._finish(sending)
                raise

    async def _next_change(self, sending: dict[str, asyncio.Task[None]], failures: list[BaseException]) -> None:
        """Until a send ends, a new entry is queued (``wakeup``) or a second
        passes (a retry falls due), with the ended sends taken out."""
        woken = asyncio.create_task(self.wakeup.wait())
        try:
            await asyncio.wait([*sending.values(), woken], timeout=IN_FLIGHT_POLL,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
        self.wakeup.clear()
        for entry_id, task in list(sending.items()):
            if task.done():
                del sending[entry_id]
                if not task.cancelled() and (exc := task.exception()) is not None:
                    failures.append(exc)

    @staticmethod
    async def _finish(sending: dict[str, asyncio.Task[None]]) -> None:
        """The pass ends (its claim failed, or it was cancelled): every send
        still in flight ends first, cancelled only when the pass was."""
        if not sending:
            return
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            for task in sending.values():
                task.cancel()
        await asyncio.gather(*sending.values(), return_exceptions=True)

    async def _deliver(self, entry: OutboxEntry, resumed: bool, lease_until: datetime) -> None:
        channel = entry.payload.channel
        try:
            if (delivered := self._unrecorded.get(entry.id)) is not None:
                # this node sent it and the store was down when it tried to record that: no resend
                log.info("message %s on %s: delivered before the store could record it; recorded now,"
                         " not sent again", entry.message_id, channel)
                await self._record_sent(entry, delivered, lease_until)
                return
            if resumed:
                # a node died or stalled mid-send: the platform may have it already
                self.metrics.outbox_resends.labels(channel).inc()
                log.warning("message %s on %s: resumed after the lease of an unfinished send ran out",
                            entry.message_id, channel)
            await self._send(entry, lease_until)
        except LeaseLost:
            # this send outlived its lease and another node took the entry: it finishes it
            log.warning("message %s on %s: the lease ran out mid-send; the node that took it over sends it",
                        entry.message_id, channel)

    async def _send(self, entry: OutboxEntry, lease_until: datetime) -> None:
        channel = entry.payload.channel
        connector = self.connectors.get(channel)
        attempts = entry.attempts + 1
        # each part of a message sent in parts is stored as it goes: a retry,
        # even after a restart or on another node, resumes after it instead of sending it again
        progress = SendProgress(entry.parts_sent, entry.part_external_id,
                                functools.partial(self.store.outbox_part_sent, entry.id, node=self.node))
        try:
            if connector is None:
                raise PermanentError(f"no enabled connector named {channel!r}", Cause.ACCOUNT)
            if is_note_id(entry.message_id):  # invariant 8's last line: a note never reaches a connector
                raise PermanentError(f"{entry.message_id} is a private note: notes are never sent to a customer")
            async with asyncio.timeout(SEND_TIMEOUT):
                result = await connector.send(entry.payload, progress)
        except TimeoutError:
            error = TransientError(f"no answer within {SEND_TIMEOUT:g}s", Cause.UNAVAILABLE)
            return await self._failed(entry, attempts, error, progress.done)
        except RecipientAway:
            # not a failure: it waits, out of the queue, until the connector says they have it
            await self.store.outbox_wait(entry.id, self.node)
            self.metrics.messages_out.labels(channel, "waiting").inc()
            log.info("message %s on %s: its recipient is not connected here; it waits for the node that has them"
                     " or for their return", entry.message_id, channel)
            return
        except DeliveryError as exc:
            return await self._failed(entry, attempts, exc, progress.done)
        except Exception as exc:  # a connector's bug: counted as an attempt, never a dead worker
            log.exception("message %s on %s: the connector failed unexpectedly", entry.message_id, channel)
            error = TransientError(f"the connector failed ({type(exc).__name__})")
            return await self._failed(entry, attempts, error, progress.done)
        await self._record_sent(entry, Delivered(result.external_id, self.clock()), lease_until)

    async def _record_sent(self, entry: OutboxEntry, delivered: Delivered, lease_until: datetime) -> None:
        """The platform has it: recorded as sent, with the platform's id of it
        (a delivery receipt that came meanwhile is folded in by the store). A
        record the store refuses is tried again with backoff while the lease
        lasts, then kept for this node's next claim of the entry: sending it
        again would give the customer a second copy, which a live node must
        never do (only a node's death may, README "Delivery with several nodes")."""
        channel = entry.payload.channel
        failures = 0
        while True:
            try:
                message = await self.store.outbox_sent(entry.id, delivered.external_id, delivered.at, self.node)
            except LeaseLost:
                known = self._unrecorded.pop(entry.id, None) is not None
                if not failures and not known:
                    raise  # the send outlived its lease: _deliver says so
                # a failed try may have committed with its answer lost, or the lease ran out meanwhile
                log.warning("message %s on %s: delivered; its record is there already, or another node took"
                            " the entry over after this node's lease ran out", entry.message_id, channel)
                return
            except NotFound:
                self._unrecorded.pop(entry.id, None)
                raise
            except StoreError as exc:
                failures += 1
                self._keep(entry.id, delivered)
                delay = backoff_delay(failures, self.config.backoff_initial,
                                      min(self.config.backoff_max, RECORD_RETRY_MAX))
                if not isinstance(exc, StoreUnavailable) or (
                        self.clock() + timedelta(seconds=delay) > lease_until - RECORD_MARGIN):
                    # a refusal (logged by the pass) or the lease nearly out: the pass fails, and the
                    # next claim of the entry here records it from what is kept
                    log.warning("message %s on %s: delivered, but the store could not record it (%s); it is"
                                " recorded, not sent again, when this node next claims it",
                                entry.message_id, channel,
                                exc.reason if isinstance(exc, StoreUnavailable) else type(exc).__name__)
                    raise
                if failures == 1:  # the store logs the outage itself, once
                    log.info("message %s on %s: delivered; recording it again until the store takes it",
                             entry.message_id, channel)
                await asyncio.sleep(delay)
                continue
            self._unrecorded.pop(entry.id, None)
            self.metrics.messages_out.labels(channel, "sent").inc()
            log.info("message %s sent on %s (conversation %s)", entry.message_id, channel, entry.conversation_id)
            self._publish(message)
            return

    def _keep(self, entry_id: str, delivered: Delivered) -> None:
        self._unrecorded[entry_id] = delivered
        self._unrecorded.move_to_end(entry_id)
        while len(self._unrecorded) > UNRECORDED_KEPT:
            self._unrecorded.popitem(last=False)

    async def _failed(self, entry: OutboxEntry, attempts: int, error: DeliveryError, parts_sent: int) -> None:
        channel = entry.payload.channel
        # the agent reads it: never a credential from a library's error text
        error.reason = redact(error.reason)
        waited = self.clock() - entry.payload.created_at
        if isinstance(error, RateLimited) and waited < RATE_LIMITED_FOR:
            # the platform (or the connector's own pacing) said when: no failed attempt. Counted,
            # 80 s of VK's flood control dead-lettered a reply the platform took a minute later
            attempts -= 1
            delay = max(error.retry_after, backoff_delay(1, self.config.backoff_initial, self.config.backoff_max))
        elif isinstance(error, TransientError) and attempts < self.config.max_attempts:
            delay = backoff_delay(attempts, self.config.backoff_initial, self.config.backoff_max)
            if isinstance(error, RateLimited):
                delay = max(delay, error.retry_after)
        else:
            delay = None
        if delay is not None:
            next_at = self.clock() + timedelta(seconds=delay)
            await self.store.outbox_retry(entry.id, attempts, next_at, error.reason, self.node)
            self.metrics.messages_out.labels(channel, "retry").inc()
            log.warning(
                "message %s on %s failed (%s, retry in %.1fs): %s", entry.message_id, channel,
                f"attempt {attempts}" if attempts == entry.attempts + 1 else "asked to wait", delay,
                _for_log(error.reason, entry.payload),
            )
            return
        # the cause first (the console says it in the agent's language), the platform's words after it
        reason = with_cause(error.reason, error.cause or (
            None if isinstance(error, PermanentError) else Cause.UNAVAILABLE))
        if not isinstance(error, PermanentError):
            reason = f"gave up after {attempts} attempts: {reason}"
        if parts_sent:
            # the customer has the beginning: the agent should know which part is missing
            reason = f"{reason} (after {parts_sent} part(s) of it had been delivered)"
        message = await self.store.outbox_dead(entry.id, attempts, reason, self.clock(), self.node)
        self.metrics.messages_out.labels(channel, "failed").inc()
        log.error("message %s on %s dead-lettered (conversation %s): %s",
                  entry.message_id, channel, entry.conversation_id, _for_log(reason, entry.payload))
        # a dead entry no longer blocks the recipient's later messages (the next claim takes them)
        self._publish(message)

    def _publish(self, message: Message) -> None:
        self.bus.publish(events.message_updated(message))


def _for_log(reason: str, payload: OutboundMessage) -> str:
    """A platform's words about a failed send, for the log: without the customer's address or
    number and without what it quotes of the message (its text, a one-time code, its files)."""
    files = [part for a in payload.attachments for part in (a.name, a.url)]
    return without_addresses(without_quotes(reason, [payload.text], files))
