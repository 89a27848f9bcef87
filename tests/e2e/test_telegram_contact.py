"""A customer known on WhatsApp shares their own Telegram contact: the agent
sees one customer, with both channels' history in one conversation — in real
Chromium against the real service and the local Telegram and Twilio fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, expect

from connectors.telegram import SECRET_HEADER
from tests.connectors import test_telegram as tg
from tests.connectors.twilio_helpers import CUSTOMER, whatsapp_form
from tests.e2e.conftest import TELEGRAM_ENV, TWILIO_ENV, new_page, running_service, server_yaml, whatsapp_yaml
from tests.e2e.test_conversation import agent_logs_in
from tests.e2e.test_twilio_console import twilio_posts
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.twilio_api import FakeTwilio


@pytest.fixture
async def both(tmp_path: Path, telegram_api: FakeTelegram, twilio_api: FakeTwilio) -> AsyncIterator[str]:
    def config(port: int) -> str:
        return (server_yaml(port, tmp_path, writer_process=False) + "connectors:\n"
                + f"  telegram:\n    type: telegram\n    api_base: {telegram_api.base_url}\n"
                + whatsapp_yaml(twilio_api.base_url))

    async with running_service(tmp_path, config, {**TWILIO_ENV, **TELEGRAM_ENV}) as base:
        yield base


async def telegram_posts(base: str, body: dict[str, Any]) -> None:
    async with aiohttp.ClientSession() as http, http.post(
        base + tg.PATH, json=body, headers={SECRET_HEADER: tg.SECRET}
    ) as resp:
        assert resp.status == 200, await resp.text()


async def test_the_agent_sees_both_channels_history_after_the_customers_own_contact(
    both: str, browser: Browser
) -> None:
    await twilio_posts(both, "whatsapp", whatsapp_form("Где мой заказ 1042?"))
    await telegram_posts(both, tg.text_update(1, "Это я, пишу из телеграма"))
    own = {"phone_number": CUSTOMER.lstrip("+"), "first_name": "Ivan", "last_name": "Petrov", "user_id": tg.USER}
    await telegram_posts(both, tg.update(message=tg.message(2, contact=own)))

    agent = await new_page(browser)
    await agent_logs_in(agent, both)
    # one customer, one open conversation
    rows = agent.locator('[data-testid="conversation"]')
    await expect(rows).to_have_count(1)
    await rows.first.click()
    said = agent.locator('[data-testid="message"][data-author="customer"] [data-testid="message-text"]')
    await expect(said).to_have_text(["Где мой заказ 1042?", "Это я, пишу из телеграма",
                                     "[contact Ivan Petrov 79123456789]"])
    panel = agent.locator('[data-testid="customer-panel"]')
    identities = panel.locator('[data-testid="identity"]')
    await expect(identities).to_have_count(2)
    telegram = identities.filter(has_text=f"telegram: {tg.USER}")
    await expect(telegram).to_contain_text("verified")
    await expect(telegram).to_contain_text("platform")
    await expect(panel.locator('[data-testid="claim"]')).to_contain_text("verified")
    await expect(panel.locator('[data-testid="merge"]')).to_contain_text("platform")


async def test_a_russian_agent_reads_what_a_message_without_words_was_in_russian(
    both: str, browser: Browser
) -> None:
    """The words connectors write for a photo, a voice message or forwards were
    English in a Russian console: «[photo]», «[3 forwarded messages]»."""
    await telegram_posts(both, tg.update(message=tg.message(1, photo=tg.PHOTO)))
    await telegram_posts(both, tg.update(message=tg.message(2, voice={**tg.VOICE, "duration": 12})))
    await telegram_posts(both, tg.update(message=tg.message(3, sticker=tg.STICKER)))

    agent = await (await browser.new_context(locale="ru-RU")).new_page()
    await agent_logs_in(agent, both)
    row = agent.locator('[data-testid="conversation"]')
    await expect(row.locator(".conv-preview")).to_have_text("[стикер 😀]")
    await row.click()
    said = agent.locator('[data-testid="message"][data-author="customer"] [data-testid="message-text"]')
    await expect(said).to_have_text(["[фото]", "[голосовое сообщение 0:12]", "[стикер 😀]"])
