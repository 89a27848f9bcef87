"""Rows in and out of sqlite3, whatever the table: timestamps as sortable
text, and one statement's rows. The units of work of every domain use these."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any


def ts(value: datetime) -> str:
    """Fixed-width UTC text, so that string order is time order."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_ts(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def from_ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


def fetch_one(conn: sqlite3.Connection, sql: str, params: Any = ()) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(sql, params).fetchone()
    return row


def fetch_all(conn: sqlite3.Connection, sql: str, params: Any = ()) -> list[sqlite3.Row]:
    return conn.execute(sql, params).fetchall()


def execute(conn: sqlite3.Connection, sql: str, params: Any = ()) -> int:
    """One statement; the number of rows it changed."""
    return conn.execute(sql, params).rowcount
