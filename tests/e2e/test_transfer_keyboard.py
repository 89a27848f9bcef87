"""Transfer and Reassign by the keyboard, in Chromium: a browser moves a closed select's
value with the arrow keys and fires "change" at each step, so acting on "change" transferred
the conversation to the first team a keyboard user walked past. The arrows only show a
choice; Enter commits it, Escape drops it; a mouse pick still acts at once (tests/e2e/test_routing.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Locator, Page, Route, expect

from tests.conftest import eventually
from tests.e2e.test_console_a11y import QUESTION, ROW, a_customer_asks
from tests.e2e.test_conversation import customer_says, open_widget
from tests.e2e.test_keyboard_focus import signed_in


@pytest.fixture
def service_config(tmp_path: Path) -> str:
    """Teams to transfer to (teams.yaml in the service's config folder, before it starts)."""
    (tmp_path / "teams.yaml").write_text(
        "teams: {support: {}, billing: {}, sales: {}}\nagents:\n  - {username: admin, teams: [support]}\n",
        encoding="utf-8",
    )
    return ""


async def transfer_list(service: str, browser: Browser) -> tuple[Page, Locator, list[str], str]:
    """A customer's conversation opened by the agent: the page, its transfer list with the
    keyboard on it, the list's values (the placeholder's "" first) and the conversation's id."""
    await a_customer_asks(browser, service)
    page = await signed_in(browser, service)
    row = page.locator(ROW, has_text=QUESTION)
    await row.click()
    conversation = await row.get_attribute("data-id")
    assert conversation is not None
    transfer = page.locator('[data-testid="transfer"]')
    await expect(transfer).to_be_visible()
    teams: list[str] = await transfer.locator("option").evaluate_all("(os) => os.map((o) => o.value)")
    assert teams[0] == "" and len(teams) >= 3, teams
    await transfer.focus()
    return page, transfer, teams, conversation


async def test_walking_the_transfer_list_with_the_arrows_transfers_nothing_until_enter(
    service: str, browser: Browser
) -> None:
    page, transfer, teams, conversation = await transfer_list(service, browser)
    # each arrow only shows a team: the select keeps it (nothing sent, the select not put back)
    await page.keyboard.press("ArrowDown")
    await expect(transfer).to_have_value(teams[1])
    await page.keyboard.press("ArrowDown")
    await expect(transfer).to_have_value(teams[2])
    # Enter commits the team shown, and that one only
    await page.keyboard.press("Enter")

    async def moved() -> dict[str, Any] | None:
        body = await (await page.request.get(f"{service}/api/conversations/{conversation}")).json()
        conv: dict[str, Any] = body["conversation"]
        return conv if conv["team"] == teams[2] else None

    await eventually(moved, f"the conversation to move to {teams[2]}")
    await expect(transfer).to_have_value("")
    # arrows, then Escape: the look is dropped, the conversation stays where it is
    await transfer.focus()
    await page.keyboard.press("ArrowDown")
    await expect(transfer).to_have_value(teams[1])
    await page.keyboard.press("Escape")
    await expect(transfer).to_have_value("")
    assert await moved() is not None


async def test_walking_the_presence_list_with_the_arrows_changes_nothing_until_enter(
    service: str, browser: Browser
) -> None:
    """The top bar's presence acted on each arrow key: walking from "offline" to "away" passed
    "online", and an agent put online is offered conversations at once."""
    page = await signed_in(browser, service)
    presence = page.locator('[data-testid="presence"]')
    await expect(presence).to_be_visible()

    async def on_the_server() -> str:
        me = await (await page.request.get(f"{service}/api/me")).json()
        listed = await (await page.request.get(f"{service}/api/presence")).json()
        return str(next((p["presence"] for p in listed["presence"] if p["agent_id"] == me["agent"]["id"]),
                        "offline"))

    start = await on_the_server()
    await expect(presence).to_have_value(start)
    values: list[str] = await presence.locator("option").evaluate_all("(os) => os.map((o) => o.value)")
    shown = values[(values.index(start) + 1) % len(values)]
    await presence.focus()
    await page.keyboard.press("ArrowDown" if values.index(start) + 1 < len(values) else "Home")
    await expect(presence).to_have_value(shown)
    # a look, and leaving the select drops it: the select shows the presence again, the server kept it
    await page.keyboard.press("Tab")
    await expect(presence).to_have_value(start)
    await presence.focus()
    await page.keyboard.press("ArrowDown" if values.index(start) + 1 < len(values) else "Home")
    await page.keyboard.press("Escape")
    await expect(presence).to_have_value(start)
    assert await on_the_server() == start
    # Enter commits what is shown (the console's Escape took the focus back to the page: given again)
    await presence.focus()
    await page.keyboard.press("ArrowDown" if values.index(start) + 1 < len(values) else "Home")
    await page.keyboard.press("Enter")

    async def changed() -> bool:
        return await on_the_server() == shown

    await eventually(changed, f"the presence to become {shown}")


async def test_a_team_walked_to_stays_shown_when_the_teams_come_again(service: str, browser: Browser) -> None:
    """The teams come twice after a sign-in (their titles after the first paint) and again at a
    rules reload; each time the list was rebuilt and the team an agent had walked to with the
    arrows fell back to the placeholder (a busy CI run met it): Enter then transferred nothing."""
    page, transfer, teams, conversation = await transfer_list(service, browser)
    await page.keyboard.press("ArrowDown")
    await expect(transfer).to_have_value(teams[1])
    # what teams.js does when the teams come (GET /api/teams, then "console:teams")
    await page.evaluate("async () => { const data = await (await fetch('/api/teams')).json();"
                        " document.dispatchEvent(new CustomEvent('console:teams', { detail: data.teams })); }")
    await expect(transfer.locator("option")).to_have_count(len(teams))
    await expect(transfer).to_have_value(teams[1])
    await page.keyboard.press("Enter")

    async def moved() -> bool | None:
        body = await (await page.request.get(f"{service}/api/conversations/{conversation}")).json()
        return True if body["conversation"]["team"] == teams[1] else None

    await eventually(moved, f"the conversation to move to {teams[1]}")


async def test_the_keyboard_taken_elsewhere_while_a_conversation_opens_stays_there(
    service: str, browser: Browser
) -> None:
    """Opening a conversation gives the reply box the keyboard once its history is read. An agent
    who went on to the transfer list meanwhile (a slow network, a busy machine) had the keyboard
    taken from them: their arrows then moved the reply's cursor (a busy CI run met it)."""
    await a_customer_asks(browser, service)
    page = await signed_in(browser, service)
    row = page.locator(ROW, has_text=QUESTION)
    await expect(row).to_be_visible()
    held = asyncio.Event()

    async def slow_history(route: Route) -> None:
        await held.wait()
        await route.continue_()

    await page.route("**/api/conversations/*/messages", slow_history)
    await row.click()
    transfer = page.locator('[data-testid="transfer"]')
    await expect(transfer).to_be_visible()
    teams: list[str] = await transfer.locator("option").evaluate_all("(os) => os.map((o) => o.value)")
    await transfer.focus()
    held.set()  # the history comes now, after the agent moved on
    await expect(page.locator('[data-testid="message"]', has_text=QUESTION)).to_be_visible()
    await expect(transfer).to_be_focused()
    await page.keyboard.press("ArrowDown")
    await expect(transfer).to_have_value(teams[1])


async def test_an_agent_walked_to_in_the_reassign_list_stays_shown_when_the_customer_writes(
    service: str, browser: Browser
) -> None:
    """The reassign list is drawn again at each change of the conversation: a supervisor walking it
    with the arrows was put back on the placeholder whenever the customer wrote."""
    customer = await (await browser.new_context(locale="ru-RU")).new_page()
    await open_widget(customer, service)
    await customer_says(customer, QUESTION)
    page = await signed_in(browser, service)
    row = page.locator(ROW, has_text=QUESTION)
    await row.click()
    await expect(page.locator('[data-testid="message"]', has_text=QUESTION)).to_be_visible()
    reassign = page.locator('[data-testid="reassign"]')
    await expect(reassign).to_be_visible()
    agents: list[str] = await reassign.locator("option").evaluate_all("(os) => os.map((o) => o.value)")
    assert agents[0] == "" and len(agents) >= 2, agents
    await reassign.focus()
    await page.keyboard.press("ArrowDown")
    await expect(reassign).to_have_value(agents[1])
    await customer_says(customer, "ещё вопрос")
    await expect(page.locator('[data-testid="message"]', has_text="ещё вопрос")).to_be_visible()
    await expect(reassign).to_have_value(agents[1])
