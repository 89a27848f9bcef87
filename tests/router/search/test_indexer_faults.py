"""The catch-up indexer against what a text may hold, on every backend of
tests/router/store/test_contract.py: no message's words stop the indexing of
the others, and a term of any length is stored as a query makes it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading

import asyncpg
import pytest

from router.search import postgres as search_postgres
from router.search.actions import Indexer
from router.search.terms import MAX_TERM_BYTES, text_terms
from router.store.base import Store
from router.store.postgres import PostgresStore
from tests.router.search.test_store_contract import caught_up, found_messages
from tests.router.store.test_contract import inbound, ingest

KEY = "k" + "0123456789abcdef" * 200  # a pasted key: 3,201 characters
LONG_WORD = "ключ" * 700  # 5,600 bytes of UTF-8


async def asyncpg_seq(dsn: str, message_id: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT seq FROM messages WHERE id = $1", message_id))
    finally:
        await conn.close()


async def test_a_message_of_null_does_not_stop_the_messages_after_it(store: Store) -> None:
    await ingest(store, inbound("m1", sender="u1", text="заказ первый"))
    await ingest(store, inbound("m2", sender="u2", text="null"))
    await ingest(store, inbound("m3", sender="u3", text='заказ {a,b} "q" back\\slash NULL'))
    await caught_up(store)
    assert sorted(await found_messages(store, "заказ")) == ['заказ {a,b} "q" back\\slash NULL', "заказ первый"]
    assert sorted(await found_messages(store, "null")) == ["null", 'заказ {a,b} "q" back\\slash NULL']


async def test_a_term_longer_than_a_lexeme_may_be_is_found_by_its_start(store: Store) -> None:
    await ingest(store, inbound("m1", sender="u1", text=f"ключ {KEY}"))
    await ingest(store, inbound("m2", sender="u2", text=f"слово {LONG_WORD}"))
    await caught_up(store)
    assert await found_messages(store, KEY[:MAX_TERM_BYTES]) == [f"ключ {KEY}"]
    assert await found_messages(store, LONG_WORD[:MAX_TERM_BYTES // 2]) == [f"слово {LONG_WORD}"]
    assert all(len(t.encode()) <= MAX_TERM_BYTES for t in text_terms(f"{KEY} {LONG_WORD}"))


async def test_postgres_leaves_out_a_message_the_database_refuses_and_indexes_the_rest(
        pg_database: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def refused_for_poison(text: str) -> list[str]:
        # a fault of the terms' rules: a term PostgreSQL refuses (an empty lexeme)
        return ["", "poison"] if "poison" in text else text_terms(text)

    monkeypatch.setattr(search_postgres, "text_terms", refused_for_poison)
    async with PostgresStore(pg_database) as store:
        await ingest(store, inbound("m1", sender="u1", text="заказ один"))
        poisoned, _ = await ingest(store, inbound("m2", sender="u2", text="poison secret-words"))
        seq = await asyncpg_seq(pg_database, poisoned.id)
        await ingest(store, inbound("m3", sender="u3", text="заказ два"))
        with caplog.at_level(logging.WARNING, logger="router.search.postgres"):
            await caught_up(store)
        assert await found_messages(store, "заказ") == ["заказ два", "заказ один"]
        assert await found_messages(store, "poison") == []
        said = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any("left out of search" in m and f"seq {seq}" in m for m in said), said
        assert not any("secret" in m for m in said)


async def test_postgres_makes_the_terms_off_the_event_loop(
        pg_database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    made_on: list[int] = []

    def noted(text: str) -> list[str]:
        made_on.append(threading.get_ident())
        return text_terms(text)

    monkeypatch.setattr(search_postgres, "text_terms", noted)
    async with PostgresStore(pg_database) as store:
        await ingest(store, inbound("m1", sender="u1", text="заказ один"))
        await caught_up(store)
        assert await found_messages(store, "заказ") == ["заказ один"]
    assert made_on and threading.get_ident() not in made_on  # a worker thread's, never the loop's


async def test_an_indexer_failure_is_a_warning_naming_its_kind(
        pg_database: str, caplog: pytest.LogCaptureFixture) -> None:
    async with PostgresStore(pg_database) as store:
        await ingest(store, inbound("m1", sender="u1", text="заказ секрет"))
        conn = await asyncpg.connect(pg_database)
        try:  # a fault of the schema's: every round fails
            await conn.execute("DROP TABLE search_messages")
        finally:
            await conn.close()
        with caplog.at_level(logging.WARNING, logger="router.search.actions"):
            task = asyncio.create_task(Indexer(store).run())
            try:
                for _ in range(1200):  # a hang detector: the first round fails at once
                    if any(r.name == "router.search.actions" for r in caplog.records):
                        break
                    await asyncio.sleep(0.1)
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        said = [r for r in caplog.records if r.name == "router.search.actions"]
        assert said and said[0].levelno == logging.WARNING
        assert "BackendError from UndefinedTableError" in said[0].getMessage()
        assert "секрет" not in said[0].getMessage()
