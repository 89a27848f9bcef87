"""The store's engine: one sqlite3 connection and the thread, or child
process, allowed to use it (``Connection``; the process, its pipe and its
restarts are ``writer_process._WriterProcess``); group commit (calls gathered
while the connection is busy run as batches of at most ``MAX_BATCH``, two handed
over at once under a crowd). It knows no table: it runs the units of
work (module-level functions of a connection) that the domain modules hand it.

It is where a driver's error becomes the store's own: ``sqlite_db.Db`` runs
each unit of work and hands back any ``sqlite3`` error as ``StoreUnavailable``,
``IntegrityViolation`` or ``BackendError`` (``sqlite_faults.translated``), so
none crosses the ``Store`` contract.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import sqlite3
from abc import abstractmethod
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Concatenate, Literal, ParamSpec, Protocol, TypeVar

from router.store.errors import StoreError, StoreUnavailable
from router.store.faults import Episode
from router.store.sqlite_db import CACHE_MB, Db, Synchronous, Work
from router.store.writer_process import CLOSE_TIMEOUT, WriterGone, _received, _WriterProcess

__all__ = ["CLOSE_TIMEOUT", "GROUP_COMMIT", "Connection", "Connections", "WriterGone", "WriterMode"]

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")
# where the writer connection runs: a thread of the server (the class's default,
# for tools and tests), or a process of its own (the service's default,
# store.writer: the GIL's sake at high message rates; see Connection)
WriterMode = Literal["process", "thread"]
# seconds from one batch of the writer's to the next, at the most, that the writer waits for the
# next batch to gather while several callers write at once (store.group_commit_ms). A
# transaction costs ~0.3 ms of CPU however little it holds (BEGIN and COMMIT, each page it
# touched written to the WAL, the writer and the event loop woken); at 1,000 msg/s, most
# held one message. See ``_Gathering`` for when it waits. Its price: while others write, a
# caller that waits for each of its writes before the next (a long-poll connector's updates,
# one at a time) waits up to the window for each.
GROUP_COMMIT = 0.005
# calls at most in one batch, and batches at most handed to the writer at once. A batch of
# all that waited (a thousand at saturation) kept the two processes in turns, each idle while
# the other worked (the writer while the event loop took a batch's answers and gathered the
# next, the event loop while the writer ran it): 2,540-2,720 msg/s with both cores 55-65 %
# busy. Two of at most 256: 3,420-3,750 (bench.load, 1,000 customers; 128 or 512 a batch,
# or three at once, did less).
MAX_BATCH, IN_FLIGHT = 256, 2

_Batch = list[tuple[Work, "asyncio.Future[Any]"]]
# a batch handed over: its calls, its outcomes to come, and when it was handed over (loop time)
_Sent = tuple[_Batch, "asyncio.Future[list[tuple[bool, Any]]]", float]


class _Call:
    """``fn(conn, *args, **kwargs)`` as an object, so it can be sent to the
    writer process (``fn`` is a module-level function of this module)."""

    __slots__ = ("args", "fn", "kwargs")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.fn, self.args, self.kwargs = fn, args, kwargs

    def __call__(self, conn: sqlite3.Connection) -> Any:
        return self.fn(conn, *self.args, **self.kwargs)


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class _Gathering:
    """The writer's wait between two batches for the next to gather (group
    commit): only after a batch of several (others are writing; a caller
    writing alone is never held), until the window ends or someone needs the
    connection to itself (``run_alone``, ``close``: they would wait for ever
    for a flusher that keeps gathering while others write)."""

    __slots__ = ("hurried", "waiter")

    def __init__(self) -> None:
        self.waiter: asyncio.Future[None] | None = None
        self.hurried = False

    async def wait(self, seconds: float) -> None:
        if self.hurried:
            return
        loop = asyncio.get_running_loop()
        self.waiter = waiter = loop.create_future()
        timer = loop.call_later(seconds, _wake, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self.waiter = None

    def hurry(self) -> None:
        self.hurried = True
        if self.waiter is not None:
            _wake(self.waiter)


class Connection:
    """One sqlite3 connection and the one thread, or process, allowed to use it.

    Calls that arrive while it is busy are gathered and handed over
    together: under load one hop (and, for writes, one COMMIT) serves many
    calls, which is what lets one SQLite file keep up with thousands of
    messages a second (group commit).

    ``process=True`` runs the connection in a child process. Python's
    sqlite3 lets go of the GIL for every statement and must win it back
    after; in a thread of the server each of the ~10 statements of a message
    waits for the busy event loop to let go, and the writer falls behind at
    about 1,500 messages a second on two cores. A process has a GIL of its
    own: one hop per batch, and the event loop keeps its core.
    """

    def __init__(self, path: str, synchronous: Synchronous, name: str, process: bool = False,
                 episode: Episode | None = None, cache_mb: int = CACHE_MB, group_commit: float = 0.0) -> None:
        self._path = path
        self._synchronous = synchronous
        self._name = name
        # the writer's: each batch's outcome, for /healthz and one log line per outage
        self._episode = episode
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=f"sqlite-{name}")
        self._cache_mb = cache_mb
        self._child = _WriterProcess(path, synchronous, name, cache_mb) if process else None
        self._db = Db()
        self._transactional = True
        self._pending: list[tuple[Work, asyncio.Future[Any]]] = []
        # units of work to run alone right after the batch in progress (``after_batch``)
        self._after: list[tuple[Work, asyncio.Future[Any]]] = []
        self._flusher: asyncio.Task[None] | None = None
        # seconds from one batch's start to the next's, at the most, spent gathering (GROUP_COMMIT for the writer)
        self._group_commit = group_commit
        self._gathering = _Gathering()

    @property
    def pid(self) -> int | None:
        """The writer process's, while it runs."""
        return self._child.pid if self._child is not None else None

    async def _run(self, method: str, arg: Any) -> Any:
        if self._child is None:
            return await asyncio.get_running_loop().run_in_executor(self._pool, getattr(self._db, method), arg)
        # a dead writer process (killed, out of memory) had what it had not
        # committed rolled back by SQLite; callers get WriterGone and retry
        # (platforms re-deliver, the widget re-sends), the next call gets a new process
        result = await self._child.request(method, arg)
        return _received(result) if method in ("run_transaction", "run_each") else result

    async def open(self, read_only: bool = False) -> None:
        self._transactional = not read_only
        if self._child is not None:
            await self._child.start()  # the process opens its connection as it starts
        else:
            await asyncio.get_running_loop().run_in_executor(
                self._pool, self._db.open, self._path, self._synchronous, read_only, self._cache_mb
            )

    async def close(self) -> None:
        try:
            if self._flusher is not None:
                self._gathering.hurry()
                await self._flusher
        except BaseException:
            # the batch never finished (a hung writer, a close that timed
            # out): no goodbye through a pipe that is stuck, the process is
            # stopped, and killed if it will not go
            if self._child is not None:
                await self._child.stop(final=True)
            raise
        if self._child is not None:
            await self._child.close()
        else:
            await asyncio.get_running_loop().run_in_executor(self._pool, self._db.close)
        self._pool.shutdown(wait=True)

    async def run_alone(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn`` on its own, after everything gathered so far. In a writer
        process ``fn`` must be picklable: a module-level function or a
        ``functools.partial`` of one."""
        if self._flusher is not None:
            self._gathering.hurry()
            # shielded: a cancelled caller must not cancel the batch, whose callers would wait forever
            await asyncio.shield(self._flusher)
        result: T = await self._run("run_one", fn)
        return result

    async def call(self, fn: Callable[Concatenate[sqlite3.Connection, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn`` on the connection's thread or process; on the writer, as a
        transaction of its own (a savepoint inside the batch's transaction)."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending.append((_Call(fn, args, kwargs), future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        # a cancelled caller does not stop its work half way: it stays in the batch, and its
        # cancelled future tells ``_flush`` to keep the outcome to itself (not shielded: a
        # shield's future and callbacks cost ~4 % of the server at a high message rate)
        return await future

    async def after_batch(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn`` on its own right after the batches on their way (at once if
        none is), before the next is handed over: unlike ``run_alone``, it never waits
        for a pause in the writes, which under a load that never pauses
        would not come. ``fn`` as for ``run_alone``."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._after.append((fn, future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _run_after(self) -> None:
        # each unit stays in ``_after`` until it is answered: a flusher cancelled while one runs
        # leaves it there for ``_abandon`` to tell its caller, with those after it
        while self._after:
            fn, future = self._after[0]
            outcome: tuple[bool, Any]
            try:
                outcome = True, await self._run("run_one", fn)
            except Exception as exc:  # the caller's to handle (a StoreError), or a fault of ours it logs
                outcome = False, exc
            self._after.pop(0)
            self._answer([(fn, future)], [outcome])

    def _note(self, outcomes: list[tuple[bool, Any]]) -> None:
        """A batch's outcome as part of an outage, or as the end of one."""
        if self._episode is None:
            return
        outage = next((value for ok, value in outcomes if not ok and isinstance(value, StoreUnavailable)), None)
        if outage is not None:
            self._episode.failed(outage.reason)
        elif any(ok for ok, _ in outcomes):
            self._episode.succeeded()

    def _left_behind(self, value: BaseException) -> None:
        """The failure of a call whose caller went away: still worth a line in the log."""
        if not isinstance(value, StoreUnavailable):  # an outage is logged once, as such
            log.warning("sqlite %s: a call whose caller had gone failed: %s", self._name, value)

    def _answer(self, calls: list[tuple[Work, asyncio.Future[Any]]], outcomes: list[tuple[bool, Any]]) -> None:
        for (_, future), (ok, value) in zip(calls, outcomes, strict=True):
            if future.cancelled():
                if not ok:
                    self._left_behind(value)
            elif ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    async def _batch(self, method: str, batch: _Batch) -> list[tuple[bool, Any]]:
        """The outcome of each call of ``batch``; a batch that failed whole fails each call."""
        try:
            outcomes: list[tuple[bool, Any]] = await self._run(method, [work for work, _ in batch])
        except StoreUnavailable as exc:  # the writer process died, or could not open the database
            return [(False, exc)] * len(batch)
        except Exception as exc:  # a fault of ours: its callers get it, never a wait without end
            log.exception("sqlite %s: a batch of %d calls failed", self._name, len(batch))
            return [(False, exc)] * len(batch)
        return outcomes

    def _send(self, sent: collections.deque[_Sent], method: str, now: float) -> None:
        """Hand over the next batches: one when none is on its way; a second behind it only when
        a whole batch more waits (the writer then starts it as it ends the first, while the event
        loop takes the first's answers: at saturation the two processes took turns); none while
        units wait to run after the batch (``after_batch``)."""
        while self._pending and not self._after and (
                not sent or (len(sent) < IN_FLIGHT and len(self._pending) >= MAX_BATCH)):
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            sent.append((batch, asyncio.ensure_future(self._batch(method, batch)), now))

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        method = "run_transaction" if self._transactional else "run_each"
        sent: collections.deque[_Sent] = collections.deque()
        try:
            while self._pending or self._after or sent:
                self._send(sent, method, loop.time())
                if not sent:  # only units to run after the batch: it is over
                    await self._run_after()
                    continue
                batch, outcome, started = sent[0]
                outcomes = await outcome
                sent.popleft()
                self._note(outcomes)
                self._answer(batch, outcomes)
                if sent:  # the next batch is on its way already
                    continue
                if self._after:
                    await self._run_after()
                if (len(batch) > 1 and len(self._pending) < MAX_BATCH
                        and (rest := started + self._group_commit - loop.time()) > 0):
                    await self._gathering.wait(rest)
        except BaseException:  # cancelled (a close that timed out, the loop's end): nobody left waiting
            for _, outcome, _ in sent:
                outcome.cancel()
            self._abandon([*(call for batch, _, _ in sent for call in batch), *self._pending, *self._after])
            raise
        finally:
            self._flusher = None
            self._gathering.hurried = False

    def _abandon(self, calls: list[tuple[Work, asyncio.Future[Any]]]) -> None:
        """Calls the flusher leaves unanswered when it is cancelled (a close that
        timed out, the loop's end): told so, never left to wait for ever. Not
        acknowledged, so nothing is lost: platforms re-deliver, the widget re-sends."""
        self._pending, self._after = [], []
        for _, future in calls:
            if not future.done():
                future.set_exception(StoreUnavailable(f"the sqlite {self._name} stopped before this call was answered"))



class Connections(Protocol):
    """What each slice's SQL mixin is mixed over: the store's writer (each
    call a transaction of its own, gathered into group commits) and a
    read-only reader. ``SQLiteStore`` opens both."""

    @property
    @abstractmethod
    def _w(self) -> Connection: ...

    @property
    @abstractmethod
    def _r(self) -> Connection: ...


async def close_quietly(conn: Connection) -> None:
    try:
        await asyncio.wait_for(conn.close(), CLOSE_TIMEOUT)
    except (StoreError, TimeoutError, OSError) as exc:
        log.warning("sqlite store: a connection did not close cleanly: %s", exc)


def truncate_wal(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
