"""The node's part in a cluster, chosen by the store: on PostgreSQL the
singletons are led through advisory locks, and send pace and login
throttle are counted in the database, and events cross to the other nodes;
on SQLite (one node) it always leads, counts in memory and keeps its events
(``router.cluster``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from agents_ui.sessions import ADDRESS_ATTEMPTS, LOGIN_ATTEMPTS
from router.aio import cancel_and_wait
from router.appkeys import BUS, CONFIG_DIR, CONNECTORS, STORE
from router.cluster.config_check import ConfigCheck
from router.cluster.contract import AlwaysLead, Leadership, SendPace
from router.cluster.pg_bus import PgCluster
from router.cluster.postgres_leadership import PgLeadership, refuse_a_taken_id
from router.cluster.postgres_pace import PgPace
from router.cluster.postgres_throttle import PgLoginAttempts
from router.config import Settings
from router.store.base import Store
from router.store.errors import StoreError
from router.store.postgres import PostgresStore

log = logging.getLogger(__name__)

NODE = web.AppKey("node", str)
LEADERSHIP = web.AppKey("leadership", Leadership)
PACE = web.AppKey("send_pace", SendPace)
SWEEP_EVERY = 60.0  # seconds between sweeps of the shared state's forgettable rows


def make_leadership(store: Store, node: str) -> Leadership:
    return PgLeadership(store.dsn, node) if isinstance(store, PostgresStore) else AlwaysLead()


def share_state(app: web.Application, settings: Settings) -> None:
    """On PostgreSQL: every connector's send pace and the console's login
    throttle counted in the database (before ``setup_console``, which keeps
    them in memory otherwise)."""
    store = app[STORE]
    if not isinstance(store, PostgresStore):
        return
    app[PACE] = pace = PgPace(store.engine)
    for connector in app[CONNECTORS].values():
        connector.pace = pace
    app[LOGIN_ATTEMPTS] = PgLoginAttempts(store.engine, settings.console.login_attempts,
                                          settings.console.login_lockout_seconds)
    app[ADDRESS_ATTEMPTS] = PgLoginAttempts(store.engine, settings.console.login_attempts_per_address,
                                            settings.console.login_lockout_seconds)


def config_differs(app: web.Application) -> list[str]:
    """The other nodes whose routing files differ from this node's (none on one node)."""
    check = app.get(CONFIG_CHECK)
    return check.differing() if check is not None else []


def leading(app: web.Application) -> list[str] | None:
    """The singletons this node leads (None on one node: all of them)."""
    leadership = app[LEADERSHIP]
    return leadership.leading() if isinstance(leadership, PgLeadership) else None


async def cluster_ctx(app: web.Application) -> AsyncIterator[None]:
    """The leadership's connection, kept from after the store opens to after
    every singleton has stopped (they stop first: cleanup runs in reverse)."""
    leadership = app[LEADERSHIP]
    if not isinstance(leadership, PgLeadership):
        yield
        return
    await refuse_a_taken_id(leadership.dsn, leadership.node)
    async with leadership:
        yield


async def sweeper_ctx(app: web.Application) -> AsyncIterator[None]:
    """The shared state's forgettable rows (idle send buckets, login
    failures out of their window) deleted by one node of the cluster."""
    if PACE not in app:
        yield
        return
    task = asyncio.create_task(app[LEADERSHIP].run("shared-state-sweep", lambda: _sweep(app)), name="sweeper")
    yield
    await cancel_and_wait(task)


async def _sweep(app: web.Application) -> None:
    pace, attempts = app[PACE], app[LOGIN_ATTEMPTS]
    while True:
        try:
            if isinstance(pace, PgPace):
                await pace.sweep()
            if isinstance(attempts, PgLoginAttempts):
                await attempts.sweep()
        except StoreError as exc:  # an outage the store logs once; the next sweep catches up
            log.debug("sweeping the shared state failed: %s", exc)
        await asyncio.sleep(SWEEP_EVERY)


# -- events across nodes (router.cluster.pg_bus) -------------------------------------

EVENTS = web.AppKey("cluster_events", PgCluster)
CONFIG_CHECK = web.AppKey("config_check", ConfigCheck)


def join_events(app: web.Application) -> None:
    """On PostgreSQL, this node's bus and its connectors' ``Peers`` linked to the
    other nodes'; before the connectors mount their routes (they register their
    topics then)."""
    store = app[STORE]
    if not isinstance(store, PostgresStore):
        return
    # one node prunes the event log: every node's DELETE would wait on the appenders' lock
    app[EVENTS] = events = PgCluster(store.dsn, app[NODE], app[BUS], leadership=app[LEADERSHIP])
    for connector in app[CONNECTORS].values():
        connector.peers = events
    app[CONFIG_CHECK] = ConfigCheck(events, app[NODE], app[CONFIG_DIR])


async def events_ctx(app: web.Application) -> AsyncIterator[None]:
    """After the store (its migrations made the event log), before what publishes; on the way
    out what the node published last still goes to the others."""
    events = app.get(EVENTS)
    if events is None:
        yield
        return
    async with events:
        checking = asyncio.create_task(app[CONFIG_CHECK].run(), name="config-check")
        yield
        await cancel_and_wait(checking)
