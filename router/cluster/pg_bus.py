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
for the database. An event the database refuses for what it holds (not an
outage: a text PostgreSQL cannot keep) is dropped with one error, never
retried in front of every later one. A row lives five minutes (``KEEP``);
one node prunes, the one that leads ``events-prune``."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, Self

import asyncpg

from router import events
from router.aio import wait_event
from router.bus import Event, EventBus
from router.cluster.contract import AlwaysLead, Leadership
from router.redaction import textless_traceback
from router.store.errors import StoreUnavailable
from router.store.pg_faults import DRIVER_ERRORS, translated
from router.store.pg_text import storable_json

log = logging.getLogger(__name__)

CHANNEL = "omnirouter_events"
EVENT = "event"  # the topic of the core's events (router.events), republished on each node's bus
# each node reloads its own rules and bot files: another node's reload says nothing about this one's
NODE_LOCAL = frozenset({events.RULES_RELOADED, events.RULES_REFUSED, events.BOT_RELOADED, events.BOT_REFUSED})
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
# at shutdown: how long what the node published may still take to reach the log, and then how long
# each connection may take to close before it is cut (a silent database must not hold the exit)
DRAIN_TIMEOUT = 5.0
CLOSE_TIMEOUT = 2.0
PRUNE_SINGLETON = "events-prune"
# live signals (someone typing: ``events.EPHEMERAL``, ``Peers.signal``) go by NOTIFY alone, on a
# channel and a connection of their own (``signals-out``): no row, never the log's lock nor its
# writer, so a flood of typing, or a database that will not take it, never holds up an event;
# a node whose LISTEN is down misses them, which for what is stale in seconds is right.
# NOTIFY's payload must stay under 8000 bytes
SIGNALS = "omnirouter_signals"
SIGNAL_BYTES = 7500
SIGNALS_WAITING = 1000  # signals waiting to go out; past that the OLDEST are dropped (stale first)

Handler = Callable[[dict[str, Any]], Awaitable[None]]


