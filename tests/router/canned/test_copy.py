"""``omnirouter db copy`` carries the canned replies to PostgreSQL as SQLite
holds them: both backends' tables agree, column for column."""

from __future__ import annotations

import asyncio
from pathlib import Path

from router.canned.types import Scope
from router.models import Role
from router.store.postgres import PostgresStore
from router.store.sqlite import SQLiteStore
from tests.router.canned.test_store_contract import reply
from tests.router.store.test_db_commands import copy


async def test_canned_replies_are_copied_to_postgresql(tmp_path: Path, pg_database: str) -> None:
    path = tmp_path / "omnirouter.db"
    async with SQLiteStore(path) as sqlite_store:
        ann = await sqlite_store.create_agent("ann", "Анна", Role.AGENT, "hash")
        await sqlite_store.create_canned(reply(Scope.PERSONAL, ann.id, "привет", ru="Здравствуйте, {customer.name}!"))
        await sqlite_store.create_canned(reply(Scope.TEAM, "support", "late", en="Order {customer.order_id}",
                                               ru="Заказ {customer.order_id}"))
        expected = await sqlite_store.list_canned(ann.id, None)
    assert await asyncio.to_thread(copy, path, pg_database) == 0
    async with PostgresStore(pg_database) as pg_store:
        assert await pg_store.list_canned(ann.id, None) == expected
