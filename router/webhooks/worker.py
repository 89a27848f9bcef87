"""The webhooks' sender: claims due deliveries (``WebhookStore.claim_webhooks``),
POSTs each signed to its URL, retries a failure with full-jitter exponential
backoff (the message outbox's, ``router.outbox.service.backoff_delay``) and
dead-letters it with the reason after the last try. A conversation's
deliveries to one subscription go one at a time, in order: the store offers
only the first unfinished one of each.

Sends overlap (``run_once``'s pipeline): a receiver that never answers holds
back its own conversations, never the others'.

Every node runs one; a delivery is leased to the process that claimed it, so
with several nodes each goes once in normal operation. A node that dies
mid-send leaves its lease to run out and another node sends it again: the
``Omnirouter-Event-Id`` header is the receiver's idempotency key."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import Self

import aiohttp
from aiohttp.abc import AbstractResolver

from router.config import WebhooksConfig
from router.metrics import Metrics
from router.models import utcnow
from router.outbox.service import backoff_delay, run_passes, worker_id
from router.outbox.store import LeaseLost
from router.webhooks import guard
from router.webhooks.signing import (
    DELIVERY_HEADER,
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    SIGNATURE_HEADER,
    header,
)
from router.webhooks.store import WebhookStore
from router.webhooks.types import DeliveryReason, Outgoing

log = logging.getLogger(__name__)

IDLE_POLL = 30.0
OUTAGE_POLL = 30.0
PRUNE_EVERY = timedelta(hours=1)
USER_AGENT = "omnirouter-webhooks/1"
_REDIRECTS = range(300, 400)
_GONE = 410  # the receiver says this URL is gone for good: no retry
PER_HOST = 8  # sends in flight to one receiver's host at most


class Failure(Exception):
    """A delivery that did not succeed: ``reason`` in English (the log, the
    API's ``last_error``), ``code`` and ``values`` the same for the console to
    word in the admin's language (``webhooks.reasons.<code>``), ``status`` the
    receiver's HTTP status (None: no answer), ``final``: no retry."""

    def __init__(self, reason: str, code: str, values: dict[str, str | int | float | bool],
                 status: int | None = None, final: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.values = values
        self.status = status
        self.final = final


class _Flight:
    """The sends in flight, by host: which subscriptions to skip at a claim."""

    def __init__(self) -> None:
        self.tasks: dict[asyncio.Task[object], str] = {}
        self.hosts: dict[str, int] = {}
        self.subscriptions: dict[str, set[str]] = {}
        self.gates: dict[str, asyncio.Semaphore] = {}

    def start(self, host: str, subscription_id: str, send: Coroutine[object, object, None]) -> None:
        self.hosts[host] = self.hosts.get(host, 0) + 1
        self.subscriptions.setdefault(host, set()).add(subscription_id)
        gate = self.gates.setdefault(host, asyncio.Semaphore(PER_HOST))
        self.tasks[asyncio.create_task(_gated(gate, send), name="webhook-delivery")] = host

    def full(self) -> set[str]:
        return {s for host, n in self.hosts.items() if n >= PER_HOST for s in self.subscriptions[host]}

    async def wait(self, wakeup: asyncio.Event, delay: float) -> None:
        """Until a send ends, new deliveries are queued (``wakeup``) or ``delay`` passes."""
        woken: asyncio.Task[object] = asyncio.create_task(wakeup.wait())
        try:
            done, _ = await asyncio.wait({*self.tasks, woken}, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
        wakeup.clear()
        for task in done:
            if task is not woken:
                self._ended(task)

    def _ended(self, task: asyncio.Task[object]) -> None:
        host = self.tasks.pop(task)
        self.hosts[host] -= 1
        if not self.hosts[host]:
            del self.hosts[host], self.subscriptions[host], self.gates[host]
        task.result()  # a store's refusal to record an outcome ends the pass (run() backs off)

    def cancel(self) -> None:
        for task in self.tasks:
            task.cancel()

    async def settle(self) -> None:
        """What is still in flight when the pass ends (a store error, a stop) ends first."""
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)


async def _gated(gate: asyncio.Semaphore, send: Coroutine[object, object, None]) -> object:
    async with gate:
        await send
    return None


class WebhookWorker:
    def __init__(self, store: WebhookStore, config: WebhooksConfig, metrics: Metrics,
                 wakeup: asyncio.Event, clock: Callable[[], datetime] = utcnow, node: str | None = None,
                 resolver: AbstractResolver | None = None) -> None:
        self.store = store
        # told of each dead letter (the app publishes ``webhooks.changed``: open admin screens show it)
        self.on_dead: Callable[[], None] | None = None
        self.config = config
        self.metrics = metrics
        self.wakeup = wakeup
        self.clock = clock
        self.node = node or worker_id()
        self.resolver = resolver
        self._guarded: aiohttp.ClientSession | None = None
        self._open: aiohttp.ClientSession | None = None
        self._pass = asyncio.Lock()
        self._pruned_at: datetime | None = None
        # time a delivery's lease lasts: longer than any send (its timeout) with a margin
        self.lease = timedelta(seconds=2 * config.timeout + 30)

    async def __aenter__(self) -> Self:
        timeout = aiohttp.ClientTimeout(total=self.config.timeout)
        self._guarded = aiohttp.ClientSession(connector=guard.connector(True, self.resolver), timeout=timeout,
                                              trust_env=False)
        self._open = aiohttp.ClientSession(connector=guard.connector(False, self.resolver), timeout=timeout,
                                           trust_env=False)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for session in (self._guarded, self._open):
            if session is not None:
                await session.close()
        self._guarded = self._open = None

    async def run(self) -> None:
        # the sender outlives any one fault, the store's outage included; cancellation ends it
        await run_passes("webhooks", self.run_once, self.wakeup, log,
                         lambda outage: backoff_delay(outage, 1.0, OUTAGE_POLL), outlive_faults=True)

    async def run_once(self) -> float:
        """Send what is due; seconds until something else may be due.

        A pipeline: up to ``batch`` sends in flight, claimed again as each
        ends, at most ``PER_HOST`` to one receiver's host, whose subscriptions
        the claims skip while it has them all; so a receiver that never
        answers holds back its own conversations only, never the others'."""
        async with self._pass:
            await self._prune()
            flight = _Flight()
            try:
                return await self._pipeline(flight)
            except asyncio.CancelledError:
                flight.cancel()
                raise
            finally:
                await flight.settle()

    async def _pipeline(self, flight: _Flight) -> float:
        while True:
            claim = None
            free = self.config.batch - len(flight.tasks)
            if free > 0:
                # at most PER_HOST at a time: a host's subscriptions are skipped from the claim after the one
                # that fills it, so no host gets more than twice its share, never every slot
                claim = await self.store.claim_webhooks(self.node, min(free, PER_HOST), self.clock(), self.lease,
                                                        flight.full())
                for out in claim.deliveries:
                    flight.start(_host(out.url), out.delivery.subscription_id, self._deliver(out))
                if claim.deliveries:
                    continue  # claim again: more may be due (an empty claim tells when the next is)
            delay = IDLE_POLL if claim is None or claim.next_due is None else min(
                IDLE_POLL, max(0.0, (claim.next_due - self.clock()).total_seconds()))
            if not flight.tasks:
                return delay
            await flight.wait(self.wakeup, delay)

    async def _prune(self) -> None:
        now = self.clock()
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = now
        await self.store.prune_webhook_deliveries(now - timedelta(days=self.config.keep_days))

    async def _deliver(self, out: Outgoing) -> None:
        d = out.delivery
        if out.resumed:
            log.warning("webhook delivery %s: resumed after the lease of an unfinished send ran out", d.id)
        attempts = d.attempts + 1
        try:
            status = await self._post(out)
        except Failure as failure:
            return await self._failed(out, attempts, failure)
        except Exception as exc:  # a fault of ours or a library's: this delivery's end, not the sender's
            # logged once, with the traceback (never the body); the console shows the reason
            log.error("webhook delivery %s: unexpected error, dead-lettered", d.id, exc_info=exc)
            host, error = _host(out.url), type(exc).__name__
            unexpected = Failure(f"{host} could not be sent to (unexpected {error})", "unexpected",
                                 {"host": host, "error": error}, final=True)
            return await self._failed(out, attempts, unexpected)
        try:
            await self.store.webhook_sent(d.id, status, self.clock(), self.node)
        except LeaseLost:
            log.warning("webhook delivery %s: the lease ran out mid-send; the node that took it over sends it", d.id)
            return
        self.metrics.webhook_deliveries.labels("sent").inc()

    async def _post(self, out: Outgoing) -> int:
        session = self._open if out.allow_private or self.config.allow_private else self._guarded
        assert session is not None, "use the worker in `async with`"
        host = _host(out.url)
        body = out.body.encode()
        headers = {
            "Content-Type": "application/json", "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: header(out.secret, int(self.clock().timestamp()), body),
            EVENT_ID_HEADER: out.delivery.event_id, EVENT_TYPE_HEADER: out.delivery.event_type,
            DELIVERY_HEADER: out.delivery.id,
        }
        try:
            async with session.post(out.url, data=body, headers=headers, allow_redirects=False) as resp:
                status = resp.status
        except TimeoutError:
            raise Failure(f"{host} did not answer within {self.config.timeout:g} s", "timeout",
                          {"host": host, "seconds": self.config.timeout}) from None
        except aiohttp.ClientConnectorError as exc:
            # our words (aiohttp's name the whole URL); the guard's refusal says why
            if "public address" in str(exc.os_error):
                raise Failure(f"{host} could not be reached ({exc.os_error})", "not_public", {"host": host}) from None
            raise Failure(f"{host} could not be reached ({type(exc).__name__})", "unreachable",
                          {"host": host, "error": type(exc).__name__}) from None
        except aiohttp.ClientError as exc:
            raise Failure(f"{host} could not be reached ({type(exc).__name__})", "unreachable",
                          {"host": host, "error": type(exc).__name__}) from None
        if 200 <= status < 300:
            return status
        if status in _REDIRECTS:
            raise Failure(f"{host} answered a redirect (HTTP {status}); webhooks do not follow redirects",
                          "redirect", {"host": host, "status": status}, status, final=True)
        raise Failure(f"{host} answered HTTP {status}", "http_status", {"host": host, "status": status}, status,
                      final=status == _GONE)

    async def _failed(self, out: Outgoing, attempts: int, failure: Failure) -> None:
        d = out.delivery
        try:
            if not failure.final and attempts < self.config.max_attempts:
                delay = backoff_delay(attempts, self.config.backoff_initial, self.config.backoff_max)
                await self.store.webhook_retry(d.id, attempts, self.clock() + timedelta(seconds=delay),
                                               failure.reason, failure.status, self.node,
                                               DeliveryReason(code=failure.code, values=failure.values))
                self.metrics.webhook_deliveries.labels("retry").inc()
                log.warning("webhook delivery %s failed (attempt %d, retry in %.1fs): %s",
                            d.id, attempts, delay, failure.reason)
                return
            reason = failure.reason if failure.final else f"gave up after {attempts} attempts: {failure.reason}"
            # gave_up: the console puts its "gave up after N attempts" before the reason's own words
            code = DeliveryReason(code=failure.code,
                                  values={**failure.values, "attempts": attempts, "gave_up": not failure.final})
            await self.store.webhook_dead(d.id, attempts, reason, failure.status, self.clock(), self.node, code)
        except LeaseLost:
            log.warning("webhook delivery %s: the lease ran out mid-send; the node that took it over sends it", d.id)
            return
        self.metrics.webhook_deliveries.labels("dead").inc()
        log.error("webhook delivery %s dead-lettered: %s", d.id, reason)
        if self.on_dead is not None:
            self.on_dead()


def _host(url: str) -> str:
    try:
        return guard.host_port(url)[0]
    except guard.UrlRefused:
        return "the receiver"

