"""Claiming the outbox (router/outbox/store.py: ``claim_outbox`` and the lease
holder's finish), on every backend of tests/router/store/test_contract.py.
Several nodes send from one outbox: each entry is leased to one of them, a
recipient has one entry in flight, and an entry whose node died mid-send goes
again once its lease has run out, said to be a possible resend."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from router.models import Delivery
from router.outbox.store import Claim, LeaseLost
from router.store.base import Store
from router.store.sqlite import SQLiteStore
from tests.router.outbox.entries import payload_text, queue
from tests.router.store.test_contract import T0

LEASE = timedelta(seconds=60)


def texts(claimed: Claim) -> list[str]:
    return [e.payload.text for e in claimed.entries]


async def test_a_claim_takes_each_recipients_first_due_entry_and_leases_it(store: Store) -> None:
    for n, (to, text) in enumerate([("ann", "a1"), ("bob", "b1"), ("ann", "a2"), ("bob", "b2"), ("cat", "c1")]):
        await queue(store, to, text, T0 + timedelta(seconds=n))
    first = await store.claim_outbox("node-1", 10, T0 + timedelta(seconds=5), LEASE)
    assert texts(first) == ["a1", "b1", "c1"] and first.resumed == frozenset()
    # another node finds every recipient busy: a2 and b2 wait behind what is in flight
    second = await store.claim_outbox("node-2", 10, T0 + timedelta(seconds=6), LEASE)
    assert texts(second) == []
    assert second.next_due == T0 + timedelta(seconds=5) + LEASE  # when node-1's leases run out
    a1 = first.entries[0]
    await store.outbox_sent(a1.id, "ext-a1", T0 + timedelta(seconds=7), "node-1")
    assert texts(await store.claim_outbox("node-2", 10, T0 + timedelta(seconds=8), LEASE)) == ["a2"]
    # a view of what waits to go still shows the leased entries
    assert [e.payload.text for e in await store.pending_outbox(10)] == ["b1", "a2", "b2", "c1"]


async def test_a_claim_takes_the_oldest_recipients_first_up_to_its_limit(store: Store) -> None:
    for n in range(5):
        await queue(store, f"r{n}", f"m{n}", T0 + timedelta(seconds=n))
    assert texts(await store.claim_outbox("node-1", 3, T0 + timedelta(seconds=9), LEASE)) == ["m0", "m1", "m2"]
    assert texts(await store.claim_outbox("node-2", 3, T0 + timedelta(seconds=9), LEASE)) == ["m3", "m4"]


async def test_an_entry_not_due_holds_its_recipients_later_ones_back(store: Store) -> None:
    await queue(store, "ann", "a1", T0)
    await queue(store, "ann", "a2", T0 + timedelta(seconds=1))
    [a1] = (await store.claim_outbox("node-1", 10, T0 + timedelta(seconds=2), LEASE)).entries
    await store.outbox_retry(a1.id, 1, T0 + timedelta(seconds=30), "HTTP 502", "node-1")
    waiting = await store.claim_outbox("node-2", 10, T0 + timedelta(seconds=3), LEASE)
    assert texts(waiting) == [] and waiting.next_due == T0 + timedelta(seconds=30)
    # a retry gave the lease up: due again, a1 goes to whoever claims, and is no resend
    due = await store.claim_outbox("node-2", 10, T0 + timedelta(seconds=30), LEASE)
    assert texts(due) == ["a1"] and due.resumed == frozenset()
    assert due.entries[0].attempts == 1


async def test_a_dead_entry_lets_its_recipients_next_one_go(store: Store) -> None:
    await queue(store, "ann", "a1", T0)
    await queue(store, "ann", "a2", T0 + timedelta(seconds=1))
    [a1] = (await store.claim_outbox("node-1", 10, T0 + timedelta(seconds=2), LEASE)).entries
    dead = await store.outbox_dead(a1.id, 1, "chat not found", T0, "node-1")
    assert dead.delivery is Delivery.FAILED
    assert texts(await store.claim_outbox("node-1", 10, T0 + timedelta(seconds=2), LEASE)) == ["a2"]


async def test_only_the_lease_holder_finishes_an_entry(store: Store) -> None:
    await queue(store, "ann", "a1", T0)
    [a1] = (await store.claim_outbox("node-1", 10, T0, LEASE)).entries
    for finish in (
        store.outbox_sent(a1.id, "ext-1", T0, "node-2"),
        store.outbox_dead(a1.id, 1, "no", T0, "node-2"),
        store.outbox_retry(a1.id, 1, T0, "HTTP 502", "node-2"),
        store.outbox_part_sent(a1.id, 1, "ext-0", "node-2"),
        store.outbox_sent(a1.id, "ext-1", T0),  # nor a caller holding no lease
    ):
        with pytest.raises(LeaseLost):
            await finish
    [still] = await store.pending_outbox(10)
    assert (still.attempts, still.parts_sent, still.last_error) == (0, 0, None)
    await store.outbox_part_sent(a1.id, 1, "ext-0", "node-1")
    sent = await store.outbox_sent(a1.id, "ext-1", T0, "node-1")
    assert sent.delivery is Delivery.SENT and sent.external_id == "ext-1"
    assert await store.pending_outbox(10) == []


async def test_a_lease_that_ran_out_is_taken_over_and_said_to_be_a_possible_resend(store: Store) -> None:
    await queue(store, "ann", "a1", T0)
    await queue(store, "ann", "a2", T0 + timedelta(seconds=1))
    [a1] = (await store.claim_outbox("node-1", 10, T0 + timedelta(seconds=2), LEASE)).entries
    await store.outbox_part_sent(a1.id, 1, "ext-part", "node-1")  # then node-1 died mid-send
    assert texts(await store.claim_outbox("node-2", 10, T0 + timedelta(seconds=61), LEASE)) == []
    taken = await store.claim_outbox("node-2", 10, T0 + timedelta(seconds=62), LEASE)
    assert texts(taken) == ["a1"] and taken.resumed == {a1.id}
    assert taken.entries[0].parts_sent == 1  # it resumes after the part node-1 got out
    # node-1, back from a stall, can no longer touch it: node-2 sends it
    with pytest.raises(LeaseLost):
        await store.outbox_part_sent(a1.id, 2, "ext-late", "node-1")
    with pytest.raises(LeaseLost):
        await store.outbox_sent(a1.id, "ext-late", T0, "node-1")
    sent = await store.outbox_sent(a1.id, "ext-1", T0 + timedelta(seconds=63), "node-2")
    assert sent.external_id == "ext-1"
    then = await store.claim_outbox("node-1", 10, T0 + timedelta(seconds=64), LEASE)
    assert texts(then) == ["a2"] and then.resumed == frozenset()


async def test_a_node_back_under_its_own_id_resumes_its_leases_at_once(store: Store) -> None:
    await queue(store, "ann", "a1", T0)
    [a1] = (await store.claim_outbox("node-1", 10, T0, LEASE)).entries
    again = await store.claim_outbox("node-1", 10, T0 + timedelta(seconds=1), LEASE)
    assert texts(again) == ["a1"] and again.resumed == {a1.id}


async def test_a_sqlite_node_restarting_under_a_new_id_resumes_its_leases_at_once(tmp_path: Path) -> None:
    # SQLite is one node's: opening the store is its start, so what it had leased goes again
    path = tmp_path / "restart.db"
    async with SQLiteStore(path) as store:
        await queue(store, "ann", "a1", T0)
        [a1] = (await store.claim_outbox("run-1", 10, T0, LEASE)).entries
    async with SQLiteStore(path) as store:
        again = await store.claim_outbox("run-2", 10, T0 + timedelta(seconds=1), LEASE)
        assert texts(again) == ["a1"] and again.resumed == {a1.id}


async def test_a_finished_entry_keeps_only_the_text_its_message_shows(store: Store) -> None:
    # the platform got the code; once sent or dead it is in no table (the message shows it masked)
    sent = await queue(store, "ann", "your code is 482913", T0, shown="your code is ******")
    dead = await queue(store, "bob", "your code is 771024", T0, shown="your code is ******")
    assert await payload_text(store, sent) == "your code is 482913"  # waiting to go, it must have it
    await store.claim_outbox("node-1", 10, T0, LEASE)
    await store.outbox_sent(sent, "ext-1", T0, "node-1")
    await store.outbox_dead(dead, 1, "chat not found", T0, "node-1")
    assert [await payload_text(store, e) for e in (sent, dead)] == ["your code is ******"] * 2


async def test_an_entry_waiting_for_its_recipient_is_set_so_by_its_holder_and_holds_nothing_back(
    store: Store
) -> None:
    await queue(store, "visitor", "v1", T0)
    await queue(store, "visitor", "v2", T0 + timedelta(seconds=1))
    [v1] = (await store.claim_outbox("node-1", 10, T0 + timedelta(seconds=2), LEASE)).entries
    await store.outbox_wait(v1.id, "node-2")  # not node-2's: nothing changes
    assert [e.payload.text for e in await store.pending_outbox(10)] == ["v1", "v2"]
    await store.outbox_wait(v1.id, "node-1")  # no tab anywhere: v1 waits out of the queue
    assert [e.payload.text for e in await store.pending_outbox(10)] == ["v2"]
    claimed = await store.claim_outbox("node-2", 10, T0 + timedelta(seconds=3), LEASE)
    assert texts(claimed) == ["v2"] and claimed.resumed == frozenset()
