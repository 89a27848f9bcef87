"""The store's writer process: a child process that owns the writer's sqlite3
connection and answers the requests the server sends it on a pipe
(``_WriterProcess``), its start, its death and its restarts. Requests go one
after the other and their replies come back in their order, so the server may
send the next batch while the writer still runs one (``Connection`` in
``router.store.engine`` sends at most two)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import multiprocessing
import os
import pickle
import signal
from collections.abc import Callable
from multiprocessing.connection import Connection as PipeEnd
from typing import Any

from router import logformat
from router.heap import settle_heap
from router.store.errors import StoreError, StoreUnavailable
from router.store.sqlite_db import Db, Synchronous

log = logging.getLogger(__name__)

CLOSE_TIMEOUT = 10.0  # seconds each step of closing the store may take, whatever the disk does
_PIPE_BUFFER = 65_536  # bytes: a larger request to the writer process is written from a thread
_RESTART_PAUSE, _RESTART_PAUSE_MAX = 1.0, 30.0  # seconds between failed starts of the writer process
_YOUNG = 10.0  # a writer process that dies sooner than this after its start died young


# the writer process's one connection (unused in the server's own process)
_PROCESS_DB = Db()


def _process_main(conn: PipeEnd, path: str, synchronous: Synchronous, cache_mb: int, log_level: int | None) -> None:
    """The writer process: answers requests on its pipe until it is closed.
    Ctrl-C and a SIGTERM sent to the whole process group are the server's to
    handle: it finishes the messages in flight, which still need the writer,
    then closes it (and if the server dies, the pipe's end stops this loop).
    ``log_level``: the server's, when it set logging up: this process's lines
    (a migration, the search index's) then look like the server's, not
    Python's bare last resort (no time, no level, nothing below WARNING)."""
    if log_level is not None:
        logformat.configure(log_level)
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
    ``python -m bench.hop``). Requests are sent one at a time, in order, and
    their replies come back in that order: a second may be sent while the
    first is still run, so the writer goes on to it without waiting for the
    event loop to take the first's reply."""

    def __init__(self, path: str, synchronous: Synchronous, name: str, cache_mb: int) -> None:
        self._args = (path, synchronous, cache_mb)
        self._name = name
        self._lock = asyncio.Lock()
        self._pipe: PipeEnd | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        # the replies still to come, one per request sent, in the order they were sent
        self._replies: collections.deque[asyncio.Future[bytes]] = collections.deque()
        # why no process may start now ("could not start (...)"), and from when
        # (loop time) one may; ``_troubles`` in a row double the pause
        self._failed: str | None = None
        self._retry_at = 0.0
        self._troubles = 0
        # deaths in a row of processes that died young, and when the last started
        self._young_deaths = 0
        self._started_at = 0.0
        self._starting = False  # between spawning a process and its first answer
        # closed for good: a request still waiting to be sent (a second batch, shielded from its
        # cancelled flusher) must fail, never start a process the closed store would leave behind
        self._closed = False

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
        async with self._lock:  # the sending only: a request is sent whole before the next
            if self._closed:
                raise WriterGone("the store's writer process was stopped: the store is closed")
            if self._pipe is None:
                await self._restart()
            reply = await self._send(pickle.dumps((method, arg), pickle.HIGHEST_PROTOCOL))
        return _outcome(await reply)

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
        self._fail_all()  # none is left, but a reply of the one before must never answer this one's
        # spawn: a fresh interpreter, never a fork of our threads, and a child
        # of the server itself (a forkserver in between dies of a SIGTERM sent
        # to the process group, and takes the writer's pipe with it)
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        process = context.Process(target=_process_main, args=(theirs, *self._args, logformat.configured_level()),
                                  name=f"sqlite-{self._name}")
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
        opened: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._replies.append(opened)
        self._starting = True
        try:
            _outcome(await opened)  # the connection is open, or why not
        except BaseException:
            await self.stop()
            raise
        finally:
            self._starting = False

    async def _send(self, data: bytes) -> asyncio.Future[bytes]:
        """Send a request; the future of its reply."""
        assert self._pipe is not None
        # queued before the sending: the reply may come (``_readable``) before a large
        # request's sending returns
        reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._replies.append(reply)
        try:
            if len(data) > _PIPE_BUFFER:
                # a bulk load's rows, or a large batch: written from a thread, so the
                # loop never waits for the child to read them
                await asyncio.get_running_loop().run_in_executor(None, self._pipe.send_bytes, data)
            else:
                self._pipe.send_bytes(data)
        except Exception as exc:
            # the writer died before the loop read its pipe's end (EPIPE): the same
            # death, told as ``_readable`` tells it, never a raw BrokenPipeError. Anything
            # else (the executor shut down) left the request unsent or sent in part: its
            # reply must not answer the next request, so the pipe is given up all the same
            if not isinstance(exc, OSError):
                log.error("sqlite %s: a request could not be sent to the writer process: %r", self._name, exc)
            if self._pipe is not None:
                self._gone()
            self._fail_all()
        return reply

    def _readable(self) -> None:
        assert self._pipe is not None
        try:
            data = self._pipe.recv_bytes()
        except (EOFError, OSError):
            self._gone()
            self._fail_all()
            return
        reply = self._replies.popleft() if self._replies else None
        if reply is not None and not reply.done():  # done: its caller was cancelled
            reply.set_result(data)

    def _fail_all(self) -> None:
        """Every reply still to come fails: the process that owed them is gone."""
        while self._replies:
            reply = self._replies.popleft()
            if not reply.done():
                reply.set_exception(WriterGone(f"the store's writer process died (exit code {self._exitcode()})"))

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

    async def stop(self, final: bool = False) -> None:
        """End the process (killed if it will not go); ``final``: for good, no request starts another."""
        self._closed = self._closed or final
        process = self._process
        self.forget()
        self._fail_all()
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
            await self.stop(final=True)
