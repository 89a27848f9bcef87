"""WhatsApp and SMS through Twilio, against the whole running service and a
local fake of Twilio's REST API.

Webhooks carry the form fields Twilio documents for incoming messages
(https://www.twilio.com/docs/messaging/guides/webhook-request) and status
callbacks, signed as Twilio signs them (X-Twilio-Signature over the public URL
and the sorted parameters)."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from connectors import twilio as twilio_module
from connectors.twilio import TwilioConnector, TwilioOptions
from router.config import ConnectorConfig, Settings
from router.connector import RateLimited
from router.models import Attachment, Author, Delivery, IdentityRef, Message, OutboundMessage, utcnow
from router.server.app import CONNECTORS, ROUTER, STORE
from router.server.settings import load_settings
from router.yamlconf import ConfigError
from tests.conftest import ADMIN_PASSWORD, HANG, AppClient, eventually
from tests.fakes.twilio_api import Call, FakeTwilio, sid, signature

Client = TestClient[web.Request, web.Application]
T = TypeVar("T")

ACCOUNT = "AC" + "0123456789abcdef" * 2
TOKEN = "f1e2d3c4b5a697887766554433221100"
PUBLIC_URL = "https://support.example.com"
WA_NUMBER = "+14155238886"
SMS_NUMBER = "+15005550006"
CUSTOMER = "+79123456789"
TEMPLATE_SID = "HX" + "abcdef0123456789" * 2
TEMPLATE_TEXT = "Hello {{1}}, we have an answer for you. Reply to this message to continue."
_ids = itertools.count(1)


# -- payloads as Twilio sends them ------------------------------------------------------------


def whatsapp_form(body: str, message_sid: str | None = None, sender: str = CUSTOMER, **more: str) -> dict[str, str]:
    message_sid = message_sid or sid("SM")
    return {
        "SmsMessageSid": message_sid, "NumMedia": "0", "ProfileName": "Иван Петров", "MessageType": "text",
        "SmsSid": message_sid, "WaId": sender.lstrip("+"), "SmsStatus": "received", "Body": body,
        "To": f"whatsapp:{WA_NUMBER}", "NumSegments": "1", "ReferralNumMedia": "0", "MessageSid": message_sid,
        "AccountSid": ACCOUNT, "From": f"whatsapp:{sender}", "ApiVersion": "2010-04-01", **more,
    }


def sms_form(body: str, message_sid: str | None = None, sender: str = CUSTOMER, **more: str) -> dict[str, str]:
    message_sid = message_sid or sid("SM")
    return {
        "ToCountry": "US", "ToState": "CA", "SmsMessageSid": message_sid, "NumMedia": "0", "ToCity": "",
        "FromZip": "", "SmsSid": message_sid, "FromState": "", "SmsStatus": "received", "FromCity": "",
        "Body": body, "FromCountry": "RU", "To": SMS_NUMBER, "ToZip": "", "NumSegments": "1",
        "MessageSid": message_sid, "AccountSid": ACCOUNT, "From": sender, "ApiVersion": "2010-04-01", **more,
    }


def media_fields(message_sid: str, *types: str) -> dict[str, str]:
    fields = {"NumMedia": str(len(types))}
    for i, mime in enumerate(types):
        fields[f"MediaUrl{i}"] = (f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages/{message_sid}"
                                  f"/Media/ME{i:032x}")
        fields[f"MediaContentType{i}"] = mime
    return fields


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture
async def twilio_api() -> AsyncIterator[FakeTwilio]:
    fake = FakeTwilio(ACCOUNT, TOKEN)
    await fake.start()
    yield fake
    await fake.close()


def section(fake: FakeTwilio, flavour: str, **more: Any) -> ConnectorConfig:
    number = WA_NUMBER if flavour == "whatsapp" else SMS_NUMBER
    return ConnectorConfig(type="twilio", flavour=flavour, from_number=number, api_base=fake.base_url, **more)


TEMPLATE = {"content_sid": TEMPLATE_SID, "text": TEMPLATE_TEXT, "variables": {"1": "{customer_name}"}}


@pytest.fixture
def tw_settings(settings: Settings, twilio_api: FakeTwilio, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("OMNIROUTER_TWILIO_ACCOUNT_SID", ACCOUNT)
    monkeypatch.setenv("OMNIROUTER_TWILIO_AUTH_TOKEN", TOKEN)
    settings.server.public_url = PUBLIC_URL
    settings.connectors["whatsapp"] = section(twilio_api, "whatsapp", window_template=TEMPLATE)
    settings.connectors["sms"] = section(twilio_api, "sms", messages_per_second=50)
    return settings


@pytest.fixture
async def tw(make_client: AppClient, tw_settings: Settings) -> Client:
    return await make_client(tw_settings)


# -- helpers ---------------------------------------------------------------------------------


async def post(client: Client, connector: str, form: dict[str, str], *, path: str = "",
               sign_url: str | None = None, sign: dict[str, str] | None = None, token: str = TOKEN,
               header: bool = True) -> int:
    """Post ``form`` as Twilio would: signed for the public URL of the webhook."""
    route = f"/webhooks/twilio/{connector}{path}"
    headers = {"X-Twilio-Signature": signature(token, sign_url or PUBLIC_URL + route, sign or form)} if header else {}
    async with client.post(route, data=form, headers=headers) as resp:
        body = await resp.text()
        if resp.status == 200 and not path:
            # the empty TwiML answer: Twilio sends nothing back to the customer
            assert resp.content_type == "text/xml"
            assert body.strip().endswith("<Response />")
        return resp.status



async def customer_messages(client: Client, kind: str = "whatsapp", number: str = CUSTOMER) -> list[Message]:
    customer = await client.app[STORE].find_identity(IdentityRef(kind=kind, value=number))
    if customer is None:
        return []
    return await client.app[STORE].customer_messages(customer.id, 100)


async def inbound(client: Client, kind: str = "whatsapp", number: str = CUSTOMER) -> list[Message]:
    return [m for m in await customer_messages(client, kind, number) if m.author is Author.CUSTOMER]


async def console(client: Client) -> aiohttp.ClientSession:
    """The agent's side, through the console API as the console uses it."""
    http = aiohttp.ClientSession(str(client.server.make_url("")))
    async with http.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD}) as resp:
        assert resp.status == 200
        # the cookie is Secure (public_url is https) and the test talks plain http
        http.headers["Cookie"] = "; ".join(f"{k}={v.value}" for k, v in resp.cookies.items())
    return http


