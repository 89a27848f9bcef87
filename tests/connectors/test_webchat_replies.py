"""The site chat against the whole running service: what the agent answers
reaches the visitor live, or on return, in every tab of theirs and no one
else's; a changed history comes before what follows it; shutdown closes the
sockets. A websocket client plays the widget."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import WSMsgType

from connectors.webchat import WebChatConnector
from router.identity.types import MergeRequest
from router.models import (
    Author,
    Delivery,
    IdentityRef,
    InboundMessage,
    Message,
    OutboundMessage,
    Role,
)
from router.server.app import CONNECTORS, ROUTER, STORE
from tests.conftest import HANG, eventually
from tests.connectors.webchat_helpers import (
    Client,
    Frame,
    barrier,
    hello,
    new_visitor,
    receive,
    reload_history,
    say,
    tab,
    visitor_ref,
)

# -- helpers: what the agent does ---------------------------------------------


async def conversation_of(client: Client, visitor_id: str) -> str:
    store = client.app[STORE]
    customer = await store.find_identity(visitor_ref(visitor_id))
    assert customer is not None
    messages = await store.customer_messages(customer.id, 10)
    assert messages[-1].conversation_id is not None
    return messages[-1].conversation_id


async def agent_reply(client: Client, visitor_id: str, text: str) -> Message:
    store = client.app[STORE]
    agent = await store.create_agent("ann", "Ann", Role.AGENT, "x")
    return await client.app[ROUTER].conversations.reply(await conversation_of(client, visitor_id), agent, text)



# -- replies reach the visitor -------------------------------------------------------


async def test_an_agent_reply_reaches_the_visitor_live(client: Client) -> None:
    async with tab(client) as ws:
        visitor_id = (await hello(ws))["visitor_id"]
        ack = await say(ws, "Где мой заказ 1234?")
        reply = await agent_reply(client, visitor_id, "Ваш заказ в пути")

        frame = await receive(ws)

    assert frame == {
        "type": "message",
        "id": reply.id,
        "author": "agent",
        "text": "Ваш заказ в пути",
        "ts": frame["ts"],
    }
    assert abs(datetime.fromisoformat(frame["ts"]) - reply.created_at) < timedelta(milliseconds=1)
    history = await reload_history(client, visitor_id)
    assert [(m["id"], m["author"]) for m in history] == [(ack["id"], "customer"), (reply.id, "agent")]


async def test_a_reply_while_the_visitor_is_away_waits_and_is_sent_when_their_return_shows_it(
        client: Client) -> None:
    """No tab open: the reply is not "sent" (the agent sees it pending), nor
    failed or retried: it waits. The visitor's return shows it, and then it is sent."""
    visitor_id, _ = await new_visitor(client, "call me back")
    reply = await agent_reply(client, visitor_id, "Sure, tomorrow at 10")

    await eventually(lambda: out_of_the_queue(client, reply), "the reply handled by the outbox")
    assert await delivery_of(client, reply) is Delivery.PENDING

    history = await reload_history(client, visitor_id)
    assert [(m["author"], m["text"]) for m in history] == [
        ("customer", "call me back"),
        ("agent", "Sure, tomorrow at 10"),
    ]
    await wait_for_delivery(client, reply, Delivery.SENT)


async def out_of_the_queue(client: Client, message: Message) -> bool:
    return all(e.message_id != message.id for e in await client.app[STORE].pending_outbox(1000))


async def delivery_of(client: Client, message: Message) -> Delivery:
    assert message.conversation_id is not None
    stored = await client.app[STORE].list_messages(message.conversation_id, 50)
    return next(m.delivery for m in stored if m.id == message.id)


async def wait_for_delivery(client: Client, message: Message, delivery: Delivery) -> None:
    assert message.conversation_id is not None
    async with asyncio.timeout(HANG):
        while True:
            stored = await client.app[STORE].list_messages(message.conversation_id, 50)
            if any(m.id == message.id and m.delivery is delivery for m in stored):
                return
            await asyncio.sleep(0.02)


async def test_two_tabs_of_one_visitor_stay_in_sync(client: Client) -> None:
    async with tab(client) as first, tab(client) as second:
        visitor_id = (await hello(first))["visitor_id"]
        await hello(second, visitor_id)

        ack = await say(first, "from the first tab")
        echo = await receive(second)
        assert echo == {
            "type": "message",
            "id": ack["id"],
            "author": "customer",
            "text": "from the first tab",
            "ts": echo["ts"],
        }

        reply = await agent_reply(client, visitor_id, "seen in both tabs")
        for ws in (first, second):
            frame = await receive(ws)
            assert (frame["type"], frame["id"], frame["author"], frame["text"]) == (
                "message",
                reply.id,
                "agent",
                "seen in both tabs",
            )


async def test_a_resent_duplicate_is_not_echoed_again(client: Client) -> None:
    async with tab(client) as first, tab(client) as second:
        visitor_id = (await hello(first))["visitor_id"]
        await hello(second, visitor_id)
        await say(first, "once", "dup")
        assert (await receive(second))["text"] == "once"

        await say(first, "once", "dup")
        await barrier(first)  # the server has finished with the duplicate
        await barrier(second)  # and nothing else was queued for the second tab


async def test_another_visitor_never_receives_the_reply(client: Client) -> None:
    async with tab(client) as bystander:
        await hello(bystander)
        visitor_id, _ = await new_visitor(client, "private question")
        reply = await agent_reply(client, visitor_id, "private answer")
        await eventually(lambda: out_of_the_queue(client, reply), "the reply handled by the outbox")
        await barrier(bystander)


