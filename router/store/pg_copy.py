"""An SQLite store copied into an empty PostgreSQL database (``omnirouter db
copy``): every table's rows, each value turned into the PostgreSQL column's
type (text times into ``timestamptz``, JSON text into ``jsonb``, 0/1 into
``boolean``), SQLite's ``rowid`` into the ``seq`` that keeps insertion order.

It knows no table by name: the tables, their columns and types, and the order
their foreign keys impose come from the target's catalog after its
migrations, so a table a later migration adds on both sides is copied too. A
column or a table that SQLite has and PostgreSQL lacks stops the copy before
anything is written (its data would be lost).

One transaction: the target's tables are locked (``EXCLUSIVE``: readers go
on, writers wait), found empty, filled in batches, their row counts checked
against the source's, and committed; any failure leaves the target as it
was, and the copy can simply run again."""

from __future__ import annotations

import asyncio
import graphlib
import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg

from router.store import pg_text
from router.store.errors import StoreError
from router.store.pg_engine import CONNECT_TIMEOUT, PgConn
from router.store.pg_faults import translated
from router.store.pg_migrations import migrate
from router.store.rows import from_ts
from router.store.sqlite import SQLiteStore

BATCH = 5_000  # rows per round trip (a COPY of that many)
Progress = Callable[[str, int, int], None]  # table, rows copied so far, rows in all


class CopyError(Exception):
    """Why nothing was copied, for the terminal."""


@dataclass
class Table:
    name: str
    columns: dict[str, str] = field(default_factory=dict)  # PostgreSQL's: name -> data type
    identity: set[str] = field(default_factory=set)  # columns PostgreSQL numbers (``seq``)
    self_refs: set[str] = field(default_factory=set)  # columns naming a row of the same table
    key: str | None = None  # the one-column primary key, for the self references

    def select(self, source_columns: set[str]) -> tuple[list[str], str]:
        """The columns written, and SQLite's SELECT of them in insertion order."""
        names, exprs = [], []
        for name in self.columns:
            if name in source_columns:
                names.append(name)
                exprs.append(f'"{name}"')
            elif name in self.identity:  # SQLite's insertion order was its rowid
                names.append(name)
                exprs.append("rowid")
        return names, f'SELECT {", ".join(exprs)} FROM "{self.name}" ORDER BY rowid'


def _timestamptz(value: Any) -> datetime:
    return from_ts(value)


def _jsonb(value: Any) -> str:
    text = value.decode() if isinstance(value, bytes) else str(value)
    json.loads(text)  # refused here, with its row, rather than by the server for the whole batch
    return text


