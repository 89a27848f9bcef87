"""The ingest pipeline and agents' actions, on a real SQLite store and bus."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from router.bus import Event, EventBus
from router.config import RoutingConfig
from router.connector import HostError
from router.conversations.service import ReplyRefused
from router.core import Router
from router.metrics import Metrics
from router.models import (
    Agent,
    ConversationStatus,
    Delivery,
    IdentityRef,
    InboundMessage,
    Role,
)
from router.routing.decide import DefaultTeamRouting
from router.store.sqlite import SQLiteStore
from tests.conftest import HANG


@pytest.fixture
async def router(tmp_path: Path) -> AsyncIterator[Router]:
    async with SQLiteStore(tmp_path / "core.db") as store:
        yield Router(store, EventBus(), DefaultTeamRouting(RoutingConfig(default_team="sales")), Metrics())


@pytest.fixture
async def agent(router: Router) -> Agent:
    return await router.store.create_agent("ann", "Ann", Role.AGENT, "x")


def msg(
    external_id: str = "1", sender: str = "v1", channel: str = "webchat", text: str = "Где мой заказ 1234?"
) -> InboundMessage:
    return InboundMessage(
        channel=channel, external_id=external_id, sender=IdentityRef(kind="webchat", value=sender), text=text,
        sender_name="Анна",
    )


async def collect(router: Router, n: int) -> list[Event]:
    events: list[Event] = []
    async with router.bus.subscribe() as sub:
        async for event in sub:
            events.append(event)
            if len(events) == n:
                break
    return events


async def test_first_message_opens_a_queued_conversation_and_publishes_it(router: Router) -> None:
    listener = asyncio.create_task(collect(router, 2))
    await asyncio.sleep(0)
    accepted = await router.on_message(msg())
    events = await asyncio.wait_for(listener, HANG)
    assert [e.type for e in events] == ["conversation.created", "message.created"]
    conv = await router.store.get_conversation(accepted.conversation_id or "")
    assert conv.status is ConversationStatus.QUEUED and conv.team == "sales"
    assert conv.customer_name == "Анна"
    assert events[1].data["message"]["text"] == "Где мой заказ 1234?"
    assert events[1].data["message"]["conversation_id"] == conv.id
    assert "default team 'sales'" in (conv.route_reason or "")


async def test_a_redelivery_is_routed_once(router: Router) -> None:
    first = await router.on_message(msg())
    again = await router.on_message(msg())
    assert again.duplicate and (again.message_id, again.conversation_id) == (first.message_id, first.conversation_id)
    assert len(await router.store.list_messages(first.conversation_id or "", 10)) == 1
    assert router.metrics.duplicates.labels("webchat")._value.get() == 1


async def test_customer_switching_channel_continues_the_conversation(router: Router) -> None:
    a = await router.on_message(msg("1", channel="webchat"))
    b = await router.on_message(msg("1", channel="webchat-mobile"))
    assert a.conversation_id == b.conversation_id and a.message_id != b.message_id


async def test_resume_routes_what_a_crash_left_unrouted(router: Router) -> None:
    stored, _ = await router.store.insert_inbound(msg("lost"), router.clock())  # the crash: routed never ran
    assert await router.ingest.resume() == 1
    history = await router.history(IdentityRef(kind="webchat", value="v1"))
    assert [m.id for m in history] == [stored.id]
    assert history[0].conversation_id is not None
    # a redelivery of that message after the restart is recognised, not re-routed
    again = await router.on_message(msg("lost"))
    assert again.duplicate and again.message_id == stored.id


async def test_reply_assigns_and_queues_for_delivery(router: Router, agent: Agent) -> None:
    accepted = await router.on_message(msg())
    conv_id = accepted.conversation_id or ""
    reply = await router.conversations.reply(conv_id, agent, "Заказ 1234 в пути")
    assert reply.delivery is Delivery.PENDING and reply.channel == "webchat"
    conv = await router.store.get_conversation(conv_id)
    assert conv.status is ConversationStatus.ASSIGNED and conv.agent_id == agent.id
    [entry] = await router.store.pending_outbox(10)
    assert entry.payload.recipient == "v1" and entry.payload.text == "Заказ 1234 в пути"
    assert router.outbox_wakeup.is_set()


async def test_reply_goes_to_the_channel_used_last(router: Router, agent: Agent) -> None:
    await router.on_message(msg("1", channel="webchat"))
    accepted = await router.on_message(msg("2", channel="webchat-mobile"))
    reply = await router.conversations.reply(accepted.conversation_id or "", agent, "ok")
    assert reply.channel == "webchat-mobile"


async def test_replies_refused_where_they_make_no_sense(router: Router, agent: Agent) -> None:
    other = await router.store.create_agent("bob", "Bob", Role.AGENT, "x")
    conv_id = (await router.on_message(msg())).conversation_id or ""
    await router.conversations.assign(conv_id, other)
    with pytest.raises(ReplyRefused, match="another agent"):
        await router.conversations.reply(conv_id, agent, "hello")
    await router.conversations.resolve(conv_id, other)
    with pytest.raises(ReplyRefused, match="resolved"):
        await router.conversations.reply(conv_id, other, "hello")
    with pytest.raises(ReplyRefused):
        await router.conversations.assign(conv_id, agent)


async def test_shutdown_waits_for_messages_in_the_pipeline(router: Router) -> None:
    tasks = [asyncio.create_task(router.on_message(msg(str(i), sender=f"v{i}"))) for i in range(20)]
    await asyncio.sleep(0)
    for t in tasks[:10]:
        t.cancel()  # clients that went away mid-request
    await router.ingest.drain()
    counts = await router.store.count_conversations()
    assert counts[ConversationStatus.QUEUED] == 20
    assert await router.store.unrouted_messages(100) == []


async def test_shutdown_does_not_wait_for_ever_for_a_store_that_hangs(
    router: Router, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # another process holds the database's write lock: the store's write waits
    blocker = sqlite3.connect(tmp_path / "core.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    first = asyncio.create_task(router.on_message(msg()))
    await asyncio.sleep(0.2)
    await router.ingest.drain(grace=0.3)
    assert await router.store.unrouted_messages(10) == []  # drain returned while the write still waited
    with pytest.raises(asyncio.CancelledError):
        await first  # not acknowledged: the platform re-delivers it
    assert "1 message(s) and 0 bot turn(s) still running after 0.3 s were stopped" in caplog.text
    blocker.rollback()
    blocker.close()
    again = await router.on_message(msg())
    assert again.conversation_id is not None
    assert len(await router.store.list_messages(again.conversation_id, 10)) == 1  # once, and routed


async def test_a_delivery_receipt_updates_the_reply_and_tells_the_consoles(router: Router, agent: Agent) -> None:
    conv_id = (await router.on_message(msg())).conversation_id or ""
    reply = await router.conversations.reply(conv_id, agent, "ok")
    [entry] = await router.store.pending_outbox(10)
    await router.store.outbox_sent(entry.id, "ext-1", router.clock())
    listener = asyncio.create_task(collect(router, 2))
    await asyncio.sleep(0)
    await router.on_delivery_status("webchat", "ext-1", Delivery.DELIVERED)
    await router.on_delivery_status("webchat", "ext-1", Delivery.SENT)  # late: no event
    await router.on_delivery_status("webchat", "ext-1", Delivery.READ)
    events = await asyncio.wait_for(listener, HANG)
    assert [(e.type, e.data["message"]["id"], e.data["message"]["delivery"]) for e in events] == [
        ("message.updated", reply.id, "delivered"),
        ("message.updated", reply.id, "read"),
    ]


def _poison(path: Path, message_id: str) -> None:
    """What a row written before the store refused NaN holds: extras that SQLite's JSON functions refuse."""
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE messages SET extras = '{\"a\": NaN}' WHERE id = ?", (message_id,))


