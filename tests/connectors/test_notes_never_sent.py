"""Invariant 8: a private note never leaves the console. For every channel, a
customer writes through the platform's fake, an agent writes a note and then a
reply through the console API; the reply reaches the fake (so the pipe works,
and a note queued before it would have gone first, the outbox keeping each
recipient's order), and nothing the platform received carries the note."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from router.models import IdentityRef
from router.server.app import STORE
from tests.conftest import eventually
from tests.connectors import test_telegram as telegram
from tests.connectors import test_vk as vk_helpers
from tests.connectors import twilio_helpers as twilio
from tests.connectors.email_helpers import CUSTOMER as MAIL_CUSTOMER
from tests.connectors.email_helpers import deliver, inbound_from, mail
from tests.fakes.mail_servers import Dovecot, SmtpSink
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.twilio_api import FakeTwilio
from tests.fakes.vk_api import FakeVk

Client = TestClient[web.Request, web.Application]

NOTE = "PRIVATE-NOTE-7f3a: refund approved, customer is on the VIP list"
MARKER = "PRIVATE-NOTE-7f3a"
REPLY = "Hello! Your order is on its way."

# each channel's service and fake, as its own tests have them
tg, tg_api, tg_settings = telegram.tg, telegram.tg_api, telegram.tg_settings
vk, vk_api, vk_settings = vk_helpers.vk, vk_helpers.vk_api, vk_helpers.vk_settings


@pytest.fixture
async def agent() -> AsyncIterator[Callable[[Client], Awaitable[aiohttp.ClientSession]]]:
    opened: list[aiohttp.ClientSession] = []

    async def open_(client: Client) -> aiohttp.ClientSession:
        http = await twilio.console(client)  # logged in as admin, the Secure cookie carried over plain http
        opened.append(http)
        return http

    yield open_
    for http in opened:
        await http.close()


async def note_then_reply(client: Client, http: aiohttp.ClientSession, kind: str, value: str) -> str:
    """The agent's note, then their reply, in the customer's conversation; its id."""
    async def conversation() -> str | None:
        customer = await client.app[STORE].find_identity(IdentityRef(kind=kind, value=value))
        if customer is None:
            return None
        found = await client.app[STORE].customer_conversations(customer.id)
        return found[0].id if found else None

    conversation_id = await eventually(conversation, "the customer's conversation")
    async with http.post(f"/api/conversations/{conversation_id}/notes", json={"text": NOTE}) as resp:
        assert resp.status == 201, await resp.text()
    async with http.post(f"/api/conversations/{conversation_id}/messages", json={"text": REPLY}) as resp:
        assert resp.status == 201, await resp.text()
    return conversation_id


async def nothing_queued_but_the_reply(client: Client, conversation_id: str) -> None:
    messages = await client.app[STORE].list_messages(conversation_id, 100)
    assert MARKER not in repr(messages)
    assert [m.text for m in messages if m.direction == "out"] == [REPLY]


async def test_telegram(tg: Client, tg_api: FakeTelegram, agent: Callable[[Client], Awaitable[aiohttp.ClientSession]]
                        ) -> None:
    assert await telegram.post(tg, telegram.text_update(1, "Где мой заказ?")) == 200
    conversation_id = await note_then_reply(tg, await agent(tg), "telegram", str(telegram.USER))
    [sent] = await telegram.calls(tg_api, "sendMessage", 1, tg)
    assert sent.params["text"] == REPLY
    assert MARKER not in repr(tg_api.sent())
    await nothing_queued_but_the_reply(tg, conversation_id)


async def test_vk(vk: Client, vk_api: FakeVk, agent: Callable[[Client], Awaitable[aiohttp.ClientSession]]) -> None:
    assert (await vk_helpers.post(vk, vk_helpers.message_new(1, "Где мой заказ?")))[0] == 200
    conversation_id = await note_then_reply(vk, await agent(vk), "vk", str(vk_helpers.USER))

    async def sent() -> list[object] | None:
        found = vk_api.sent("messages.send")
        return list(found) if found else None

    [call] = await eventually(sent, "messages.send at VK")
    assert REPLY in repr(call)
    assert MARKER not in repr(vk_api.calls)
    await nothing_queued_but_the_reply(vk, conversation_id)


@pytest.mark.parametrize(("connector", "form"), [("whatsapp", twilio.whatsapp_form), ("sms", twilio.sms_form)])
async def test_twilio(tw: Client, twilio_api: FakeTwilio, agent: Callable[[Client], Awaitable[aiohttp.ClientSession]],
                      connector: str, form: Callable[[str], dict[str, str]]) -> None:
    assert await twilio.post(tw, connector, form("Где мой заказ?")) == 200
    # the connector's flavour is the sender's identity kind
    conversation_id = await note_then_reply(tw, await agent(tw), connector, twilio.CUSTOMER)
    [call] = await twilio.sent_calls(twilio_api, 1)
    assert call.params.get("Body") == REPLY
    assert MARKER not in repr(twilio_api.calls)
    await nothing_queued_but_the_reply(tw, conversation_id)


async def test_email(app: Client, mailbox: Dovecot, smtp: SmtpSink,
                     agent: Callable[[Client], Awaitable[aiohttp.ClientSession]]) -> None:
    raw, first_id = mail("Заказ 1042", "Где мой заказ?")
    await deliver(mailbox, raw)
    await inbound_from(app, MAIL_CUSTOMER)
    conversation_id = await note_then_reply(app, await agent(app), "email", MAIL_CUSTOMER)

    async def received() -> list[bytes] | None:
        return [r.data for r in smtp.received] or None

    [data] = await eventually(received, "the reply at the SMTP server")
    [out] = smtp.received
    body = out.message().get_body(("plain",))
    assert body is not None and REPLY in body.get_content()
    assert MARKER.encode() not in data and MARKER not in body.get_content()
    assert out.message()["In-Reply-To"] == f"<{first_id}>"  # the thread answers the customer's mail, as ever
    await nothing_queued_but_the_reply(app, conversation_id)
