"""A PostgreSQL outage is logged by the store, once each way, not by asyncpg
with a traceback at every retry of its pool's connection floor (the cluster
sweep: six ~25-line tracebacks per node in a 25 s outage). asyncpg's part is
one short line as the outage starts."""

from __future__ import annotations

import logging
import sys
from datetime import timedelta

import pytest

from router.models import utcnow
from router.store.errors import StoreUnavailable
from router.store.pg_pool_log import ASYNCPG_POOL, FLOOR, QUIET_FOR, QuietPoolFloor, quiet_pool_floor
from router.store.postgres import PostgresStore
from tests.conftest import eventually
from tests.router.cluster.helpers import Link
from tests.router.store.test_pg_connections_ended import _host_port

RETRIES = 3  # asyncpg's tries to restore the floor seen before the test looks (1 and 2 s apart)


class Heard(logging.Filter):
    """Counts what asyncpg's pool says, ahead of the store's filter, which keeps most of it quiet."""

    def __init__(self) -> None:
        super().__init__()
        self.floor = 0

    def filter(self, record: logging.LogRecord) -> bool:
        self.floor += str(record.msg).startswith(FLOOR)
        return True


async def test_an_outage_is_one_short_line_of_asyncpg_and_no_traceback(
    pg_database: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    host, port = _host_port(pg_database)
    link = Link(host, port)
    through = pg_database.replace(f"{host}:{port}", f"127.0.0.1:{await link.start()}")
    heard = Heard()
    pool_log = logging.getLogger(ASYNCPG_POOL)
    for earlier in [f for f in pool_log.filters if isinstance(f, QuietPoolFloor)]:
        pool_log.removeFilter(earlier)  # as in a fresh process: an earlier test's outage is not this one
    try:
        async with PostgresStore(through, pool_size=2) as store:
            pool_log.filters.insert(0, heard)  # the store's filter is on from its open
            await store.claim_outbox("node-1", 10, utcnow(), timedelta(seconds=60))
            link.refuse()  # the server stops: connections ended, new ones refused
            with pytest.raises(StoreUnavailable):
                await store.claim_outbox("node-1", 10, utcnow(), timedelta(seconds=60))

            async def retried() -> bool:
                return heard.floor >= RETRIES

            await eventually(retried, "asyncpg to try restoring its pool's floor a few times")
            await link.start()

            async def back() -> bool:
                try:
                    await store.claim_outbox("node-1", 10, utcnow(), timedelta(seconds=60))
                except StoreUnavailable:
                    return False
                return True

            await eventually(back, "writes to go through again")
    finally:
        pool_log.removeFilter(heard)
        await link.close()
    said = [r for r in caplog.records if r.name.startswith("asyncpg")]
    assert len(said) == 1, [r.getMessage() for r in said]
    assert said[0].exc_info is None and "\n" not in said[0].getMessage()
    assert "the database cannot be reached" in said[0].getMessage()
    assert not [r for r in caplog.records if r.exc_info], "a traceback for an outage"
    store_lines = [r.getMessage() for r in caplog.records if "writes are failing" in r.getMessage()]
    assert len(store_lines) == 1, store_lines  # the store's own line as the outage started


def _floor_record() -> logging.LogRecord:
    try:
        raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")
    except ConnectionRefusedError:
        return logging.LogRecord(ASYNCPG_POOL, logging.WARNING, __file__, 1, f"{FLOOR}; retrying", None,
                                 sys.exc_info())


def test_each_outage_gets_its_one_line_and_the_pools_other_words_pass() -> None:
    now = [0.0]
    quiet = QuietPoolFloor(clock=lambda: now[0])
    first = _floor_record()
    assert quiet.filter(first) and first.exc_info is None
    assert "cannot be reached" in first.getMessage()
    for _ in range(5):  # asyncpg's retries, at most a minute apart: the same outage
        now[0] += 60.0
        assert not quiet.filter(_floor_record())
    now[0] += QUIET_FOR + 1  # silence: the floor was restored; this is another outage
    assert quiet.filter(_floor_record())
    other = logging.LogRecord(ASYNCPG_POOL, logging.WARNING, __file__, 1, "Pool.close() is taking over 60 seconds",
                              None, None)
    assert quiet.filter(other) and other.getMessage() == "Pool.close() is taking over 60 seconds"


def test_the_filter_is_installed_once_however_many_stores_open() -> None:
    quiet_pool_floor()
    quiet_pool_floor()
    assert sum(isinstance(f, QuietPoolFloor) for f in logging.getLogger(ASYNCPG_POOL).filters) == 1
