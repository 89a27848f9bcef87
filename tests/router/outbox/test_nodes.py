"""Several nodes on one outbox (issue 21, point 4): claims racing from two
nodes, two real outbox workers on one PostgreSQL database, and a node killed
mid-send whose entry another node finishes, once its lease has run out."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta

import pytest

from connectors.vk import VkConnector, VkOptions, random_id
from router.bus import EventBus
from router.config import OutboxConfig
from router.connector import Connector, ConnectorOptions, SendProgress, SendResult
from router.metrics import Metrics
from router.models import Delivery, OutboundMessage, utcnow
from router.outbox.service import LEASE, OutboxWorker
from router.outbox.store import Claim, LeaseLost
from router.store.base import Store
from router.store.postgres import PostgresStore
from tests.conftest import HANG, eventually
from tests.fakes.vk_api import GROUP_ID, FakeVk
from tests.router.outbox.entries import delivery, queue
from tests.router.store.test_contract import T0, StoreFactory

RECIPIENTS, EACH = 12, 3
MANY_RACES = 30


async def test_claims_racing_from_two_nodes_lease_each_entry_once_one_per_recipient(
    store: Store, store_factory: StoreFactory
) -> None:
    """Eight claims at a time from two stores (two nodes on PostgreSQL; one
    writer on SQLite, where this holds by construction) until all is sent."""
    entries = {}
    for n in range(EACH):
        for r in range(RECIPIENTS):
            entries[await queue(store, f"r{r}", f"r{r}-{n}", T0 + timedelta(seconds=n))] = f"r{r}"
    other = store_factory() if isinstance(store, PostgresStore) else None
    if other is not None:
        await other.open()
    nodes = [store, other or store]
    try:
        claimed: list[str] = []
        now = T0 + timedelta(seconds=EACH)
        while True:
            claims: list[Claim] = await asyncio.gather(*(
                nodes[i % 2].claim_outbox(f"node-{i}", 4, now, LEASE) for i in range(8)))
            ids = [e.id for c in claims for e in c.entries]
            if not ids:
                break
            assert len(ids) == len(set(ids)), "an entry leased to two nodes at once"
            busy = Counter(entries[i] for i in ids)
            assert max(busy.values()) == 1, "a recipient with two entries in flight"
            claimed += ids
            await asyncio.gather(*(store.outbox_sent(e.id, None, now, f"node-{i}")
                                   for i, c in enumerate(claims) for e in c.entries))
        assert sorted(claimed) == sorted(entries)  # each once, none left behind
        # and each recipient's in the order they were written
        order: dict[str, list[str]] = defaultdict(list)
        for entry_id in claimed:
            order[entries[entry_id]].append(entry_id)
        assert all(ids == [i for i in entries if entries[i] == r] for r, ids in order.items())
    finally:
        if other is not None:
            await other.close()


async def test_a_late_finish_racing_a_takeover_is_one_or_the_other_never_both(
    store: Store, store_factory: StoreFactory
) -> None:
    """node-x's send outlived its lease and it records it just as node-y takes
    the entry over: either node-x's record stands (node-y finds it sent) or
    node-y holds it (node-x is told LeaseLost), never a finish by a node
    that no longer held the entry."""
    other = store_factory() if isinstance(store, PostgresStore) else None
    if other is not None:
        await other.open()
    try:
        late = T0 + LEASE + timedelta(seconds=1)
        for n in range(MANY_RACES):
            await queue(store, f"r{n}", "late", T0)
            [entry] = (await store.claim_outbox("node-x", 1, T0, LEASE)).entries
            finish, takeover = await asyncio.gather(
                store.outbox_sent(entry.id, f"ext-{n}", late, "node-x"),
                (other or store).claim_outbox("node-y", 1, late, LEASE), return_exceptions=True)
            took = not isinstance(takeover, BaseException) and [e.id for e in takeover.entries] == [entry.id]
            assert isinstance(finish, LeaseLost) if took else not isinstance(finish, BaseException)
            if took:
                await store.outbox_sent(entry.id, f"ext-{n}", late, "node-y")
    finally:
        if other is not None:
            await other.close()


class CountingPlatform(Connector[ConnectorOptions]):
    """One platform both nodes send to: counts what reaches it. ``stall``
    set: a send reaches the platform, then its node never hears back."""

    type_name = "scripted"

    def __init__(self) -> None:
        super().__init__("scripted", ConnectorOptions(), None)  # type: ignore[arg-type]
        self.got: list[OutboundMessage] = []
        self.stall = False

    async def send(self, message: OutboundMessage, progress: SendProgress | None = None) -> SendResult:
        await asyncio.sleep(0)  # the other node's turn
        self.got.append(message)
        if self.stall:
            await asyncio.Event().wait()  # the node is killed while here
        return SendResult(external_id=f"ext-{len(self.got)}")


def worker(store: Store, connector: Connector[ConnectorOptions] | Connector[VkOptions], node: str,
           clock: Callable[[], datetime] = utcnow, batch: int = 200) -> OutboxWorker:
    return OutboxWorker(store, EventBus(), {connector.type_name: connector}, OutboxConfig(batch=batch), Metrics(),
                        asyncio.Event(), clock, node=node)


def resends(w: OutboxWorker, channel: str) -> float:
    return w.metrics.registry.get_sample_value("omnirouter_outbox_resends_total", {"channel": channel}) or 0.0


@pytest.fixture
async def two_nodes(pg_database: str) -> AsyncIterator[tuple[PostgresStore, PostgresStore]]:
    """Two nodes' stores on one PostgreSQL database, opened (and migrated) at once."""
    a, b = PostgresStore(pg_database), PostgresStore(pg_database)
    await asyncio.gather(a.open(), b.open())
    try:
        yield a, b
    finally:
        await asyncio.gather(a.close(), b.close())


