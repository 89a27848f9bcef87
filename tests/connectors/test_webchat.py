"""The site chat against the whole running service: a real port, a real
SQLite file, the real router and outbox. A websocket client plays the widget."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient
from pydantic import ValidationError

from connectors.webchat import WebChatConnector
from router.config import ConnectorConfig, Settings
from router.identity.types import MergeRequest
from router.models import (
    MAX_TEXT_LENGTH,
    Author,
    Delivery,
    Direction,
    IdentityRef,
    InboundMessage,
    Message,
    OutboundMessage,
    Role,
)
from router.server.app import CONNECTORS, ROUTER, STORE
from tests.conftest import HANG, AppClient, eventually

Client = TestClient[web.Request, web.Application]
Frame = dict[str, Any]

WS = "/chat/ws"
VISITOR_ID = re.compile(r"^[A-Za-z0-9_-]{32}\.[A-Za-z0-9_-]{22}$")


# -- helpers: what the widget does ---------------------------------------------


@asynccontextmanager
async def tab(client: Client, **kwargs: Any) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    """One browser tab's socket."""
    async with client.ws_connect(WS, **kwargs) as ws:
        yield ws


async def receive(ws: aiohttp.ClientWebSocketResponse) -> Frame:
    msg = await ws.receive(timeout=HANG)
    assert msg.type is WSMsgType.TEXT, f"expected a text frame, got {msg.type!r} {msg.data!r}"
    frame = json.loads(msg.data)
    assert isinstance(frame, dict)
    return frame


async def hello(ws: aiohttp.ClientWebSocketResponse, visitor_id: str | None = None, **fields: Any) -> Frame:
    frame: Frame = {"type": "hello", **fields}
    if visitor_id is not None:
        frame["visitor_id"] = visitor_id
    await ws.send_json(frame)
    welcome = await receive(ws)
    assert welcome["type"] == "welcome", welcome
    return welcome


async def say(ws: aiohttp.ClientWebSocketResponse, text: str, client_id: str | None = None) -> Frame:
    """Send a message and return its ack."""
    client_id = client_id or str(uuid.uuid4())
    await ws.send_json({"type": "message", "text": text, "client_id": client_id})
    ack = await receive(ws)
    assert ack == {"type": "ack", "client_id": client_id, "id": ack.get("id")}, ack
    assert isinstance(ack["id"], str) and ack["id"]
    return ack


async def new_visitor(client: Client, text: str) -> tuple[str, Frame]:
    """A visitor who wrote one message and closed the tab: (visitor_id, ack)."""
    async with tab(client) as ws:
        visitor_id = (await hello(ws))["visitor_id"]
        return visitor_id, await say(ws, text)


async def reload_history(client: Client, visitor_id: str) -> list[Frame]:
    """What a reload of the page shows."""
    async with tab(client) as ws:
        welcome = await hello(ws, visitor_id)
        assert welcome["visitor_id"] == visitor_id, "the visitor was not recognised"
        history = welcome["history"]
        assert isinstance(history, list)
        return history


async def expect_error(ws: aiohttp.ClientWebSocketResponse, code: str) -> None:
    frame = await receive(ws)
    assert frame["type"] == "error" and frame["code"] == code, frame
    assert isinstance(frame["message"], str) and frame["message"]


async def barrier(ws: aiohttp.ClientWebSocketResponse) -> None:
    """Everything the server sent this socket before now has been received
    (frames on one socket keep their order, and the server answers a ping
    only after it finished the frames before it)."""
    await ws.send_json({"type": "ping"})
    assert await receive(ws) == {"type": "pong"}


async def conversation_of(client: Client, visitor_id: str) -> str:
    store = client.app[STORE]
    customer = await store.find_identity(IdentityRef(kind="webchat", value=visitor_id))
    assert customer is not None
    messages = await store.customer_messages(customer.id, 10)
    assert messages[-1].conversation_id is not None
    return messages[-1].conversation_id


async def agent_reply(client: Client, visitor_id: str, text: str) -> Message:
    store = client.app[STORE]
    agent = await store.create_agent("ann", "Ann", Role.AGENT, "x")
    return await client.app[ROUTER].conversations.reply(await conversation_of(client, visitor_id), agent, text)


def webchat_settings(settings: Settings, **options: Any) -> Settings:
    settings.connectors["webchat"] = ConnectorConfig(type="webchat", **options)
    return settings


# -- visitors, messages, history -------------------------------------------------


