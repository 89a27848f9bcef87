"""What a VK customer forwarded, and a long letter, as the agent sees them in
the console: the service started by its CLI, VK's Callback API posted to it,
the console in headless Chromium."""

from __future__ import annotations

import aiohttp
import pytest
from playwright.async_api import Browser, expect

from tests.connectors.test_vk import CONFIRMATION, DOC, SECRET, TOKEN, message_new
from tests.connectors.test_vk_quotes import MUM, forwarded
from tests.e2e.test_conversation import XSS, agent_logs_in
from tests.fakes.vk_api import GROUP_ID, FakeVk


@pytest.fixture
def service_config(vk_api: FakeVk, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("OMNIROUTER_VK_TOKEN", TOKEN)
    monkeypatch.setenv("OMNIROUTER_VK_SECRET", SECRET)
    return (f"connectors:\n  vk:\n    type: vk\n    api_base: {vk_api.base_url}\n    group_id: {GROUP_ID}\n"
            f"    confirmation_code: '{CONFIRMATION}'\n")


async def vk_posts(base: str, body: dict[str, object]) -> None:
    async with aiohttp.ClientSession() as http, http.post(f"{base}/webhooks/vk/vk", json=body) as resp:
        assert (resp.status, await resp.text()) == (200, "ok")


async def test_the_agent_reads_forwarded_messages_as_quotes_and_a_long_letter_whole(
    service: str, browser: Browser, vk_api: FakeVk
) -> None:
    vk_api.names[MUM] = ("Мама", "Петрова")
    inner = forwarded(-GROUP_ID, "Ваш заказ 1042 отправлен")
    await vk_posts(service, message_new(50, "", fwd_messages=[
        forwarded(MUM, f"позвони мне {XSS}"),
        forwarded(MUM, "вот чек", attachments=[DOC], fwd_messages=[inner]),
    ]))
    letter = "Длинное письмо. " * 700 + "последние слова"
    await vk_posts(service, message_new(51, letter))

    agent = await browser.new_page()
    await agent_logs_in(agent, service)
    row = agent.locator('[data-testid="conversation"]')
    await expect(row).to_have_count(1)
    await row.click()
    forwards = agent.locator('[data-testid="message"]').first
    await expect(forwards.locator('[data-testid="message-text"]')).to_have_text("[2 forwarded messages]")
    quotes = forwards.locator('[data-testid="quote"]')
    await expect(quotes).to_have_count(3)  # two forwarded, one nested in the second
    await expect(quotes.nth(0)).to_contain_text("Forwarded from Мама Петрова")
    await expect(quotes.nth(0).locator('[data-testid="quote-text"]')).to_have_text(f"позвони мне {XSS}")
    await expect(quotes.nth(1)).to_contain_text("invoice-1042.pdf")
    await expect(quotes.nth(2).locator('[data-testid="quote-text"]')).to_have_text("Ваш заказ 1042 отправлен")
    assert await agent.evaluate("window.__pwned") is None  # the customer's markup stayed text

    long_one = agent.locator('[data-testid="message"]').nth(1)
    whole = long_one.locator('[data-testid="whole-text"]')
    await whole.locator("summary").click()
    await expect(whole.locator("pre")).to_contain_text("последние слова")