async def test_two_postgres_nodes_send_each_reply_once_and_each_recipients_in_order(
    two_nodes: tuple[PostgresStore, PostgresStore]
) -> None:
    a, b = two_nodes
    written: dict[str, list[str]] = defaultdict(list)
    start = utcnow() - timedelta(minutes=1)
    for n in range(5):
        for r in range(20):
            await queue((a, b)[r % 2], f"r{r}", f"r{r}-{n}", start + timedelta(seconds=n))
            written[f"r{r}"].append(f"r{r}-{n}")
    platform = CountingPlatform()
    workers = [worker(a, platform, "node-a", batch=7), worker(b, platform, "node-b", batch=7)]
    tasks = [asyncio.create_task(w.run()) for w in workers]
    try:
        await eventually(lambda: _all_sent(a), "every entry sent", HANG)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    got = Counter(m.message_id for m in platform.got)
    assert len(got) == 100 and set(got.values()) == {1}  # each reply once
    by_recipient: dict[str, list[str]] = defaultdict(list)
    for m in platform.got:
        by_recipient[m.recipient].append(m.text)
    assert by_recipient == written  # in the order written
    assert [resends(w, "scripted") for w in workers] == [0, 0]


async def _all_sent(store: Store) -> bool:
    return await store.pending_outbox(1) == []


async def _killed_mid_send(node: OutboxWorker, platform_got: Callable[[], int]) -> None:
    """Run ``node``'s pass until the platform got its send, then kill it: the
    send's answer is never recorded, and its lease stays behind."""
    task = asyncio.create_task(node.run_once())
    await eventually(lambda: _true_if(platform_got() == 1), "the platform got the send")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def _true_if(value: bool) -> bool:
    return value


async def test_a_postgres_node_killed_mid_send_leaves_its_entry_to_another_after_the_lease(
    two_nodes: tuple[PostgresStore, PostgresStore]
) -> None:
    a, b = two_nodes
    start = utcnow() - timedelta(seconds=10)
    await queue(a, "ann", "a1", start)
    await queue(a, "ann", "a2", start + timedelta(seconds=1))
    dying = CountingPlatform()
    dying.stall = True
    await _killed_mid_send(worker(a, dying, "node-a"), lambda: len(dying.got))

    platform = CountingPlatform()
    survivor = worker(b, platform, "node-b")
    await survivor.run_once()
    assert platform.got == []  # node-a's lease still runs: ann's replies wait, none goes twice yet
    # node-b's clock past the lease: no wall-clock wait in a test
    later = worker(b, platform, "node-b", clock=lambda: utcnow() + LEASE + timedelta(seconds=1))
    await later.run_once()
    assert [m.text for m in dying.got + platform.got] == ["a1", "a1", "a2"]  # at most one resend
    assert resends(later, "scripted") == 1
    [entry_message] = {m.message_id for m in dying.got}
    assert await delivery(b, entry_message) == (Delivery.SENT, "ext-1")  # the survivor's answer
    assert await b.pending_outbox(10) == []


