"""Whose rights the console shows, in Chromium: when an admin changes the
signed-in agent's own role, every control the role grants (Agents, Wallboard,
Reports, Reassign) follows without a reload, in both directions; a search
"assigned to me" is always the agent signed in now, also in a tab opened
before the sign-in and after another agent signed out of it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import parse_qs, urlsplit

from playwright.async_api import Browser, Page, Request, expect

from tests.conftest import eventually
from tests.e2e.conftest import open_row, sign_in
from tests.e2e.test_conversation import agent_logs_in
from tests.e2e.test_search import customer_writes
from tests.e2e.test_supervisor import api
from tests.e2e.topbar import SIGNED_IN, from_more

QUESTION = "Где мой заказ 4242?"
PASSWORD = "supervisor-password-1"
T = TypeVar("T")
GRANTED = ("agents-open", "wallboard-open", "reports-open")


def async_value(read: Callable[[], T]) -> Callable[[], Awaitable[T]]:
    async def probe() -> T:
        return read()
    return probe


async def controls_shown(page: Page, shown: bool) -> None:
    """The supervisor's controls: the More menu's three buttons and the open conversation's Reassign."""
    await from_more(page, "logout")  # the menu open, where the buttons are
    for testid in GRANTED:
        node = page.locator(f'[data-testid="{testid}"]')
        await (expect(node).to_be_visible() if shown else expect(node).to_be_hidden())
    await page.keyboard.press("Escape")
    reassign = page.locator('[data-testid="reassign"]')
    await (expect(reassign).to_be_visible() if shown else expect(reassign).to_be_hidden())


async def test_my_own_role_changed_by_an_admin_changes_my_controls_without_a_reload(
        service: str, browser: Browser) -> None:
    admin = await (await browser.new_context(viewport={"width": 1280, "height": 800})).new_page()
    await agent_logs_in(admin, service)
    sue = (await api(admin, service, "POST", "/api/agents", {
        "username": "sue", "display_name": "Sue Lead", "password": PASSWORD, "role": "supervisor"}))["agent"]
    await customer_writes(service, "Ольга", QUESTION)

    page = await (await browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")).new_page()
    await sign_in(page, service, "sue", PASSWORD)
    await expect(page.locator(SIGNED_IN)).to_be_visible()
    await open_row(page, QUESTION)
    await controls_shown(page, True)

    await api(admin, service, "PATCH", f"/api/agents/{sue['id']}", {"role": "agent"})
    await controls_shown(page, False)
    await expect(page.locator("#me-role")).to_have_text("Agent")

    await api(admin, service, "PATCH", f"/api/agents/{sue['id']}", {"role": "supervisor"})
    await controls_shown(page, True)
    await expect(page.locator("#me-role")).to_have_text("Supervisor")


async def test_assigned_to_me_is_whoever_is_signed_in_now(service: str, browser: Browser) -> None:
    admin = await (await browser.new_context()).new_page()
    await agent_logs_in(admin, service)
    ids = {"admin": (await api(admin, service, "GET", "/api/me"))["agent"]["id"]}
    ann = (await api(admin, service, "POST", "/api/agents", {
        "username": "ann", "display_name": "Ann Agent", "password": "agent-password-1"}))["agent"]
    ids["ann"] = ann["id"]

    # a fresh tab: the page loads signed out (its /api/me is a 401), then the agent signs in
    page = await (await browser.new_context(viewport={"width": 1280, "height": 800})).new_page()
    asked: list[str] = []

    def note(request: Request) -> None:
        if urlsplit(request.url).path == "/api/search":
            asked.append(parse_qs(urlsplit(request.url).query).get("assignee", [""])[0])

    page.on("request", note)
    for username, password in (("admin", None), ("ann", "agent-password-1")):
        if password is None:
            await agent_logs_in(page, service)
        else:
            await (await from_more(page, "logout")).click()
            await expect(page.locator('[data-testid="login-form"]')).to_be_visible()
            form = page.locator('[data-testid="login-form"]')
            await form.locator('input[name="username"]').fill(username)
            await form.locator('input[name="password"]').fill(password)
            await form.locator('input[name="password"]').press("Enter")
            await expect(page.locator(SIGNED_IN)).to_be_visible()
        toggle = page.locator('[data-testid="search-filters-toggle"]')
        if not await page.locator('[data-testid="search-assignee"]').is_visible():
            await toggle.click()
        assignee = page.locator('[data-testid="search-assignee"]')
        await assignee.select_option("")
        await eventually(async_value(lambda: asked), "the search with anyone")
        asked.clear()
        await assignee.select_option("me")  # a search at once: by the agent signed in now
        await eventually(async_value(lambda: asked), "the search assigned to me")
        assert asked == [ids[username]]
