"""Trusted rows loaded in bulk (benchmarks, moving data over) on PostgreSQL:
SQL only. Rows go by ``COPY`` (asyncpg's ``copy_records_to_table``), the
fastest way in, a chunk per transaction; times given as ``ts`` text or as
``datetime`` (``timestamptz`` columns)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from router.store.pg_engine import PgConn
from router.store.rows import from_ts

CustomerRow = tuple[str, str | None, str]
IdentityRow = tuple[str, str, str, str | None, str | None, str]


def _at(value: str | datetime) -> datetime:
    return from_ts(value)


async def _bulk_load(conn: PgConn, customers: Sequence[CustomerRow], identities: Sequence[IdentityRow]) -> None:
    """One chunk, in the transaction the caller opened (``Pg.write``)."""
    if customers:
        await conn.copy_records_to_table(
            "customers", columns=("id", "display_name", "created_at", "updated_at"),
            records=[(cid, name, _at(at), _at(at)) for cid, name, at in customers],
        )
    if identities:
        await conn.copy_records_to_table(
            "identities", columns=("kind", "value", "customer_id", "key_kind", "key_value", "created_at"),
            records=[(kind, value, cid, key_kind, key_value, _at(at))
                     for kind, value, cid, key_kind, key_value, at in identities],
        )


async def _after_bulk_load(conn: PgConn) -> None:
    # the planner's statistics of the grown tables, as SQLite's ANALYZE after its load
    await conn.execute("ANALYZE customers")
    await conn.execute("ANALYZE identities")