async def test_first_hello_issues_a_new_visitor_with_no_history(client: Client) -> None:
    async with tab(client) as ws:
        welcome = await hello(ws)
    assert VISITOR_ID.match(welcome["visitor_id"]), welcome["visitor_id"]
    assert welcome["history"] == []
    # the issued id is recognised when the widget comes back with it
    assert await reload_history(client, welcome["visitor_id"]) == []


async def test_each_new_visitor_gets_a_different_id(client: Client) -> None:
    async with tab(client) as a, tab(client) as b:
        assert (await hello(a))["visitor_id"] != (await hello(b))["visitor_id"]


async def test_a_message_is_acked_and_a_reload_shows_it(client: Client) -> None:
    visitor_id, ack = await new_visitor(client, "Где мой заказ 1234?")

    history = await reload_history(client, visitor_id)

    assert [(m["type"], m["id"], m["author"], m["text"]) for m in history] == [
        ("message", ack["id"], "customer", "Где мой заказ 1234?")
    ]
    sent_at = datetime.fromisoformat(history[0]["ts"])
    assert sent_at.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - sent_at) < timedelta(minutes=5)


async def test_text_is_stored_trimmed(client: Client) -> None:
    visitor_id, _ = await new_visitor(client, "  hello there \n")
    assert [m["text"] for m in await reload_history(client, visitor_id)] == ["hello there"]


async def test_resending_a_client_id_after_reconnect_gives_the_same_id_and_stores_once(client: Client) -> None:
    async with tab(client) as ws:
        visitor_id = (await hello(ws))["visitor_id"]
        first = await say(ws, "is it in stock?", client_id="c-1")
    # the network dropped before the widget saw the ack: it re-sends after reconnect
    async with tab(client) as ws:
        await hello(ws, visitor_id)
        again = await say(ws, "is it in stock?", client_id="c-1")

    assert again["id"] == first["id"]
    assert [m["id"] for m in await reload_history(client, visitor_id)] == [first["id"]]


async def test_the_same_client_id_of_two_visitors_is_two_messages(client: Client) -> None:
    async with tab(client) as a, tab(client) as b:
        await hello(a)
        await hello(b)
        assert (await say(a, "hi", "1"))["id"] != (await say(b, "hi", "1"))["id"]


async def test_name_and_claimed_contacts_reach_the_router(client: Client) -> None:
    async with tab(client) as ws:
        welcome = await hello(ws, name="Анна", email="anna@example.com", phone="+7 900 000-00-00")
        await say(ws, "hello")
    store = client.app[STORE]
    customer = await store.find_identity(IdentityRef(kind="webchat", value=welcome["visitor_id"]))
    assert customer is not None and customer.display_name == "Анна"
    [stored] = [m for m in await store.customer_messages(customer.id, 10) if m.direction is Direction.IN]
    assert stored.core.claimed_email == "anna@example.com"
    assert stored.core.claimed_phone == "+7 900 000-00-00"


async def test_a_second_hello_on_one_socket_is_refused(client: Client) -> None:
    async with tab(client) as ws:
        welcome = await hello(ws)
        await ws.send_json({"type": "hello"})
        await expect_error(ws, "invalid_frame")
        await say(ws, "still me")
    assert len(await reload_history(client, welcome["visitor_id"])) == 1


async def test_ping_gets_pong_before_and_after_hello(client: Client) -> None:
    async with tab(client) as ws:
        await barrier(ws)
        await hello(ws)
        await barrier(ws)


# -- forged visitor ids ------------------------------------------------------------


def tamper(signature: str) -> str:
    """Another valid-looking signature (same length and alphabet)."""
    return ("B" if signature[0] == "A" else "A") + signature[1:]


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda random, sig: f"{random}.{tamper(sig)}", id="wrong-signature"),
        pytest.param(lambda random, sig: random, id="no-signature"),
        pytest.param(lambda random, sig: f"{random}.", id="empty-signature"),
        pytest.param(lambda random, sig: f"{random}.{sig}.{sig}", id="extra-part"),
        pytest.param(lambda random, sig: f"{random[:-4]}.{sig}", id="short-random"),
        pytest.param(lambda random, sig: f"{random}x.{sig}", id="bad-base64"),
        pytest.param(lambda random, sig: f"{random}.{sig}=", id="padded-signature"),
        pytest.param(lambda random, sig: f"{random}.{sig[:-1]}é", id="non-ascii"),
        pytest.param(lambda random, sig: "garbage", id="garbage"),
        pytest.param(lambda random, sig: "", id="empty"),
        pytest.param(lambda random, sig: "x" * 5000, id="huge"),
    ],
)
async def test_a_forged_visitor_id_starts_a_new_visitor_and_reveals_nothing(client: Client, forge: Any) -> None:
    victim, _ = await new_visitor(client, "my address is 1 Secret Lane")
    random_part, _, signature = victim.partition(".")
    forged = forge(random_part, signature)

    async with tab(client) as ws:
        welcome = await hello(ws, forged)
        assert welcome["visitor_id"] not in (forged, victim)
        assert VISITOR_ID.match(welcome["visitor_id"])
        assert welcome["history"] == []
        # what the forger writes does not land in the victim's conversation
        await say(ws, "hi, it's me")
    assert [m["text"] for m in await reload_history(client, victim)] == ["my address is 1 Secret Lane"]


