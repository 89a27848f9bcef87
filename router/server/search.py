"""Search's jobs in the app's lifecycle: the catch-up indexer and the snooze
sweep, each on the one node that leads it (the leadership the assigner runs
under: ``router.cluster``), from after the store opens to before it closes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from router.aio import cancel_and_wait
from router.appkeys import ROUTER, STORE
from router.search.actions import Indexer
from router.server.cluster import LEADERSHIP

INDEXER = "search-indexer"
SNOOZE_SWEEP = "snooze-sweep"


async def search_ctx(app: web.Application) -> AsyncIterator[None]:
    leadership, snoozes = app[LEADERSHIP], app[ROUTER].snoozes
    tasks = [
        asyncio.create_task(leadership.run(INDEXER, Indexer(app[STORE]).run), name=INDEXER),
        asyncio.create_task(leadership.run(SNOOZE_SWEEP, snoozes.run), name=SNOOZE_SWEEP),
    ]
    yield
    await cancel_and_wait(*tasks)
