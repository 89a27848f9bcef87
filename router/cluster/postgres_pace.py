"""Send pace on PostgreSQL: one bucket per key for every node, so a bot's
30 messages a second are 30 for the cluster, not 30 per node.

A bucket is one row: the key's theoretical arrival time (``tat``) of the
generic cell rate algorithm, the leaky bucket in one timestamp. A slot is
one statement (an upsert whose conditional UPDATE PostgreSQL checks again
on a row it waited for), so two nodes taking slots at once queue on the
row, never share a slot. The times are the database's clock, the one
clock every node agrees on. Rows of keys idle for a minute say nothing any
more and are swept (``sweep``, by the cluster's sweeper)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from router.store.errors import StoreError
from router.store.pg_engine import Pg, PgConn

IDLE = 60.0  # seconds after its last slot a bucket is full again (and its row forgettable)

# T = 1/rate between slots on average; a slot may come up to (burst - 1) * T early
_SLOT = """
INSERT INTO send_pace AS p (key, tat) VALUES ($1, now() + make_interval(secs => 1.0 / $2))
ON CONFLICT (key) DO UPDATE SET tat = greatest(p.tat, now()) + make_interval(secs => 1.0 / $2)
    WHERE greatest(p.tat, now()) - make_interval(secs => ($3 - 1.0) / $2) <= now() + make_interval(secs => $4)
RETURNING greatest(0.0, extract(epoch FROM p.tat - now())::float8 - $3 / $2)
"""


async def _take(conn: PgConn, key: str, rate: float, burst: float, max_wait: float) -> float | None:
    """Seconds until the slot taken, or None: none within ``max_wait`` (none taken)."""
    wait: float | None = await conn.fetchval(_SLOT, key, rate, burst, max_wait)
    return wait


async def _sweep(conn: PgConn, idle: float) -> None:
    await conn.execute("DELETE FROM send_pace WHERE tat < now() - make_interval(secs => $1)", idle)


class PgPace:
    """``SendPace`` counted in the store's database. ``engine``: the store's
    pool, asked for when a slot is taken (the store opens after this is made)."""

    shared = True

    def __init__(self, engine: Callable[[], Pg]) -> None:
        self._engine = engine

    async def slot(self, key: str, rate: float, burst: float, max_wait: float) -> None:
        wait = await self.reserve(key, rate, burst, max_wait)
        if wait > 0:
            await asyncio.sleep(wait)

    async def reserve(self, key: str, rate: float, burst: float, max_wait: float) -> float:
        """Take ``key``'s next slot: the seconds until it comes (``slot`` waits them)."""
        try:
            wait = await self._engine().read(_take, key, rate, max(1.0, burst), max_wait)
        except StoreError as exc:
            # not counted, not sent: the connector hands the message back to the outbox for later
            raise TimeoutError(f"the send pace of {key} could not be counted: {exc}") from exc
        if wait is None:
            raise TimeoutError(f"no send slot of {key} within {max_wait:g} s")
        return wait

    async def sweep(self) -> None:
        await self._engine().write(_sweep, IDLE)
