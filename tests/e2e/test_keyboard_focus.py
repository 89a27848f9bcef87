"""The console with the keyboard alone, in Chromium: whatever opens, shuts or hides
itself, the keyboard's focus goes somewhere sensible and visible, never back to
<body> (from where the next Tab runs through the whole console from its top), and
never onto controls hidden behind a screen that covers them."""

from __future__ import annotations

import asyncio
import re

from playwright.async_api import Browser, Page, Route, expect

from tests.conftest import HANG
from tests.e2e.conftest import ADMIN_PASSWORD, new_page, open_row, sign_in
from tests.e2e.page_wait import until_true
from tests.e2e.test_conversation import customer_says, open_widget
from tests.e2e.topbar import SIGNED_IN

MORE = '[data-testid="more-open"]'
# where the keyboard is: the focused element's test id, else its tag ("BODY" when lost)
FOCUSED = "() => { const n = document.activeElement; return n ? (n.dataset.testid || n.id || n.tagName) : null; }"


async def signed_in(browser: Browser, base: str) -> Page:
    page = await new_page(browser)
    await sign_in(page, base, "admin", ADMIN_PASSWORD)
    await expect(page.locator(SIGNED_IN)).to_be_visible()
    # "Go online now?" asked after a sign-in takes the keyboard as it shows: answered first
    await answer_the_prompt(page, "presence-prompt-later")
    return page


async def answer_the_prompt(page: Page, testid: str) -> None:
    """The "Go online now?" question after a sign-in answered with the keyboard."""
    # it takes the keyboard as it shows (on "Go online"): waited for, then the answer chosen
    await expect(page.locator('[data-testid="presence-prompt-online"]')).to_be_focused()
    await page.locator(f'[data-testid="{testid}"]').focus()
    await page.keyboard.press("Enter")
    await expect(page.locator('[data-testid="presence-prompt"]')).to_have_count(0)


async def press_in_more(page: Page, testid: str) -> None:
    """The "More" menu opened and its item ``testid`` pressed, by the keyboard only."""
    await page.locator(MORE).focus()
    await page.keyboard.press("Enter")
    item = page.locator(f'[data-testid="{testid}"]')
    await expect(item).to_be_visible()
    await item.focus()
    await page.keyboard.press("Enter")
    # the menu has shut (its toggle handled): an Escape now is the opened window's, not the menu's
    await expect(page.locator(MORE)).to_have_attribute("aria-expanded", "false")


async def test_a_screen_takes_the_keyboard_and_gives_it_back_to_the_menu(service: str, browser: Browser) -> None:
    page = await signed_in(browser, service)
    for name in ("agents", "wallboard", "reports", "webhooks"):
        screen = page.locator(f"#{name}-screen")
        await press_in_more(page, f"{name}-open")
        await expect(screen).to_be_visible()
        # the keyboard is on the screen, not left on <body> behind it
        await expect(screen).to_be_focused()
        # a Tab reaches the screen's own controls, never the console's hidden under it
        await page.keyboard.press("Tab")
        assert await page.evaluate(
            "(id) => document.getElementById(id).contains(document.activeElement)", f"{name}-screen"
        ), (name, await page.evaluate(FOCUSED))
        # Escape shuts it, and the keyboard is back on the menu's button it was opened from
        await page.keyboard.press("Escape")
        await expect(screen).to_be_hidden()
        await expect(page.locator(MORE)).to_be_focused()


async def test_a_screen_whose_contents_are_late_still_takes_the_first_tab(service: str, browser: Browser) -> None:
    """On a slow network a screen's contents come after it opens: a Tab pressed meanwhile must not
    drop the keyboard to <body> (from where it is lost), it is on the screen once its controls came."""
    page = await signed_in(browser, service)
    asked, release = asyncio.Event(), asyncio.Event()

    async def hold(route: Route) -> None:
        answer = await route.fetch()
        asked.set()
        await release.wait()
        await route.fulfill(response=answer)

    await page.route("**/api/webhooks", hold)
    await press_in_more(page, "webhooks-open")
    screen = page.locator("#webhooks-screen")
    await expect(screen).to_be_visible()
    await asyncio.wait_for(asked.wait(), HANG)
    await page.keyboard.press("Tab")  # before the screen has a control
    release.set()
    await expect(screen.locator('[data-testid="webhooks-close"]')).to_be_visible()
    await until_true(page, "(id) => document.getElementById(id).contains(document.activeElement)", "webhooks-screen")
    await page.keyboard.press("Tab")
    assert await page.evaluate(
        "(id) => { const n = document.activeElement; return n !== document.getElementById(id) && "
        "document.getElementById(id).contains(n); }", "webhooks-screen"
    ), await page.evaluate(FOCUSED)


async def test_a_dialog_opened_from_the_menu_gives_the_keyboard_back_to_the_menu(
    service: str, browser: Browser
) -> None:
    page = await signed_in(browser, service)
    for opener, dialog in (("canned-manage", "canned-dialog"), ("help", "shortcuts-help")):
        await press_in_more(page, opener)
        await expect(page.locator(f'[data-testid="{dialog}"]')).to_be_visible()
        await page.keyboard.press("Escape")
        await expect(page.locator(f'[data-testid="{dialog}"]')).to_be_hidden()
        # the menu shut as its item was chosen: the keyboard goes to its button, not to <body>
        await expect(page.locator(MORE)).to_be_focused()


