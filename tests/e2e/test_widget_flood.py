"""A customer who writes faster than the site chat's rate limit: the widget
keeps what the server refused and sends it when told, so nothing is lost."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.e2e.test_conversation import customer_says, open_widget

TEXTS = ["раз", "два", "три", "четыре"]


@pytest.fixture
def service_config() -> str:
    return "connectors:\n  webchat:\n    type: webchat\n    rate_limit: 2 per 3 seconds\n"


async def test_messages_over_the_limit_wait_and_then_all_arrive_in_the_history(
    service: str, browser: Browser
) -> None:
    customer = await (await browser.new_context()).new_page()
    await open_widget(customer, service)
    for text in TEXTS:
        await customer_says(customer, text)
    # the ones over the limit stay pending, and the customer is told why
    await expect(customer.locator('[data-omr="message"][data-pending="true"]')).not_to_have_count(0)
    await expect(customer.locator('[data-omr="note"]')).to_contain_text("the message will go in")
    # the widget sends them again when the server said; then all are stored
    await expect(customer.locator('[data-omr="message"][data-pending="true"]')).to_have_count(0)
    await customer.reload()
    await customer.locator('[data-omr="launcher"]').click()
    await expect(customer.locator('[data-omr="message"][data-author="customer"]')).to_have_text(TEXTS)
