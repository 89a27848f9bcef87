"""The console for keyboard and screen-reader users, in Chromium: the conversation list
and the search hits are lists of buttons (not list items playing buttons, which hides
the list), a focused hit shows where the keyboard is, the status tabs move with the
arrow keys (the WAI-ARIA tabs pattern), and the reply box names the list it offers
without aria-expanded (which a textarea does not take)."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from tests.e2e.test_canned_composer import saves_ref
from tests.e2e.test_conversation import customer_says, open_widget
from tests.e2e.test_keyboard_focus import signed_in
from tests.e2e.test_search import search_until_found

QUESTION = "Позовите оператора, пожалуйста"
ROW = '[data-testid="conversation"]'
# what a screen reader is told an element is: its role attribute, else its tag
ROLE = "(n) => n.getAttribute('role') || n.tagName"
RING = "(n) => { const s = getComputedStyle(n); return [s.outlineStyle, parseFloat(s.outlineWidth)]; }"


async def a_customer_asks(browser: Browser, base: str) -> None:
    customer = await (await browser.new_context(locale="ru-RU")).new_page()
    await open_widget(customer, base)
    await customer_says(customer, QUESTION)


async def test_the_conversations_are_a_list_of_buttons(service: str, browser: Browser) -> None:
    await a_customer_asks(browser, service)
    page = await signed_in(browser, service)
    row = page.locator(ROW, has_text=QUESTION)
    await expect(row).to_have_count(1)
    # a list of one item, whose item holds a button: what a screen reader counts and presses
    await expect(page.locator("#conversations").get_by_role("listitem")).to_have_count(1)
    await expect(page.locator("#conversations").get_by_role("listitem").get_by_role("button")).to_have_count(1)
    assert await row.evaluate(ROLE) == "BUTTON"
    assert await row.evaluate("(n) => n.parentElement.tagName") == "LI"
    items = page.locator("#conversations > li")
    assert await items.evaluate_all("(items) => items.every((li) => !li.hasAttribute('role'))")
    # the keyboard opens it (Space, as Enter does) and the row says it is the one open
    await row.focus()
    await page.keyboard.press("Space")
    await expect(page.locator('[data-testid="conversation-title"]')).to_be_visible()
    await expect(row).to_have_attribute("aria-current", "true")


async def test_a_search_hit_is_a_button_the_keyboard_reaches_and_shows(service: str, browser: Browser) -> None:
    await a_customer_asks(browser, service)
    page = await signed_in(browser, service)
    await expect(page.locator(ROW, has_text=QUESTION)).to_have_count(1)
    # the hits are list items holding buttons, reached by Tab, with a ring that shows
    await search_until_found(page, "оператора", QUESTION)
    hit = page.locator('[data-testid="search-hit"]', has_text=QUESTION)
    assert await hit.evaluate(ROLE) == "BUTTON"
    assert await hit.evaluate("(n) => n.parentElement.tagName") == "LI"
    await expect(page.locator('[data-testid="search-results"]').get_by_role("listitem")).to_have_count(1)
    for _ in range(30):
        if await hit.evaluate("(n) => n === document.activeElement"):
            break
        await page.keyboard.press("Tab")
    await expect(hit).to_be_focused()
    ring = await hit.evaluate(RING)
    assert ring[0] != "none" and ring[1] >= 2, ring
    await page.keyboard.press("Enter")
    await expect(page.locator('[data-testid="conversation-title"]')).to_be_visible()


async def test_the_status_tabs_move_with_the_arrow_keys(service: str, browser: Browser) -> None:
    page = await signed_in(browser, service)
    tabs = page.locator('[role="tablist"] [role="tab"]')
    await expect(tabs).to_have_count(4)
    tab = lambda name: page.locator(f'[role="tab"][data-filter="{name}"]')  # noqa: E731
    # one tab in the Tab order: the selected one
    await expect(tab("open")).to_have_attribute("tabindex", "0")
    for other in ("queued", "mine", "resolved"):
        await expect(tab(other)).to_have_attribute("tabindex", "-1")
    await tab("open").focus()
    for key, name in (("ArrowRight", "queued"), ("ArrowRight", "mine"), ("End", "resolved"), ("ArrowRight", "open"),
                      ("ArrowLeft", "resolved"), ("Home", "open")):
        await page.keyboard.press(key)
        # the keyboard is on the tab reached, which is chosen and is now the one in the Tab order
        await expect(tab(name)).to_be_focused()
        await expect(tab(name)).to_have_attribute("aria-selected", "true")
        await expect(tab(name)).to_have_attribute("tabindex", "0")
        await expect(page.locator('[role="tab"][aria-selected="true"]')).to_have_count(1)


async def test_the_reply_box_names_the_list_it_offers_without_aria_expanded(service: str, browser: Browser) -> None:
    await a_customer_asks(browser, service)
    page = await signed_in(browser, service)
    await saves_ref(page)
    await page.locator(ROW, has_text=QUESTION).click()
    reply = page.locator('[data-testid="reply"]')
    await reply.fill("/re")
    await expect(page.locator('[data-testid="canned-picker"]')).to_be_visible()
    await expect(page.locator('[data-testid="canned-option"]')).to_have_count(1)
    # a textarea takes no aria-expanded: the list is named by aria-controls, its active option by
    # aria-activedescendant, both pointing at what is in the page
    assert await reply.get_attribute("aria-expanded") is None
    await expect(reply).to_have_attribute("aria-controls", "canned-options")
    assert await page.locator("#canned-options").get_attribute("role") == "listbox"
    active = await reply.get_attribute("aria-activedescendant")
    assert active and await page.locator(f"#{active}").get_attribute("role") == "option"
    # the list shut: the box names nothing any more
    await reply.fill("")
    await expect(page.locator('[data-testid="canned-picker"]')).to_be_hidden()
    await expect(reply).not_to_have_attribute("aria-controls", "canned-options")
    assert await reply.get_attribute("aria-expanded") is None
    assert await reply.get_attribute("aria-activedescendant") is None
