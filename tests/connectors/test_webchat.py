"""The site chat against the whole running service: a real port, a real
SQLite file, the real router and outbox. A websocket client plays the widget."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType
from pydantic import ValidationError

from connectors.webchat import WebChatConnector, WebChatOptions
from router.config import Settings
from router.models import (
    MAX_TEXT_LENGTH,
)
from tests.conftest import HANG, AppClient
from tests.connectors.webchat_helpers import (
    WS,
    Client,
    barrier,
    expect_error,
    first_words,
    hello,
    new_visitor,
    receive,
    reload_history,
    say,
    tab,
    webchat_settings,
)

VISITOR_ID = re.compile(r"^[A-Za-z0-9_-]{32}\.[A-Za-z0-9_-]{22}$")


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


async def test_a_browsers_offer_of_compression_is_declined_and_the_chat_works(client: Client) -> None:
    """Every browser offers permessage-deflate; taken, it would keep two zlib
    states (~100 kB) in the server for each open tab (bench/memory.py)."""
    async with tab(client, compress=15) as ws:
        assert ws.compress == 0  # what the handshake agreed: none
        await hello(ws)
        assert (await say(ws, "Где мой заказ 1234?"))["type"] == "ack"


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


async def test_a_nul_in_a_message_is_dropped_and_its_words_kept(client: Client) -> None:
    # no keyboard types a NUL; it was acked and stored (U+FFFD on PostgreSQL) while a note refuses it
    async with tab(client) as ws, tab(client) as other:
        visitor_id = (await hello(ws))["visitor_id"]
        await hello(other, visitor_id)
        await say(ws, "a\u0000b\u0000")
        # the visitor's other tab shows what was stored (past any answer of the bot's meanwhile)
        while (echo := await receive(other)).get("author") != "customer":
            pass
        assert (echo["type"], echo["text"]) == ("message", "ab"), echo
    assert [m["text"] for m in await reload_history(client, visitor_id)] == ["ab"]


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
    customer, stored = await first_words(client, name="Анна", email="anna@example.com", phone="+7 900 000-00-00")
    assert customer.display_name == "Анна"
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
        pytest.param('{"type": "message", "text": "\\u0000 ", "client_id": "1"}', "invalid_frame", id="nul-text"),
        pytest.param('{"type": "message", "text": 42, "client_id": "1"}', "invalid_frame", id="text-not-a-string"),
        pytest.param('{"type": "message", "text": "hi", "client_id": 7}', "invalid_frame", id="client-id-number"),
        pytest.param('{"type": "message", "text": "hi", "client_id": ""}', "invalid_frame", id="empty-client-id"),
        pytest.param(
            json.dumps({"type": "message", "text": "hi", "client_id": "c" * 129}), "invalid_frame", id="long-client-id"
        ),
        pytest.param(
            json.dumps({"type": "message", "text": LONG_TEXT, "client_id": "1"}), "too_long", id="text-too-long"
        ),
        # valid JSON that no UTF-8 frame can say back: the error goes out, without the id
        pytest.param('{"type": "message", "text": 5, "client_id": "\\ud800"}', "bad_json", id="lone-surrogate-id"),
        # nesting bombs past the parser's recursion limit: a RecursionError closed the socket without a word
        pytest.param("[" * 20000 + "]" * 20000, "bad_json", id="nesting-bomb"),
        pytest.param('{"type": "message", "text": "x", "client_id": "d", "z": ' + "[" * 3000 + "]" * 3000 + "}",
                     "bad_json", id="nesting-bomb-in-a-field"),
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


# -- the widget and the demo page ------------------------------------------------------


def server_config(body: str) -> dict[str, Any]:
    """The settings the server put in the widget (its SERVER_CONFIG)."""
    start = body.index("var SERVER_CONFIG = ") + len("var SERVER_CONFIG = ")
    config, _ = json.JSONDecoder().raw_decode(body[start:])
    assert isinstance(config, dict)
    return config


async def test_the_widget_is_served_as_javascript(client: Client) -> None:
    resp = await client.get("/chat/widget.js")
    assert resp.status == 200
    assert resp.content_type == "application/javascript"
    body = await resp.text()
    assert "omnirouter-chat" in body and "window.OmnirouterChat" in body
    assert "omnirouter:config" not in body, "the server config was not filled in"
    # its parts in one function: nothing of it leaks into the host page
    assert body.startswith("(function () {") and body.rstrip().endswith("})();")
    config = server_config(body)
    # no title configured: the widget's own, in the customer's language
    assert "title" not in config and "greeting" not in config
    assert config["strings"]["ru"]["title"] == "Напишите нам"
    assert config["strings"]["en"]["title"] == "Chat with us"
    assert config["prechat"] == {"name": "off", "phone": "off", "email": "off"}


async def test_the_widget_shows_the_configured_title(make_client: AppClient, settings: Settings) -> None:
    client = await make_client(webchat_settings(settings, title="Ask Teapot & Co."))
    body = await (await client.get("/chat/widget.js")).text()
    assert server_config(body)["title"] == "Ask Teapot & Co."


async def test_the_widget_gets_the_configured_greeting_and_prechat(make_client: AppClient, settings: Settings) -> None:
    greeting = {"ru": "Привет! Чем помочь?", "en": "Hi! How can we help?"}
    prechat = {"name": "required", "phone": "optional"}
    client = await make_client(webchat_settings(settings, greeting=greeting, prechat=prechat))
    config = server_config(await (await client.get("/chat/widget.js")).text())
    assert config["greeting"] == greeting
    assert config["prechat"] == {"name": "required", "phone": "optional", "email": "off"}

    client = await make_client(webchat_settings(settings, greeting=False))
    assert server_config(await (await client.get("/chat/widget.js")).text())["greeting"] is False


@pytest.mark.parametrize(("options", "place"), [
    ({"prechat": {"name": "sometimes"}}, "prechat.name"),
    ({"prechat": {"age": "required"}}, "prechat.age"),
    ({"greeting": {"de": "Hallo"}}, "greeting"),
    ({"greeting": {"ru": "  "}}, "greeting"),
])
def test_bad_widget_options_are_refused_with_their_place(options: dict[str, Any], place: str) -> None:
    with pytest.raises(ValidationError) as refused:
        WebChatOptions.model_validate(options)
    assert place in str(refused.value)


@pytest.mark.parametrize(("query", "accept", "lang", "words"), [
    ("", None, "ru", "Чайник и Ко"),  # Russian first
    ("", "en-GB,en;q=0.9", "en", "Teapot &amp; Co."),
    ("", "de-DE,en;q=0.5", "en", "Teapot &amp; Co."),
    ("?lang=en", "ru", "en", "Teapot &amp; Co."),
    ("?lang=ru", "en", "ru", "Чайник и Ко"),
])
async def test_the_demo_page_speaks_the_visitors_language_and_embeds_the_widget(
    client: Client, query: str, accept: str | None, lang: str, words: str,
) -> None:
    resp = await client.get(f"/chat/{query}", headers={"Accept-Language": accept} if accept else {})
    assert resp.status == 200
    assert resp.content_type == "text/html"
    page = await resp.text()
    assert f'<html lang="{lang}">' in page and words in page
    assert '<script src="/chat/widget.js" async></script>' in page


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