async def test_a_visitor_id_that_is_not_a_string_is_an_invalid_frame(client: Client) -> None:
    async with tab(client) as ws:
        await ws.send_json({"type": "hello", "visitor_id": 12345})
        await expect_error(ws, "invalid_frame")
        assert (await hello(ws))["history"] == []


# -- bad frames: a clear error, and the socket keeps working -------------------------


LONG_TEXT = "я" * (MAX_TEXT_LENGTH + 1)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        pytest.param("{not json", "bad_json", id="malformed-json"),
        pytest.param("", "bad_json", id="empty-frame"),
        pytest.param('{"type": "shout", "text": "hi"}', "unknown_type", id="unknown-type"),
        pytest.param('{"text": "hi", "client_id": "1"}', "unknown_type", id="no-type"),
        pytest.param('["message", "hi"]', "unknown_type", id="array"),
        pytest.param('"hello"', "unknown_type", id="string"),
        pytest.param("null", "unknown_type", id="null"),
        pytest.param('{"type": "message", "text": "hi"}', "invalid_frame", id="missing-client-id"),
        pytest.param('{"type": "message", "client_id": "1"}', "invalid_frame", id="missing-text"),
        pytest.param('{"type": "message", "text": "  \\n ", "client_id": "1"}', "invalid_frame", id="blank-text"),
        pytest.param('{"type": "message", "text": 42, "client_id": "1"}', "invalid_frame", id="text-not-a-string"),
        pytest.param('{"type": "message", "text": "hi", "client_id": 7}', "invalid_frame", id="client-id-number"),
        pytest.param('{"type": "message", "text": "hi", "client_id": ""}', "invalid_frame", id="empty-client-id"),
        pytest.param(
            json.dumps({"type": "message", "text": "hi", "client_id": "c" * 129}), "invalid_frame", id="long-client-id"
        ),
        pytest.param(
            json.dumps({"type": "message", "text": LONG_TEXT, "client_id": "1"}), "too_long", id="text-too-long"
        ),
    ],
)
async def test_a_bad_frame_gets_an_error_and_the_socket_still_works(client: Client, raw: str, code: str) -> None:
    async with tab(client) as ws:
        welcome = await hello(ws)
        await ws.send_str(raw)
        await expect_error(ws, code)
        await say(ws, "after the error")
    assert [m["text"] for m in await reload_history(client, welcome["visitor_id"])] == ["after the error"]


async def test_a_message_before_hello_is_refused_then_works_after_hello(client: Client) -> None:
    async with tab(client) as ws:
        await ws.send_json({"type": "message", "text": "hi", "client_id": "early"})
        await expect_error(ws, "hello_required")
        welcome = await hello(ws)
        await say(ws, "hi", "early")
    assert [m["text"] for m in await reload_history(client, welcome["visitor_id"])] == ["hi"]


async def test_a_binary_frame_is_refused_and_the_socket_still_works(client: Client) -> None:
    async with tab(client) as ws:
        await hello(ws)
        await ws.send_bytes(json.dumps({"type": "message", "text": "hi", "client_id": "1"}).encode())
        await expect_error(ws, "binary_not_supported")
        await say(ws, "as text")


async def test_a_longest_allowed_message_fits_in_a_frame(client: Client) -> None:
    # every character escaped by JSON as \\uXXXX: the worst case for frame size
    text = "\u0001" * (MAX_TEXT_LENGTH - 1) + "x"
    async with tab(client) as ws:
        await hello(ws)
        frame = json.dumps({"type": "message", "text": text, "client_id": "big"})
        assert len(frame.encode()) < 64 * 1024
        await ws.send_str(frame)
        assert (await receive(ws))["type"] == "ack"


