"""Leadership on PostgreSQL: a session advisory lock per singleton.

Each node keeps ONE connection of its own for its singletons (not the
pool's: a pooled connection goes back to the pool, and its session with
it). Leading ``name`` is holding ``pg_advisory_lock(6, hashtext(name))`` in
that session (kind 6, ``router.store.pg_engine.SINGLETON``). The server
frees a session's locks when the session ends, so a node that dies, or
whose connection is killed, lets go of everything it led without a word
from it; a standby node tries for the locks it wants every ``tick``
(1 s) and leads within about a second of the server noticing. A node
that lost a lead stands back for three ticks before it tries again, so a
standby takes over rather than the node whose connection just failed.

Two nodes never run a job at once:
- the leader learns of a lost connection at once when the server ends the
  session (asyncpg's termination listener), and otherwise within
  ``heartbeat_timeout`` (3 s: a query on the connection every tick must
  answer in time), and cancels the job;
- the server frees the lock of a silent client only when TCP keepalive
  gives up on it (``tcp_keepalives_*`` asked for below: about 11 s), after
  the leader has stopped;
- a frozen leader (SIGSTOP, a paused VM, a machine swapping) is no silent
  client: its kernel still answers the keepalives, and its locks were held
  for as long as it was frozen, every singleton of the cluster stopped
  (45 s of no assignments, seen). The session also ends after ``idle_timeout``
  (10 s) without a query (``idle_session_timeout``, PostgreSQL 14 and later),
  which a live leader, querying every tick, never reaches. A leader that
  thaws learns of the end from the server's message on its socket and stops
  its jobs; whatever step a job was in when it froze may finish first, as a
  step cut short by a crash would be taken again;
- a node that wins a lock waits ``takeover_grace`` (2 s) before it starts
  the job, so a leader whose session the server ended has finished
  cancelling its own (a long poll's request is closed).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import asyncpg

from router.aio import cancel_and_wait, wait_event
from router.cluster.contract import Job
from router.cluster.node import NODE_ENV
from router.store.pg_engine import CONNECT_TIMEOUT, SINGLETON
from router.store.pg_faults import translated

log = logging.getLogger(__name__)

TICK = 1.0  # seconds between tries for a lock this node wants, and between heartbeats
HEARTBEAT_TIMEOUT = 3.0
IDLE_TIMEOUT = 10.0  # seconds without a query after which the server ends a (frozen) leader's session
TAKEOVER_GRACE = 2.0
STAND_BACK = 3  # ticks a node that lost a lead lets pass before trying for it again
# the server gives up on a silent client after idle + interval * count seconds
def application_name(node: str) -> str:
    """The leadership connection's name: one per running node (``refuse_a_taken_id``)."""
    return f"omnirouter {node} leadership"


# the major version of PostgreSQL that has idle_session_timeout (an older one refuses the name)
IDLE_SESSION_TIMEOUT_SINCE = 14
KEEPALIVE = {"tcp_keepalives_idle": "5", "tcp_keepalives_interval": "2", "tcp_keepalives_count": "3"}

# a query cut short leaves asyncpg's connection unusable (InternalClientError): made again too
ConnectionFault = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError)


@dataclass
class _Claim:
    """A singleton this node wants to lead, and whether it does."""

    name: str
    held: bool = False
    granted: asyncio.Event = field(default_factory=asyncio.Event)
    lost: asyncio.Event = field(default_factory=asyncio.Event)
    # a node that lost the lead tries again only after this (loop time): the nodes
    # that stood by, trying every tick, take it over first
    retry_at: float = 0.0

    def grant(self) -> None:
        self.held = True
        self.lost.clear()
        self.granted.set()

    def lose(self, retry_at: float) -> None:
        if self.held:
            self.held = False
            self.granted.clear()
            self.lost.set()
            self.retry_at = retry_at


