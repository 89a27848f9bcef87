"""What the Twilio tests share: Twilio's webhook payloads, the fake Twilio, the
service configured for WhatsApp and SMS (fixtures, exposed to the tests by
tests/connectors/conftest.py), and the agent's side through the console API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, TypeVar

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from router.config import ConnectorConfig, Settings
from router.models import Author, IdentityRef, Message
from router.server.app import STORE
from tests.conftest import ADMIN_PASSWORD, AppClient, eventually
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
    async with FakeTwilio(ACCOUNT, TOKEN) as fake:
        yield fake


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