async def test_a_frame_over_64_kib_is_refused_and_nothing_is_stored(client: Client) -> None:
    async with tab(client) as ws:
        visitor_id = (await hello(ws))["visitor_id"]
        await ws.send_str(json.dumps({"type": "message", "text": "x" * (64 * 1024), "client_id": "huge"}))
        await expect_error(ws, "too_large")
        msg = await ws.receive(timeout=HANG)
        assert msg.type is WSMsgType.CLOSE
        assert msg.data == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
    assert await reload_history(client, visitor_id) == []


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


async def test_a_reply_while_the_visitor_is_away_is_delivered_and_shown_on_return(client: Client) -> None:
    visitor_id, _ = await new_visitor(client, "call me back")
    reply = await agent_reply(client, visitor_id, "Sure, tomorrow at 10")

    await wait_for_delivery(client, reply, Delivery.SENT)

    history = await reload_history(client, visitor_id)
    assert [(m["author"], m["text"]) for m in history] == [
        ("customer", "call me back"),
        ("agent", "Sure, tomorrow at 10"),
    ]


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
        await wait_for_delivery(client, reply, Delivery.SENT)
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
        site = await client.app[STORE].find_identity(IdentityRef(kind="webchat", value=visitor_id))
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


async def _stored(client: Client, visitor_id: str, text: str) -> bool:
    customer = await client.app[STORE].find_identity(IdentityRef(kind="webchat", value=visitor_id))
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


# -- the widget and the demo page ------------------------------------------------------


async def test_the_widget_is_served_as_javascript(client: Client) -> None:
    resp = await client.get("/chat/widget.js")
    assert resp.status == 200
    assert resp.content_type == "application/javascript"
    body = await resp.text()
    assert "omnirouter-chat" in body and "window.OmnirouterChat" in body
    assert "omnirouter:config" not in body, "the server config was not filled in"
    # no title configured: the widget's own, in the customer's language
    assert "var SERVER_CONFIG = {};" in body


async def test_the_widget_shows_the_configured_title(make_client: AppClient, settings: Settings) -> None:
    client = await make_client(webchat_settings(settings, title="Ask Teapot & Co."))
    body = await (await client.get("/chat/widget.js")).text()
    assert json.dumps({"title": "Ask Teapot & Co."}) in body


async def test_the_demo_page_embeds_the_widget(client: Client) -> None:
    resp = await client.get("/chat/")
    assert resp.status == 200
    assert resp.content_type == "text/html"
    assert '<script src="/chat/widget.js" async></script>' in await resp.text()


async def test_chat_without_slash_redirects_to_the_demo_page(client: Client) -> None:
    resp = await client.get("/chat", allow_redirects=False)
    assert resp.status in (301, 308)
    assert resp.headers["Location"] == "/chat/"


# -- allowed origins ------------------------------------------------------------------------


async def test_only_allowed_origins_may_open_the_chat(make_client: AppClient, settings: Settings) -> None:
    client = await make_client(webchat_settings(settings, allowed_origins=["https://Shop.example/"]))

    for origin in ("https://evil.example", "http://shop.example", "null", None):
        headers = {"Origin": origin} if origin is not None else {}
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect(WS, headers=headers)
        assert refused.value.status == 403, origin

    async with tab(client, headers={"Origin": "https://shop.example"}) as ws:
        await hello(ws)
    # the widget script itself is public: any page may load it
    assert (await client.get("/chat/widget.js", headers={"Origin": "https://evil.example"})).status == 200


async def test_our_own_demo_page_may_always_open_the_chat(make_client: AppClient, settings: Settings) -> None:
    client = await make_client(webchat_settings(settings, allowed_origins=["https://shop.example"]))
    own_origin = str(client.make_url("/")).rstrip("/")
    async with tab(client, headers={"Origin": own_origin}) as ws:
        await hello(ws)


async def test_any_origin_may_open_the_chat_by_default(client: Client) -> None:
    async with tab(client, headers={"Origin": "https://anyone.example"}) as ws:
        await hello(ws)


@pytest.mark.parametrize("origin", ["shop.example", "https://shop.example/path", "ftp://shop.example", ""])
def test_an_allowed_origin_that_is_not_an_origin_is_a_config_error(origin: str) -> None:
    with pytest.raises(ValidationError):
        WebChatConnector.parse_options({"allowed_origins": [origin]})
