"""The console with every capability at once, in Chromium: what an end-to-end
run found, each tested as a class. The top bar is one row at every width
and every popover it opens lies inside the window; every popover of the
console closes on Escape and on a click elsewhere, and no shortcut acts
behind it; every tab shows its whole word; nothing private tells the
customer "the agent is typing"; the @-list stays open when "Note" was just
clicked; a plain agent's console asks for nothing it may not see; the
customer panel's words never run together; a search hit follows live
events as the list's rows do."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, Page, Request, Response, expect

from tests.conftest import eventually
from tests.e2e.conftest import open_row
from tests.e2e.test_conversation import agent_logs_in, customer_says, open_widget
from tests.e2e.test_search import customer_writes, search_until_found
from tests.e2e.topbar import SIGNED_IN

WIDTHS = [(1440, 900), (1280, 800), (1024, 768), (800, 600), (390, 844)]
LAYOUTS = [(w, h, loc) for loc in ("ru-RU", "en-US") for w, h in WIDTHS]

# the visible children of the top bar, as boxes
BAR = """() => [...document.querySelector(".topbar").children]
  .filter((el) => { const b = el.getBoundingClientRect();
    return el.offsetParent !== null && b.width > 0 && b.height > 0; })
  .map((el) => { const b = el.getBoundingClientRect();
    return { name: el.dataset.testid || el.className || el.tagName, top: b.top, bottom: b.bottom,
             left: b.left, right: b.right }; })"""

# every open popover and every visible thing in it that is not fully inside the window
OUTSIDE = """() => {
  const open = [...document.querySelectorAll("[data-popover-open]")].filter((el) => el.offsetParent !== null
    || getComputedStyle(el).position === "fixed");
  const out = [];
  for (const panel of open) {
    for (const el of [panel, ...panel.querySelectorAll("*")]) {
      const b = el.getBoundingClientRect();
      if (b.width === 0 || b.height === 0) continue;
      if (b.left < 0 || b.top < 0 || b.right > window.innerWidth + 0.5 || b.bottom > window.innerHeight + 0.5) {
        out.push(`${el.dataset.testid || el.className || el.tagName} ${JSON.stringify(b)}`);
      }
    }
  }
  return { open: open.length, out: out.slice(0, 5) };
}"""

# each tab: its box, and whether its text is cut (wider than its box) or past the window
TABS = """() => [...document.querySelectorAll(".tabs button")].map((tab) => {
  const b = tab.getBoundingClientRect();
  return { text: tab.textContent, cut: tab.scrollWidth > tab.clientWidth + 0.5,
           outside: b.left < 0 || b.right > window.innerWidth + 0.5
             || b.right > tab.parentElement.getBoundingClientRect().right + 0.5, width: b.width };
})"""


async def triggers(page: Page) -> list[str]:
    """The ids (testid or a number given here) of every visible popover button of the page."""
    return list(await page.evaluate("""(root) => [...document.querySelectorAll(root + " [data-popover-trigger]")]
      .filter((el) => el.offsetParent !== null)
      .map((el, i) => { el.dataset.popoverProbe = String(i); return String(i); })""", "body"))


def probe(page: Page, mark: str) -> Any:
    return page.locator(f'[data-popover-probe="{mark}"]')


@pytest.mark.parametrize(("width", "height", "locale"), LAYOUTS, ids=[f"{w}px-{loc[:2]}" for w, _, loc in LAYOUTS])
async def test_the_top_bar_is_one_row_and_its_popovers_and_the_tabs_fit(
    service: str, browser: Browser, width: int, height: int, locale: str,
) -> None:
    page = await (await browser.new_context(viewport={"width": width, "height": height}, locale=locale)).new_page()
    await agent_logs_in(page, service)  # an admin: every button a capability adds is there
    await expect(page.locator('[data-testid="alerts"]')).to_have_count(1)
    await expect(page.locator('[data-testid="canned-manage"]')).to_have_count(1)
    await expect(page.locator('[data-testid="mentions-button"]')).to_have_count(1)

    bar = await page.evaluate(BAR)
    lowest_top, highest_bottom = max(b["top"] for b in bar), min(b["bottom"] for b in bar)
    assert lowest_top < highest_bottom, f"the top bar wraps at {width}px {locale}: {bar}"
    assert all(b["left"] >= 0 and b["right"] <= width + 0.5 for b in bar), bar

    marks = [m for m in await triggers(page) if await probe(page, m).locator("xpath=ancestor::header").count()]
    assert len(marks) >= 3  # the mentions, the bell, "More"
    for mark in marks:
        await probe(page, mark).click()
        await expect(page.locator("[data-popover-open]")).to_have_count(1)
        found = await page.evaluate(OUTSIDE)
        assert found["out"] == [], f"a popover of the bar runs past the window at {width}px {locale}: {found}"
        await page.keyboard.press("Escape")
        await expect(page.locator("[data-popover-open]")).to_have_count(0)

    tabs = await page.evaluate(TABS)
    assert len(tabs) == 4 and all(not t["cut"] and not t["outside"] and t["width"] > 0 for t in tabs), tabs


async def test_every_popover_closes_on_escape_and_a_click_elsewhere_and_holds_the_shortcuts(
    service: str, browser: Browser,
) -> None:
    customer = await (await browser.new_context()).new_page()
    await open_widget(customer, service)
    await customer_says(customer, "a question to snooze")
    page = await (await browser.new_context(viewport={"width": 1280, "height": 800})).new_page()
    await agent_logs_in(page, service)
    await open_row(page, "a question to snooze")
    await expect(page.locator('[data-testid="snooze-open"]')).to_be_visible()
    help_box = page.locator('[data-testid="shortcuts-help"]')
    mentions = page.locator('[data-testid="mentions-view"]')

    marks = await triggers(page)
    assert len(marks) >= 4  # the mentions, the bell, "More", the snooze
    for mark in marks:
        name = await probe(page, mark).evaluate("el => el.dataset.testid || el.closest('[data-testid]').dataset.testid")
        opened = page.locator("[data-popover-open]")
        await probe(page, mark).click()
        await expect(opened, name).to_have_count(1)
        # the shortcuts do not act behind it: not the help ("?"), not the mentions ("m")
        await page.keyboard.press("?")
        await page.keyboard.press("m")
        await expect(help_box, name).to_be_hidden()
        if name != "mentions-button":
            await expect(mentions, name).to_be_hidden()
        await page.keyboard.press("Escape")
        await expect(opened, name).to_have_count(0)
        await expect(probe(page, mark), name).to_be_focused()  # the keyboard is back on its button

        await probe(page, mark).click()
        await expect(opened, name).to_have_count(1)
        await page.locator('[data-testid="conversation-title"]').click()  # elsewhere
        await expect(opened, name).to_have_count(0)
    # with none open, the shortcuts act again
    await page.locator('[data-testid="conversation-title"]').click()
    await page.keyboard.press("?")
    await expect(help_box).to_be_visible()


MARK = "/api/me?mark=after-the-clicks"


def typing_posts(page: Page) -> list[str]:
    """The page's typing posts and its mark (a request the test makes it send), in the order sent."""
    said: list[str] = []

    def seen(request: Request) -> None:
        if (request.method == "POST" and request.url.endswith("/typing")) or request.url.endswith(MARK):
            said.append(request.url)

    page.on("request", seen)
    return said


