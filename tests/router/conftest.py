"""The store every slice's contract test runs against: each backend of
``BACKENDS`` in turn (a new backend joins there and every slice's contract
runs on it), and ``nodes``, two of them on one database. A test module that
needs another store defines its own ``store``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from router.store.base import Store
from router.store.postgres import PostgresStore
from tests.router.store.test_contract import BACKENDS, StoreFactory


@pytest.fixture(params=sorted(BACKENDS))
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    factory: StoreFactory = BACKENDS[request.param](request, tmp_path)
    return factory


@pytest.fixture
async def store(store_factory: StoreFactory) -> AsyncIterator[Store]:
    async with store_factory() as s:
        yield s


@pytest.fixture
async def nodes(store: Store, store_factory: StoreFactory) -> AsyncIterator[tuple[Store, Store]]:
    """Two nodes on one database: on PostgreSQL a second store beside ``store``;
    SQLite has one writer per file, so its "nodes" are the one store twice."""
    if not isinstance(store, PostgresStore):
        yield store, store
        return
    async with store_factory() as other:
        yield store, other
