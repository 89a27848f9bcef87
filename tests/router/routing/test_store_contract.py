"""Routing's part of the store contract (router/routing/store.py), on every
backend of tests/router/store/test_contract.py: a backend is proven by the
same suite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from router.store import Store
from tests.router.store.test_contract import BACKENDS, T0, inbound, ingest


@pytest.fixture(params=sorted(BACKENDS))
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    async with BACKENDS[request.param](tmp_path)() as s:
        yield s


async def test_awaiting_first_response_can_be_limited_to_older_conversations(store: Store) -> None:
    _, old = await ingest(store, inbound("m1", sender="u1"), T0)
    _, new = await ingest(store, inbound("m2", sender="u2"), T0 + timedelta(minutes=10))
    assert [c.id for c in await store.awaiting_first_response(10)] == [old, new]
    assert [c.id for c in await store.awaiting_first_response(10, T0 + timedelta(minutes=5))] == [old]
