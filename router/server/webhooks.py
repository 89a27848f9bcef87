"""Outbound webhooks in the app's lifecycle, from after the store opens (and
the cluster's event log is joined) to before it closes: the service the
console's API uses, the tap on the bus (set before the router and the
connectors start, so no event of theirs is missed), the task that writes what
it queued, and the sender. At a clean stop, after everything started later
has stopped, the tap's queue is drained into the store."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

from aiohttp import web
from aiohttp.abc import AbstractResolver
from aiohttp.resolver import DefaultResolver

from router import events
from router.appkeys import BUS, METRICS, SETTINGS, STORE, WEBHOOK_TAP, WEBHOOK_WORKER, WEBHOOKS
from router.webhooks.service import Webhooks, WebhookTap
from router.webhooks.worker import WebhookWorker

# set before the app starts: the DNS every webhook URL is resolved through (tests: a fake one)
log = logging.getLogger(__name__)

DEAD_SIGNAL_EVERY = 1.0  # seconds: dead letters tell the admin screens at most this often

WEBHOOK_RESOLVER = web.AppKey("webhook_resolver", AbstractResolver)


def _setup(app: web.Application) -> None:
    wakeup = asyncio.Event()
    resolver = app.get(WEBHOOK_RESOLVER) or DefaultResolver()
    config = app[SETTINGS].webhooks
    app[WEBHOOKS] = Webhooks(app[STORE], app[BUS], config, resolver, wakeup)
    app[WEBHOOK_TAP] = WebhookTap(app[STORE], app[METRICS], wakeup)
    # a lease's owner is this process (``worker_id()``, as the message outbox's), never the configurable
    # node name: two processes given one name would otherwise finish each other's deliveries
    app[WEBHOOK_WORKER] = WebhookWorker(app[STORE], config, app[METRICS], wakeup, resolver=resolver)
    # a dead letter refreshes open admin screens, at most once a second however many there are, and
    # never makes a node re-read the subscriptions (``webhooks.changed`` is for their edits only)
    app[WEBHOOK_WORKER].on_dead = debounced(lambda: app[BUS].publish(events.webhook_deliveries()), DEAD_SIGNAL_EVERY)


def debounced(call: Callable[[], None], every: float) -> Callable[[], None]:
    """``call`` once, ``every`` seconds after the first of a burst of calls."""
    pending: list[asyncio.TimerHandle] = []

    def fire() -> None:
        pending.clear()
        call()

    def request() -> None:
        if not pending:
            pending.append(asyncio.get_running_loop().call_later(every, fire))

    return request


async def webhooks_ctx(app: web.Application) -> AsyncIterator[None]:
    _setup(app)
    tap, worker = app[WEBHOOK_TAP], app[WEBHOOK_WORKER]
    app[BUS].taps.append(tap)
    async with worker:
        tasks = [asyncio.create_task(tap.run(), name="webhooks-tap"),
                 asyncio.create_task(worker.run(), name="webhooks-sender")]
        try:
            yield
        finally:
            await _stop(tasks)
            app[BUS].taps.remove(tap)
            await tap.drain()


async def _stop(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel and await each task; one that had ended on a fault is logged,
    never allowed to skip the drain that follows."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        try:
            await task
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # the drain must run whatever ended the task
            log.error("webhooks: task %s had ended on an error", task.get_name(), exc_info=exc)
