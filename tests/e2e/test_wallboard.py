"""The live wallboard in Chromium: a supervisor opens it from the top bar
(a plain agent has no such button), a customer writes, and the queued count
goes up live, without a reload, within the hang ceiling; it stays within an
800 px wide window."""

from __future__ import annotations

from typing import Any

import aiohttp
from playwright.async_api import Browser, Page, expect

from tests.e2e.conftest import ADMIN_PASSWORD
from tests.e2e.test_search import customer_writes
from tests.e2e.topbar import SIGNED_IN, from_more

PASSWORD = "wallboard password 1"
# the elements of a selector that reach past the right edge of the viewport
OUTSIDE = """(selector) => [...document.querySelectorAll(selector)]
  .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
  .map((e) => e.className)"""


async def _account(base: str, username: str, role: str) -> None:
    async with aiohttp.ClientSession(base, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        resp = await http.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        assert resp.status == 200, await resp.text()
        body: dict[str, Any] = {"username": username, "display_name": username.title(), "password": PASSWORD,
                                "role": role}
        resp = await http.post("/api/agents", json=body)
        assert resp.status == 201, await resp.text()


async def _logs_in(browser: Browser, base: str, username: str, width: int = 1024) -> Page:
    page = await (await browser.new_context(locale="en-US", viewport={"width": width, "height": 900})).new_page()
    await page.goto(base + "/")
    form = page.locator('[data-testid="login-form"]')
    await form.locator('input[name="username"]').fill(username)
    await form.locator('input[name="password"]').fill(PASSWORD)
    await form.locator('input[name="password"]').press("Enter")
    await expect(page.locator(SIGNED_IN)).to_be_visible()
    return page


async def test_the_wallboard_counts_a_customer_live(service: str, browser: Browser) -> None:
    await _account(service, "sue", "supervisor")
    await _account(service, "ann", "agent")
    agent = await _logs_in(browser, service, "ann")
    await expect(agent.locator('[data-testid="live"]')).to_have_attribute("data-state", "online")
    await from_more(agent, "logout")  # the "More" menu open, where the button would be
    await expect(agent.locator('[data-testid="wallboard-open"]')).to_be_hidden()
    await agent.keyboard.press("Escape")

    sue = await _logs_in(browser, service, "sue", width=800)
    await expect(sue.locator('[data-testid="live"]')).to_have_attribute("data-state", "online")
    await (await from_more(sue, "wallboard-open")).click()
    board = sue.locator('[data-testid="wallboard-screen"]')
    await expect(board).to_be_visible()
    queued = board.locator('[data-testid="wb-totals"] [data-testid="wb-total-queued"] .wb-value')
    await expect(queued).to_have_text("0")

    await customer_writes(service, "Ольга", "Где мой заказ?")
    await expect(queued).to_have_text("1")  # pushed: the page was not reloaded
    await customer_writes(service, "Пётр", "And my order?")
    await expect(queued).to_have_text("2")
    row = board.locator('[data-testid="wb-channel-webchat"]').first
    await expect(row.locator('[data-testid="wb-channel-queued"]')).to_have_text("2")
    # the longest wait counts on, in the console's language
    await expect(board.locator('[data-testid="wb-total-wait"] .wb-value')).not_to_have_text("—")
    assert await sue.evaluate(OUTSIDE, "#wallboard-screen *") == []

    await board.locator('[data-testid="wallboard-close"]').click()
    await expect(board).to_be_hidden()


async def test_the_wallboard_fits_a_phone_and_leaves_a_demoted_supervisor(service: str, browser: Browser) -> None:
    """At 390 px nothing of the screen reaches past the right edge; when an admin makes the supervisor an
    agent, the open screen and its button go away without a reload (agent.updated for oneself)."""
    await _account(service, "sue", "supervisor")
    sue = await _logs_in(browser, service, "sue", width=390)
    await expect(sue.locator('[data-testid="live"]')).to_have_attribute("data-state", "online")
    await sue.evaluate("window.wallboard.open()")  # the top bar may fold its buttons at this width
    board = sue.locator('[data-testid="wallboard-screen"]')
    await expect(board).to_be_visible()
    await customer_writes(service, "Ольга", "Где мой заказ?")
    await expect(board.locator('[data-testid="wb-total-queued"] .wb-value')).to_have_text("1")
    # the channels' table scrolls sideways within its frame, which itself stays on the screen
    assert await sue.evaluate(OUTSIDE, "#wallboard-screen *:not(.wb-table-wrap *)") == []
    assert await sue.evaluate("document.getElementById('wallboard-screen').scrollWidth"
                              " <= document.documentElement.clientWidth")

    async with aiohttp.ClientSession(service, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        resp = await http.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        assert resp.status == 200, await resp.text()
        agents = (await (await http.get("/api/agents")).json())["agents"]
        [sue_id] = [a["id"] for a in agents if a["username"] == "sue"]
        resp = await http.patch(f"/api/agents/{sue_id}", json={"role": "agent"})
        assert resp.status == 200, await resp.text()
    await expect(board).to_be_hidden()
    await expect(sue.locator('[data-testid="wallboard-open"]')).to_be_hidden()
