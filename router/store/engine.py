"""The store's engine: one sqlite3 connection and the thread, or child
process, allowed to use it (``Connection``); the writer process, its pipe and
its restarts (``_WriterProcess``); group commit (calls gathered while the
connection is busy run as one batch). It knows no table: it runs the units of
work (module-level functions of a connection) that the domain modules hand it.

It is where a driver's error becomes the store's own: ``sqlite_db.Db`` runs
each unit of work and hands back any ``sqlite3`` error as ``StoreUnavailable``,
``IntegrityViolation`` or ``BackendError`` (``sqlite_faults.translated``), so
none crosses the ``Store`` contract.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import pickle
import signal
import sqlite3
from abc import abstractmethod
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection as PipeEnd
from typing import Any, Concatenate, Literal, ParamSpec, Protocol, TypeVar

from router.heap import settle_heap
from router.store.errors import StoreError, StoreUnavailable
from router.store.faults import Episode
from router.store.sqlite_db import CACHE_MB, Db, Synchronous, Work

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")
# where the writer connection runs: a thread of the server (the class's default,
# for tools and tests), or a process of its own (the service's default,
# store.writer: the GIL's sake at high message rates; see Connection)
WriterMode = Literal["process", "thread"]
CLOSE_TIMEOUT = 10.0  # seconds each step of closing the store may take, whatever the disk does
_PIPE_BUFFER = 65_536  # bytes: a larger request to the writer process is written from a thread
_RESTART_PAUSE, _RESTART_PAUSE_MAX = 1.0, 30.0  # seconds between failed starts of the writer process
_YOUNG = 10.0  # a writer process that dies sooner than this after its start died young
# seconds from one batch of the writer's to the next, at the most, that the writer waits for the
# next batch to gather while several callers write at once (store.group_commit_ms). A
# transaction costs ~0.3 ms of CPU however little it holds (BEGIN and COMMIT, each page it
# touched written to the WAL, the writer and the event loop woken); at 1,000 msg/s, most
# held one message. See ``_Gathering`` for when it waits. Its price: while others write, a
# caller that waits for each of its writes before the next (a long-poll connector's updates,
# one at a time) waits up to the window for each.
GROUP_COMMIT = 0.005


# the writer process's one connection (unused in the server's own process)
_PROCESS_DB = Db()


def _process_main(conn: PipeEnd, path: str, synchronous: Synchronous, cache_mb: int) -> None:
    """The writer process: answers requests on its pipe until it is closed.
    Ctrl-C and a SIGTERM sent to the whole process group are the server's to
    handle: it finishes the messages in flight, which still need the writer,
    then closes it (and if the server dies, the pipe's end stops this loop)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    settle_heap()  # as the server does: a call's objects die by reference counting
    # the first reply says whether the connection opened (a bad path, a newer schema...)
    conn.send_bytes(pickle.dumps(_attempt(_PROCESS_DB.open, path, synchronous, False, cache_mb)))
    while True:
        try:
            data = conn.recv_bytes()
        except EOFError:
            return
        try:
            method, arg = pickle.loads(data)  # only ever our own server's requests
        except Exception as exc:  # a unit whose module fails to import here: its batch fails, the writer lives
            conn.send_bytes(pickle.dumps(_sendable(False, StoreError(f"the writer could not read a call: {exc!r}"))))
            continue
        conn.send_bytes(pickle.dumps(_attempt(_process_run, method, arg), pickle.HIGHEST_PROTOCOL))
        if method == "close":
            return


def _attempt(fn: Callable[..., Any], *args: Any) -> tuple[bool, bytes]:
    """``fn(*args)``'s result, or the exception it raised for the caller to raise."""
    try:
        return _sendable(True, fn(*args))
    except Exception as exc:  # handed to the caller in the server, who raises it
        return _sendable(False, exc)


def _process_run(method: str, arg: Any) -> Any:
    """A call in the writer process. A batch's outcomes go back pickled each
    on its own, so one that cannot be sent (a pydantic error, say) fails
    alone instead of failing a whole batch that has already been committed."""
    if method == "run_one":
        return _PROCESS_DB.run_one(arg)
    if method == "close":
        return _PROCESS_DB.close()
    outcomes = _PROCESS_DB.run_transaction(arg) if method == "run_transaction" else _PROCESS_DB.run_each(arg)
    return [_sendable(ok, value) for ok, value in outcomes]


def _sendable(ok: bool, value: Any) -> tuple[bool, bytes]:
    try:
        return ok, pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        problem = StoreError(f"{type(value).__name__}: {value}" if not ok else f"result could not be sent: {exc}")
        return False, pickle.dumps(problem, pickle.HIGHEST_PROTOCOL)


def _received(outcomes: list[tuple[bool, bytes]]) -> list[tuple[bool, Any]]:
    return [(ok, pickle.loads(data)) for ok, data in outcomes]  # only ever bytes from our own writer process


def _outcome(reply: bytes) -> Any:
    """An ``_attempt``'s result from the writer process, or its exception raised here."""
    ((ok, value),) = _received([pickle.loads(reply)])
    if not ok:
        raise value
    return value


class WriterGone(StoreUnavailable):
    """The writer process died (killed, out of memory) with a call in flight."""


class _WriterProcess:
    """The writer's child process and the pipe to it, which the event loop
    reads itself: a round trip costs ~60 µs, less than a worker thread's hop
    (ProcessPoolExecutor's feeder and manager threads cost ~270 µs,
    ``python -m bench.hop``). One request at a time."""

    def __init__(self, path: str, synchronous: Synchronous, name: str, cache_mb: int) -> None:
        self._args = (path, synchronous, cache_mb)
        self._name = name
        self._lock = asyncio.Lock()
        self._pipe: PipeEnd | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        self._reply: asyncio.Future[bytes] | None = None
        # why no process may start now ("could not start (...)"), and from when
        # (loop time) one may; ``_troubles`` in a row double the pause
        self._failed: str | None = None
        self._retry_at = 0.0
        self._troubles = 0
        # deaths in a row of processes that died young, and when the last started
        self._young_deaths = 0
        self._started_at = 0.0
        self._starting = False  # between spawning a process and its first answer

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def start(self) -> None:
        async with self._lock:
            if self._pipe is None:
                await self._start()

    async def request(self, method: str, arg: Any) -> Any:
        # shielded: a cancelled caller must not leave a reply to be taken as the next request's
        return await asyncio.shield(self._exchange(method, arg))

    async def _exchange(self, method: str, arg: Any) -> Any:
        async with self._lock:
            if self._pipe is None:
                await self._restart()
            return _outcome(await self._send(pickle.dumps((method, arg), pickle.HIGHEST_PROTOCOL)))

    async def _restart(self) -> None:
        """A new process for one that died; after one that could not start
        (its database gone, say) or a crash loop, not before a pause that
        doubles each time up to a limit: calls in between fail at once
        instead of each spawning an interpreter that fails the same way."""
        loop = asyncio.get_running_loop()
        if self._failed is not None and loop.time() < self._retry_at:
            raise WriterGone(f"the store's writer process {self._failed}; "
                             f"next try in {self._retry_at - loop.time():.1f} s")
        try:
            await self._start()
        except Exception as exc:
            self._hold_off(f"could not start ({exc})")
            raise
        self._failed = None
        if not self._young_deaths:
            self._troubles = 0

    def _hold_off(self, why: str) -> None:
        """No new process for a pause that doubles with each trouble in a
        row, up to a limit."""
        self._troubles += 1
        pause = min(_RESTART_PAUSE_MAX, _RESTART_PAUSE * 2 ** (self._troubles - 1))
        self._failed, self._retry_at = why, asyncio.get_running_loop().time() + pause
        log.error("sqlite %s process %s; next try in %.0f s", self._name, why, pause)

    async def _start(self) -> None:
        if self._process is not None:  # the one that died: reaped before its successor starts
            await self.stop()
        # spawn: a fresh interpreter, never a fork of our threads, and a child
        # of the server itself (a forkserver in between dies of a SIGTERM sent
        # to the process group, and takes the writer's pipe with it)
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        process = context.Process(target=_process_main, args=(theirs, *self._args), name=f"sqlite-{self._name}")
        # from its spawning: one that dies while starting (an interpreter that cannot start, killed
        # meanwhile) died young, not as long after the start of the one before it
        self._started_at = asyncio.get_running_loop().time()
        process.start()
        theirs.close()
        self._pipe, self._process = ours, process
        asyncio.get_running_loop().add_reader(ours.fileno(), self._readable)
        # the pipe is read whole and written from a thread, both blocking: an
        # event loop on libuv (uvloop) makes a watched descriptor non-blocking
        # and a reply read half-way would read as a dead writer
        os.set_blocking(ours.fileno(), True)
        self._reply = asyncio.get_running_loop().create_future()
        self._starting = True
        try:
            _outcome(await self._reply)  # the connection is open, or why not
        except BaseException:
            await self.stop()
            raise
        finally:
            self._starting = False

    async def _send(self, data: bytes) -> bytes:
        assert self._pipe is not None
        # held here: the answer may come (and ``_readable`` clear ``_reply``)
        # before a large request's sending returns
        reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._reply = reply
        try:
            if len(data) > _PIPE_BUFFER:
                # a bulk load's rows, or a large batch: written from a thread, so the
                # loop never waits for the child to read them
                await asyncio.get_running_loop().run_in_executor(None, self._pipe.send_bytes, data)
            else:
                self._pipe.send_bytes(data)
        except OSError:
            # the writer died before the loop read its pipe's end (EPIPE): the same
            # death, told as ``_readable`` tells it, never a raw BrokenPipeError
            if self._pipe is not None:
                self._gone()
            if self._reply is reply:
                self._reply = None
            if not reply.done():
                reply.set_exception(WriterGone(f"the store's writer process died (exit code {self._exitcode()})"))
        return await reply

    def _readable(self) -> None:
        assert self._pipe is not None
        reply, self._reply = self._reply, None
        try:
            data = self._pipe.recv_bytes()
        except (EOFError, OSError):
            self._gone()
            if reply is not None and not reply.done():
                reply.set_exception(WriterGone(f"the store's writer process died (exit code {self._exitcode()})"))
            return
        if reply is not None and not reply.done():
            reply.set_result(data)

    def _exitcode(self) -> int | None:
        return self._process.exitcode if self._process is not None else None

    def _gone(self) -> None:
        """The pipe ended: the next request starts a new process, unless
        processes keep dying young (a crash loop: each restart would cost an
        interpreter, and die the same way)."""
        assert self._pipe is not None
        self.forget()
        lived = asyncio.get_running_loop().time() - self._started_at
        self._young_deaths = self._young_deaths + 1 if lived < _YOUNG else 0
        log.error("sqlite %s process died (exit code %s) after %.0f s", self._name, self._exitcode(), lived)
        # one that died starting is held off by ``_restart``, once
        if self._young_deaths >= 2 and not self._starting:
            self._hold_off(f"keeps dying ({self._young_deaths} in a row within {_YOUNG:g} s of starting)")
        elif not self._young_deaths:
            self._troubles = 0

    def forget(self) -> None:
        """Drop the pipe; the process has ended or is ending (its pipe closed)."""
        if self._pipe is not None:
            asyncio.get_running_loop().remove_reader(self._pipe.fileno())
            self._pipe.close()
        self._pipe = None

    async def stop(self) -> None:
        process = self._process
        self.forget()
        self._process = None
        if process is None:
            return
        # reaped off the event loop: it exits as soon as its pipe is closed,
        # unless it hangs (a stopped process, a disk that never answers); then
        # it is killed, so a close never leaves a writer behind holding the file
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, process.join, CLOSE_TIMEOUT / 2)
        if process.is_alive():
            log.warning("sqlite store: the writer process %s did not exit; killed", process.pid)
            process.kill()
            await loop.run_in_executor(None, process.join, CLOSE_TIMEOUT / 2)

    async def close(self) -> None:
        try:
            if self._pipe is not None:
                with contextlib.suppress(WriterGone):
                    await self.request("close", None)
        finally:  # a close that timed out or failed still reaps the process
            await self.stop()


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
                await self._child.stop()
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
        """``fn`` on its own right after the batch in progress (at once if
        none is), before the next one: unlike ``run_alone``, it never waits
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

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        batch: list[tuple[Work, asyncio.Future[Any]]] = []
        try:
            while self._pending or self._after:
                if not self._pending:  # only units to run after the batch: it is over
                    await self._run_after()
                    continue
                started = loop.time()
                batch, self._pending = self._pending, []
                method = "run_transaction" if self._transactional else "run_each"
                try:
                    outcomes = await self._run(method, [work for work, _ in batch])
                except StoreUnavailable as exc:  # the writer process died, or could not open the database
                    outcomes = [(False, exc)] * len(batch)
                except Exception as exc:  # a fault of ours: its callers get it, never a wait without end
                    log.exception("sqlite %s: a batch of %d calls failed", self._name, len(batch))
                    outcomes = [(False, exc)] * len(batch)
                self._note(outcomes)
                self._answer(batch, outcomes)
                if self._after:
                    await self._run_after()
                if len(batch) > 1 and (rest := started + self._group_commit - loop.time()) > 0:
                    await self._gathering.wait(rest)
        except BaseException:  # cancelled (a close that timed out, the loop's end): nobody left waiting
            self._abandon([*batch, *self._pending, *self._after])
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