async def test_resume_goes_on_past_a_message_it_cannot_route(router: Router, tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    """One such message stopped every start of the service, the other messages unrouted with it."""
    bad, _ = await router.store.insert_inbound(msg("bad", sender="v1"), router.clock())
    good, _ = await router.store.insert_inbound(msg("good", sender="v2"), router.clock())
    _poison(tmp_path / "core.db", bad.id)
    assert await router.ingest.resume() == 1
    [routed] = await router.history(IdentityRef(kind="webchat", value="v2"))
    assert routed.id == good.id and routed.conversation_id is not None
    assert [m.id for m in await router.store.unrouted_messages(10)] == [bad.id]  # kept, for the next start
    said = [r for r in caplog.records if r.levelname == "ERROR"]
    assert said and bad.id in said[0].getMessage() and "could not be routed" in said[0].getMessage()
    assert "заказ" not in caplog.text  # the customer's words never go to the log


async def test_extras_json_cannot_hold_are_refused_before_anything_is_stored(router: Router) -> None:
    """NaN in a message's extras (a connector's bug, a poller's platform) would be written as SQLite's
    JSON functions cannot read it: the message is refused whole instead."""
    poisoned = msg("nan").model_copy(update={"extras": {"lat": float("nan")}})
    with pytest.raises(HostError):
        await router.on_message(poisoned)
    assert await router.store.unrouted_messages(10) == []
    assert await router.history(IdentityRef(kind="webchat", value="v1")) == []


async def test_a_failure_receipt_is_logged_without_the_recipient_or_the_reply_it_quotes(
    router: Router, agent: Agent, caplog: pytest.LogCaptureFixture
) -> None:
    """A bounce's diagnostic («550 5.7.1 <ivan@mail.ru>: content rejected: …») was logged at INFO
    as it came, with the customer's address and the reply's words; the agent still reads it all."""
    conv_id = (await router.on_message(msg())).conversation_id or ""
    text = "Договор № 77-1042 на имя Ивана Петрова во вложении"
    reply = await router.conversations.reply(conv_id, agent, text)
    [entry] = await router.store.pending_outbox(10)
    await router.store.outbox_sent(entry.id, "ext-9", router.clock())
    diagnostic = f"550 5.7.1 <ivan.petrov@mail.ru>: content rejected: {text[:30]}"
    with caplog.at_level(logging.INFO):
        await router.on_delivery_status("webchat", "ext-9", Delivery.FAILED, diagnostic)
    [stored] = [m for m in await router.store.list_messages(conv_id, 10) if m.id == reply.id]
    assert stored.delivery_error == diagnostic
    [line] = [r.getMessage() for r in caplog.records if reply.id in r.getMessage() and "failed" in r.getMessage()]
    assert line.endswith("failed: 550 5.7.1 <<address>>: content rejected: <what was sent>")
    assert "ivan.petrov" not in caplog.text and "Договор" not in caplog.text
