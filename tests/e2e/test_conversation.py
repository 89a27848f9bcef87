"""One conversation end to end, as its two people see it: a customer in the
site-chat widget and an agent in the console, each in their own browser."""

from __future__ import annotations

import os

from playwright.async_api import Browser, Page, expect

from tests.e2e.conftest import ADMIN_PASSWORD, sign_in
from tests.e2e.topbar import SIGNED_IN

QUESTION = "Здравствуйте! Где мой заказ 1234?"
ANSWER = "Добрый день! Заказ 1234 передан в доставку, курьер привезёт его завтра."
AGENT_SEES_CUSTOMER = '[data-testid="message"][data-author="customer"] [data-testid="message-text"]'
XSS = '<img src=x onerror="window.__pwned=1">'


async def open_widget(page: Page, base: str) -> None:
    await page.goto(f"{base}/chat/")
    await page.locator('[data-omr="launcher"]').click()
    await expect(page.locator('[data-omr="input"]')).to_be_visible()


async def customer_says(page: Page, text: str) -> None:
    await page.locator('[data-omr="input"]').fill(text)
    await page.locator('[data-omr="send"]').click()


async def agent_logs_in(page: Page, base: str) -> None:
    await sign_in(page, base, "admin", ADMIN_PASSWORD)
    await expect(page.locator(SIGNED_IN)).to_be_visible()


async def screenshot_for_the_readme(page: Page) -> None:
    """The README's picture of the console, made only when asked:
    ``OMNIROUTER_SCREENSHOT=docs/console.png pytest tests/e2e/test_conversation.py``."""
    path = os.environ.get("OMNIROUTER_SCREENSHOT")
    if path:
        await page.locator('[data-testid="presence"]').select_option("online")  # as in the README's tour
        await page.set_viewport_size({"width": 1200, "height": 700})
        await page.screenshot(path=path)


async def test_customer_and_agent_talk_and_the_history_survives_a_reload(service: str, browser: Browser) -> None:
    agent = await (await browser.new_context()).new_page()
    customer = await (await browser.new_context()).new_page()
    await agent_logs_in(agent, service)
    await open_widget(customer, service)

    # the customer writes; the agent's list shows it live, without a reload
    await customer_says(customer, QUESTION)
    row = agent.locator('[data-testid="conversation"]', has_text=QUESTION)
    await expect(row).to_have_count(1)
    await row.click()
    await expect(agent.locator(AGENT_SEES_CUSTOMER)).to_have_text([QUESTION])

    # the agent replies; the customer sees it arrive
    await agent.locator('[data-testid="reply"]').fill(ANSWER)
    await agent.locator('[data-testid="send"]').click()
    await expect(customer.locator('[data-omr="message"][data-author="agent"]')).to_have_text([ANSWER])
    await screenshot_for_the_readme(agent)

    # a reload continues the same conversation with its whole history
    await customer.reload()
    await customer.locator('[data-omr="launcher"]').click()
    history = customer.locator('[data-omr="message"]')
    await expect(history).to_have_text([QUESTION, ANSWER])


async def test_customer_markup_is_shown_as_text_never_run(service: str, browser: Browser) -> None:
    agent = await (await browser.new_context()).new_page()
    customer = await (await browser.new_context()).new_page()
    await agent_logs_in(agent, service)
    await open_widget(customer, service)
    await customer_says(customer, XSS)

    row = agent.locator('[data-testid="conversation"]', has_text=XSS)
    await expect(row).to_have_count(1)
    await row.click()
    await expect(agent.locator(AGENT_SEES_CUSTOMER)).to_have_text([XSS])
    await expect(customer.locator('[data-omr="message"][data-author="customer"]')).to_have_text([XSS])
    for page in (agent, customer):
        assert await page.evaluate("window.__pwned") is None
        assert await page.locator('img[src="x"]').count() == 0
