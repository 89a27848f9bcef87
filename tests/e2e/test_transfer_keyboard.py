"""Transfer and Reassign by the keyboard, in Chromium: a browser moves a closed select's
value with the arrow keys and fires "change" at each step, so acting on "change" transferred
the conversation to the first team a keyboard user walked past. The arrows only show a
choice; Enter commits it, Escape drops it; a mouse pick still acts at once (tests/e2e/test_routing.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from tests.conftest import eventually
from tests.e2e.test_console_a11y import QUESTION, ROW, a_customer_asks
from tests.e2e.test_keyboard_focus import signed_in


@pytest.fixture
def service_config(tmp_path: Path) -> str:
    """Teams to transfer to (teams.yaml in the service's config folder, before it starts)."""
    (tmp_path / "teams.yaml").write_text(
        "teams: {support: {}, billing: {}, sales: {}}\nagents:\n  - {username: admin, teams: [support]}\n",
        encoding="utf-8",
    )
    return ""


async def test_walking_the_transfer_list_with_the_arrows_transfers_nothing_until_enter(
    service: str, browser: Browser
) -> None:
    await a_customer_asks(browser, service)
    page = await signed_in(browser, service)
    row = page.locator(ROW, has_text=QUESTION)
    await row.click()
    conversation = await row.get_attribute("data-id")
    transfer = page.locator('[data-testid="transfer"]')
    await expect(transfer).to_be_visible()
    teams: list[str] = await transfer.locator("option").evaluate_all("(os) => os.map((o) => o.value)")
    assert teams[0] == "" and len(teams) >= 3, teams
    await transfer.focus()
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
