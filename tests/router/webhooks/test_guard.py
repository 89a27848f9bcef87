"""The webhooks' SSRF guard as a class, at both of its entry points: saving
a URL (``check_url``), and each delivery where the connection is made (the
sender's connection pool), so a name that pointed to a public address when
it was saved and to the loopback since (DNS rebinding), an IP written in a
URL that was never checked, and a redirect all reach nothing private. A
local receiver stands for the private service: it must see no request."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from router.bus import EventBus
from router.config import WebhooksConfig
from router.metrics import Metrics
from router.store.sqlite import SQLiteStore
from router.webhooks.guard import UrlRefused, check_url
from router.webhooks.service import Webhooks
from router.webhooks.types import Queued, Subscription, WebhookEvent
from router.webhooks.worker import WebhookWorker
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.router.store.test_contract import T0

PUBLIC_V4 = "93.184.216.34"
PUBLIC_V6 = "2606:2800:220:1:248:1893:25c8:1946"
PUBLIC_6TO4 = "2002:5db8:d822::1"  # 6to4 of 93.184.216.34
NOT_PUBLIC = [
    "127.0.0.1", "127.8.9.10", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "169.254.1.1",
    "0.0.0.0", "100.64.0.1", "224.0.0.1", "239.255.255.250", "255.255.255.255", "192.0.0.8",
    "::1", "::", "fe80::1", "fc00::1", "fd00:ec2::254", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "2002:7f00:1::1", "2002:a00:1::", "2002:a9fe:a9fe::1",  # 6to4 of 127.0.0.1, 10.0.0.1, 169.254.169.254
    "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo of the client 10.0.0.1
]


class FakeDns(AbstractResolver):
    """A DNS whose answers the test sets, and changes (rebinding)."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        if host not in self.answers:
            raise OSError(f"{host}: no such name")
        return [ResolveResult(hostname=host, host=a, port=port,
                              family=socket.AF_INET6 if ":" in a else socket.AF_INET, proto=0,
                              flags=socket.AI_NUMERICHOST) for a in self.answers[host]]

    async def close(self) -> None:
        return None


def _url(address: str, port: int = 80) -> str:
    return f"http://[{address}]:{port}/hook" if ":" in address else f"http://{address}:{port}/hook"


@pytest.mark.parametrize("address", NOT_PUBLIC)
async def test_a_url_to_an_address_that_is_not_public_is_refused(address: str) -> None:
    with pytest.raises(UrlRefused) as refused:
        await check_url(_url(address), False, FakeDns({}))
    assert refused.value.code == "webhook_url_private"
    await check_url(_url(address), True, FakeDns({}))  # unless an admin allowed it


@pytest.mark.parametrize("address", [PUBLIC_V4, PUBLIC_V6, PUBLIC_6TO4])
async def test_a_url_to_a_public_address_is_accepted(address: str) -> None:
    await check_url(_url(address), False, FakeDns({}))


@pytest.mark.parametrize(("answers", "allowed"), [
    ([PUBLIC_V4], True), ([PUBLIC_V4, PUBLIC_V6], True), (["10.1.2.3"], False), (["fd12::1"], False),
    # one private address among public ones is enough to refuse: a connection may pick it
    ([PUBLIC_V4, "127.0.0.1"], False), (["169.254.169.254"], False),
])
async def test_a_name_is_judged_by_every_address_it_resolves_to(answers: list[str], allowed: bool) -> None:
    check = check_url("https://crm.example.com/hook", False, FakeDns({"crm.example.com": answers}))
    if allowed:
        await check
    else:
        with pytest.raises(UrlRefused, match=r"crm\.example\.com points to"):
            await check


async def test_localhost_through_the_real_resolver_is_refused() -> None:
    with pytest.raises(UrlRefused) as refused:
        await check_url("http://localhost:8080/hook", False, DefaultResolver())
    assert refused.value.code == "webhook_url_private"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    async with SQLiteStore(tmp_path / "guard.db") as s:
        yield s


async def _deliver_once(store: SQLiteStore, dns: AbstractResolver, url: str, allow_private: bool = False,
                        created_by_store: bool = False) -> str | None:
    """Subscribe ``url``, queue one event and run one pass of the sender with
    ``dns``: the delivery's reason when it failed (one attempt), else None."""
    config = WebhooksConfig(max_attempts=1)
    if created_by_store:  # a row the rules never checked (an older version, a hand-made row)
        sub = Subscription(id="wh_raw", url=url, events=["message.created"], created_at=T0, updated_at=T0)
        await store.create_webhook(sub, "whsec_raw")
    else:
        await Webhooks(store, EventBus(), config, dns, asyncio.Event()).subscribe(url, ["message.created"],
                                                                                  allow_private=allow_private)
    event = WebhookEvent(id="evt_1", type="message.created", created_at=T0, data={})
    await store.enqueue_webhooks([Queued(event=event, order_key="conversation:c1")], T0)
    async with WebhookWorker(store, config, Metrics(), asyncio.Event(), resolver=dns) as worker:
        await worker.run_once()
    [done] = await store.list_webhook_deliveries(None, None, 1)
    assert done.status in ("sent", "dead")
    return done.last_error


