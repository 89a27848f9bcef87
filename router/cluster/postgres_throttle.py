"""The console's login throttle on PostgreSQL: one row per (username,
address), shared by every node (``router.accounts.throttle`` holds the
rule). An attempt is one transaction: the row is upserted and so locked,
read under the lock, and written as the rule says, so parallel guesses on
several nodes are counted one after another. Times are the database's clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from router.accounts.throttle import Failures, LoginKey, count_attempt
from router.store.pg_engine import Pg, PgConn

_LOCKED_ROW = """
INSERT INTO login_throttle AS t (username, address, touched) VALUES ($1, $2, now())
ON CONFLICT (username, address) DO UPDATE SET touched = excluded.touched
RETURNING t.failures, t.locked_until, now() AS now
"""


def _seconds(at: datetime | None) -> float | None:
    return at.timestamp() if at is not None else None


def _time(seconds: float | None) -> datetime | None:
    return datetime.fromtimestamp(seconds, UTC) if seconds is not None else None


async def _attempt(conn: PgConn, key: LoginKey, attempts: int, lockout: float) -> float | None:
    row = await conn.fetchrow(_LOCKED_ROW, *key)
    assert row is not None  # an upsert's RETURNING always has its row
    state = Failures(tuple(t.timestamp() for t in row["failures"]), _seconds(row["locked_until"]))
    after, wait = count_attempt(state, row["now"].timestamp(), attempts, lockout)
    if wait is None:
        await conn.execute(
            "UPDATE login_throttle SET failures = $3, locked_until = $4 WHERE username = $1 AND address = $2",
            *key, [_time(t) for t in after.times], _time(after.locked_until))
    return wait


async def _succeeded(conn: PgConn, key: LoginKey) -> None:
    await conn.execute("DELETE FROM login_throttle WHERE username = $1 AND address = $2", *key)


async def _sweep(conn: PgConn, lockout: float) -> None:
    # rows that neither lock nor count: every failure left the window, no lock-out left
    await conn.execute("DELETE FROM login_throttle WHERE touched < now() - make_interval(secs => $1)"
                       " AND (locked_until IS NULL OR locked_until < now())", lockout)


class PgLoginAttempts:
    """``LoginAttempts`` counted in the store's database (``engine``: its pool)."""

    def __init__(self, engine: Callable[[], Pg], attempts: int, lockout: float) -> None:
        self._engine = engine
        self.attempts = attempts
        self.lockout = lockout

    async def attempt(self, key: LoginKey) -> float | None:
        return await self._engine().write(_attempt, key, self.attempts, self.lockout)

    async def succeeded(self, key: LoginKey) -> None:
        await self._engine().write(_succeeded, key)

    async def sweep(self) -> None:
        await self._engine().write(_sweep, self.lockout)
