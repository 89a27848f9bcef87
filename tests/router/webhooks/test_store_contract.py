"""The webhooks' part of the store contract (router/webhooks/store.py), on
every backend of tests/router/store/test_contract.py: one delivery per event
and matching subscription, however often it is queued; a conversation's
deliveries claimable one at a time and in order (a failed one holds back its
successors until it is sent or dead); a claim is one node's until its lease
runs out, and two nodes claiming at once take different deliveries."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from router.outbox.store import LeaseLost
from router.store.base import Store
from router.store.errors import ConflictError, NotFound
from router.webhooks import postgres as webhooks_postgres
from router.webhooks import sqlite as webhooks_sqlite
from router.webhooks.types import DeliveryReason, Queued, Subscription, WebhookEvent
from tests.router.store.test_contract import T0, StoreFactory

LEASE = timedelta(minutes=1)


def subscription(sub_id: str, events: list[str], active: bool = True) -> Subscription:
    return Subscription(id=sub_id, url=f"https://crm.example.com/{sub_id}", events=events,  # type: ignore[arg-type]
                        active=active, created_at=T0, updated_at=T0)


def queued(event_id: str, kind: str = "message.created", key: str = "conversation:c1") -> Queued:
    event = WebhookEvent(id=event_id, type=kind, created_at=T0, data={"n": event_id})  # type: ignore[arg-type]
    return Queued(event=event, order_key=key)


async def claimed(store: Store, node: str = "n1", at: timedelta = timedelta(0)) -> list[str]:
    claim = await store.claim_webhooks(node, 100, T0 + at, LEASE)
    return [d.delivery.event_id for d in claim.deliveries]


async def test_subscriptions_round_trip_and_their_secret_is_not_in_the_model(store: Store) -> None:
    await store.create_webhook(subscription("wh_a", ["message.created", "csat.received"]), "whsec_one")
    got = await store.get_webhook("wh_a")
    assert got.events == ["message.created", "csat.received"] and got.active and not got.allow_private
    assert "secret" not in got.model_dump()
    changed = await store.update_webhook(got.model_copy(update={"events": ["conversation.opened"], "active": False,
                                                                "allow_private": True, "description": "CRM"}))
    assert changed.events == ["conversation.opened"] and not changed.active and changed.allow_private
    assert changed.description == "CRM"
    assert [s.id for s in await store.list_webhooks()] == ["wh_a"]
    with pytest.raises(NotFound):
        await store.get_webhook("wh_none")
    with pytest.raises(NotFound):
        await store.rotate_webhook_secret("wh_none", "whsec_x", T0)
    with pytest.raises(NotFound):
        await store.delete_webhook("wh_none")


async def test_an_event_is_queued_once_per_matching_active_subscription(store: Store) -> None:
    await store.create_webhook(subscription("wh_a", ["message.created"]), "s1")
    await store.create_webhook(subscription("wh_b", ["message.created", "conversation.opened"]), "s2")
    await store.create_webhook(subscription("wh_off", ["message.created"], active=False), "s3")
    await store.create_webhook(subscription("wh_csat", ["csat.received"]), "s4")
    assert await store.subscribed_event_types() == {"message.created", "conversation.opened", "csat.received"}
    assert await store.enqueue_webhooks([queued("e1")], T0) == 2
    # queued again (a write retried after its first try committed unseen): nothing new
    assert await store.enqueue_webhooks([queued("e1"), queued("e2", "conversation.opened")], T0) == 1
    listed = await store.list_webhook_deliveries(None, None, 10)
    assert sorted((d.subscription_id, d.event_id) for d in listed) == [
        ("wh_a", "e1"), ("wh_b", "e1"), ("wh_b", "e2")]
    assert [d.event_id for d in await store.list_webhook_deliveries("wh_b", "pending", 10)] == ["e2", "e1"]


async def test_the_claim_carries_the_body_url_and_secret(store: Store) -> None:
    await store.create_webhook(subscription("wh_a", ["message.created"]), "whsec_old")
    await store.rotate_webhook_secret("wh_a", "whsec_new", T0)
    await store.enqueue_webhooks([queued("e1")], T0)
    claim = await store.claim_webhooks("n1", 10, T0, LEASE)
    [out] = claim.deliveries
    assert out.secret == "whsec_new" and out.url == "https://crm.example.com/wh_a" and not out.resumed
    assert WebhookEvent.model_validate_json(out.body).data == {"n": "e1"}


async def test_a_conversation_goes_in_order_and_a_failure_holds_back_its_successors(store: Store) -> None:
    await store.create_webhook(subscription("wh_a", ["message.created"]), "s")
    await store.enqueue_webhooks([queued("a1"), queued("a2"), queued("b1", key="conversation:c2"),
                                  queued("a3")], T0)
    first = await store.claim_webhooks("n1", 10, T0, LEASE)
    assert [d.delivery.event_id for d in first.deliveries] == ["a1", "b1"]
    a1 = first.deliveries[0].delivery.id
    await store.webhook_retry(a1, 1, T0 + timedelta(seconds=30), "crm answered HTTP 503", 503, "n1")
    await store.webhook_sent(first.deliveries[1].delivery.id, 200, T0, "n1")
    # a1 waits for its retry; a2 and a3 wait behind it, whoever claims
    waiting = await store.claim_webhooks("n2", 10, T0 + timedelta(seconds=1), LEASE)
    assert waiting.deliveries == [] and waiting.next_due == T0 + timedelta(seconds=30)
    assert await claimed(store, "n1", timedelta(seconds=31)) == ["a1"]
    await store.webhook_dead(a1, 2, "gave up", 503, T0, "n1")
    # dead-lettered: the next one goes
    assert await claimed(store, "n1", timedelta(seconds=32)) == ["a2"]
    [dead] = await store.list_webhook_deliveries("wh_a", "dead", 10)
    assert dead.event_id == "a1" and dead.last_error == "gave up" and dead.last_status == 503 and dead.attempts == 2


async def test_a_claim_is_one_nodes_until_its_lease_runs_out(store: Store) -> None:
    await store.create_webhook(subscription("wh_a", ["message.created"]), "s")
    await store.enqueue_webhooks([queued("e1")], T0)
    [out] = (await store.claim_webhooks("n1", 10, T0, LEASE)).deliveries
    assert await claimed(store, "n2", timedelta(seconds=5)) == []
    with pytest.raises(LeaseLost):
        await store.webhook_sent(out.delivery.id, 200, T0, "n2")
    # n1 died mid-send: after the lease, n2 resumes it (the receiver may have it)
    [again] = (await store.claim_webhooks("n2", 10, T0 + LEASE + timedelta(seconds=1), LEASE)).deliveries
    assert again.delivery.id == out.delivery.id and again.resumed
    with pytest.raises(LeaseLost):
        await store.webhook_sent(out.delivery.id, 200, T0, "n1")
    await store.webhook_sent(out.delivery.id, 204, T0, "n2")
    [sent] = await store.list_webhook_deliveries(None, "sent", 10)
    assert sent.last_status == 204 and sent.attempts == 1 and sent.finished_at == T0


async def test_two_nodes_claiming_at_once_take_different_deliveries(store_factory: StoreFactory) -> None:
    async with store_factory() as a, store_factory() as b:
        await a.create_webhook(subscription("wh_a", ["message.created"]), "s")
        await a.enqueue_webhooks([queued(f"e{i}", key=f"conversation:c{i}") for i in range(40)], T0)
        takes = await asyncio.gather(*(s.claim_webhooks(f"n{i}", 5, T0, LEASE)
                                       for i, s in enumerate([a, b, a, b, a, b])))
        ids = [d.delivery.id for claim in takes for d in claim.deliveries]
        assert len(ids) == len(set(ids)) == 30


async def test_redeliver_puts_a_finished_delivery_back(store: Store) -> None:
    await store.create_webhook(subscription("wh_a", ["message.created"]), "s")
    await store.enqueue_webhooks([queued("e1")], T0)
    [out] = (await store.claim_webhooks("n1", 10, T0, LEASE)).deliveries
    with pytest.raises(ConflictError):
        await store.redeliver_webhook(out.delivery.id, T0)
    await store.webhook_dead(out.delivery.id, 3, "gave up after 3 attempts", None, T0, "n1")
    again = await store.redeliver_webhook(out.delivery.id, T0 + timedelta(minutes=5))
    assert again.status == "pending" and again.attempts == 0
    assert await claimed(store, "n2", timedelta(minutes=5)) == ["e1"]
    with pytest.raises(NotFound):
        await store.redeliver_webhook("nothing", T0)


async def test_prune_drops_old_sent_deliveries_and_keeps_dead_letters(store: Store) -> None:
    await store.create_webhook(subscription("wh_a", ["message.created"]), "s")
    await store.enqueue_webhooks([queued("e1"), queued("e2", key="conversation:c2")], T0)
    one, two = (await store.claim_webhooks("n1", 10, T0, LEASE)).deliveries
    await store.webhook_sent(one.delivery.id, 200, T0, "n1")
    await store.webhook_dead(two.delivery.id, 1, "gone", 410, T0, "n1")
    assert await store.prune_webhook_deliveries(T0 + timedelta(days=8)) == 1
    assert [d.event_id for d in await store.list_webhook_deliveries(None, None, 10)] == ["e2"]


async def test_deleting_a_subscription_deletes_its_deliveries(store: Store) -> None:
    await store.create_webhook(subscription("wh_a", ["message.created"]), "s")
    await store.enqueue_webhooks([queued("e1")], T0)
    await store.delete_webhook("wh_a")
    assert await store.list_webhook_deliveries(None, None, 10) == []
    assert await store.list_webhooks() == []


async def test_a_claim_skips_the_subscriptions_asked_and_what_its_own_node_holds(store: Store) -> None:
    """The sender claims again while its sends are in flight: it never gets one
    of them back, nor one of a subscription whose receiver has all it may take."""
    for sub_id in ("wh_a", "wh_b"):
        await store.create_webhook(subscription(sub_id, ["message.created"]), "s")
    await store.enqueue_webhooks([queued(f"e{i}", key=f"conversation:c{i}") for i in range(4)], T0)
    first = await store.claim_webhooks("n1", 1, T0, LEASE, skip={"wh_b"})
    assert [d.delivery.subscription_id for d in first.deliveries] == ["wh_a"]
    rest = await store.claim_webhooks("n1", 100, T0, LEASE, skip={"wh_b"})
    assert {d.delivery.id for d in rest.deliveries}.isdisjoint({d.delivery.id for d in first.deliveries})
    assert {d.delivery.subscription_id for d in rest.deliveries} == {"wh_a"} and len(rest.deliveries) == 3
    later = await store.claim_webhooks("n1", 100, T0, LEASE)
    assert {d.delivery.subscription_id for d in later.deliveries} == {"wh_b"} and len(later.deliveries) == 4
    assert (await store.claim_webhooks("n1", 100, T0, LEASE)).deliveries == []


async def test_a_failures_reason_code_and_values_round_trip_and_a_success_clears_them(store: Store) -> None:
    await store.create_webhook(subscription("wh_a", ["message.created"]), "s")
    await store.enqueue_webhooks([queued("e1"), queued("e2", key="conversation:c2")], T0)
    one, two = (await store.claim_webhooks("n1", 10, T0, LEASE)).deliveries
    why = DeliveryReason(code="http_status", values={"host": "crm.example.com", "status": 503})
    await store.webhook_retry(one.delivery.id, 1, T0, "crm.example.com answered HTTP 503", 503, "n1", why)
    dead = DeliveryReason(code="timeout", values={"host": "crm.example.com", "seconds": 10.0, "attempts": 3,
                                                  "gave_up": True})
    await store.webhook_dead(two.delivery.id, 3, "gave up", None, T0, "n1", dead)
    got = {d.event_id: d for d in await store.list_webhook_deliveries(None, None, 10)}
    assert got["e1"].last_reason == why and got["e1"].last_error == "crm.example.com answered HTTP 503"
    assert got["e2"].last_reason == dead and got["e2"].status == "dead"
    [again] = (await store.claim_webhooks("n1", 10, T0, LEASE)).deliveries
    await store.webhook_sent(again.delivery.id, 200, T0, "n1")
    [sent] = await store.list_webhook_deliveries(None, "sent", 10)
    assert sent.last_reason is None and sent.last_error is None


async def test_a_backlog_behind_a_held_delivery_does_not_hide_other_conversations(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A conversation's first delivery waits for a retry with many of its events
    queued behind it, more than a claim's first look (SQLite's ``WINDOW``, made
    small here, on each backend): the other conversations' deliveries are claimed all the same."""
    for backend in (webhooks_sqlite, webhooks_postgres):
        monkeypatch.setattr(backend, "WINDOW", 3)
    await store.create_webhook(subscription("wh_a", ["message.created"]), "s")
    await store.enqueue_webhooks([queued(f"slow{n}", key="conversation:slow") for n in range(6)], T0)
    await store.enqueue_webhooks([queued(f"e{i}", key=f"conversation:c{i}") for i in range(3)], T0)
    [held] = (await store.claim_webhooks("n1", 1, T0, LEASE)).deliveries
    assert held.delivery.event_id == "slow0"
    await store.webhook_retry(held.delivery.id, 1, T0 + timedelta(hours=1), "no answer", None, "n1")
    assert await claimed(store, "n1") == ["e0", "e1", "e2"]
    claim = await store.claim_webhooks("n1", 100, T0, LEASE)
    assert claim.deliveries == [] and claim.next_due == T0 + LEASE  # the first of those leases to run out