async def test_answering_the_sign_in_question_leaves_the_keyboard_on_the_conversations(
    service: str, browser: Browser
) -> None:
    customer = await new_page(browser)
    await open_widget(customer, service)
    await customer_says(customer, "Позовите оператора, пожалуйста")
    for answer in ("presence-prompt-later", "presence-prompt-online"):
        page = await new_page(browser)
        await sign_in(page, service, "admin", ADMIN_PASSWORD)
        await expect(page.locator('[data-testid="conversation"]')).to_have_count(1)
        await answer_the_prompt(page, answer)
        # the question is gone, the keyboard is on the list, not dropped on <body>
        await expect(page.locator('[data-testid="conversation"]')).to_be_focused()
        await page.context.close()


async def test_an_action_that_hides_itself_hands_the_keyboard_on(service: str, browser: Browser) -> None:
    customer = await new_page(browser)
    await open_widget(customer, service)
    await customer_says(customer, "Позовите оператора, пожалуйста")
    page = await signed_in(browser, service)
    await open_row(page, "Позовите оператора")
    # Take: the conversation is the agent's, the keyboard goes to the reply box
    await page.locator('[data-testid="take"]').focus()
    await page.keyboard.press("Enter")
    await expect(page.locator('[data-testid="take"]')).to_be_hidden()
    await expect(page.locator('[data-testid="reply"]')).to_be_focused()
    await page.keyboard.type("Здравствуйте! Уже смотрю.")
    await page.keyboard.press("Enter")
    await expect(page.locator('[data-testid="message"][data-author="agent"]')).to_have_count(1)
    # Resolve gives way to Reopen, which gets the keyboard; Reopen gives it back to the reply box
    await page.locator('[data-testid="resolve"]').focus()
    await page.keyboard.press("Enter")
    await expect(page.locator('[data-testid="reopen"]')).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator('[data-testid="reply"]')).to_be_focused()


async def test_a_take_pressed_while_the_conversation_opens_is_not_undone(service: str, browser: Browser) -> None:
    """Opening a conversation reads it; a Take pressed before that read comes back is newer than
    it: the header keeps the taken conversation (no Take button back, as if nothing happened)."""
    customer = await new_page(browser)
    await open_widget(customer, service)
    await customer_says(customer, "Позовите оператора, пожалуйста")
    page = await signed_in(browser, service)
    asked, release = asyncio.Event(), asyncio.Event()

    async def hold(route: Route) -> None:
        answer = await route.fetch()  # read now, before the Take; handed to the page after it
        asked.set()
        await release.wait()
        await route.fulfill(response=answer)

    await page.route(re.compile(r".*/api/conversations/[^/?]+$"), hold)
    await open_row(page, "Позовите оператора")
    await asyncio.wait_for(asked.wait(), HANG)
    take = page.locator('[data-testid="take"]')
    await take.click()
    await expect(take).to_be_hidden()
    release.set()
    # the history is drawn after the header, from the same read: both done
    await expect(page.locator('[data-testid="message"][data-author="customer"]')).to_have_count(1)
    await expect(take).to_be_hidden()
    await expect(page.locator('[data-testid="resolve"]')).to_be_visible()


async def shift_tab_to(page: Page, selector: str, presses: int = 12) -> None:
    """Shift+Tab from where the keyboard is until ``selector`` has it (fails if it is not in the tab order)."""
    for _ in range(presses):
        await page.keyboard.press("Shift+Tab")
        if await page.locator(selector).evaluate("(n) => n === document.activeElement"):
            return
    raise AssertionError(f"{selector} is not reached by the keyboard: {await page.evaluate(FOCUSED)}")


async def scrolled_to_the_top_by_home(page: Page, selector: str) -> None:
    """A history longer than its box, the keyboard on it: Home scrolls it to its first message."""
    log = page.locator(selector)
    await expect(log).to_be_focused()
    await page.keyboard.press("End")
    await until_true(page, "(s) => document.querySelector(s).scrollTop > 0", selector)
    await page.keyboard.press("Home")
    await until_true(page, "(s) => document.querySelector(s).scrollTop === 0", selector)


async def test_the_keyboard_scrolls_a_long_history(service: str, browser: Browser) -> None:
    customer = await (await browser.new_context(locale="ru-RU", viewport={"width": 800, "height": 420})).new_page()
    await open_widget(customer, service)
    for n in range(1, 7):
        await customer_says(customer, f"Вопрос номер {n}: позовите оператора")
        await expect(
            customer.locator('[data-omr="message"][data-author="customer"]:not([data-pending])')
        ).to_have_count(n)
    overflows = "(s) => document.querySelector(s).scrollHeight > document.querySelector(s).clientHeight"
    await until_true(customer, overflows, '[data-omr="messages"]')
    await customer.locator('[data-omr="input"]').focus()
    await shift_tab_to(customer, '[data-omr="messages"]')
    await expect(customer.locator('[data-omr="messages"]')).to_have_accessible_name("Переписка")  # the page's lang
    await scrolled_to_the_top_by_home(customer, '[data-omr="messages"]')

    page = await signed_in(browser, service)
    await page.set_viewport_size({"width": 900, "height": 480})
    await open_row(page, "Вопрос номер 6")
    await expect(page.locator('[data-testid="message"]')).to_have_count(6)
    await page.locator('[data-testid="reply"]').focus()
    await shift_tab_to(page, "#messages")
    await expect(page.locator("#messages")).to_have_accessible_name("Messages of the conversation")
    await scrolled_to_the_top_by_home(page, "#messages")
