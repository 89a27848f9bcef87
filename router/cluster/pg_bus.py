"""Events across nodes on PostgreSQL: an event log, NOTIFY and LISTEN.

A node appends what it publishes to the ``events`` table (PostgreSQL
migration 4) and, in the same small transaction, ``pg_notify`` with the last
``seq`` it wrote: PostgreSQL delivers the notification at commit, so a
listener never hears of a row it cannot read yet. Every node listens on a
connection of its own (not the store's pool: a pooled connection goes back
to the pool and its LISTEN with it) and, on each notification, on each
reconnection and every few seconds as a safety net, reads the rows after
the last one it saw that other nodes wrote, in ``seq`` order. The
notification only says "look": what a node missed while its connection was
down is read from the table all the same, once, in order.

Appends take the table's EXCLUSIVE lock (reads are not blocked), so ``seq``
order is commit order: without it, a row given seq 10 could commit after
row 11 was read and the cursor moved past it, lost for good. The appends are
a node's own connection's, batched, so the lock is held for one short
insert at a time, never by the store's transactions.

Events are appended after the store's commit that they report (the services
publish once their write returned), from a queue, so a publisher never waits
for the database. A row lives five minutes (``KEEP``); every node prunes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, Self

import asyncpg

from router import events
from router.aio import wait_event
from router.bus import Event, EventBus
from router.redaction import textless_traceback
from router.store.pg_text import storable_json

log = logging.getLogger(__name__)

CHANNEL = "omnirouter_events"
EVENT = "event"  # the topic of the core's events (router.events), republished on each node's bus
# each node reloads its own rules files: another node's reload says nothing about this one's
NODE_LOCAL = frozenset({events.RULES_RELOADED, events.RULES_REFUSED})
SAFETY_POLL = 5.0  # seconds between reads when no notification came (one lost with a dying connection)
BATCH = 500  # rows per append and per read
# how long a row is kept for a node whose LISTEN connection was down: long enough for a
# reconnection, short because every event of the cluster is a row (at 2,000 messages a
# second, a few events each, an hour would be tens of millions of rows)
KEEP = timedelta(minutes=5)
PRUNE_EVERY = 15.0
QUEUE_MAX = 10_000  # events waiting to be appended while the database is away; older ones are dropped
RETRY_MAX = 5.0  # seconds at most between reconnection attempts
CONNECT_TIMEOUT = 10.0

Handler = Callable[[dict[str, Any]], Awaitable[None]]
_FAULTS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


class PgCluster:
    """This node's link to the others through one PostgreSQL database.

    ``async with PgCluster(dsn, node, bus):`` forwards what ``bus`` publishes
    and publishes there what the other nodes did; ``broadcast``/``on`` carry
    a connector's own messages (``router.connector.Peers``)."""

    clustered = True

    def __init__(self, dsn: str, node: str, bus: EventBus, *, poll: float = SAFETY_POLL, keep: timedelta = KEEP,
                 prune_every: float = PRUNE_EVERY) -> None:
        self.dsn = dsn
        self.node = node
        self.bus = bus
        self.poll = poll
        self.keep = keep
        self.prune_every = prune_every
        self._outgoing: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._handlers: dict[str, list[Handler]] = {}
        self._wake = asyncio.Event()
        self._last_seen = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._writer: asyncpg.Connection[asyncpg.Record] | None = None
        self._listener: asyncpg.Connection[asyncpg.Record] | None = None
        self._writing = asyncio.Lock()  # the appends and the pruning share the writer connection
        self._dropped = 0

    # -- what the node uses --------------------------------------------------------
    def broadcast(self, topic: str, data: dict[str, Any]) -> None:
        """To every other node's handlers of ``topic`` (never this node's)."""
        self._enqueue(topic, json.dumps(data, ensure_ascii=False))

    def on(self, topic: str, handler: Handler) -> None:
        self._handlers.setdefault(topic, []).append(handler)

    def _forward(self, event: Event) -> None:
        if event.type not in NODE_LOCAL:
            self._enqueue(EVENT, event.json)

    def _enqueue(self, topic: str, payload: str) -> None:
        if self._outgoing.qsize() >= QUEUE_MAX:
            self._outgoing.get_nowait()
            self._outgoing.task_done()
            self._dropped += 1
            if self._dropped == 1:
                log.warning("cluster: the event log is unreachable and %d events wait; the oldest are dropped"
                            " (other nodes' consoles miss them until they reload)", QUEUE_MAX)
        # cast to jsonb by the append, which would refuse the whole batch for one escaped NUL (pg_text)
        self._outgoing.put_nowait((topic, storable_json(payload)))

    # -- lifecycle ----------------------------------------------------------------
    async def __aenter__(self) -> Self:
        self._writer = await self._connect("events-out")
        # a new node hears what happens from now on, not what the log still keeps from before it
        self._last_seen = await self._writer.fetchval("SELECT coalesce(max(seq), 0) FROM events")
        self._tasks = [asyncio.create_task(self._append_loop(), name="cluster-append"),
                       asyncio.create_task(self._read_loop(), name="cluster-read"),
                       asyncio.create_task(self._prune_loop(), name="cluster-prune")]
        self.bus.forward = self._forward
        log.info("cluster: node %s joined (events after #%d)", self.node, self._last_seen)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.bus.forward = None
        # what this node published before it stopped still reaches the others
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CONNECT_TIMEOUT):
                await self._outgoing.join()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for conn in (self._writer, self._listener):
            if conn is not None and not conn.is_closed():
                await conn.close(timeout=CONNECT_TIMEOUT)

    async def _connect(self, role: str) -> asyncpg.Connection[asyncpg.Record]:
        """A connection of the cluster's own, named for ``pg_stat_activity``:
        ``events-out`` appends, ``events-in`` listens."""
        conn: asyncpg.Connection[asyncpg.Record] = await asyncpg.connect(
            self.dsn, timeout=CONNECT_TIMEOUT,
            server_settings={"application_name": f"omnirouter {role} {self.node}"[:63]})
        return conn

    # -- appending -----------------------------------------------------------------
    async def _append_loop(self) -> None:
        failures = 0
        batch: list[tuple[str, str]] = []
        while True:
            if not batch:
                batch.append(await self._outgoing.get())
            while len(batch) < BATCH and not self._outgoing.empty():
                batch.append(self._outgoing.get_nowait())
            try:
                await self._append(batch)
            except _FAULTS as exc:
                failures += 1
                await self._outage("appending events", exc, failures)
                continue  # the batch is kept and appended once the database is back
            if failures:
                log.info("cluster: appending events again")
            failures = 0
            self._dropped = 0
            for _ in batch:
                self._outgoing.task_done()
            batch = []

    async def _append(self, batch: list[tuple[str, str]]) -> None:
        async with self._writing:
            if self._writer is None or self._writer.is_closed():
                self._writer = await self._connect("events-out")
            await self._append_on(self._writer, batch)

    async def _append_on(self, conn: asyncpg.Connection[asyncpg.Record], batch: list[tuple[str, str]]) -> None:
        # lock, insert and NOTIFY in one statement and its own transaction (pg_migrations:
        # omnirouter_append_events): one round trip a batch, where four cost the node a socket
        # write each (the largest share of a node's CPU per message, py-spy said)
        await conn.execute("SELECT omnirouter_append_events($1, $2, $3::text[], $4::text[])",
                           CHANNEL, self.node, [t for t, _ in batch], [p for _, p in batch])

    # -- reading -------------------------------------------------------------------
    async def _read_loop(self) -> None:
        failures = 0
        while True:
            try:
                conn = await self._listen()
                if failures:
                    log.info("cluster: listening again; catching up after event #%d", self._last_seen)
                failures = 0
                while not conn.is_closed():
                    self._wake.clear()  # before the read: a notification during it wakes the next one
                    await self._catch_up(conn)
                    await wait_event(self._wake, self.poll)
            except _FAULTS as exc:
                failures += 1
                await self._outage("listening for events", exc, failures)

    async def _listen(self) -> asyncpg.Connection[asyncpg.Record]:
        old, self._listener = self._listener, None
        if old is not None and not old.is_closed():
            old.terminate()
        conn = await self._connect("events-in")
        await conn.add_listener(CHANNEL, self._notified)
        # a dead connection wakes the loop at once, not at the next safety poll
        conn.add_termination_listener(self._terminated)
        self._listener = conn
        return conn

    def _notified(self, _conn: object, pid: int, _channel: str, _payload: object) -> None:
        # this node's own appends wake nothing: it has nothing to read in them (another
        # node's notification, or the safety poll, moves the cursor past them later)
        writer = self._writer
        if writer is not None and not writer.is_closed() and pid == writer.get_server_pid():
            return
        self._wake.set()

    def _terminated(self, *_: object) -> None:
        self._wake.set()

    async def _catch_up(self, conn: asyncpg.Connection[asyncpg.Record]) -> None:
        # this node's own rows are read too (without their payload), so the cursor moves past
        # them: skipped by the query alone, they stayed ahead of it and every later read scanned
        # them all again (one node: every read scanned its whole log, growing till the prune)
        while True:
            rows = await conn.fetch(
                "SELECT seq, topic, CASE WHEN node = $2 THEN NULL ELSE payload END AS payload FROM events"
                " WHERE seq > $1 ORDER BY seq LIMIT $3",
                self._last_seen, self.node, BATCH)
            for row in rows:
                self._last_seen = row["seq"]
                if row["payload"] is not None:
                    await self._dispatch(row["topic"], row["payload"])
            if len(rows) < BATCH:
                return

    async def _dispatch(self, topic: str, payload: str) -> None:
        if topic == EVENT:
            self.bus.publish_local(Event.parse(payload))
            return
        for handler in self._handlers.get(topic, ()):
            try:
                await handler(json.loads(payload))
            except Exception as exc:  # one handler's fault must not stop this node hearing the others
                log.error("cluster: a handler of %s failed, the message is skipped\n%s", topic,
                          textless_traceback(exc))

    # -- housekeeping --------------------------------------------------------------
    async def _prune_loop(self) -> None:
        while True:
            await asyncio.sleep(self.prune_every)
            try:
                async with self._writing:
                    if self._writer is not None and not self._writer.is_closed():
                        await self._writer.execute("DELETE FROM events WHERE created_at < now() - $1::interval",
                                                   self.keep)
            except _FAULTS as exc:
                log.debug("cluster: pruning the event log failed (next time): %s", exc)

    async def _outage(self, doing: str, exc: BaseException, failures: int) -> None:
        if failures == 1:
            log.warning("cluster: %s failed (%s: %s); retrying", doing, type(exc).__name__, exc)
        await asyncio.sleep(min(RETRY_MAX, 0.1 * 2 ** (failures - 1)))