async def api_reply(http: aiohttp.ClientSession, conversation_id: str, body: dict[str, Any],
                    path: str = "messages") -> tuple[int, dict[str, Any]]:
    async with http.post(f"/api/conversations/{conversation_id}/{path}", json=body) as resp:
        return resp.status, await resp.json()


async def shown(http: aiohttp.ClientSession, conversation_id: str, message_id: str) -> dict[str, Any]:
    async with http.get(f"/api/conversations/{conversation_id}/messages") as resp:
        messages = {m["id"]: m for m in (await resp.json())["messages"]}
    found: dict[str, Any] = messages[message_id]
    return found


async def delivery_is(http: aiohttp.ClientSession, conversation_id: str, message_id: str,
                      *states: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        message = await shown(http, conversation_id, message_id)
        return message if message["delivery"] in states else None

    return await eventually(probe, f"message {message_id} to be {' or '.join(states)}")


async def sent_calls(fake: FakeTwilio, count: int) -> list[Call]:
    async def probe() -> list[Call] | None:
        return fake.sent() if len(fake.sent()) >= count else None

    return await eventually(probe, f"{count} message(s) created at Twilio")


async def next_event(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    while True:
        frame = await asyncio.wait_for(ws.receive_json(), HANG)
        if frame["type"] == kind:
            data: dict[str, Any] = frame["data"]
            return data


# -- end to end ----------------------------------------------------------------------------


async def test_whatsapp_in_agent_reply_out_and_delivered_live(tw: Client, twilio_api: FakeTwilio) -> None:
    form = whatsapp_form("Где мой заказ 1042?")
    assert await post(tw, "whatsapp", form) == 200
    [stored] = await inbound(tw)
    assert stored.text == "Где мой заказ 1042?"
    assert stored.external_id == form["MessageSid"] and stored.channel == "whatsapp"
    assert stored.sender == IdentityRef(kind="whatsapp", value=CUSTOMER)
    assert stored.extras["WaId"] == "79123456789"
    assert stored.conversation_id is not None
    conversation = await tw.app[STORE].get_conversation(stored.conversation_id)
    assert conversation.customer_name == "Иван Петров"

    http = await console(tw)
    try:
        ws = await http.ws_connect("/api/ws")
        status, body = await api_reply(http, stored.conversation_id, {"text": "Заказ 1042 уже в пути"})
        assert status == 201, body
        reply_id = body["message"]["id"]
        sent = await delivery_is(http, stored.conversation_id, reply_id, "sent")
        [call] = twilio_api.sent()
        assert call.get("To") == f"whatsapp:{CUSTOMER}" and call.get("From") == f"whatsapp:{WA_NUMBER}"
        assert call.get("Body") == "Заказ 1042 уже в пути"
        assert call.get("StatusCallback") == f"{PUBLIC_URL}/webhooks/twilio/whatsapp/status"
        assert sent["external_id"] == call.sid

        # Twilio reports back: the console sees it live, and the API shows it
        assert await twilio_api.report(call, "sent", deliver_to=str(tw.server.make_url(""))) == 204
        assert await twilio_api.report(call, "delivered", deliver_to=str(tw.server.make_url(""))) == 204
        pushed = await next_event(ws, "message.updated")
        while pushed["message"]["delivery"] != "delivered":
            pushed = await next_event(ws, "message.updated")
        assert pushed["message"]["id"] == reply_id
        assert await twilio_api.report(call, "read", deliver_to=str(tw.server.make_url(""))) == 204
        assert (await shown(http, stored.conversation_id, reply_id))["delivery"] == "read"
        await ws.close()
    finally:
        await http.close()


async def test_sms_with_pictures_in_and_out(tw: Client, twilio_api: FakeTwilio) -> None:
    message_sid = sid("MM")
    form = sms_form("", message_sid, **media_fields(message_sid, "image/jpeg", "application/pdf"))
    assert await post(tw, "sms", form) == 200
    [stored] = await inbound(tw, "sms")
    assert stored.sender == IdentityRef(kind="sms", value=CUSTOMER)
    photo, pdf = stored.attachments
    assert (photo.kind, photo.mime_type, photo.url) == ("image", "image/jpeg", form["MediaUrl0"])
    assert (pdf.kind, pdf.mime_type) == ("document", "application/pdf")
    assert pdf.extras["media_sid"] == f"ME{1:032x}"
    assert (stored.text, stored.extras["description"]) == ("", "[image] [document application/pdf]")

    connector = tw.app[CONNECTORS]["sms"]
    assert isinstance(connector, TwilioConnector)
    out = OutboundMessage(
        message_id="msg_1", channel="sms", recipient=CUSTOMER, author=Author.AGENT, text="Your receipt",
        attachments=[Attachment(kind="image", url="https://shop.example/receipt.png"),
                     Attachment(kind="location", extras={"latitude": 55.7558, "longitude": 37.6173,
                                                         "label": "Our shop"})],
        created_at=utcnow(),
    )
    result = await connector.send(out)
    [call] = twilio_api.sent()
    assert call.get("To") == CUSTOMER and call.get("From") == SMS_NUMBER
    assert call.all("MediaUrl") == ["https://shop.example/receipt.png"]
    # what SMS cannot show goes as words
    assert call.get("Body") == "Your receipt\n📍 Our shop https://maps.google.com/?q=55.7558,37.6173"
    assert result.external_id == call.sid and call.sid is not None and call.sid.startswith("MM")


async def test_whatsapp_location_and_long_text(tw: Client, twilio_api: FakeTwilio) -> None:
    form = whatsapp_form("", MessageType="location", Latitude="55.755826", Longitude="37.617299",
                         Address="Red Square, Moscow")
    assert await post(tw, "whatsapp", form) == 200
    [stored] = await inbound(tw)
    assert (stored.text, stored.extras["description"]) == ("", "[location 55.755826, 37.617299]")
    assert stored.attachments[0].extras == {"latitude": 55.755826, "longitude": 37.617299,
                                            "address": "Red Square, Moscow"}
    connector = tw.app[CONNECTORS]["whatsapp"]
    out = OutboundMessage(message_id="msg_2", channel="whatsapp", recipient=CUSTOMER, author=Author.AGENT,
                          text=("a" * 1000 + "\n") * 2, created_at=utcnow())
    result = await connector.send(out)
    first, second = twilio_api.sent()
    assert [len(first.get("Body") or ""), len(second.get("Body") or "")] == [1001, 1001]
    assert result.external_id == second.sid


# -- authentication and bad input ----------------------------------------------------------------


@pytest.mark.parametrize("how", ["missing", "wrong token", "other url", "tampered", "other account"])
async def test_a_bad_signature_is_refused_and_nothing_is_stored(tw: Client, how: str) -> None:
    form = whatsapp_form("let me in")
    kwargs: dict[str, Any] = {
        "missing": {"header": False},
        "wrong token": {"token": "0" * 32},
        "other url": {"sign_url": "https://evil.example/webhooks/twilio/whatsapp"},
        "tampered": {"sign": {**form, "Body": "something else"}},
        "other account": {},
    }[how]
    if how == "other account":
        form["AccountSid"] = "AC" + "f" * 32  # correctly signed, but not our account's
    assert await post(tw, "whatsapp", form, **kwargs) == 403
    assert await inbound(tw) == []


async def test_signatures_are_checked_against_the_connectors_own_public_url(
    make_client: AppClient, tw_settings: Settings, twilio_api: FakeTwilio
) -> None:
    tw_settings.connectors["sms"] = section(twilio_api, "sms", public_url="https://hooks.example.net/")
    client = await make_client(tw_settings)
    form = sms_form("hi")
    assert await post(client, "sms", form) == 403  # signed for server.public_url
    assert await post(client, "sms", form, sign_url="https://hooks.example.net/webhooks/twilio/sms") == 200
    assert len(await inbound(client, "sms")) == 1


async def test_a_redelivery_is_stored_once(tw: Client) -> None:
    form = whatsapp_form("hello")
    assert await post(tw, "whatsapp", form) == 200
    assert await post(tw, "whatsapp", form) == 200
    assert [m.text for m in await inbound(tw)] == ["hello"]


@pytest.mark.parametrize("change", [{"MessageSid": "", "SmsMessageSid": ""}, {"MessageSid": "not-a-sid",
                                    "SmsMessageSid": ""}, {"From": ""}])
async def test_a_signed_but_malformed_message_is_a_400(tw: Client, change: dict[str, str]) -> None:
    assert await post(tw, "whatsapp", {**whatsapp_form("x"), **change}) == 400
    assert await inbound(tw) == []


async def test_the_same_number_on_whatsapp_and_sms_is_one_customer(tw: Client) -> None:
    assert await post(tw, "whatsapp", whatsapp_form("first on WhatsApp")) == 200
    assert await post(tw, "sms", sms_form("then by SMS")) == 200
    on_whatsapp, on_sms = await inbound(tw)
    assert on_whatsapp.conversation_id == on_sms.conversation_id


# -- delivery -------------------------------------------------------------------------------------


async def reply_to_new_message(tw: Client, http: aiohttp.ClientSession, text: str = "we are on it") -> tuple[str, str]:
    assert await post(tw, "whatsapp", whatsapp_form(f"question {next(_ids)}")) == 200
    conversation_id = (await inbound(tw))[-1].conversation_id
    assert conversation_id is not None
    status, body = await api_reply(http, conversation_id, {"text": text})
    assert status == 201, body
    return conversation_id, body["message"]["id"]


async def test_an_outage_is_retried_then_dead_lettered_and_the_agent_sees_why(
    tw: Client, twilio_api: FakeTwilio
) -> None:
    twilio_api.outage(times=50)
    http = await console(tw)
    try:
        conversation_id, reply_id = await reply_to_new_message(tw, http)
        failed = await delivery_is(http, conversation_id, reply_id, "failed")
    finally:
        await http.close()
    assert failed["delivery_error"] == "gave up after 3 attempts: twilio 503: Unable to create record (HTTP 503)"
    assert len(twilio_api.calls) == 3


async def test_a_long_reply_resumed_after_a_restart_sends_no_part_twice(
    make_client: AppClient, tw_settings: Settings, twilio_api: FakeTwilio
) -> None:
    tw_settings.outbox.max_attempts = 10_000  # retried until the fault clears, never dead-lettered here
    first = await make_client(tw_settings)
    twilio_api.fail_while(lambda params: (params.get("Body") or "").startswith("B"))
    http = await console(first)
    try:
        conversation_id, reply_id = await reply_to_new_message(first, http, "A" * 1600 + "B" * 400)
    finally:
        await http.close()

    def second_parts() -> int:
        return len([c for c in twilio_api.calls if (c.get("Body") or "").startswith("B")])

    async def tried(count: int) -> bool:
        return second_parts() >= count

    await eventually(lambda: tried(2), "part 2 refused twice")
    await first.close()

    # a restart over the same SQLite file: a new outbox, a new connector
    second = await make_client(tw_settings)
    before = second_parts()
    await eventually(lambda: tried(before + 1), "the restarted outbox to try part 2 again")
    twilio_api.heal()

    async def sent() -> Message | None:
        found = [m for m in await second.app[STORE].list_messages(conversation_id, 100) if m.id == reply_id]
        return found[0] if found and found[0].delivery is Delivery.SENT else None

    delivered = await eventually(sent, "the reply to be sent")
    bodies = [c.get("Body") for c in twilio_api.sent()]
    assert bodies == ["A" * 1600, "B" * 400], "a part reached the customer twice, or not at all"
    assert delivered.external_id == twilio_api.sent()[-1].sid


async def test_an_unsubscribed_customer_fails_at_once_with_the_reason(tw: Client, twilio_api: FakeTwilio) -> None:
    twilio_api.fail_next(400, 21610, "Attempt to send to unsubscribed recipient")
    http = await console(tw)
    try:
        conversation_id, reply_id = await reply_to_new_message(tw, http)
        failed = await delivery_is(http, conversation_id, reply_id, "failed")
    finally:
        await http.close()
    assert failed["delivery_error"] == "twilio 21610: the customer has unsubscribed (replied STOP) from this sender"
    assert len(twilio_api.calls) == 1


async def test_too_many_requests_waits_as_told(tw: Client, twilio_api: FakeTwilio) -> None:
    twilio_api.fail_next(429, 20429, "Too Many Requests", retry_after=1)
    http = await console(tw)
    try:
        conversation_id, reply_id = await reply_to_new_message(tw, http)
        await delivery_is(http, conversation_id, reply_id, "sent")
    finally:
        await http.close()
    first, second = twilio_api.calls
    assert second.at - first.at >= 1.0


async def test_a_slow_twilio_holds_no_webhook(tw: Client, twilio_api: FakeTwilio) -> None:
    twilio_api.hold = asyncio.Event()  # Twilio answers no send until the test says
    http = await console(tw)
    try:
        await reply_to_new_message(tw, http)
        await eventually(lambda: _true(len(twilio_api.calls) == 1), "the send to be in flight")
        # while the send hangs, inbound messages are stored and answered
        assert await post(tw, "sms", sms_form("still there?")) == 200
        assert not twilio_api.hold.is_set() and len(twilio_api.calls) == 1  # the send still hangs
        assert [m.text for m in await inbound(tw, "sms")][-1] == "still there?"
    finally:
        twilio_api.hold.set()
        await http.close()


async def _true(value: bool) -> bool | None:
    return True if value else None


async def test_failure_receipts_carry_the_error_and_states_only_move_forward(
    tw: Client, twilio_api: FakeTwilio
) -> None:
    http = await console(tw)
    server = str(tw.server.make_url(""))
    try:
        conversation_id, first_id = await reply_to_new_message(tw, http, "one")
        _, second_id = await api_reply(http, conversation_id, {"text": "two"})
        first, second = await sent_calls(twilio_api, 2)
        await delivery_is(http, conversation_id, second_id["message"]["id"], "sent")
        assert await twilio_api.report(first, "delivered", deliver_to=server) == 204
        assert await twilio_api.report(first, "sent", deliver_to=server) == 204  # late, out of order
        assert await twilio_api.report(second, "undelivered", error_code=30003, deliver_to=server) == 204
        # a forged receipt changes nothing
        assert await twilio_api.report(second, "failed", deliver_to=server, tamper=True) == 403
        one = await shown(http, conversation_id, first_id)
        two = await shown(http, conversation_id, second_id["message"]["id"])
    finally:
        await http.close()
    assert one["delivery"] == "delivered"
    assert (two["delivery"], two["delivery_error"]) == (
        "failed", "twilio 30003: unreachable handset (off or out of coverage)")


async def test_a_malformed_status_callback_is_a_400(tw: Client) -> None:
    form = {"MessageSid": sid("SM"), "AccountSid": ACCOUNT, "MessageStatus": "exploded"}
    assert await post(tw, "whatsapp", form, path="/status") == 400
    assert await post(tw, "whatsapp", {**form, "MessageStatus": "delivered"}, path="/status", header=False) == 403


async def test_sends_keep_each_senders_pace(
    make_client: AppClient, tw_settings: Settings, twilio_api: FakeTwilio
) -> None:
    tw_settings.connectors["sms"] = section(twilio_api, "sms", messages_per_second=5)
    client = await make_client(tw_settings)
    connector = client.app[CONNECTORS]["sms"]
    outs = [OutboundMessage(message_id=f"msg_{i}", channel="sms", recipient=f"+7912345670{i}",
                            author=Author.AGENT, text=f"hello {i}", created_at=utcnow()) for i in range(5)]
    started = time.monotonic()
    await asyncio.gather(*(connector.send(o) for o in outs))
    times = sorted(c.at - started for c in twilio_api.sent())
    # 5 a second to all recipients together: the k-th cannot leave before k/5 s (a little clock slack);
    # the network can only make them later
    assert len(times) == 5 and all(t >= k * 0.2 - 0.01 for k, t in enumerate(times)), times


# -- WhatsApp's 24-hour window ----------------------------------------------------------------------


async def test_after_the_window_a_free_text_reply_is_refused_and_the_template_offered(
    tw: Client, twilio_api: FakeTwilio
) -> None:
    router = tw.app[ROUTER]
    # the customer wrote a day and a minute ago (the outbox keeps real time, so the past moves, not the present)
    router.clock = lambda: utcnow() - timedelta(hours=24, minutes=1)
    assert await post(tw, "whatsapp", whatsapp_form("Где мой заказ?")) == 200
    router.clock = utcnow
    [stored] = await inbound(tw)
    assert stored.conversation_id is not None
    http = await console(tw)
    try:
        status, body = await api_reply(http, stored.conversation_id, {"text": "Sorry for the wait"})
        assert status == 409
        error = body["error"]
        assert error["code"] == "reply_window_closed"
        assert error["channel"] == "whatsapp" and error["template"] == TEMPLATE_TEXT and error["channels"] == []
        assert "reply window on 'whatsapp' has closed" in error["message"]
        assert "send the channel's template" in error["message"]

        status, body = await api_reply(http, stored.conversation_id, {}, path="template")
        assert status == 201, body
        assert body["message"]["text"] == TEMPLATE_TEXT
        await delivery_is(http, stored.conversation_id, body["message"]["id"], "sent")
    finally:
        await http.close()
    [call] = twilio_api.sent()  # the refused reply never reached Twilio
    assert call.get("ContentSid") == TEMPLATE_SID and call.get("Body") is None
    assert json.loads(call.get("ContentVariables") or "") == {"1": "Иван Петров"}
    assert call.get("To") == f"whatsapp:{CUSTOMER}"


async def test_after_the_window_the_customers_other_channel_is_offered(tw: Client, twilio_api: FakeTwilio) -> None:
    router = tw.app[ROUTER]
    router.clock = lambda: utcnow() - timedelta(hours=26)
    assert await post(tw, "whatsapp", whatsapp_form("on WhatsApp")) == 200
    router.clock = lambda: utcnow() - timedelta(hours=6)
    assert await post(tw, "sms", sms_form("and by SMS")) == 200
    # now only WhatsApp's window (24 h after its message) has closed
    router.clock = utcnow
    wa, _ = await inbound(tw)
    assert wa.conversation_id is not None
    http = await console(tw)
    try:
        status, body = await api_reply(http, wa.conversation_id, {"text": "hi", "channel": "whatsapp"})
        assert status == 409 and body["error"]["channels"] == ["sms"]
        assert "reply on 'sms'" in body["error"]["message"]
        status, body = await api_reply(http, wa.conversation_id, {"text": "hi", "channel": "sms"})
        assert status == 201, body
    finally:
        await http.close()
    [call] = await sent_calls(twilio_api, 1)
    assert (call.get("To"), call.get("Body")) == (CUSTOMER, "hi")


async def test_sms_has_no_window_and_no_template(tw: Client) -> None:
    tw.app[ROUTER].clock = lambda: utcnow() - timedelta(days=30)
    assert await post(tw, "sms", sms_form("hello")) == 200
    tw.app[ROUTER].clock = utcnow
    [stored] = await inbound(tw, "sms")
    assert stored.conversation_id is not None
    http = await console(tw)
    try:
        assert (await api_reply(http, stored.conversation_id, {"text": "a month later"}))[0] == 201
        status, body = await api_reply(http, stored.conversation_id, {}, path="template")
        assert (status, body["error"]["message"]) == (409, "channel 'sms' has no template configured")
    finally:
        await http.close()


# -- configuration -------------------------------------------------------------------------------


@pytest.mark.parametrize(("variable", "value", "says"), [
    ("OMNIROUTER_TWILIO_ACCOUNT_SID", None, "set OMNIROUTER_TWILIO_ACCOUNT_SID"),
    ("OMNIROUTER_TWILIO_ACCOUNT_SID", "not-a-sid", "OMNIROUTER_TWILIO_ACCOUNT_SID is not an account SID"),
])
async def test_off_until_the_credentials_are_set(
    make_client: AppClient, tw_settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    variable: str, value: str | None, says: str,
) -> None:
    if value is None:
        monkeypatch.delenv(variable)
    else:
        monkeypatch.setenv(variable, value)
    caplog.set_level(logging.INFO, logger="router.server.app")
    client = await make_client(tw_settings)
    assert "whatsapp" not in client.app[CONNECTORS] and "sms" not in client.app[CONNECTORS]
    assert says in caplog.text
    assert await post(client, "whatsapp", whatsapp_form("anyone?")) == 404


async def test_an_account_without_its_auth_token_refuses_to_start(
    make_client: AppClient, tw_settings: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The auth token signs Twilio's webhooks: without it no request could be
    checked, so the service says what is missing instead of running open."""
    monkeypatch.delenv("OMNIROUTER_TWILIO_AUTH_TOKEN")
    with pytest.raises(ConfigError) as info:
        await make_client(tw_settings)
    assert any(p.startswith("connectors.whatsapp (twilio): set OMNIROUTER_TWILIO_AUTH_TOKEN")
               for p in info.value.problems)


@pytest.mark.parametrize(("options", "says"), [
    ({"flavour": "sms"}, "either from_number or messaging_service_sid"),
    ({"flavour": "sms", "from_number": SMS_NUMBER, "messaging_service_sid": "MG" + "0" * 32},
     "either from_number or messaging_service_sid"),
    ({"flavour": "fax", "from_number": SMS_NUMBER}, "'whatsapp' or 'sms'"),
    ({"flavour": "sms", "from_number": "8 912 345"}, "E.164"),
    ({"flavour": "whatsapp", "from_number": WA_NUMBER, "window_template": {"content_sid": "x", "text": "t"}},
     "HX followed by 32 hex digits"),
    ({"flavour": "sms", "from_number": SMS_NUMBER, "window_template": TEMPLATE}, "needs a reply window"),
])
def test_bad_options_are_refused_with_a_clear_message(options: dict[str, Any], says: str) -> None:
    with pytest.raises(ValueError, match=says.replace("(", r"\(").replace(")", r"\)")):
        TwilioOptions.model_validate(options)


def test_a_bad_section_in_the_config_file_is_refused_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "omnirouter.yaml").write_text(
        "connectors:\n"
        "  whatsapp:\n"
        "    type: twilio\n"
        "    flavour: whatsapp\n"
        "    from_number: +14155238886\n"
        "    window_template:\n"
        "      content_sid: HX123\n"
        "      text: Hello!\n"
        "  sms:\n"
        "    type: twilio\n"
        "    flavour: sms\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path)
    path = tmp_path / "omnirouter.yaml"
    assert info.value.problems == [
        f"{path}:7: connectors.whatsapp.window_template.content_sid: Value error, content_sid is a Content API "
        "SID: HX followed by 32 hex digits",
        f"{path}:10: connectors.sms: Value error, give the sender: either from_number or messaging_service_sid",
    ]


async def test_a_burst_beyond_the_pace_goes_back_to_the_outbox_told_when(
    make_client: AppClient, tw_settings: Settings, twilio_api: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(twilio_module, "MAX_LIMIT_WAIT", 0.2)  # at 10/s: two sends may wait, no more
    tw_settings.connectors["sms"] = section(twilio_api, "sms", messages_per_second=10)
    client = await make_client(tw_settings)
    connector = client.app[CONNECTORS]["sms"]
    outs = [OutboundMessage(message_id=f"msg_{i}", channel="sms", recipient=f"+7912345670{i}",
                            author=Author.AGENT, text=f"notice {i}", created_at=utcnow()) for i in range(6)]
    results = await asyncio.gather(*(connector.send(o) for o in outs), return_exceptions=True)
    throttled = [r for r in results if isinstance(r, RateLimited)]
    assert len(twilio_api.sent()) == 3 and len(throttled) == 3
    # each is told to come back when its turn would be, not all at the same moment
    assert sorted(t.retry_after for t in throttled) == pytest.approx([0.3, 0.4, 0.5], abs=0.02)


async def test_a_messaging_service_sends_without_a_from_number(
    make_client: AppClient, tw_settings: Settings, twilio_api: FakeTwilio
) -> None:
    service = "MG" + "0123456789abcdef" * 2
    tw_settings.connectors["sms"] = ConnectorConfig(type="twilio", flavour="sms", messaging_service_sid=service,
                                                    api_base=twilio_api.base_url)
    client = await make_client(tw_settings)
    out = OutboundMessage(message_id="msg_ms", channel="sms", recipient=CUSTOMER, author=Author.AGENT,
                          text="from the pool", created_at=utcnow())
    await client.app[CONNECTORS]["sms"].send(out)
    [call] = twilio_api.sent()
    assert (call.get("MessagingServiceSid"), call.get("From"), call.get("To")) == (service, None, CUSTOMER)


async def test_an_agent_sends_a_picture_by_url_through_the_api(tw: Client, twilio_api: FakeTwilio) -> None:
    assert await post(tw, "whatsapp", whatsapp_form("can I see it?")) == 200
    [stored] = await inbound(tw)
    assert stored.conversation_id is not None
    http = await console(tw)
    try:
        picture = {"url": "https://shop.example/p/1042.jpg", "kind": "image", "mime_type": "image/jpeg"}
        status, body = await api_reply(http, stored.conversation_id, {"attachments": [picture]})
        assert status == 201, body
        assert body["message"]["attachments"][0]["url"] == picture["url"]
        await delivery_is(http, stored.conversation_id, body["message"]["id"], "sent")
        # a reply with neither words nor files, or a file that is no web link, is refused
        for bad in ({"text": "  "}, {"attachments": [{"url": "javascript:alert(1)"}]}):
            status, body = await api_reply(http, stored.conversation_id, bad)
            assert status == 422, body
    finally:
        await http.close()
    [call] = twilio_api.sent()
    assert (call.all("MediaUrl"), call.get("Body")) == (["https://shop.example/p/1042.jpg"], None)
