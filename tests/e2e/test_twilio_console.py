"""WhatsApp through Twilio as an agent sees it in the console: delivery
receipts arriving live, and a reply after WhatsApp's window closed refused
with the ways out offered (the template, the customer's SMS)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Browser, Page, expect

from tests.connectors.twilio_helpers import (
    CUSTOMER,
    SMS_NUMBER,
    TEMPLATE_SID,
    TOKEN,
    media_fields,
    sent_calls,
    sms_form,
    whatsapp_form,
)
from tests.e2e.conftest import TWILIO_ENV, new_page, open_row, running_service, server_yaml, whatsapp_yaml
from tests.e2e.test_conversation import agent_logs_in
from tests.fakes.twilio_api import FakeTwilio, sid, signature
from tests.router.files.test_sniff import JPEG

TEMPLATE_TEXT = "Hello! We have an answer to your question. Reply to this message to see it."


def config(port: int, folder: Path, api: str, window_hours: float) -> str:
    return (
        server_yaml(port, folder, writer_process=False) + "connectors:\n" + whatsapp_yaml(api)
        + f"    reply_window_hours: {window_hours}\n"
        f"    window_template:\n      content_sid: {TEMPLATE_SID}\n      text: {TEMPLATE_TEXT}\n"
        f"  sms:\n    type: twilio\n    flavour: sms\n    from_number: '{SMS_NUMBER}'\n    api_base: {api}\n"
    )


async def start(tmp_path: Path, api: str, window_hours: float) -> AsyncIterator[str]:
    async with running_service(tmp_path, lambda port: config(port, tmp_path, api, window_hours), TWILIO_ENV) as base:
        yield base


@pytest.fixture
async def service(tmp_path: Path, twilio_api: FakeTwilio) -> AsyncIterator[str]:
    async for base in start(tmp_path, twilio_api.base_url, 24):
        yield base


@pytest.fixture
async def closed_window_service(tmp_path: Path, twilio_api: FakeTwilio) -> AsyncIterator[str]:
    """A WhatsApp window of about 4 ms: closed by the time any agent can answer."""
    async for base in start(tmp_path, twilio_api.base_url, 0.000001):
        yield base


async def twilio_posts(base: str, connector: str, form: dict[str, str]) -> None:
    path = f"/webhooks/twilio/{connector}"
    async with aiohttp.ClientSession() as http, http.post(
        base + path, data=form, headers={"X-Twilio-Signature": signature(TOKEN, base + path, form)}
    ) as resp:
        assert resp.status == 200, await resp.text()


async def open_conversation(agent: Page, base: str, text: str) -> None:
    await agent_logs_in(agent, base)
    await open_row(agent, text)


async def test_the_agent_sees_the_reply_delivered_then_read(
    service: str, browser: Browser, twilio_api: FakeTwilio
) -> None:
    message_sid = sid("MM")
    twilio_api.add_media(f"ME{0:032x}", "image/jpeg", JPEG)
    await twilio_posts(service, "whatsapp", whatsapp_form("Где мой заказ 1042?", message_sid,
                                                         **media_fields(message_sid, "image/jpeg")))
    agent = await new_page(browser)
    await open_conversation(agent, service, "Где мой заказ 1042?")
    # the customer's photo is a link the agent can open: relayed by the console, as Twilio's
    # media URL wants the account's credentials
    photo = agent.locator('[data-testid="message"][data-author="customer"] [data-testid="attachment"]')
    await expect(photo).to_have_text("image · image/jpeg")
    await expect(photo).to_have_attribute("href", re.compile(r"^/api/messages/msg_\w+/attachments/0$"))
    opened = await agent.request.get(service + str(await photo.get_attribute("href")))
    assert (opened.status, opened.headers["content-type"], await opened.body()) == (200, "image/jpeg", JPEG)
    await agent.locator('[data-testid="reply"]').fill("Заказ 1042 уже в пути")
    await agent.locator('[data-testid="send"]').click()
    mine = agent.locator('[data-testid="message"][data-author="agent"]')
    await expect(mine).to_have_attribute("data-delivery", "sent")
    [call] = twilio_api.sent()
    assert await twilio_api.report(call, "delivered", deliver_to=service) == 204
    await expect(mine.locator(".delivery")).to_have_text("Delivered")
    assert await twilio_api.report(call, "read", deliver_to=service) == 204
    await expect(mine.locator(".delivery")).to_have_text("Read")


async def test_after_the_window_the_agent_is_told_and_offered_the_template_or_sms(
    closed_window_service: str, browser: Browser, twilio_api: FakeTwilio
) -> None:
    base = closed_window_service
    await twilio_posts(base, "sms", sms_form("I wrote by SMS first"))
    await twilio_posts(base, "whatsapp", whatsapp_form("then on WhatsApp"))
    agent = await new_page(browser)
    await open_conversation(agent, base, "then on WhatsApp")

    await agent.locator('[data-testid="reply"]').fill("Sorry for the wait")
    await agent.locator('[data-testid="send"]').click()
    notice = agent.locator('[data-testid="window-notice"]')
    await expect(notice).to_be_visible()
    window_text = notice.locator('[data-testid="window-text"]')
    await expect(window_text).to_contain_text("The reply window on WhatsApp has closed")
    assert twilio_api.calls == []  # nothing went out blind
    await expect(agent.locator('[data-testid="reply"]')).to_have_value("Sorry for the wait")

    # the template re-opens WhatsApp
    await notice.locator('[data-testid="send-template"]').click()
    await expect(notice).to_be_hidden()
    sent = agent.locator('[data-testid="message"][data-author="agent"]')
    await expect(sent.locator('[data-testid="message-text"]')).to_have_text([TEMPLATE_TEXT])
    await expect(sent).to_have_attribute("data-delivery", "sent")
    [template] = twilio_api.sent()
    assert (template.get("ContentSid"), template.get("To")) == (TEMPLATE_SID, f"whatsapp:{CUSTOMER}")

    # or the customer's SMS takes the text itself
    await agent.locator('[data-testid="send"]').click()
    await notice.locator('[data-testid="reply-by"][data-channel="sms"]').click()
    await expect(sent.locator('[data-testid="message-text"]')).to_have_text([TEMPLATE_TEXT, "Sorry for the wait"])
    await expect(agent.locator('[data-testid="reply"]')).to_have_value("")

    _, sms = await sent_calls(twilio_api, 2)
    assert (sms.get("To"), sms.get("From"), sms.get("Body")) == (CUSTOMER, SMS_NUMBER, "Sorry for the wait")