async def test_a_name_that_resolves_to_the_loopback_at_delivery_reaches_nothing(
        store: SQLiteStore, receiver: WebhookReceiver) -> None:
    dns = FakeDns({"crm.example.com": [PUBLIC_V4]})
    url = f"http://crm.example.com:{receiver.url().split(':')[-1].strip('/')}/hook"
    await check_url(url, False, dns)  # public when it is saved...

    class Rebinding(FakeDns):
        calls = 0

        async def resolve(self, host: str, port: int = 0,
                          family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
            self.calls += 1  # ...and the loopback from the second answer on
            self.answers = {host: [PUBLIC_V4] if self.calls == 1 else ["127.0.0.1"]}
            return await super().resolve(host, port, family)

    reason = await _deliver_once(store, Rebinding({}), url)
    assert reason is not None and "crm.example.com resolves to no public address" in reason
    assert receiver.requests == 0


async def test_an_ip_in_a_url_never_checked_is_refused_where_it_is_connected(
        store: SQLiteStore, receiver: WebhookReceiver) -> None:
    reason = await _deliver_once(store, FakeDns({}), receiver.url("/hook"), created_by_store=True)
    assert reason is not None and "127.0.0.1 is not a public address" in reason
    assert receiver.requests == 0


async def test_a_redirect_to_a_private_address_is_not_followed(store: SQLiteStore, receiver: WebhookReceiver) -> None:
    internal = WebhookReceiver()  # the private service the redirect points to
    await internal.start()
    try:
        receiver.answer = 302
        receiver.redirect_to = internal.url("/hook")
        reason = await _deliver_once(store, DefaultResolver(), receiver.url("/hook"), allow_private=True)
        assert reason is not None and "answered a redirect (HTTP 302)" in reason
        assert receiver.requests == 1 and internal.requests == 0
    finally:
        await internal.close()


async def test_an_admin_may_allow_a_private_receiver(store: SQLiteStore, receiver: WebhookReceiver) -> None:
    with pytest.raises(UrlRefused):
        await _deliver_once(store, DefaultResolver(), receiver.url("/hook"))
    await _deliver_once(store, DefaultResolver(), receiver.url("/hook"), allow_private=True)
    assert receiver.requests == 1  # it got there (and refused a signature by a secret it was never told)


async def test_a_malformed_url_already_saved_dead_letters_its_delivery_and_the_sender_goes_on(
        store: SQLiteStore, receiver: WebhookReceiver) -> None:
    """Rows saved before the check was strict (or by hand): each malformed
    URL ends its own delivery as a dead letter with a reason; a valid
    subscription queued alongside is still sent, in the same passes."""
    from tests.agents_ui.test_webhooks import MALFORMED  # noqa: PLC0415
    bad = [u for u in MALFORMED if u.startswith("http")]
    for n, url in enumerate(bad):
        sub = Subscription(id=f"wh_bad{n:02d}", url=url, events=["message.created"], allow_private=True,
                           created_at=T0, updated_at=T0)
        await store.create_webhook(sub, "whsec_raw")
    good = Subscription(id="wh_zgood", url=receiver.url("/hook"), events=["message.created"], allow_private=True,
                        created_at=T0, updated_at=T0)
    await store.create_webhook(good, "whsec_good")
    receiver.secrets.append("whsec_good")
    event = WebhookEvent(id="evt_1", type="message.created", created_at=T0, data={})
    await store.enqueue_webhooks([Queued(event=event, order_key="conversation:c1")], T0)
    async with WebhookWorker(store, WebhooksConfig(max_attempts=1), Metrics(), asyncio.Event(),
                             resolver=DefaultResolver()) as worker:
        await worker.run_once()
    dead = await store.list_webhook_deliveries(None, "dead", 100)
    assert sorted(d.subscription_id for d in dead) == [f"wh_bad{n:02d}" for n in range(len(bad))]
    assert all(d.last_error for d in dead)
    [sent] = await store.list_webhook_deliveries(None, "sent", 100)
    assert sent.subscription_id == "wh_zgood" and len(receiver.accepted) == 1
