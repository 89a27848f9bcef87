"""Search, labels and snooze in the console, in Chromium: an agent finds a
customer's «заказы» by typing «заказ» and opens it, puts a label on it that
shows on its row, and snoozes it: it leaves the list and comes back live
when its time comes (the test moves that time into the past in the store,
never waits for a clock)."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import aiohttp
from playwright.async_api import Browser, Page, expect

from tests.conftest import HANG, eventually
from tests.e2e.test_conversation import agent_logs_in

ORDER = "Мои заказы так и не пришли"
THANKS = "Спасибо, всё получил"


async def customer_writes(base: str, visitor: str, text: str) -> None:
    """A visitor's message through the site chat's socket, as the widget sends it."""
    async with aiohttp.ClientSession() as http, http.ws_connect(f"{base}/chat/ws", headers={"Origin": base}) as ws:
        await ws.send_json({"type": "hello", "name": visitor})
        assert (await ws.receive_json(timeout=HANG))["type"] == "welcome"
        await ws.send_json({"type": "message", "text": text, "client_id": "c1"})
        while (frame := await ws.receive_json(timeout=HANG))["type"] != "ack":
            assert frame["type"] != "error", frame


async def search_until_found(page: Page, query: str, text: str) -> None:
    """Search, again while the index catches up (it lags the ingest by a moment), until ``text`` is a hit."""
    box = page.locator('[data-testid="search-input"]')
    await box.fill(query)
    results = page.locator('[data-testid="search-results"]')
    hits = page.locator('[data-testid="search-hit"]', has_text=text)

    async def found() -> bool:
        before = await results.get_attribute("data-done") if await results.count() else None
        await box.press("Enter")
        # this search's answer shown (each answer numbers the box anew)
        await expect(results).not_to_have_attribute("data-done", before or "")
        return await hits.count() > 0

    await eventually(found, f"a hit for {query!r}")


async def test_search_finds_a_word_form_labels_show_on_the_row_and_a_snooze_comes_back(
        service: str, browser: Browser, tmp_path: Path) -> None:
    agent = await (await browser.new_context()).new_page()
    await agent_logs_in(agent, service)
    await customer_writes(service, "Ольга", ORDER)
    await customer_writes(service, "Пётр", THANKS)
    await expect(agent.locator('[data-testid="conversation"]')).to_have_count(2)

    # «заказ» finds «заказы»; the other customer's words are not a hit; the hit opens the conversation
    await search_until_found(agent, "заказ", ORDER)
    await expect(agent.locator('[data-testid="search-hit"]')).to_have_count(1)
    await agent.locator('[data-testid="search-hit"]', has_text=ORDER).click()
    await expect(agent.locator('[data-testid="message-text"]')).to_have_text([ORDER])
    await expect(agent.locator('[data-testid="conversation-title"]')).to_have_text("Ольга")

    # back to the list (Escape in the search box); a label added in the header shows on the row
    await agent.locator('[data-testid="search-input"]').press("Escape")
    await agent.locator('[data-testid="label-add"]').click()
    await agent.locator('[data-testid="label-input"]').fill("доставка")
    await agent.locator('[data-testid="label-input"]').press("Enter")
    await expect(agent.locator('[data-testid="conversation-labels"] [data-testid="label-chip"]')).to_have_text(
        ["доставка×"])
    row = agent.locator('[data-testid="conversation"]', has_text=ORDER)
    await expect(row.locator('[data-testid="label-chip"]')).to_have_text(["доставка"])
    conv_id = await row.get_attribute("data-id")

    # snoozed for an hour: it leaves the Open list at once
    await agent.locator('[data-testid="snooze-open"]').click()
    await agent.locator('[data-testid="snooze-hour"]').click()
    await expect(agent.locator('[data-testid="snoozed-until"]')).to_be_visible()
    await expect(row).to_have_count(0)
    await expect(agent.locator('[data-testid="conversation"]')).to_have_count(1)

    # its time comes (moved into the past in the store): the sweep brings it back, live
    with sqlite3.connect(tmp_path / "e2e.db", timeout=HANG) as db:
        db.execute("UPDATE conversations SET snoozed_until = '2000-01-01T00:00:00.000000Z' WHERE id = ?", (conv_id,))
    await expect(row).to_have_count(1)
    await expect(row.locator('[data-testid="label-chip"]')).to_have_text(["доставка"])
    await expect(agent.locator('[data-testid="snoozed-until"]')).to_have_count(0)

    # a customer found shows their channels by name: never the site chat's visitor token
    with sqlite3.connect(tmp_path / "e2e.db", timeout=HANG) as db:
        tokens = [r[0] for r in db.execute("SELECT value FROM identities WHERE kind = 'webchat'")]
    await agent.locator('[data-testid="search-filters-toggle"]').click()
    await agent.locator('[data-testid="search-kind"]').select_option("customers")
    await agent.locator('[data-testid="search-input"]').fill("Ольга")  # indexed long since: found at once
    await agent.locator('[data-testid="search-input"]').press("Enter")
    hit = agent.locator('[data-testid="search-hit"]', has_text="Ольга")
    await expect(hit.locator(".search-hit-text")).to_have_text(re.compile("Чат на сайте|Site chat"))
    shown = await hit.inner_text()
    assert tokens and not any(token in shown for token in tokens)


async def test_ctrl_k_and_slash_at_390_px_with_a_conversation_open_go_to_the_search_box(
        service: str, browser: Browser) -> None:
    # one pane at a time: the search box is in the list's pane, hidden behind the open conversation
    agent = await (await browser.new_context(viewport={"width": 390, "height": 800})).new_page()
    await agent_logs_in(agent, service)
    await customer_writes(service, "Ольга", ORDER)
    box = agent.locator('[data-testid="search-input"]')
    for press in ("Control+k", "/"):
        await agent.locator('[data-testid="conversation"]', has_text=ORDER).click()
        await expect(agent.locator('[data-testid="message-text"]')).to_have_text([ORDER])
        await expect(box).to_be_hidden()
        await agent.locator("#app").evaluate("() => document.activeElement.blur()")
        await agent.keyboard.press(press)
        await expect(box).to_be_visible()
        await expect(box).to_be_focused()
        await box.press("Escape")


async def test_the_open_snooze_menu_stays_within_the_window(service: str, browser: Browser) -> None:
    for width, locale in ((390, "en-US"), (800, "ru-RU")):
        agent = await (await browser.new_context(viewport={"width": width, "height": 800}, locale=locale)).new_page()
        await agent_logs_in(agent, service)
        await customer_writes(service, f"Ольга{width}", ORDER)
        await agent.locator('[data-testid="conversation"]').first.click()
        await agent.locator('[data-testid="snooze-open"]').click()
        menu = agent.locator(".snooze-menu")
        await expect(menu).to_be_visible()
        box = await menu.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, (width, box)
        for control in await menu.locator("button, input").all():
            b = await control.bounding_box()
            assert b is not None and b["x"] + b["width"] <= width, (width, b)
        # on top of the buttons beside it, not under them: a choice takes the click
        await agent.locator('[data-testid="snooze-hour"]').click()
        await expect(agent.locator('[data-testid="snoozed-until"]')).to_be_visible()
