"""Search at scale: 1,000,000 messages in 100,000 conversations written
straight into a SQLite store (a temp file) in bulk, indexed by the catch-up
indexer (its rate is printed), then the latency of the searches the console
makes: a common word in another form, a rare word, an order number found
once, two words, a word with filters, a word found nowhere, a customer by
name and by phone, a view by label. Prints p50/p99 per kind (the first page,
20 results) and the database's size.

    python -m bench.search --messages 1000000 --samples 300
    python -m bench.search --stemmers   # PyStemmer's C stemmer against snowballstemmer's pure Python
    python -m bench.search --terms      # a text's terms, µs a text, as the indexer makes them of each message
    OMNIROUTER_DATABASE_URL=postgresql://... python -m bench.search --store postgres  # an empty database
    OMNIROUTER_DATABASE_URL=postgresql://... python -m bench.search --store postgres --reuse  # loaded before
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from router.search.service import Filters, Kind, Search, make_search, statuses_of
from router.store.base import Store
from router.store.postgres import PostgresStore
from router.store.rows import ts
from router.store.sqlite import SQLiteStore

PER_CONVERSATION = 10
CHUNK = 50_000
RU = ["Где мой заказ {n}? Жду уже неделю", "Заказы не приходят, что случилось", "Хочу вернуть товар по заказу {n}",
      "Когда будет доставка заказа?", "Спасибо за помощь!", "Оплата не проходит, карта отклонена",
      "Как изменить адрес доставки?", "Промокод не работает", "Не могу войти в личный кабинет",
      "Курьер опоздал на два часа", "Добрый день, подскажите по гарантии", "Верните деньги за заказ {n}"]
EN = ["Where is my order {n}? Waiting for a week", "My orders never arrived", "I want to return the item",
      "Payment failed again, card declined", "How do I change my delivery address?", "The courier was late",
      "Thanks for your help!", "Promo code is not working", "Can't log in to my account", "Refund status please",
      "Hello, a question about the warranty", "Please cancel order {n}"]
STATUSES = ["resolved"] * 8 + ["queued", "assigned"]


def conversations(count: int, start: datetime) -> Iterator[tuple[Any, ...]]:
    for n in range(count):
        at = ts(start + timedelta(minutes=n))
        status = STATUSES[n % len(STATUSES)]
        yield (f"conv_{n:012x}", f"cus_{n:012x}", status, "support", "agt_bench" if status == "assigned" else None,
               "webchat", at, at, at, None, at if status == "resolved" else None)


# order numbers that are in some message's text (filled as the messages are made)
NUMBERS: list[int] = []


def messages(count: int, start: datetime, seed: int = 7) -> Iterator[tuple[Any, ...]]:
    rnd = random.Random(seed)
    for n in range(count):
        conv = n // PER_CONVERSATION
        template = rnd.choice(RU if conv % 2 == 0 else EN)
        if "{n}" in template and n % 97 == 0:
            NUMBERS.append(100_000 + n)
        text = template.format(n=100_000 + n)
        yield (f"msg_{n:014x}", f"conv_{conv:012x}", f"cus_{conv:012x}", "in", "customer", "webchat", str(n),
               "webchat", f"visitor-{conv:x}", text, ts(start + timedelta(minutes=conv, seconds=n % 60)), "received")


def _chunks(rows: Iterator[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


_CONV_SQL = ("INSERT INTO conversations (id, customer_id, status, team, agent_id, channel, created_at, updated_at,"
             " last_message_at, last_message_text, resolved_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
_MSG_SQL = ("INSERT INTO messages (id, conversation_id, customer_id, direction, author, channel, external_id,"
            " sender_kind, sender_value, text, created_at, delivery) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


def _insert(conn: sqlite3.Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
    conn.execute("BEGIN")
    conn.executemany(sql, rows)
    conn.execute("COMMIT")


def _label(conn: sqlite3.Connection, every: int, stamp: str) -> None:
    conn.execute("BEGIN")
    conn.execute("INSERT INTO labels VALUES ('vip', ?)", (stamp,))
    conn.execute("INSERT INTO conversation_labels SELECT id, 'vip', ? FROM conversations WHERE rowid % ? = 1",
                 (stamp, every))
    conn.execute("COMMIT")


async def load_sqlite(store: SQLiteStore, count: int, start: datetime) -> None:
    convs = count // PER_CONVERSATION
    stamp = ts(start)
    await store.bulk_load(((f"cus_{n:012x}", f"Customer {n} Иванов" if n % 2 else f"Customer {n} Smith", stamp)
                           for n in range(convs)),
                          ((("webchat", f"visitor-{n:x}", f"cus_{n:012x}", None, None, stamp)) for n in range(convs)))
    for rows in _chunks(conversations(convs, start)):
        await store._w.run_alone(functools.partial(_insert, sql=_CONV_SQL, rows=rows))
    for rows in _chunks(messages(count, start)):
        await store._w.run_alone(functools.partial(_insert, sql=_MSG_SQL, rows=rows))
    await store._w.run_alone(functools.partial(_label, every=100, stamp=stamp))


async def load_postgres(store: PostgresStore, count: int, start: datetime) -> None:
    convs = count // PER_CONVERSATION
    stamp = start
    await store.bulk_load(((f"cus_{n:012x}", f"Customer {n} Иванов" if n % 2 else f"Customer {n} Smith", ts(start))
                           for n in range(convs)),
                          ((("webchat", f"visitor-{n:x}", f"cus_{n:012x}", None, None, ts(start)))
                           for n in range(convs)))

    def typed(row: tuple[Any, ...], times: tuple[int, ...]) -> tuple[Any, ...]:
        return tuple(datetime.fromisoformat(v) if i in times and v is not None else v for i, v in enumerate(row))

    async with store._pg.pool.acquire() as conn:
        conv_cols = ["id", "customer_id", "status", "team", "agent_id", "channel", "created_at", "updated_at",
                     "last_message_at", "last_message_text", "resolved_at"]
        for rows in _chunks(conversations(convs, start)):
            await conn.copy_records_to_table("conversations", columns=conv_cols,
                                             records=[typed(r, (6, 7, 8, 10)) for r in rows])
        msg_cols = ["id", "conversation_id", "customer_id", "direction", "author", "channel", "external_id",
                    "sender_kind", "sender_value", "text", "created_at", "delivery"]
        for rows in _chunks(messages(count, start)):
            await conn.copy_records_to_table("messages", columns=msg_cols, records=[typed(r, (10,)) for r in rows])
        await conn.execute("INSERT INTO labels VALUES ('vip', $1)", stamp)
        await conn.execute("INSERT INTO conversation_labels SELECT id, 'vip', $1 FROM conversations"
                           " WHERE seq % 100 = 1", stamp)
        await conn.execute("ANALYZE")


def _query(kind: Kind, text: str | None, filters: Filters = Filters()) -> Search:  # noqa: B008 (frozen)
    return make_search(kind, text, filters, None, 20)


START = datetime(2026, 1, 1, tzinfo=UTC)


def cases(count: int) -> dict[str, Callable[[int], Search]]:
    """Each kind of search, given a sample number (which picks an order number or a customer)."""
    end = START + timedelta(minutes=count // PER_CONVERSATION)
    return {
        "common word, other form («заказов»)": lambda i: _query(Kind.MESSAGES, "заказов"),
        "common English word (orders)": lambda i: _query(Kind.MESSAGES, "orders"),
        "rarer word («гарантия»)": lambda i: _query(Kind.MESSAGES, "гарантия"),
        "order number (one message)": lambda i: _query(Kind.MESSAGES, str(NUMBERS[i * 31 % len(NUMBERS)])),
        "two words («доставка адрес»)": lambda i: _query(Kind.MESSAGES, "доставка адрес"),
        "word + status + label": lambda i: _query(Kind.MESSAGES, "заказ", Filters(
            statuses=statuses_of("resolved"), label="vip")),
        "common word + a filter nothing passes": lambda i: _query(Kind.MESSAGES, "заказ", Filters(team="sales")),
        "word + team": lambda i: _query(Kind.MESSAGES, "заказ", Filters(team="support")),
        "word + channel": lambda i: _query(Kind.MESSAGES, "заказ", Filters(channel="webchat")),
        "word + assignee": lambda i: _query(Kind.MESSAGES, "order", Filters(assignee="agt_bench")),
        "word + nobody's + open": lambda i: _query(Kind.MESSAGES, "заказ", Filters(
            assignee="", statuses=statuses_of("open"))),
        "word + the last week": lambda i: _query(Kind.MESSAGES, "заказ", Filters(since=end - timedelta(days=7))),
        "word + a week long ago": lambda i: _query(Kind.MESSAGES, "заказ", Filters(
            since=START + timedelta(days=10), until=START + timedelta(days=17))),
        "word found nowhere": lambda i: _query(Kind.MESSAGES, "холодильник"),
        "customer by name prefix": lambda i: _query(Kind.CUSTOMERS, f"Customer {i * 7919 % (count // 10)}"),
        "conversations: view by label": lambda i: _query(Kind.CONVERSATIONS, None, Filters(label="vip")),
    }


async def run_one(store: Store, search: Search) -> int:
    if search.kind is Kind.MESSAGES:
        return len((await store.search_messages(search)).hits)
    if search.kind is Kind.CUSTOMERS:
        return len(await store.search_customers(search))
    return len(await store.search_conversations(search))


async def measure(store: Store, count: int, samples: int) -> None:
    for label, make in cases(count).items():
        times, found = [], 0
        for i in range(samples):
            search = make(i)
            started = time.perf_counter()
            found = await run_one(store, search)
            times.append((time.perf_counter() - started) * 1000)
        q = statistics.quantiles(times, n=100)
        print(f"  {label:<38} p50 {q[49]:7.2f} ms   p99 {q[98]:7.2f} ms   ({found} on the first page)")


async def index_all(store: Store) -> None:
    started = time.perf_counter()
    done = 0
    while n := await store.index_for_search(5000):
        done += n
    took = time.perf_counter() - started
    print(f"indexed {done:,} documents in {took:.0f} s: {done / max(took, 1e-9):,.0f} a second")


def _numbers(count: int) -> None:
    """The order numbers a load would have noted, for a database loaded before (--reuse)."""
    for _ in messages(count, START):
        pass


async def run(count: int, samples: int, path: Path, dsn: str | None, reuse: bool = False) -> None:
    start = START
    store: Store = PostgresStore(dsn) if dsn is not None else SQLiteStore(path, writer="process")
    async with store:
        began = time.perf_counter()
        if reuse:
            _numbers(count)
        elif isinstance(store, PostgresStore):
            await load_postgres(store, count, start)
        else:
            assert isinstance(store, SQLiteStore)
            await load_sqlite(store, count, start)
        print(f"loaded {count:,} messages in {time.perf_counter() - began:.0f} s")
        await index_all(store)
        if isinstance(store, PostgresStore):  # what autovacuum does after a reindex: the planner's statistics
            async with store._pg.pool.acquire() as conn:
                await conn.execute("ANALYZE")
        print(f"search latency, {samples} samples each, first page of 20:")
        await measure(store, count, samples)


def compare_stemmers(words: int = 200_000) -> None:
    """The same words through snowballstemmer's pure Python and through PyStemmer (C)."""
    import snowballstemmer  # noqa: PLC0415 (only this mode)
    from snowballstemmer import russian_stemmer  # noqa: PLC0415

    sample = [w.lower().strip("?!,.") for t in RU + EN for w in t.format(n=1).split()] * (words // 100)
    pure = russian_stemmer.RussianStemmer()
    for name, stemmer in (("snowballstemmer (pure Python)", pure),
                          ("PyStemmer (C), as snowballstemmer picks it", snowballstemmer.stemmer("russian"))):
        started = time.perf_counter()
        for w in sample:
            stemmer.stemWord(w)
        took = time.perf_counter() - started
        print(f"  {name:<44} {took / len(sample) * 1e6:6.2f} µs a word")


def _questions(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _questions(value)
    elif isinstance(node, list):
        for value in node:
            yield from _questions(value)


def time_terms(rounds: int = 5) -> None:
    """``text_terms`` of customers' texts: the bench's own (RU and EN, order numbers in them) and the
    bot's question sets (``bench/data/bot_*.yaml``: typos, translit, look-alike letters), each set in
    CPU time per text, the best of ``rounds``. To compare another tree, copy this file into its
    ``bench/`` and run it there."""
    import yaml  # noqa: PLC0415 (only this mode)

    from router.search.terms import text_terms  # noqa: PLC0415

    bot = [q for f in sorted(Path(__file__).with_name("data").glob("bot_*.yaml"))
           for q in _questions(yaml.safe_load(f.read_text(encoding="utf-8")))]
    sets = {"bench's texts": [t.format(n=100_000 + n) for n in range(50) for t in RU + EN],
            "bot's questions": bot,
            "English only": [t.format(n=100_000 + n) for n in range(50) for t in EN]}
    for name, texts in sets.items():
        best = float("inf")
        for _ in range(rounds):
            started = time.process_time()
            for text in texts:
                text_terms(text)
            best = min(best, time.process_time() - started)
        print(f"  {name:<16} {len(texts):5,} texts  {best / len(texts) * 1e6:6.2f} µs a text")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--stemmers", action="store_true", help="compare the two stemmers and stop")
    parser.add_argument("--reuse", action="store_true", help="PostgreSQL: measure the database a run loaded before")
    parser.add_argument("--terms", action="store_true", help="time a text's terms and stop")
    args = parser.parse_args(argv)
    if args.terms:
        time_terms()
        return 0
    if args.stemmers:
        compare_stemmers()
        return 0
    dsn = None
    if args.store == "postgres":
        dsn = os.environ.get("OMNIROUTER_DATABASE_URL")
        if not dsn:
            print("--store postgres needs OMNIROUTER_DATABASE_URL (an empty database)", file=sys.stderr)
            return 2
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "search.db"
        asyncio.run(run(args.messages, args.samples, path, dsn, reuse=args.reuse and dsn is not None))
        if dsn is None:
            print(f"database {path.stat().st_size / 2**20:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
