"""What the console shows of the core's own data of a message (``Message.core``,
no longer the platform's ``extras``), in real Chromium against the real
service: under the bot's answer what it understood, and on an agent's reply
the name the customer was shown, live and after a reload."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.connectors.twilio_helpers import whatsapp_form
from tests.e2e.conftest import TWILIO_ENV, new_page, running_service, site_chat_and_whatsapp
from tests.e2e.test_twilio_console import open_conversation, twilio_posts
from tests.fakes.twilio_api import FakeTwilio
from tests.router.bot.conftest import SHIPPED
from tests.router.routing.rules.conftest import write_config

NAME = "Иван Петров"  # the ProfileName of tests.connectors.twilio_helpers's WhatsApp payloads
ADMIN_NAME = "Administrator"  # the seeded admin's display name (router.accounts.service)


@pytest.fixture
async def service(tmp_path: Path, twilio_api: FakeTwilio) -> AsyncIterator[str]:
    """WhatsApp through the fake Twilio, the rules sending short questions to
    the shipped bot (read by words: no model to load)."""
    write_config(tmp_path)
    (tmp_path / "bot.yaml").write_text(
        SHIPPED.read_text(encoding="utf-8").replace("method: hybrid", "method: lexical"), encoding="utf-8")
    async with running_service(tmp_path, site_chat_and_whatsapp(tmp_path, twilio_api.base_url), TWILIO_ENV) as base:
        yield base


async def test_the_agent_sees_what_the_bot_understood_and_the_name_a_reply_went_out_with(
    service: str, browser: Browser,
) -> None:
    await twilio_posts(service, "whatsapp", whatsapp_form("Сколько идет доставка?"))
    agent = await new_page(browser)
    await open_conversation(agent, service, NAME)
    messages = agent.locator("#messages")
    bot = messages.locator('[data-testid="message"][data-author="bot"]')
    await expect(bot).to_have_count(1)
    await expect(bot.locator('[data-testid="bot-note"]')).to_contain_text("answer: delivery_time")

    await agent.locator('[data-testid="reply"]').fill("Завтра до 18:00")
    await agent.locator('[data-testid="send"]').click()
    mine = messages.locator('[data-testid="message"][data-author="agent"]')
    # the name the customer was shown, not "you": it is kept with the message
    await expect(mine.locator(".msg-meta")).to_contain_text(ADMIN_NAME)

    await agent.reload()
    await agent.locator('[data-testid="conversation"]', has_text=NAME).click()
    await expect(bot.locator('[data-testid="bot-note"]')).to_contain_text("answer: delivery_time")
    await expect(mine.locator(".msg-meta")).to_contain_text(ADMIN_NAME)
