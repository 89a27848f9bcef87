"""Know me, as an agent sees it in real Chromium against the real service
(started by its CLI) and the local fake of Twilio's API: the customer's last
contact on each channel in the panel (the bot's topic, or the first words
they wrote), and a divider wherever the customer moved to another channel,
in the history and live."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.connectors.twilio_helpers import SMS_NUMBER, sms_form, whatsapp_form
from tests.e2e.conftest import TWILIO_ENV, new_page, running_service, site_chat_and_whatsapp
from tests.e2e.test_twilio_console import open_conversation, twilio_posts
from tests.fakes.twilio_api import FakeTwilio
from tests.router.bot.conftest import SHIPPED
from tests.router.routing.rules.conftest import write_config

NAME = "Иван Петров"  # the ProfileName of tests.connectors.twilio_helpers's WhatsApp payloads
# the rules hand a request for a person to people at once: the bot never answers it
HANDED_OFF = "Позовите оператора, <b>заказ</b> 1234"


@pytest.fixture
async def service(tmp_path: Path, twilio_api: FakeTwilio) -> AsyncIterator[str]:
    """WhatsApp and SMS through the fake Twilio, the rules sending short
    questions to the shipped bot (read by words: no model to load)."""
    api = twilio_api.base_url

    def config(port: int) -> str:
        return (site_chat_and_whatsapp(tmp_path, api)(port)
                + f"  sms:\n    type: twilio\n    flavour: sms\n    from_number: '{SMS_NUMBER}'\n    api_base: {api}\n")

    write_config(tmp_path)
    (tmp_path / "bot.yaml").write_text(
        SHIPPED.read_text(encoding="utf-8").replace("method: hybrid", "method: lexical"), encoding="utf-8")
    async with running_service(tmp_path, config, TWILIO_ENV) as base:
        yield base


async def reselect(agent: Page, text: str) -> None:
    """Open the conversation again: the panel and the history are read afresh."""
    await agent.locator('[data-testid="conversation"]', has_text=text).click()


async def test_the_agent_sees_the_last_contact_on_each_channel_and_where_the_customer_moved(
    service: str, browser: Browser,
) -> None:
    await twilio_posts(service, "whatsapp", whatsapp_form("Сколько идет доставка?"))
    agent = await new_page(browser)
    await open_conversation(agent, service, NAME)  # the list shows the last message: the bot's
    messages = agent.locator("#messages")
    await expect(messages.locator('[data-testid="message"][data-author="bot"]')).to_have_count(1)  # the bot answered
    await expect(messages.locator('[data-testid="channel-switch"]')).to_have_count(0)  # one channel so far

    # the same number by SMS: the same customer, the same conversation; the agent sees the move live
    await twilio_posts(service, "sms", sms_form(HANDED_OFF))
    switch = messages.locator('[data-testid="channel-switch"]')
    await expect(switch).to_have_count(1)
    await expect(switch).to_have_text("Customer moved from WhatsApp to SMS")
    # the divider stands right before the message that came by the other channel
    after_switch = messages.locator('[data-testid="channel-switch"] + [data-testid="message"]')
    await expect(after_switch).to_contain_text(HANDED_OFF)

    await reselect(agent, NAME)
    panel = agent.locator('[data-testid="customer-panel"]')
    contacts = panel.locator('[data-testid="last-contact"]')
    await expect(contacts).to_have_count(2)
    # most recent first: what it was about at a glance
    sms, whatsapp = contacts.nth(0), contacts.nth(1)
    await expect(sms).to_have_attribute("data-channel", "sms")
    await expect(sms).to_contain_text("SMS")
    # no topic (the bot did not answer it): their first words, as text, never as markup
    await expect(sms.locator('[data-testid="last-contact-about"]')).to_have_text(f"wrote: “{HANDED_OFF}”")
    await expect(whatsapp).to_have_attribute("data-channel", "whatsapp")
    await expect(whatsapp).to_contain_text("WhatsApp")
    await expect(whatsapp.locator('[data-testid="last-contact-about"]')).to_have_text("about: delivery times")
    assert await panel.locator("b").count() == 0
    # the history read afresh shows the same move
    await expect(messages.locator('[data-testid="channel-switch"]')).to_have_text(
        ["Customer moved from WhatsApp to SMS"])

    # back on WhatsApp: a second move, live; a message on the same channel makes none
    await twilio_posts(service, "whatsapp", whatsapp_form("Я снова в WhatsApp"))
    await twilio_posts(service, "whatsapp", whatsapp_form("Вы тут?"))
    await expect(messages.locator('[data-testid="message"][data-author="customer"]').last).to_contain_text("Вы тут?")
    await expect(messages.locator('[data-testid="channel-switch"]')).to_have_text(
        ["Customer moved from WhatsApp to SMS", "Customer moved from SMS to WhatsApp"])
