"""A click on a conversation's row while the list is drawn again, in Chromium. Every live
event draws the list anew, and a browser fires no click on a row it replaced between the
press and the release: under traffic an agent's click on a row was lost now and then."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from tests.e2e.test_console_a11y import QUESTION, ROW, a_customer_asks
from tests.e2e.test_keyboard_focus import signed_in


async def test_a_row_pressed_while_the_list_is_drawn_again_opens(service: str, browser: Browser) -> None:
    await a_customer_asks(browser, service)
    page = await signed_in(browser, service)
    row = page.locator(ROW, has_text=QUESTION)
    await expect(row).to_be_visible()
    conversation = await row.get_attribute("data-id")
    box = await row.bounding_box()
    assert box is not None
    await page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    await page.mouse.down()
    # what a live event does (console.js, renderList): every row is a new element now
    replaced = await page.evaluate(
        "(id) => { const old = document.querySelector(`[data-testid=conversation][data-id='${id}']`);"
        " renderList(); return old !== document.querySelector(`[data-testid=conversation][data-id='${id}']`); }",
        conversation,
    )
    assert replaced
    await page.mouse.up()
    await expect(page.locator("#conversation")).to_be_visible()
    await expect(page.locator(f'{ROW}[data-id="{conversation}"]')).to_have_attribute("aria-current", "true")


async def test_a_burst_of_live_events_is_drawn_once(service: str, browser: Browser) -> None:
    """Each live event drew the whole list anew (~126 ms at 1,000 rows): a burst left the agent's
    clicks and keys waiting behind the draws. Fifty changes of a conversation in one go are drawn
    once (rowpress.js, drawListSoon), and the row shows the last of them."""
    await a_customer_asks(browser, service)
    page = await signed_in(browser, service)
    row = page.locator(ROW, has_text=QUESTION)
    await expect(row).to_be_visible()
    conversation = await row.get_attribute("data-id")
    await page.evaluate(
        "(id) => { window.listDraws = 0;"
        " new MutationObserver((records) => { window.listDraws += records.length; })"
        "   .observe(document.getElementById('conversations'), { childList: true });"
        " const conv = state.conversations.get(id);"
        " for (let i = 1; i <= 50; i++) upsertConversation({ ...conv, last_message_text: `burst ${i}` }); }",
        conversation,
    )
    await expect(page.locator(f'{ROW}[data-id="{conversation}"]')).to_contain_text("burst 50")
    assert await page.evaluate("window.listDraws") <= 5  # one, and room for a draw of another cause; before: 50
