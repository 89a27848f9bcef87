"""A poller's position (``CursorStore``), on every backend: kept across a
reopening (a restart) and shared by every store on one database (the nodes
of a cluster), the last one saved winning."""

from __future__ import annotations

from router.store.base import Store
from tests.router.store.test_contract import StoreFactory


async def test_a_position_is_kept_across_a_reopening(store_factory: StoreFactory) -> None:
    async with store_factory() as s:
        assert await s.cursor("vk-longpoll:vk:1") is None
        await s.save_cursor("vk-longpoll:vk:1", "41")
        await s.save_cursor("vk-longpoll:vk:1", "57")
        await s.save_cursor("vk-longpoll:other:2", "3")
    async with store_factory() as s:
        assert await s.cursor("vk-longpoll:vk:1") == "57"
        assert await s.cursor("vk-longpoll:other:2") == "3"


async def test_another_store_on_the_database_reads_what_one_saved(store: Store, store_factory: StoreFactory) -> None:
    await store.save_cursor("vk-longpoll:vk:1", "9")
    async with store_factory() as other:  # another node (SQLite: another process's connection)
        assert await other.cursor("vk-longpoll:vk:1") == "9"
        await other.save_cursor("vk-longpoll:vk:1", "12")
    assert await store.cursor("vk-longpoll:vk:1") == "12"


async def test_a_position_is_not_a_secret(store: Store) -> None:
    """Both live in one table: neither name space reaches the other."""
    await store.save_cursor("webchat", "1")
    assert await store.cursor("webchat") == "1"
    assert await store.secret("webchat") != b"1"
