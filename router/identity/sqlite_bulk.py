"""Trusted rows loaded in bulk (benchmarks, moving data over): SQL only."""

from __future__ import annotations

import itertools
import logging
import sqlite3
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)


def _bulk_load(conn: sqlite3.Connection, customers: list[tuple[str, str | None, str]],
               identities: list[tuple[str, str, str, str | None, str | None, str]]) -> None:
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO customers (id, display_name, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)", customers
    )
    conn.executemany(
        "INSERT INTO identities (kind, value, customer_id, key_kind, key_value, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)", identities,
    )
    conn.execute("COMMIT")


def _after_bulk_load(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("ANALYZE")


def _chunks(rows: Iterable[T], size: int) -> Iterator[list[T]]:
    it = iter(rows)
    while chunk := list(itertools.islice(it, size)):
        yield chunk