class DiesAfterSend(Connector[VkOptions]):
    """A node's VK connector whose node is killed once VK has taken the message."""

    type_name = "vk"

    def __init__(self, inner: VkConnector) -> None:
        super().__init__(inner.name, inner.options, inner.host)
        self.inner = inner
        self.sent = 0

    async def send(self, message: OutboundMessage, progress: SendProgress | None = None) -> SendResult:
        result = await self.inner.send(message, progress)
        self.sent += 1
        await asyncio.Event().wait()  # killed before the outbox hears of it
        return result


async def test_a_vk_reply_resent_by_another_postgres_node_reuses_its_random_id(
    two_nodes: tuple[PostgresStore, PostgresStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "vk1.a.dGhlLWNvbW11bml0eS10b2tlbg"
    monkeypatch.setenv("OMNIROUTER_VK_TOKEN", token)
    vk = FakeVk(token)
    await vk.start()
    a, b = two_nodes
    options = VkOptions(api_base=vk.base_url, group_id=GROUP_ID)
    try:
        await queue(a, "712345678", "once, even after a crash", utcnow() - timedelta(seconds=1), channel="vk")
        [entry] = await a.pending_outbox(1)
        host = None  # sending asks nothing of the host
        async with VkConnector("vk", options, host) as on_a, VkConnector("vk", options, host) as on_b:  # type: ignore[arg-type]
            dying = DiesAfterSend(on_a)
            await _killed_mid_send(worker(a, dying, "node-a"), lambda: dying.sent)
            later = worker(b, on_b, "node-b", clock=lambda: utcnow() + LEASE + timedelta(seconds=1))
            await later.run_once()
        calls = vk.sent("messages.send")
        assert len(calls) == 2 and resends(later, "vk") == 1  # sent again after the crash...
        assert len(vk.delivered()) == 1  # ...and shown once: VK dropped the repeated random_id
        assert [c.params["random_id"] for c in calls] == [str(random_id(entry.message_id))] * 2
        state, external_id = await delivery(b, entry.message_id)
        assert state is Delivery.SENT and (external_id or "").startswith("712345678:")
    finally:
        await vk.close()


class InParts(Connector[ConnectorOptions]):
    """Sends each message in two platform calls; the first waits for ``go``."""

    type_name = "scripted"

    def __init__(self) -> None:
        super().__init__("scripted", ConnectorOptions(), None)  # type: ignore[arg-type]
        self.calls: list[str] = []
        self.started = asyncio.Event()
        self.go = asyncio.Event()

    async def send(self, message: OutboundMessage, progress: SendProgress | None = None) -> SendResult:
        self.started.set()
        progress = progress or SendProgress()
        for part in range(progress.done, 2):
            if part == 0:
                await self.go.wait()
            self.calls.append(f"{message.text}:{part}")
            await progress.part_sent(f"ext-{part}", last=part == 1)
        return SendResult(external_id=progress.external_id)


async def test_a_node_whose_lease_ran_out_mid_send_stops_and_the_new_holder_resumes(store: Store) -> None:
    # a stalled node (a paused VM) wakes after its lease was taken over: it
    # sends no further part and records nothing; the node that took it does
    await queue(store, "ann", "long", T0)
    stalled, platform = InParts(), InParts()
    first = worker(store, stalled, "node-a", clock=lambda: T0)
    send = asyncio.create_task(first.run_once())
    await asyncio.wait_for(stalled.started.wait(), HANG)  # node-a claimed it and is sending
    second = worker(store, platform, "node-b", clock=lambda: T0 + LEASE + timedelta(seconds=1))
    platform.go.set()
    await second.run_once()  # takes the entry over and sends it whole, node-a having sent nothing yet
    stalled.go.set()
    await asyncio.wait_for(send, HANG)  # node-a's first part went, then its record of it was refused
    assert stalled.calls == ["long:0"] and platform.calls == ["long:0", "long:1"]
    assert await store.pending_outbox(10) == [] and resends(second, "scripted") == 1