async def test_a_shortcut_lookup_or_a_note_never_tells_the_customer_the_agent_is_typing(
    service: str, browser: Browser,
) -> None:
    customer = await (await browser.new_context()).new_page()
    await open_widget(customer, service)
    await customer_says(customer, "is anyone there")
    page = await (await browser.new_context()).new_page()
    await agent_logs_in(page, service)
    await open_row(page, "is anyone there")
    await page.locator('[data-testid="take"]').click()
    said = typing_posts(page)
    box = page.locator('[data-testid="reply"]')

    await box.click()
    await page.keyboard.type("/thanks", delay=20)  # a canned reply looked up, key by key
    await page.keyboard.press("Control+a")
    await page.keyboard.press("Delete")
    await page.locator('[data-testid="mode-note"]').click()
    await page.keyboard.type("a private note", delay=20)
    await page.locator('[data-testid="mode-reply"]').click()  # the box is refilled: no one typed
    await expect(box).to_have_value("")
    # a typing post is sent at once on input: one sent above comes before a request sent now
    await page.evaluate("(mark) => fetch(mark)", MARK)

    async def marked() -> bool:
        return any(url.endswith(MARK) for url in said)

    await eventually(marked, "the mark after the clicks")
    assert said[0].endswith(MARK), said
    # a reply typed is told (so the listening above can see one): the first and only
    await page.keyboard.type("hello", delay=20)

    async def told() -> bool:
        return len(said) > 1

    await eventually(told, "the typing of a reply")
    assert len(said) == 2 and said[1].endswith("/typing"), said


