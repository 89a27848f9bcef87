"""Releasing lapsed offers on SQLite, step by step: the read of the offers
and their requeue are two statements, and on a backend with several writers
another transaction can land between them (an agent opens the offer, or it
goes to someone else). Here the writes are made between the two steps, on the
writer's connection, as such a writer would: the requeue must leave them be."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from router.models import ConversationStatus
from router.routing.sqlite import lapsed_offers, requeue
from router.store.rows import ts
from router.store.sqlite import SQLiteStore
from tests.router.routing.test_store_contract import online, queue
from tests.router.store.test_contract import T0

LATER = T0 + timedelta(minutes=5)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    async with SQLiteStore(tmp_path / "release.db") as s:
        yield s


async def test_an_offer_opened_after_it_was_read_as_lapsed_is_not_requeued(store: SQLiteStore) -> None:
    ann = await online(store, "ann")
    opened, lapsed = await queue(store, "u1", 0, T0), await queue(store, "u2", 0, T0)
    await store.offer(opened, ann.id, 5, T0)
    await store.offer(lapsed, ann.id, 5, T0)
    read = await store._w.call(lapsed_offers, None, ts(LATER))
    assert {o.conversation_id for o in read} == {opened, lapsed}
    await store.mark_opened(opened, ann.id, T0 + timedelta(minutes=4))  # between the read and the write
    released = await store._w.call(requeue, read, ts(LATER))
    assert [(r.conversation.id, r.agent_id) for r in released] == [(lapsed, ann.id)]
    kept = await store.get_conversation(opened)
    assert (kept.status, kept.agent_id) == (ConversationStatus.ASSIGNED, ann.id)


async def test_an_offer_made_again_after_it_was_read_as_lapsed_is_not_requeued(store: SQLiteStore) -> None:
    ann, bob = await online(store, "ann"), await online(store, "bob")
    again, taken = await queue(store, "u1", 0, T0), await queue(store, "u2", 0, T0)
    await store.offer(again, ann.id, 5, T0)
    await store.offer(taken, ann.id, 5, T0)
    read = await store._w.call(lapsed_offers, ann.id, ts(LATER))
    assert len(read) == 2
    # between the read and the write: one offer lapsed and was offered to ann
    # again (a new offer, made later); the other went to bob
    await store.release_offers(ann.id, T0 + timedelta(minutes=1))
    await store.offer(again, ann.id, 5, T0 + timedelta(minutes=2))
    await store.offer(taken, bob.id, 5, T0 + timedelta(minutes=2))
    assert await store._w.call(requeue, read, ts(LATER)) == []
    assert (await store.get_conversation(again)).agent_id == ann.id
    assert (await store.get_conversation(taken)).agent_id == bob.id
