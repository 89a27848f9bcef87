"""PostgreSQL picks the way to a page of messages by the terms' statistics
(router.search.postgres.TermStats): read backwards for a common word, the
GIN index for a rare one. Whichever way, a page holds the same messages."""

from __future__ import annotations

import asyncpg

from router.search.postgres import TermStats
from router.search.service import Filters
from router.store.postgres import PostgresStore
from tests.router.search.test_store_contract import caught_up, found_messages
from tests.router.store.test_contract import inbound, ingest


def test_a_common_word_is_walked_and_a_rare_or_unknown_one_asked_of_the_gin_index() -> None:
    stats = TermStats(rows=1_000_000, shares={"заказ": 0.2, "доставк": 0.05, "гарант": 0.01})
    assert stats.walk_first(("заказ",), 2000)
    assert stats.walk_first(("заказ",), 20)
    assert not stats.walk_first(("гарант",), 2000)  # 200,000 rows walked for 10,000 matches
    assert stats.walk_first(("гарант",), 20)
    assert not stats.walk_first(("100097",), 20)  # not among the most common: rarer than all
    assert not stats.walk_first(("заказ", "100097"), 20)


async def test_pages_are_the_same_before_and_after_the_statistics(pg_database: str) -> None:
    texts = [f"Заказ {n} доставлен" if n % 3 else f"Гарантия на заказ {n}" for n in range(300)]
    async with PostgresStore(pg_database) as store:
        for n, text in enumerate(texts):
            await ingest(store, inbound(f"m{n}", sender=f"u{n % 40}", text=text))
        await caught_up(store)
        queries = ["заказ", "гарантия", "заказ 7", "холодильник"]
        before = {q: await found_messages(store, q) for q in queries}
        filtered = await found_messages(store, "заказ", Filters(team="support"))
        conn = await asyncpg.connect(pg_database)
        try:
            await conn.execute("ANALYZE search_messages")
        finally:
            await conn.close()
    async with PostgresStore(pg_database) as store:  # a new store reads the statistics
        assert {q: await found_messages(store, q) for q in queries} == before
        assert store._term_stats is not None and store._term_stats.walk_first(("заказ",), 20)  # the walk was taken
        assert await found_messages(store, "заказ", Filters(team="support")) == filtered
    assert len(before["заказ"]) == 50 and before["холодильник"] == []
