"""Every text of the console and of the site-chat widget reads against what it
is drawn on, in Chromium: WCAG AA's 4.5:1 (3:1 for large text), measured on the
rendered page, grey hints, a selected row, the day's pill, the avatars' initials,
the widget's status line and the times under messages included."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from tests.e2e.conftest import ADMIN_PASSWORD, new_page, open_row, sign_in
from tests.e2e.contrast import low_contrast
from tests.e2e.test_conversation import customer_says, open_widget
from tests.e2e.topbar import SIGNED_IN


async def test_the_console_and_the_widget_read_at_wcag_aa_contrast(service: str, browser: Browser) -> None:
    customer = await new_page(browser)
    await open_widget(customer, service)
    await customer_says(customer, "Позовите оператора, пожалуйста")
    # the message is acknowledged: no longer faded as pending
    await expect(customer.locator('[data-omr="message"][data-author="customer"]')).to_have_count(1)
    await expect(customer.locator('[data-omr="message"][data-pending]')).to_have_count(0)
    assert await low_contrast(customer, ".omr-root") == []

    agent = await new_page(browser)
    await sign_in(agent, service, "admin", ADMIN_PASSWORD)
    await expect(agent.locator(SIGNED_IN)).to_be_visible()
    await expect(agent.locator('[data-testid="presence-prompt"]')).to_be_visible()  # "Go online now?"
    await open_row(agent, "Позовите оператора")  # a selected row, the thread and its day, the customer panel
    await expect(agent.locator('[data-testid="message"]')).not_to_have_count(0)
    await expect(agent.locator('[data-testid="customer-panel"] .cp-title')).not_to_have_count(0)
    assert await low_contrast(agent) == []
