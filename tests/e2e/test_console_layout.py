"""The console at every width an agent uses, in Chromium: nothing scrolls
sideways, the hourly actions stay on screen, and a phone shows one pane at a
time (list → conversation → customer). Each width is saved as a screenshot
in the test's folder, to look at when it fails."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, Request, Route, expect

from tests.conftest import HANG
from tests.e2e.test_conversation import agent_logs_in, customer_says, open_widget

WIDTHS = [(1440, 900), (1280, 800), (1024, 768), (800, 600), (390, 844)]
# Russian first: its words are the longest, where a bar runs out of room first
LAYOUTS = [(w, h, "ru-RU") for w, h in WIDTHS] + [(1024, 768, "en-US"), (800, 600, "en-US")]

OVERFLOW = """() => {
  const wide = [...document.querySelectorAll("#app *")].filter((el) => {
    const box = el.getBoundingClientRect();
    return el.offsetParent !== null && box.width > 0 && box.right > window.innerWidth + 1;
  }).map((el) => el.dataset.testid || el.id || el.className || el.tagName);
  return { page: document.documentElement.scrollWidth - window.innerWidth, wide: wide.slice(0, 10) };
}"""


async def on_screen(page: Page, testid: str) -> None:
    node = page.locator(f'[data-testid="{testid}"]')
    await expect(node).to_be_visible()
    box = await node.bounding_box()
    size = page.viewport_size
    assert box is not None and size is not None
    assert box["x"] >= 0 and box["x"] + box["width"] <= size["width"] + 1, f"{testid} is cut: {box}"


async def no_sideways_scroll(page: Page, shot: Path) -> None:
    await page.screenshot(path=str(shot), full_page=False)
    found = await page.evaluate(OVERFLOW)
    assert found["page"] <= 0 and found["wide"] == [], f"{shot.name}: wider than the window: {found}"


@pytest.mark.parametrize(("width", "height", "locale"), LAYOUTS, ids=[f"{w}px-{loc[:2]}" for w, _, loc in LAYOUTS])
async def test_the_console_fits_every_width(service: str, browser: Browser, tmp_path: Path,
                                            width: int, height: int, locale: str) -> None:
    customer = await (await browser.new_context()).new_page()
    await open_widget(customer, service)
    await customer_says(customer, "A question with a rather long first line, to see how the rows cut it short")

    agent = await (await browser.new_context(viewport={"width": width, "height": height}, locale=locale)).new_page()
    await agent_logs_in(agent, service)
    await no_sideways_scroll(agent, tmp_path / f"list-{width}.png")
    await agent.locator('[data-testid="conversation"]').first.click()
    await expect(agent.locator('[data-testid="message"]').first).to_be_visible()
    for testid in ("take", "resolve", "reply", "send", "presence", "more-open"):
        await on_screen(agent, testid)
    # the less used ones, in the top bar's "More" menu: whole, inside the window
    await agent.locator('[data-testid="more-open"]').click()
    for testid in ("language", "help", "logout"):
        await on_screen(agent, testid)
    await agent.keyboard.press("Escape")
    await no_sideways_scroll(agent, tmp_path / f"conversation-{width}.png")

    panel = agent.locator('[data-testid="customer-panel"]')
    if width >= 1200:
        await expect(panel).to_be_visible()  # beside the conversation
        await expect(agent.locator('[data-testid="show-customer"]')).to_be_hidden()
    else:
        await expect(panel).to_be_hidden()  # over the conversation, when asked for
        await agent.locator('[data-testid="show-customer"]').click()
        await expect(panel).to_be_visible()
        await expect(panel.locator('[data-testid="cp-identities"]')).to_be_visible()
        await no_sideways_scroll(agent, tmp_path / f"customer-{width}.png")


async def test_a_phone_shows_one_pane_at_a_time(service: str, browser: Browser, tmp_path: Path) -> None:
    customer = await (await browser.new_context()).new_page()
    await open_widget(customer, service)
    await customer_says(customer, "hello from a phone")

    agent = await (await browser.new_context(viewport={"width": 390, "height": 844})).new_page()
    await agent_logs_in(agent, service)
    rows, reply = agent.locator('[data-testid="conversation-list"]'), agent.locator('[data-testid="reply"]')
    panel = agent.locator('[data-testid="customer-panel"]')

    await expect(rows).to_be_visible()
    await agent.locator('[data-testid="conversation"]', has_text="hello from a phone").click()
    await expect(reply).to_be_visible()
    await expect(rows).to_be_hidden()
    await agent.locator('[data-testid="show-customer"]').click()
    await expect(panel).to_be_visible()
    await expect(reply).to_be_hidden()
    await no_sideways_scroll(agent, tmp_path / "phone-customer.png")
    await agent.locator('[data-testid="hide-customer"]').click()
    await expect(reply).to_be_visible()
    await agent.locator('[data-testid="back"]').click()
    await expect(rows).to_be_visible()
    await expect(reply).to_be_hidden()


async def test_keyboard_shortcuts_move_reply_resolve_and_are_listed(service: str, browser: Browser) -> None:
    customer = await (await browser.new_context()).new_page()
    await open_widget(customer, service)
    await customer_says(customer, "first question")
    other = await (await browser.new_context()).new_page()
    await open_widget(other, service)
    await customer_says(other, "second question")

    agent = await (await browser.new_context()).new_page()
    await agent_logs_in(agent, service)
    await expect(agent.locator('[data-testid="conversation"]')).to_have_count(2)
    await agent.locator("body").press("j")  # the first row
    first = agent.locator('[data-testid="conversation"]').first
    await expect(first).to_have_class("conv selected")
    await agent.locator("body").press("j")
    await expect(agent.locator('[data-testid="conversation"]').nth(1)).to_have_class("conv selected")
    await agent.locator("body").press("k")
    await expect(first).to_have_class("conv selected")

    await agent.locator("body").press("r")
    await expect(agent.locator('[data-testid="reply"]')).to_be_focused()
    # a letter typed in the reply box is text, not a shortcut
    await agent.keyboard.type("je")
    await expect(agent.locator('[data-testid="reply"]')).to_have_value("je")
    await expect(first).to_have_class("conv selected")
    await agent.keyboard.press("Escape")

    await agent.locator("body").press("?")
    help_box = agent.locator('[data-testid="shortcuts-help"]')
    await expect(help_box).to_be_visible()
    for label in ("Next conversation", "Write a reply", "Resolve the conversation"):
        await expect(help_box).to_contain_text(label)
    # the help has the keyboard: nothing moves or resolves behind it
    await agent.keyboard.press("j")
    await agent.keyboard.press("e")
    await expect(first).to_have_class("conv selected")
    await expect(agent.locator("#conv-meta")).not_to_contain_text("resolved")
    await agent.keyboard.press("Escape")
    await expect(help_box).to_be_hidden()


async def test_resolving_by_key_waits_for_the_history(service: str, browser: Browser) -> None:
    """A quick "e" after "j": before the history is drawn nobody can tell whether the
    customer's question is answered, so nothing is resolved unseen."""
    customer = await (await browser.new_context()).new_page()
    await open_widget(customer, service)
    await customer_says(customer, "still waiting for an answer")
    agent = await (await browser.new_context()).new_page()
    await agent_logs_in(agent, service)
    await expect(agent.locator('[data-testid="conversation"]')).to_have_count(1)
    held, asked = asyncio.Event(), asyncio.Event()

    async def hold(route: Route) -> None:
        asked.set()
        await held.wait()
        await route.continue_()

    await agent.route("**/api/conversations/*/messages", hold)
    # a resolve the "e" sent would be seen here as it leaves the page: the status read below
    # could come before a request still on its way and pass on a console that resolved unseen
    resolves: list[str] = []

    def seen(request: Request) -> None:
        if request.method == "POST" and request.url.endswith("/resolve"):
            resolves.append(request.url)

    agent.on("request", seen)
    await agent.locator("body").press("j")
    await asyncio.wait_for(asked.wait(), HANG)
    await agent.locator("body").press("e")
    held.set()
    await expect(agent.locator('[data-testid="message"]')).to_have_count(1)
    conv = await agent.locator('[data-testid="conversation"]').first.get_attribute("data-id")
    detail = await agent.request.get(f"{service}/api/conversations/{conv}")
    assert (await detail.json())["conversation"]["status"] == "queued"
    assert resolves == []
