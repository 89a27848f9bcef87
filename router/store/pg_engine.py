"""PostgreSQL's engine: a pool of asyncpg connections and the two ways a
slice's SQL runs on it. It knows no table, as ``router.store.engine`` knows
none on SQLite: the slices hand it their units of work, here coroutine
functions of a connection (``async def unit(conn, ...)``).

- ``read``: the unit runs on a pooled connection, each statement on its own.
- ``write``: the unit runs in one transaction (READ COMMITTED). It holds the
  locks its store method's docstring names (``router.store.base``). When
  PostgreSQL aborts it for a deadlock or a serialisation failure, the whole
  unit runs again, since nothing of it was kept.
- ``write_statement``: as ``write``, for a unit of one statement (a server
  function's call), its own transaction without BEGIN and COMMIT.

Every asyncpg error becomes the store's own here (``pg_faults.translated``),
so none crosses the ``Store`` contract."""

from __future__ import annotations

import asyncio
import json
import logging
from abc import abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any, Concatenate, ParamSpec, Protocol, TypeAlias, TypeVar

import asyncpg
import asyncpg.pool

from router.store import pg_text
from router.store.errors import StoreError, StoreMisconfigured, StoreUnavailable
from router.store.faults import Episode
from router.store.pg_faults import DRIVER_ERRORS, RETRIED, translated
from router.store.pg_pool_log import quiet_pool_floor

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")
# what a unit of work is given: every connection comes from the pool
PgConn: TypeAlias = "asyncpg.pool.PoolConnectionProxy[asyncpg.Record]"
Unit = Callable[Concatenate[PgConn, P], Awaitable[T]]

# a unit aborted for a deadlock or a serialisation failure runs again this often; more means
# a lock order broken somewhere (router.store.base), a bug to report, not load to wait out
WRITE_TRIES = 5
CONNECT_TIMEOUT = 10.0  # seconds: a server that does not answer is an outage, said as such
# seconds a statement may take before it is an outage: ours take milliseconds, so this bounds a
# link gone silent (a partition: no error, no answer), which would hold a request for ever
STATEMENT_TIMEOUT = 60.0
CLOSE_TIMEOUT = 10.0


async def _keep_session(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    """What a connection going back to the pool needs beyond asyncpg's own
    rollback of an open transaction: nothing. Units leave no session state
    (no SET, no LISTEN, no session advisory lock but the migrations', which
    they release), so asyncpg's default reset (``RESET ALL``,
    ``pg_advisory_unlock_all()``...) was a round trip per unit for nothing."""


class Pg:
    """The pool and the units run on it. ``episode`` hears of every write's
    outcome, as SQLite's writer reports to it: ``/healthz`` fails while
    writes fail."""

    def __init__(self, dsn: str, episode: Episode, *, min_size: int = 1, max_size: int = 10,
                 statement_timeout: float = STATEMENT_TIMEOUT) -> None:
        self.dsn = dsn
        self.episode = episode
        self._min, self._max = min_size, max_size
        self.statement_timeout = statement_timeout
        self._pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        quiet_pool_floor()  # an outage is the store's to log, once, not asyncpg's at every retry
        try:
            self._pool = await asyncpg.create_pool(
                self.dsn, min_size=self._min, max_size=self._max, timeout=CONNECT_TIMEOUT,
                command_timeout=self.statement_timeout,
                # timestamps come back in UTC whatever the server's or the role's setting
                server_settings={"TimeZone": "UTC", "application_name": "omnirouter"},
                reset=_keep_session,
                init=pg_text.register,  # U+0000, which PostgreSQL refuses, as U+FFFD in every statement
            )
        except ValueError as exc:  # asyncpg's ClientConfigurationError is one too: the DSN is malformed
            raise StoreMisconfigured(str(exc)) from None
        except DRIVER_ERRORS as exc:
            raise translated(exc) from exc

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            await asyncio.wait_for(pool.close(), CLOSE_TIMEOUT)
        except TimeoutError:
            log.warning("postgres store: connections still busy after %.0f s; closed without waiting", CLOSE_TIMEOUT)
            pool.terminate()

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("store is not open")
        return self._pool

    async def read(self, fn: Unit[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            async with self.pool.acquire() as conn:
                return await fn(conn, *args, **kwargs)
        except StoreError:
            raise
        except DRIVER_ERRORS as exc:
            raise translated(exc) from exc

    async def write(self, fn: Unit[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._written(self._transaction, fn, *args, **kwargs)

    async def write_statement(self, fn: Unit[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """As ``write``, for a unit of one statement, which is a transaction
        of its own: no BEGIN and COMMIT, two round trips of three."""
        return await self._written(self._statement, fn, *args, **kwargs)

    async def _written(self, run: Callable[Concatenate[Unit[P, T], P], Awaitable[T]], fn: Unit[P, T],
                       *args: P.args, **kwargs: P.kwargs) -> T:
        for attempt in range(1, WRITE_TRIES + 1):
            try:
                result = await run(fn, *args, **kwargs)
            except RETRIED as exc:
                if attempt == WRITE_TRIES:
                    raise translated(exc) from exc
                log.info("postgres store: %s aborted (%s); running it again", fn.__name__, exc.sqlstate)
                continue
            except StoreUnavailable as exc:
                self.episode.failed(exc.reason)
                raise
            except StoreError:
                raise
            except DRIVER_ERRORS as exc:
                error = translated(exc)
                if isinstance(error, StoreUnavailable):
                    self.episode.failed(error.reason)
                raise error from exc
            self.episode.succeeded()
            return result
        raise AssertionError("unreachable")

    async def _transaction(self, fn: Unit[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        async with self.pool.acquire() as conn, conn.transaction():
            return await fn(conn, *args, **kwargs)

    async def _statement(self, fn: Unit[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        async with self.pool.acquire() as conn:
            return await fn(conn, *args, **kwargs)

    async def run_alone(self, fn: Callable[[PgConn], Awaitable[T]]) -> T:
        """``fn`` on a connection of its own, outside any transaction it does
        not open itself (migrations take a session advisory lock)."""
        try:
            async with self.pool.acquire() as conn:
                return await fn(conn)
        except StoreError:
            raise
        except DRIVER_ERRORS as exc:
            raise translated(exc) from exc


class PgConnections(Protocol):
    """What each slice's PostgreSQL mixin is mixed over (``PostgresStore``)."""

    @property
    @abstractmethod
    def _pg(self) -> Pg: ...


# advisory lock kinds (router.store.base): the first argument of pg_advisory_xact_lock(int, int)
RECEIPT, CUSTOMER_CODES, KEY_DAILY_CAP, KEY_OWNERS = 1, 2, 3, 4
MIGRATIONS = 5  # a session lock, held while one node migrates
SINGLETON = 6  # a session lock per singleton (a poller, a sweeper), held while its node runs it


async def advisory_lock(conn: PgConn, kind: int, key: str) -> None:
    """The transaction's advisory lock of ``kind`` on ``key``, held to its end."""
    await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", kind, key)


def rows_changed(status: str) -> int:
    """The row count of a command's status (``"UPDATE 3"``, ``"INSERT 0 1"``)."""
    return int(status.rsplit(" ", 1)[-1])


def as_json(value: Any) -> Any:
    """A value for a ``jsonb`` parameter: asyncpg takes its text."""
    return json.dumps(value, ensure_ascii=False)