async def test_the_mention_list_stays_open_when_note_was_just_clicked(service: str, browser: Browser) -> None:
    customer = await (await browser.new_context()).new_page()
    await open_widget(customer, service)
    await customer_says(customer, "a question for the team")
    page = await (await browser.new_context()).new_page()
    await page.clock.install()  # the box's blur timer runs when the test says, not when the machine is slow
    await agent_logs_in(page, service)
    made = await page.request.post(f"{service}/api/agents", data={
        "username": "olga", "display_name": "Olga", "password": "olga's long password", "role": "agent"})
    assert made.status == 201, await made.text()
    await open_row(page, "a question for the team")
    box = page.locator('[data-testid="reply"]')
    await box.click()  # the box has the keyboard: "Note" takes it away for a moment
    await page.locator('[data-testid="mode-note"]').click()
    await page.keyboard.type("@ol")
    suggestions = page.locator('[data-testid="mention-suggestion"]')
    await expect(suggestions).to_have_count(1)
    await page.clock.run_for(1000)  # past every timer the blur started
    await expect(suggestions).to_have_count(1)
    await expect(suggestions.first).to_be_visible()


async def test_a_plain_agents_console_asks_for_nothing_it_may_not_see(service: str, browser: Browser) -> None:
    customer = await (await browser.new_context()).new_page()
    await open_widget(customer, service)
    await customer_says(customer, "hello agent")
    admin = await (await browser.new_context()).new_page()
    await agent_logs_in(admin, service)
    made = await admin.request.post(f"{service}/api/agents", data={
        "username": "pavel", "display_name": "Pavel", "password": "pavel's long password", "role": "agent"})
    assert made.status == 201, await made.text()

    context = await browser.new_context()
    signed = await context.request.post(f"{service}/api/login",
                                        data={"username": "pavel", "password": "pavel's long password"})
    assert signed.status == 200
    page = await context.new_page()
    refused: list[str] = []

    def seen(response: Response) -> None:
        if response.status >= 400:
            refused.append(f"{response.status} {response.request.method} {response.url}")

    page.on("response", seen)
    await page.goto(service + "/", wait_until="networkidle")
    await expect(page.locator(SIGNED_IN)).to_be_visible()
    await open_row(page, "hello agent")
    await expect(page.locator('[data-testid="message"]')).to_have_count(1)
    await expect(page.locator('[data-testid="cp-identities"]')).to_be_visible()
    await page.wait_for_load_state("networkidle")
    assert refused == []
    # an admin's console does ask (the rules' banner): the check above is not blind
    admin_refused = await admin.evaluate("fetch('/api/rules/status').then((r) => r.status)")
    assert admin_refused == 200


async def test_the_customer_panel_never_runs_words_together(service: str, browser: Browser) -> None:
    customer = await (await browser.new_context()).new_page()
    await open_widget(customer, service)
    await customer_says(customer, "first visit")
    page = await (await browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-US")).new_page()
    await agent_logs_in(page, service)
    await open_row(page, "first visit")
    panel = page.locator('[data-testid="customer-panel"]')
    await expect(panel.locator('[data-testid="last-contact"]')).to_have_count(1)
    touching = await panel.evaluate("""(panel) => {
      const out = []; let pairs = 0;
      for (const item of panel.querySelectorAll(".cp-item")) {
        const parts = [...item.children].filter((el) => el.getBoundingClientRect().width > 0);
        for (let i = 1; i < parts.length; i++) {
          const a = parts[i - 1].getBoundingClientRect(), b = parts[i].getBoundingClientRect();
          pairs++;
          const touch = b.top < a.bottom - 1 && b.left - a.right < 4;
          if (touch) out.push(parts[i - 1].textContent + "|" + parts[i].textContent);
        }
      }
      return { pairs, out };
    }""")
    assert touching["pairs"] > 0 and touching["out"] == [], touching


async def test_a_search_hit_follows_a_take(service: str, browser: Browser) -> None:
    await customer_writes(service, "Борис", "где мой заказ номер семь")
    page = await (await browser.new_context(locale="ru-RU")).new_page()
    await agent_logs_in(page, service)
    await search_until_found(page, "заказ", "номер семь")
    hit = page.locator('[data-testid="search-hit"]', has_text="номер семь")
    await expect(hit.locator('[data-testid="search-hit-status"]')).to_have_text("в очереди")
    conv = await hit.get_attribute("data-conversation")
    # taken elsewhere (the same admin's other tab): the hit shown here follows the live event
    taken = await page.request.post(f"{service}/api/conversations/{conv}/assign", data={})
    assert taken.status == 200
    await expect(hit.locator('[data-testid="search-hit-status"]')).to_have_text("назначен")

