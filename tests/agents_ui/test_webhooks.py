"""Outbound webhooks through the console's API and the whole service: an
admin subscribes a local receiver (a real server that checks every
signature), customers write, and the receiver gets each event once, signed,
in order per conversation, even across a restart of the service while it was
refusing them; a receiver that is down gets retries, then a dead letter the
console lists with its reason, and redelivery sends it once it is back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from router.appkeys import BUS, STORE
from router.config import Settings
from tests.agents_ui.conftest import Client, OpenSession, create_agent, customer_writes, error_of, login, signed_in
from tests.conftest import HANG, AppClient, eventually
from tests.fakes.webhook_receiver import WebhookReceiver

EVENTS = ["conversation.opened", "message.created"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.webhooks.backoff_initial = 0.01
    settings.webhooks.backoff_max = 0.05
    settings.webhooks.max_attempts = 3
    return settings


async def subscribe(client: Client, receiver: WebhookReceiver, events: list[str] | None = None) -> dict[str, Any]:
    resp = await client.post("/api/webhooks", json={"url": receiver.url("/hook"), "events": events or EVENTS,
                                                    "description": "CRM", "allow_private": True})
    assert resp.status == 201, await resp.text()
    created: dict[str, Any] = await resp.json()
    assert created["secret"].startswith("whsec_")
    receiver.secrets.append(created["secret"])
    return created


async def settled(client: Client) -> list[Any]:
    """Once no delivery is pending (a hang detector bounds it): the sent ones."""
    store = client.app[STORE]

    async def none_pending() -> bool:
        return not await store.list_webhook_deliveries(None, "pending", 1)

    await eventually(none_pending, "every delivery finished")
    return await store.list_webhook_deliveries(None, "sent", 500)


def _true(check: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return check()

    return probe


def inbound_texts(receiver: WebhookReceiver, conversation_id: str) -> list[str]:
    return [e["data"]["message"]["text"] for e in receiver.events("message.created")
            if e["data"]["conversation"]["id"] == conversation_id and e["data"]["message"]["direction"] == "in"]


async def test_each_event_arrives_once_signed_and_in_order_across_a_restart(
        make_client: AppClient, settings: Settings, receiver: WebhookReceiver) -> None:
    settings.webhooks.max_attempts = 1000  # it refuses for a while: never given up meanwhile
    client = await make_client()
    await login(client)
    await subscribe(client, receiver)
    first = await customer_writes(client, "a1", sender="anna", external_id="a1")
    second = await customer_writes(client, "b1", sender="boris", external_id="b1")
    await settled(client)
    # the receiver fails on the second message of each conversation (503) while more is written:
    # the later ones of that conversation wait behind it, whatever the receiver would take
    receiver.fail = lambda e: e["type"] == "message.created" and e["data"]["message"]["text"] in ("a2", "b2")
    for n in (2, 3, 4):
        await customer_writes(client, f"a{n}", sender="anna", external_id=f"a{n}")
        await customer_writes(client, f"b{n}", sender="boris", external_id=f"b{n}")
    await eventually(_true(lambda: receiver.failed >= 4), "the failing deliveries retried")
    assert inbound_texts(receiver, first) == ["a1"] and inbound_texts(receiver, second) == ["b1"]
    await client.close()  # the service stops with deliveries pending

    receiver.fail = None
    again = await make_client()
    sent = await settled(again)
    ids = [r.event["id"] for r in receiver.accepted]
    assert len(ids) == len(set(ids)), "an event was delivered twice"
    assert sorted(ids) == sorted(d.event_id for d in sent)
    assert all(r.event_id_header == r.event["id"] for r in receiver.accepted)
    assert inbound_texts(receiver, first) == ["a1", "a2", "a3", "a4"]
    assert inbound_texts(receiver, second) == ["b1", "b2", "b3", "b4"]
    opened = [e["data"]["conversation"]["id"] for e in receiver.events("conversation.opened")]
    assert sorted(opened) == sorted([first, second])
    # a conversation's opening comes before its first message
    order = [(e["type"], e["data"]["conversation"]["id"]) for e in receiver.events()]
    assert order.index(("conversation.opened", first)) < order.index(("message.created", first))
    assert receiver.refused == []


async def test_a_receiver_that_is_down_gets_retries_then_a_dead_letter_then_a_redelivery(
        client: Client, receiver: WebhookReceiver) -> None:
    await login(client)
    created = await subscribe(client, receiver, ["message.created"])
    await receiver.close()  # nothing listens there now
    await customer_writes(client, "Where is my order?")
    async def dead_letters() -> list[Any] | None:
        return await client.app[STORE].list_webhook_deliveries(None, "dead", 10) or None

    dead = await eventually(dead_letters, "a dead letter")
    resp = await client.get("/api/webhooks/deliveries", params={"status": "dead",
                                                               "subscription": created["subscription"]["id"]})
    [listed] = (await resp.json())["deliveries"]
    assert listed["id"] == dead[0].id and listed["attempts"] == 3
    assert listed["last_error"].startswith("gave up after 3 attempts: 127.0.0.1 could not be reached")
    # the same as a code and values the console words in the admin's language (webhooks.reasons.*)
    assert listed["last_reason"]["code"] == "unreachable"
    assert listed["last_reason"]["values"] | {"error": "-"} == {"host": "127.0.0.1", "error": "-", "attempts": 3,
                                                                "gave_up": True}
    metrics = await (await client.get("/metrics")).text()
    assert 'omnirouter_webhook_deliveries_total{node=' in metrics and 'outcome="dead"' in metrics

    await receiver.start()  # back, at the same URL
    resp = await client.post(f"/api/webhooks/deliveries/{listed['id']}/redeliver", json={})
    assert resp.status == 200 and (await resp.json())["delivery"]["status"] == "pending"
    [got] = await receiver.wait_for(1, HANG)
    assert got.event["id"] == listed["event_id"] and got.event["data"]["message"]["text"] == "Where is my order?"
    resp = await client.post(f"/api/webhooks/deliveries/{listed['id']}/redeliver", json={})
    assert resp.status in (200, 409)  # sent again on request, or still pending: never an error page


async def test_dead_letters_refresh_admin_screens_without_making_nodes_reread_subscriptions(
        client: Client, receiver: WebhookReceiver) -> None:
    """``webhooks.changed`` (every node re-reads the subscriptions) is for an
    admin's edits only; dead letters and redeliveries send the live-only
    ``webhooks.deliveries`` that open screens refresh on."""
    await login(client)
    seen: list[str] = []
    client.app[BUS].taps.append(lambda event, _: seen.append(event.type) if event.type.startswith("webhooks") else None)
    await subscribe(client, receiver, ["message.created"])
    await receiver.close()
    for who in ("anna", "boris", "clara"):
        await customer_writes(client, f"hello from {who}", sender=who, external_id=who)

    async def all_dead() -> list[Any] | None:
        dead = await client.app[STORE].list_webhook_deliveries(None, "dead", 10)
        return dead if len(dead) == 3 else None

    dead = await eventually(all_dead, "every delivery dead-lettered")
    await eventually(_true(lambda: "webhooks.deliveries" in seen), "the admin screens told")
    await client.post(f"/api/webhooks/deliveries/{dead[0].id}/redeliver", json={})
    assert seen.count("webhooks.changed") == 1  # the subscription's creation, nothing since
    assert "webhooks.deliveries" in seen and set(seen) == {"webhooks.changed", "webhooks.deliveries"}


async def test_a_rotated_secret_signs_from_then_on(client: Client, receiver: WebhookReceiver) -> None:
    await login(client)
    created = await subscribe(client, receiver, ["message.created"])
    resp = await client.post(f"/api/webhooks/{created['subscription']['id']}/secret", json={})
    secret = (await resp.json())["secret"]
    assert secret != created["secret"]
    receiver.secrets = [created["secret"]]  # the receiver still checks the old one only
    await customer_writes(client, "hello")
    await eventually(_true(lambda: bool(receiver.refused)), "a delivery refused for its signature")
    receiver.secrets = [secret]
    await receiver.wait_for(1, HANG)


async def test_subscriptions_are_listed_changed_and_deleted(client: Client, receiver: WebhookReceiver) -> None:
    await login(client)
    created = (await subscribe(client, receiver))["subscription"]
    resp = await client.get("/api/webhooks")
    listed = await resp.json()
    assert [s["id"] for s in listed["subscriptions"]] == [created["id"]]
    assert "secret" not in listed["subscriptions"][0]
    assert "csat.received" in listed["event_types"] and listed["signature_header"] == "Omnirouter-Signature"
    resp = await client.patch(f"/api/webhooks/{created['id']}", json={"events": ["csat.received"], "active": False})
    changed = (await resp.json())["subscription"]
    assert changed["events"] == ["csat.received"] and changed["active"] is False
    # no private addresses any more: its loopback URL is refused, nothing changes
    resp = await client.patch(f"/api/webhooks/{created['id']}", json={"allow_private": False})
    assert (await error_of(resp))[:2] == (400, "webhook_url_private")
    resp = await client.delete(f"/api/webhooks/{created['id']}", json={})
    assert resp.status == 204
    assert (await (await client.get("/api/webhooks")).json())["subscriptions"] == []
    assert (await client.delete(f"/api/webhooks/{created['id']}", json={})).status == 404


# URLs no connection can be made to: refused at saving (422) even where private addresses are allowed,
# never a 500 (a name that cannot be IDNA-encoded made aiohttp raise UnicodeError)
MALFORMED = [
    "ftp://crm.example.com/hook", "/hook", "http://user:pw@203.0.113.9/hook", "http://a..b/", "http://.a/",
    f"http://{'a' * 64}.example.com/", f"http://{'a.' * 130}com/", "http://[::1/", "http://[zz]/",
    "http://[127.0.0.1]/", "http://crm.example.com:99999/", "http://crm.example.com:0/", "http://crm.example.com:x/",
    "http:///hook", "http://exa mple.com/", "javascript:alert(1)",
]


@pytest.mark.parametrize("allow_private", [False, True])
@pytest.mark.parametrize("url", MALFORMED)
async def test_a_malformed_url_is_refused_as_invalid_and_nothing_is_saved(
        client: Client, url: str, allow_private: bool) -> None:
    await login(client)
    resp = await client.post("/api/webhooks", json={"url": url, "events": ["message.created"],
                                                    "allow_private": allow_private})
    assert (await error_of(resp))[:2] == (422, "webhook_url_invalid")
    assert (await (await client.get("/api/webhooks")).json())["subscriptions"] == []


@pytest.mark.parametrize(("url", "code"), [
    ("http://127.0.0.1:9/hook", "webhook_url_private"),
    ("http://localhost:9/hook", "webhook_url_private"),
    ("http://169.254.169.254/latest/meta-data/", "webhook_url_private"),
    ("http://[::1]/hook", "webhook_url_private"),
    ("http://no-such-host.invalid/hook", "webhook_url_unresolvable"),
])
async def test_a_url_that_cannot_be_subscribed_is_refused_and_nothing_is_saved(
        client: Client, url: str, code: str) -> None:
    await login(client)
    resp = await client.post("/api/webhooks", json={"url": url, "events": ["message.created"]})
    assert (await error_of(resp))[:2] == (400, code)
    assert (await (await client.get("/api/webhooks")).json())["subscriptions"] == []


async def test_bad_bodies_and_non_admins_are_refused(client: Client, open_session: OpenSession) -> None:
    await login(client)
    resp = await client.post("/api/webhooks", json={"url": "http://127.0.0.1/x", "events": ["message.deleted"],
                                                    "allow_private": True})
    assert (await error_of(resp))[:2] == (422, "invalid")
    resp = await client.post("/api/webhooks", json={"url": "http://127.0.0.1/x", "events": [], "allow_private": True})
    assert (await error_of(resp))[:2] == (422, "invalid")
    resp = await client.post("/api/webhooks/deliveries/nothing/redeliver", json={})
    assert resp.status == 404
    await create_agent(client, "sam", role="supervisor")
    http = await signed_in(client, open_session, "sam")
    for method, path in (("GET", "/api/webhooks"), ("GET", "/api/webhooks/deliveries")):
        resp = await http.request(method, path)
        assert resp.status == 403
    resp = await http.post("/api/webhooks", json={"url": "https://crm.example.com/", "events": ["message.created"]})
    assert resp.status == 403