async def test_a_message_that_changes_the_history_brings_the_history_first(client: Client) -> None:
    """After a code proved another channel of the visitor's, the tab shows
    that channel's history (a fresh welcome), then the message."""
    router = client.app[ROUTER]
    phone = await router.on_message(InboundMessage(channel="whatsapp", external_id="wa-1", text="from my phone",
                                                   sender=IdentityRef(kind="whatsapp", value="+79123456789")))
    async with tab(client) as ws:
        visitor_id = (await hello(ws))["visitor_id"]
        ack = await say(ws, "from the site")
        site = await client.app[STORE].find_identity(visitor_ref(visitor_id))
        owner = (await client.app[STORE].get_conversation(phone.conversation_id or "")).customer_id
        assert site is not None
        await client.app[STORE].merge_customers(
            MergeRequest(owner, site.id, "code", None, "proven", verified=True), datetime.now(UTC))
        chat = client.app[CONNECTORS]["webchat"]
        await chat.send(OutboundMessage(message_id="msg_done", channel="webchat", recipient=visitor_id,
                                        author=Author.BOT, text="Done", created_at=datetime.now(UTC),
                                        history_changed=True))
        welcome = await receive(ws)
        assert welcome["type"] == "welcome" and welcome["visitor_id"] == visitor_id
        assert [f["text"] for f in welcome["history"]] == ["from my phone", "from the site"]
        assert welcome["history"][1]["id"] == ack["id"]
        done = await receive(ws)
        assert (done["type"], done["text"]) == ("message", "Done")


class _SlowHistory:
    """The real router as the connector's host, whose history reads finish
    only when the test lets them (a busy store): the gap between reading a
    welcome's history and pushing it, held open."""

    def __init__(self, router: Any) -> None:
        self.router = router
        self.read = asyncio.Event()
        self.release = asyncio.Event()

    async def admission(self, channel: str, patience: float | None) -> None:
        await self.router.admission(channel, patience)

    async def on_message(self, message: InboundMessage) -> Any:
        return await self.router.on_message(message)

    async def history(self, sender: IdentityRef, limit: int) -> list[Message]:
        found: list[Message] = await self.router.history(sender, limit)
        self.read.set()
        await self.release.wait()
        return found

    async def on_delivery_status(self, *args: Any, **kwargs: Any) -> None:
        await self.router.on_delivery_status(*args, **kwargs)

    async def secret(self, name: str) -> bytes:
        secret: bytes = await self.router.secret(name)
        return secret

    async def availability(self, customer: IdentityRef | None = None) -> Any:
        return await self.router.availability(customer)


async def _stored(client: Client, visitor_id: str, text: str) -> bool:
    customer = await client.app[STORE].find_identity(visitor_ref(visitor_id))
    return customer is not None and any(m.text == text for m in await client.app[STORE].customer_messages(
        customer.id, 10))


def _drawn(frames: list[Frame]) -> set[str]:
    """What the widget shows after ``frames``, by message id: a welcome redraws
    from its history (widget.js renderAll), a message adds itself, an ack turns
    a pending message (which a redraw keeps) into a drawn one."""
    drawn: set[str] = set()
    for frame in frames:
        if frame["type"] == "welcome":
            drawn = {m["id"] for m in frame["history"]}
        elif frame["type"] in ("message", "ack"):
            drawn.add(frame["id"])
    return drawn


async def test_what_arrives_while_a_fresh_welcome_is_prepared_is_not_wiped_by_it(client: Client) -> None:
    """A second welcome (history_changed) reads the history, then the tab
    redraws from it: a message acknowledged or delivered in between must
    follow the welcome, not come before it and vanish."""
    chat = client.app[CONNECTORS]["webchat"]
    async with tab(client) as ws:
        visitor_id = (await hello(ws))["visitor_id"]
        first = await say(ws, "before")
        slow = _SlowHistory(client.app[ROUTER])
        chat.host = slow
        linked = asyncio.create_task(chat.send(OutboundMessage(
            message_id="msg_linked", channel="webchat", recipient=visitor_id, author=Author.BOT, text="Linked",
            created_at=datetime.now(UTC), history_changed=True)))
        await asyncio.wait_for(slow.read.wait(), HANG)
        # in the gap: the visitor writes again, and an answer is delivered
        await ws.send_json({"type": "message", "text": "in the gap", "client_id": "c-gap"})
        await eventually(lambda: _stored(client, visitor_id, "in the gap"), "the message stored")
        await chat.send(OutboundMessage(message_id="msg_gap", channel="webchat", recipient=visitor_id,
                                        author=Author.AGENT, text="an answer", created_at=datetime.now(UTC)))
        slow.release.set()
        await asyncio.wait_for(linked, HANG)
        frames: list[Frame] = []
        while not frames or frames[-1].get("text") != "Linked":
            frames.append(await receive(ws))
        await barrier(ws)
    gap = next(f for f in frames if f["type"] == "ack" and f["client_id"] == "c-gap")
    assert {first["id"], gap["id"], "msg_gap", "msg_linked"} <= _drawn(frames), frames


async def test_shutdown_closes_open_sockets_as_going_away(client: Client) -> None:
    async with tab(client) as ws:
        await hello(ws)
        connector = client.app[CONNECTORS]["webchat"]
        assert isinstance(connector, WebChatConnector)

        await connector.close_clients()

        msg = await ws.receive(timeout=HANG)
        assert msg.type is WSMsgType.CLOSE
        assert msg.data == aiohttp.WSCloseCode.GOING_AWAY