class PgCluster:
    """This node's link to the others through one PostgreSQL database.

    ``async with PgCluster(dsn, node, bus):`` forwards what ``bus`` publishes
    and publishes there what the other nodes did; ``broadcast``/``on`` carry
    a connector's own messages (``router.connector.Peers``). ``leadership``
    chooses the node that prunes the log (without one, this node does)."""

    clustered = True

    def __init__(self, dsn: str, node: str, bus: EventBus, *, poll: float = SAFETY_POLL, keep: timedelta = KEEP,
                 prune_every: float = PRUNE_EVERY, leadership: Leadership | None = None) -> None:
        self.dsn = dsn
        self.node = node
        self.bus = bus
        self.poll = poll
        self.keep = keep
        self.prune_every = prune_every
        self.leadership: Leadership = leadership or AlwaysLead()
        self.prunes = 0  # times this node pruned the log
        self._outgoing: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._handlers: dict[str, list[Handler]] = {}
        self._wake = asyncio.Event()
        self._last_seen = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._writer: asyncpg.Connection[asyncpg.Record] | None = None
        self._listener: asyncpg.Connection[asyncpg.Record] | None = None
        self._writing = asyncio.Lock()  # the appends and the pruning share the writer connection
        self._dropped = 0
        self._pending: list[tuple[str, str]] = []  # taken from the queue by the appender, not appended yet
        self._signals: asyncio.Queue[str] = asyncio.Queue(SIGNALS_WAITING)
        self._signaller: asyncpg.Connection[asyncpg.Record] | None = None  # the signals' own connection
        self.signals_dropped = 0  # signals this node gave up (queue full, or the database would not take them)
        self._signal_handlers: set[asyncio.Task[None]] = set()  # handlers of signals heard, running
        # set while the LISTEN connection is up: signals sent meanwhile are heard (they are not in the log)
        self.listening = asyncio.Event()

    # -- what the node uses --------------------------------------------------------
    def broadcast(self, topic: str, data: dict[str, Any]) -> None:
        """To every other node's handlers of ``topic`` (never this node's)."""
        self._enqueue(topic, json.dumps(data, ensure_ascii=False))

    def signal(self, topic: str, data: dict[str, Any]) -> None:
        """As ``broadcast``, by NOTIFY alone: never stored, lost for a node that is away."""
        self._signal(topic, json.dumps(data, ensure_ascii=False))

    def on(self, topic: str, handler: Handler) -> None:
        self._handlers.setdefault(topic, []).append(handler)

    def _forward(self, event: Event) -> None:
        if event.type in events.EPHEMERAL:
            self._signal(EVENT, event.json)
        elif event.type not in NODE_LOCAL:
            self._enqueue(EVENT, event.json)

    def _signal(self, topic: str, payload: str) -> None:
        raw = json.dumps({"node": self.node, "topic": topic, "payload": payload}, ensure_ascii=False)
        if len(raw.encode()) > SIGNAL_BYTES:
            log.debug("cluster: a signal of topic %s is too long for NOTIFY, dropped", topic)
            return
        if self._signals.full():  # the oldest goes: a typing indicator seconds old says nothing any more
            self._signals.get_nowait()
            self.signals_dropped += 1
            log.debug("cluster: %d signals wait already, the oldest dropped", SIGNALS_WAITING)
        self._signals.put_nowait(raw)

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
        """``StoreUnavailable`` when the database cannot be had now (it went
        away after the store opened), with nothing left open."""
        try:
            self._writer = await self._connect("events-out")
            # a new node hears what happens from now on, not what the log still keeps from before it
            self._last_seen = await self._writer.fetchval("SELECT coalesce(max(seq), 0) FROM events")
        except DRIVER_ERRORS as exc:
            await self._close(self._writer)
            self._writer = None
            raise StoreUnavailable(f"the node could not join the cluster's event log: {translated(exc)}") from exc
        self._tasks = [asyncio.create_task(self._append_loop(), name="cluster-append"),
                       asyncio.create_task(self._read_loop(), name="cluster-read"),
                       asyncio.create_task(self._signal_loop(), name="cluster-signals"),
                       asyncio.create_task(self.leadership.run(PRUNE_SINGLETON, self._prune_loop),
                                           name="cluster-prune")]
        self.bus.forward = self._forward
        log.info("cluster: node %s joined (events after #%d)", self.node, self._last_seen)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Bounded whatever the database does, and never raises: what this
        node published still reaches the others if the database answers
        within ``DRAIN_TIMEOUT``; then each connection is closed, or cut."""
        self.bus.forward = None
        try:
            async with asyncio.timeout(DRAIN_TIMEOUT):
                await self._outgoing.join()
        except TimeoutError:
            log.warning("cluster: node %s stops with %d events not appended (the database did not take them in"
                        " %gs); other nodes' consoles miss them until they reload", self.node,
                        self._outgoing.qsize() + len(self._pending), DRAIN_TIMEOUT)
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=CLOSE_TIMEOUT)
        self._tasks = []
        writer, listener, self._writer, self._listener = self._writer, self._listener, None, None
        signaller, self._signaller = self._signaller, None
        await asyncio.gather(self._close(writer), self._close(listener), self._close(signaller))

    @staticmethod
    async def _close(conn: asyncpg.Connection[asyncpg.Record] | None) -> None:
        """Closed politely if the server answers in time, else cut; never raises."""
        if conn is None or conn.is_closed():
            return
        try:
            await conn.close(timeout=CLOSE_TIMEOUT)
        except (*DRIVER_ERRORS, asyncpg.InternalClientError) as exc:
            log.debug("cluster: a connection did not close in time (%s), cut", type(exc).__name__)
        finally:
            conn.terminate()

    async def _connect(self, role: str) -> asyncpg.Connection[asyncpg.Record]:
        """A connection of the cluster's own, named for ``pg_stat_activity``:
        ``events-out`` appends, ``events-in`` listens, ``signals-out`` notifies signals."""
        conn: asyncpg.Connection[asyncpg.Record] = await asyncpg.connect(
            self.dsn, timeout=CONNECT_TIMEOUT,
            server_settings={"application_name": f"omnirouter {role} {self.node}"[:63]})
        return conn

    # -- appending -----------------------------------------------------------------
    async def _append_loop(self) -> None:
        failures = 0
        pending = self._pending
        singly = 0  # how many of them go one at a time: a batch the database refused holds a bad event
        while True:
            if not pending:
                pending.append(await self._outgoing.get())
            while len(pending) < BATCH and not self._outgoing.empty():
                pending.append(self._outgoing.get_nowait())
            batch = pending[:1] if singly else pending[:]
            refused = await self._try_append(batch)
            if isinstance(refused, Exception):
                failures += 1
                await self._outage("appending events", refused, failures)
                continue  # the batch is kept and appended once the database is back
            if failures:
                log.info("cluster: appending events again")
            failures = 0
            self._dropped = 0
            if refused is not None and len(batch) > 1:
                singly = len(batch)  # which one: each of them again, alone
                continue
            if refused is not None:
                topic = batch[0][0]
                log.error("cluster: the database refused an event of topic %s (%s); it is dropped, the other nodes"
                          " never see it", topic, refused)
            singly = max(0, singly - len(batch))
            del pending[:len(batch)]
            for _ in batch:
                self._outgoing.task_done()

    async def _try_append(self, batch: list[tuple[str, str]]) -> Exception | str | None:
        """None once appended; the exception when the database cannot be had
        now (the connection is dropped: the next try opens another); why, in
        words for a log, when it refused the batch for what it holds."""
        try:
            await self._append(batch)
        except DRIVER_ERRORS as exc:
            if isinstance(exc, asyncpg.PostgresError) and not isinstance(translated(exc), StoreUnavailable):
                return f"{type(exc).__name__}, SQLSTATE {exc.sqlstate}"  # never its words: they may quote a text
            self._close_writer()
            return exc
        except Exception as exc:  # a bug of ours: said, and the loop goes on (with a new connection)
            log.error("cluster: appending events failed\n%s", textless_traceback(exc))
            self._close_writer()
            return exc
        return None

    def _close_writer(self) -> None:
        """Cut at once (not under ``_writing``: a prune stuck on a silent link holds it)."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.terminate()

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
            except DRIVER_ERRORS as exc:
                failures += 1
                await self._outage("listening for events", exc, failures)
            except Exception as exc:  # a bug of ours: said, and the node listens again on a new connection
                log.error("cluster: listening for events failed\n%s", textless_traceback(exc))
                failures += 1
                await self._outage("listening for events", exc, failures)

    async def _listen(self) -> asyncpg.Connection[asyncpg.Record]:
        old, self._listener = self._listener, None
        if old is not None and not old.is_closed():
            old.terminate()
        conn = await self._connect("events-in")
        await conn.add_listener(CHANNEL, self._notified)
        await conn.add_listener(SIGNALS, self._signalled)
        # a dead connection wakes the loop at once, not at the next safety poll
        conn.add_termination_listener(self._terminated)
        self._listener = conn
        self.listening.set()
        return conn

    def _notified(self, _conn: object, pid: int, _channel: str, _payload: object) -> None:
        # this node's own appends wake nothing: it has nothing to read in them (another
        # node's notification, or the safety poll, moves the cursor past them later)
        writer = self._writer
        if writer is not None and not writer.is_closed() and pid == writer.get_server_pid():
            return
        self._wake.set()

    def _terminated(self, *_: object) -> None:
        self.listening.clear()
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

    # -- live signals ----------------------------------------------------------------
    async def _signal_loop(self) -> None:
        """What waits goes in one statement (one NOTIFY each) on the signals'
        own connection, never the writer's nor under its lock: events never
        wait behind typing. A batch the database cannot take now is dropped,
        not kept, and the next connection is tried after a growing pause
        (meanwhile the queue keeps only the newest signals)."""
        failures = 0
        while True:
            batch = [await self._signals.get()]
            while len(batch) < BATCH and not self._signals.empty():
                batch.append(self._signals.get_nowait())
            try:
                if self._signaller is None or self._signaller.is_closed():
                    self._signaller = await self._connect("signals-out")
                await self._signaller.execute("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p", SIGNALS, batch,
                                              timeout=CONNECT_TIMEOUT)
                failures = 0
            except DRIVER_ERRORS as exc:
                self.signals_dropped += len(batch)
                log.debug("cluster: %d signal(s) dropped: %s", len(batch), type(exc).__name__)
                signaller, self._signaller = self._signaller, None
                if signaller is not None:
                    signaller.terminate()
                failures += 1
                await asyncio.sleep(min(RETRY_MAX, 0.1 * 2 ** (failures - 1)))

    def _signalled(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        try:
            raw = json.loads(str(payload))
            node, topic, data = raw["node"], raw["topic"], raw["payload"]
            event = Event.parse(data) if topic == EVENT and node != self.node else None
        except (ValueError, KeyError, TypeError):
            log.debug("cluster: a signal that is not ours ignored")
            return
        if node == self.node:
            return
        if event is not None:
            self.bus.publish_local(event)
            return
        task = asyncio.create_task(self._dispatch(topic, data))
        self._signal_handlers.add(task)
        task.add_done_callback(self._signal_handlers.discard)

    # -- housekeeping --------------------------------------------------------------
    async def _prune_loop(self) -> None:
        """Run while this node leads ``events-prune``: one node's DELETE, not
        every node's, waiting on the appenders' lock."""
        while True:
            await asyncio.sleep(self.prune_every)
            try:
                async with self._writing:
                    if self._writer is not None and not self._writer.is_closed():
                        await self._writer.execute("DELETE FROM events WHERE created_at < now() - $1::interval",
                                                   self.keep, timeout=CONNECT_TIMEOUT)
                        self.prunes += 1
            except DRIVER_ERRORS as exc:
                log.debug("cluster: pruning the event log failed (next time): %s", exc)

    async def _outage(self, doing: str, exc: BaseException, failures: int) -> None:
        if failures == 1:
            log.warning("cluster: %s failed (%s: %s); retrying", doing, type(exc).__name__, exc)
        await asyncio.sleep(min(RETRY_MAX, 0.1 * 2 ** (failures - 1)))