def _bytea(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


_CONVERT: dict[str, Callable[[Any], Any]] = {
    "timestamp with time zone": _timestamptz,
    "jsonb": _jsonb,
    "boolean": bool,
    "bytea": _bytea,
    "integer": int,
    "bigint": int,
    "smallint": int,
    "text": str,
}


def _converted(table: Table, names: list[str], row: tuple[Any, ...], number: int) -> tuple[Any, ...]:
    out: list[Any] = []
    for name, value in zip(names, row, strict=True):
        if value is None or name in table.self_refs:
            out.append(None)  # a self reference is set once every row of its table is in
            continue
        kind = table.columns[name]
        try:
            out.append(_CONVERT.get(kind, lambda v: v)(value))
        except (ValueError, TypeError) as exc:
            raise CopyError(f"{table.name} row {number}: {name} = {value!r} is no {kind} ({exc}); "
                            "nothing was copied") from exc
    return tuple(out)


async def _tables(conn: PgConn) -> list[Table]:
    """The target's tables, parents before the tables whose foreign keys name them."""
    tables: dict[str, Table] = {}
    for r in await conn.fetch(
        "SELECT c.table_name, c.column_name, c.data_type, c.is_identity FROM information_schema.columns c"
        " JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name"
        " WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'"
        " AND c.table_name <> 'schema_version' ORDER BY c.table_name, c.ordinal_position"
    ):
        table = tables.setdefault(r["table_name"], Table(r["table_name"]))
        table.columns[r["column_name"]] = r["data_type"]
        if r["is_identity"] == "YES":
            table.identity.add(r["column_name"])
    order: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter({name: set() for name in tables})
    for r in await conn.fetch(
        "SELECT c.contype::text AS contype, c.conrelid::regclass::text AS child, c.confrelid::regclass::text AS parent,"
        " array_agg(a.attname::text) AS columns FROM pg_constraint c"
        " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)"
        " WHERE c.contype IN ('f', 'p') AND c.connamespace = current_schema()::regnamespace"
        " GROUP BY c.oid, c.contype, c.conrelid, c.confrelid"
    ):
        child = tables.get(r["child"])
        if child is None:
            continue
        if r["contype"] == "p":
            child.key = r["columns"][0] if len(r["columns"]) == 1 else None
        elif r["parent"] == r["child"]:
            child.self_refs.update(r["columns"])
        else:
            order.add(r["child"], r["parent"])
    return [tables[name] for name in order.static_order()]


class _Source:
    """The SQLite store, read-only, its reads off the event loop."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)

    def tables(self) -> dict[str, set[str]]:
        # search's tables (router/search/) hold what each backend derives from the messages and
        # customers in its own way (SQLite's FTS5 and its shadow tables): PostgreSQL builds its own
        names = [r[0] for r in self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " AND name NOT LIKE 'search\\_%' ESCAPE '\\'")]
        return {n: {r[1] for r in self.conn.execute(f'PRAGMA table_info("{n}")')} for n in names}

    def count(self, table: str) -> int:
        return int(self.conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0])

    def batches(self, sql: str) -> Iterator[list[tuple[Any, ...]]]:
        cur = self.conn.execute(sql)
        while rows := cur.fetchmany(BATCH):
            yield rows


def _unmatched(source: dict[str, set[str]], target: list[Table]) -> list[str]:
    """What the source holds that the target has no place for."""
    by_name = {t.name: t for t in target}
    problems = [f"table {name}" for name in sorted(set(source) - set(by_name))]
    for name in sorted(set(source) & set(by_name)):
        problems += [f"column {name}.{c}" for c in sorted(source[name] - set(by_name[name].columns))]
    return problems


async def _refuse_unless_empty(conn: PgConn, tables: list[Table]) -> None:
    held = [t.name for t in tables if await conn.fetchval(f'SELECT EXISTS (SELECT 1 FROM "{t.name}")')]
    if held:
        raise CopyError(f"the target database already holds data (in {', '.join(held)}): copy only into an empty "
                        "database, so that nothing there is mixed with or overwritten by the copy; nothing was copied")


async def _copy_table(conn: PgConn, source: _Source, table: Table, columns: set[str],
                      progress: Progress) -> int:
    if table.self_refs and table.key is None:
        raise CopyError(f"{table.name} names its own rows without a one-column key: not copied; nothing was copied")
    names, sql = table.select(columns)
    total = await asyncio.to_thread(source.count, table.name)
    progress(table.name, 0, total)
    done, later = 0, []
    batches = source.batches(sql)
    while (rows := await asyncio.to_thread(next, batches, None)) is not None:
        records = [_converted(table, names, row, done + n + 1) for n, row in enumerate(rows)]
        if table.self_refs and table.key is not None:
            at = {name: names.index(name) for name in (*table.self_refs, table.key) if name in names}
            later += [(name, row[at[name]], row[at[table.key]]) for row in rows for name in table.self_refs
                      if name in at and row[at[name]] is not None]
        await conn.copy_records_to_table(table.name, records=records, columns=names)
        done += len(rows)
        progress(table.name, done, total)
    for name in table.self_refs:
        await conn.executemany(f'UPDATE "{table.name}" SET "{name}" = $1 WHERE "{table.key}" = $2',
                               [(value, key) for column, value, key in later if column == name])
    for name in table.identity:  # the next row numbered after the copied ones
        await conn.execute(f"SELECT setval(pg_get_serial_sequence($1, $2), max(\"{name}\")) FROM \"{table.name}\""
                           f' HAVING max("{name}") IS NOT NULL', table.name, name)
    if (copied := await conn.fetchval(f'SELECT COUNT(*) FROM "{table.name}"')) != total:
        raise CopyError(f"{table.name}: {copied} rows arrived of {total}; nothing was copied")
    return done


async def _bring_up_to_date(path: Path) -> None:
    """The source at this omnirouter's schema, as ``omnirouter run`` would open it."""
    if not await asyncio.to_thread(path.is_file):
        raise CopyError(f"no SQLite store at {path}")
    try:
        async with SQLiteStore(path):
            pass
    except (StoreError, RuntimeError) as exc:  # unreadable, or newer than this omnirouter
        raise CopyError(f"{path}: {exc}") from exc


async def copy_store(path: Path, dsn: str, where: str, progress: Progress) -> dict[str, int]:
    """Copy the SQLite store at ``path`` into the empty database at ``dsn``
    (``where``: the DSN without its password); the rows copied per table.
    ``CopyError`` or the store's ``StoreError`` when nothing was copied."""
    await _bring_up_to_date(path)
    source = _Source(path)
    try:
        async with asyncpg.create_pool(dsn, min_size=1, max_size=1, timeout=CONNECT_TIMEOUT,
                                       server_settings={"TimeZone": "UTC"}, init=pg_text.register
                                       ) as pool, pool.acquire() as conn:
            return await _copy(conn, source, path, where, progress)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise translated(exc) from exc
    finally:
        source.conn.close()


async def _copy(conn: PgConn, source: _Source, path: Path, where: str, progress: Progress) -> dict[str, int]:
    await migrate(conn, where)
    tables = await _tables(conn)
    found = await asyncio.to_thread(source.tables)
    if problems := _unmatched(found, tables):
        raise CopyError(f"this omnirouter's PostgreSQL schema has no place for {', '.join(problems)} of {path}; "
                        "nothing was copied")
    copied: dict[str, int] = {}
    async with conn.transaction():
        names = ", ".join(f'"{t.name}"' for t in tables)
        await conn.execute(f"LOCK TABLE {names} IN EXCLUSIVE MODE")
        # triggers that record history (router/reports/schema.py) stand aside: it is copied as it was
        await conn.execute("SELECT set_config('omnirouter.copying', 'on', true)")
        await _refuse_unless_empty(conn, tables)
        for table in tables:
            if table.name in found:
                copied[table.name] = await _copy_table(conn, source, table, found[table.name], progress)
    # a fresh copy has no statistics: until autovacuum came round, the planner guessed, and a report's
    # page read every cycle of its range and sorted them (0.06 s a page, not 0.003, at 20,000 cycles)
    await conn.execute("ANALYZE")
    return copied