class PgLeadership:
    """This node's singletons, led through one connection to ``dsn``.
    ``async with`` it: the connection is kept (and made again after a
    loss) by a task of its own until exit, which frees every lock."""

    def __init__(self, dsn: str, node: str, *, tick: float = TICK, heartbeat_timeout: float = HEARTBEAT_TIMEOUT,
                 takeover_grace: float = TAKEOVER_GRACE, idle_timeout: float = IDLE_TIMEOUT) -> None:
        self.dsn = dsn
        self.node = node
        self.tick = tick
        self.heartbeat_timeout = heartbeat_timeout
        # a live keeper queries every tick: a few ticks of silence and more is no live one
        self.idle_timeout = max(idle_timeout, 3 * tick)
        self.takeover_grace = takeover_grace
        self._claims: dict[str, _Claim] = {}
        # the connection is used by the keeper task only: a job's task, cancelled at any
        # moment, never cuts a query short. Locks to let go of, at its next tick:
        self._conn: asyncpg.Connection[Any] | None = None
        self._unlocking: list[str] = []
        self._wake = asyncio.Event()
        self._keeper: asyncio.Task[None] | None = None
        self._failing: str | None = None  # the connection's trouble, said once until it ends

    async def __aenter__(self) -> PgLeadership:
        self._keeper = asyncio.create_task(self._keep(), name=f"leadership-{self.node}")
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._keeper is not None:
            await cancel_and_wait(self._keeper)
            self._keeper = None
        await self._drop()  # and with the session every lock it held

    def leading(self) -> list[str]:
        """The singletons this node leads now."""
        return sorted(name for name, claim in self._claims.items() if claim.held)

    # -- a singleton ---------------------------------------------------------------------
    async def run(self, name: str, job: Job) -> None:
        if name in self._claims:
            raise ValueError(f"singleton {name!r} already runs on this node")
        claim = self._claims[name] = _Claim(name)
        self._wake.set()
        try:
            while True:
                await claim.granted.wait()
                if await wait_event(claim.lost, self.takeover_grace):
                    continue
                log.info("node %s leads %s", self.node, name)
                if await self._while_held(claim, job):
                    return
        finally:
            del self._claims[name]
            await self._release(claim)

    async def _while_held(self, claim: _Claim, job: Job) -> bool:
        """Run the job until it ends (True) or the lead is lost (False: cancelled)."""
        running = asyncio.create_task(job(), name=f"singleton-{claim.name}")
        lost = asyncio.create_task(claim.lost.wait())
        ended = False
        try:
            await asyncio.wait({running, lost}, return_when=asyncio.FIRST_COMPLETED)
            ended = running.done()
        finally:
            lost.cancel()
            running.cancel()
            await asyncio.wait({running})  # its unwinding, without raising what it raised
        if ended:
            running.result()  # the job's own end: what it raised, raised here
            return True
        log.warning("node %s lost the lead of %s (its database connection ended): stopped it, waiting to lead "
                    "again", self.node, claim.name)
        return False

    async def _release(self, claim: _Claim) -> None:
        """The lock of a singleton no longer run here, let go of by the keeper
        at once (a standby then leads within a tick)."""
        if claim.held:
            claim.held = False
            self._unlocking.append(claim.name)
            self._wake.set()
            log.info("node %s no longer leads %s", self.node, claim.name)

    # -- the connection --------------------------------------------------------------------
    async def _keep(self) -> None:
        while True:
            try:
                async with asyncio.timeout(self.heartbeat_timeout):
                    await self._tick()
            except ConnectionFault as exc:
                self._trouble(f"{type(exc).__name__}: {exc}")
                await self._drop()
            else:
                self._healthy()
            await wait_event(self._wake, self.tick)
            self._wake.clear()

    async def _tick(self) -> None:
        """Connect if needed, let go of the locks no longer wanted, try for
        each lock wanted and not held, and make sure the connection answers
        (the heartbeat)."""
        if self._conn is None:
            self._unlocking.clear()  # a new session holds nothing
            self._conn = await asyncpg.connect(
                self.dsn, timeout=CONNECT_TIMEOUT,
                server_settings={"application_name": application_name(self.node), **KEEPALIVE})
            self._conn.add_termination_listener(self._ended)
            if self._conn.get_server_version().major >= IDLE_SESSION_TIMEOUT_SINCE:
                await self._conn.execute(f"SET idle_session_timeout = {round(self.idle_timeout * 1000)}")
        # this session's: if it ends meanwhile (``_ended``), what it was granted ended with it
        conn = self._conn
        while self._unlocking:
            await conn.execute("SELECT pg_advisory_unlock($1, hashtext($2))", SINGLETON, self._unlocking[0])
            self._unlocking.pop(0)
        now = asyncio.get_running_loop().time()
        wanted = [claim for claim in self._claims.values() if not claim.held and claim.retry_at <= now]
        for claim in wanted:
            got = await conn.fetchval("SELECT pg_try_advisory_lock($1, hashtext($2))", SINGLETON, claim.name)
            if got and self._conn is conn and not conn.is_closed():
                claim.grant()
        if not wanted:
            await conn.fetchval("SELECT 1")

    def _ended(self, conn: object) -> None:
        """asyncpg's termination listener: the session is gone, and with it every lock."""
        if conn is self._conn:
            self._conn = None
            self._lose_all()
            self._wake.set()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        self._lose_all()
        if conn is not None:
            conn.terminate()

    def _lose_all(self) -> None:
        retry_at = asyncio.get_running_loop().time() + STAND_BACK * self.tick
        for claim in self._claims.values():
            claim.lose(retry_at)

    def _trouble(self, reason: str) -> None:
        if self._failing is None:
            log.warning("node %s: the leadership connection failed (%s); retrying every %gs", self.node, reason,
                        self.tick)
        self._failing = reason

    def _healthy(self) -> None:
        if self._failing is not None:
            log.info("node %s: the leadership connection is back", self.node)
        self._failing = None


class NodeIdTaken(RuntimeError):
    """Another running node has this node's id."""


async def refuse_a_taken_id(dsn: str, node: str) -> None:
    """``NodeIdTaken`` while another node of this id is connected: two nodes
    of one name take each other's outbox leases (replies sent twice, out of
    order) and drop each other's events as their own. A node restarted under
    its name after a crash is not refused once its old session is gone (at
    once after a kill; after the keepalive, ~11 s, after a machine's death)."""
    try:
        conn = await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT)
    except ConnectionFault as exc:
        raise translated(exc) from exc
    try:
        taken = await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                                    application_name(node))
    finally:
        await conn.close()
    if taken:
        raise NodeIdTaken(f"another node named {node!r} is connected to the database: give each node its own"
                          f" {NODE_ENV} (or none, for a generated one)")
