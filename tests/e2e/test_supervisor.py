"""A supervisor in the browser: an admin makes one on the Agents screen; the
supervisor signs in, sees a conversation of a team they are not in, held by an
agent, and gives it to someone else; the screens and buttons that change the
service's configuration are not there, and nothing the console asks for on
load is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, Response, expect

from tests.e2e.conftest import sign_in
from tests.e2e.test_agents_admin import no_sideways_scroll
from tests.e2e.test_conversation import agent_logs_in, customer_says, open_widget
from tests.e2e.topbar import SIGNED_IN, from_more

QUESTION = "Где мой заказ 5678?"
PASSWORD = "supervisor-password-1"


@pytest.fixture
def teams_config(tmp_path: Path) -> Path:
    """Two teams: conversations go to support (the default team); the supervisor is in senior only."""
    (tmp_path / "teams.yaml").write_text(
        "teams: {support: {}, senior: {}}\n"
        "agents:\n  - {username: admin, teams: [senior]}\n  - {username: ann, teams: [support]}\n",
        encoding="utf-8",
    )
    return tmp_path


async def admin_makes_a_supervisor(admin: Page) -> None:
    """On the Agents screen: sue, role supervisor, team senior, with a password typed in."""
    await (await from_more(admin, "agents-open")).click()
    screen = admin.locator('[data-testid="agents-screen"]')
    await screen.locator('[data-testid="agents-add"]').click()
    form = screen.locator('[data-testid="agent-form-add"]')
    await form.locator('input[name="username"]').fill("sue")
    await form.locator('input[name="display_name"]').fill("Sue Lead")
    role = form.locator('select[name="role"]')
    await expect(role.locator('option[value="supervisor"]')).to_have_text("Supervisor")
    await role.select_option("supervisor")
    await form.locator('input[name="password"]').fill(PASSWORD)
    await form.locator('input[name="team:senior"]').check()
    await form.locator('[data-testid="agent-save"]').click()
    sue = screen.locator('[data-testid="agent-row"][data-username="sue"]')
    await expect(sue.locator(".badge.role")).to_have_text("Supervisor")
    await screen.locator('[data-testid="agents-close"]').click()


async def roster_for_a_supervisor(sue: Page, service: str) -> None:
    """The supervisor's Agents screen: the roster, where they set a colleague away, with no way to
    add, edit, deactivate or reset an account, nor to change the sign-in setting."""
    await (await from_more(sue, "agents-open")).click()
    screen = sue.locator('[data-testid="agents-screen"]')
    ann = screen.locator('[data-testid="agent-row"][data-username="ann"]')
    await expect(ann).to_be_visible()
    await ann.locator('[data-testid="agent-presence"]').select_option("away")
    await expect(ann.locator('[data-testid="agent-status"]')).to_have_text("Away")
    ids = {a["username"]: a["id"] for a in (await api(sue, service, "GET", "/api/agents"))["agents"]}
    presence = {p["agent_id"]: p["presence"] for p in (await api(sue, service, "GET", "/api/presence"))["presence"]}
    assert presence[ids["ann"]] == "away"
    # not on their own row: their own status is the top bar's
    await expect(screen.locator('[data-testid="agent-row"][data-username="sue"] [data-testid="agent-presence"]')
                 ).to_have_count(0)
    for admin_only in ("agents-add", "agent-edit", "agent-deactivate", "agent-reactivate", "agent-reset",
                       "presence-at-login"):
        await expect(screen.locator(f'[data-testid="{admin_only}"]')).to_have_count(0)
    await expect(sue.locator("#rules-error")).to_be_hidden()
    await no_sideways_scroll(sue)


async def an_agent_has_neither(browser: Browser, service: str) -> None:
    """An agent: no reassign control on the same conversation, no Agents screen."""
    agent = await (await browser.new_context(viewport={"width": 800, "height": 800})).new_page()
    await sign_in(agent, service, "ann", "agent-password-1")
    await expect(agent.locator(SIGNED_IN)).to_be_visible()
    await agent.locator('[data-testid="conversation"]', has_text=QUESTION).click()
    await expect(agent.locator("#conv-meta")).to_contain_text("support")
    await expect(agent.locator('[data-testid="reassign"]')).to_have_count(0)
    await from_more(agent, "logout")  # the "More" menu open, where the button would be
    await expect(agent.locator('[data-testid="agents-open"]')).to_be_hidden()
    await agent.keyboard.press("Escape")


async def api(page: Page, base: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """A call with the page's session (its cookies), as the console makes it."""
    resp = await page.request.fetch(base + path, method=method, data=body)
    assert resp.ok, await resp.text()
    return await resp.json()


async def test_a_supervisor_sees_another_teams_conversation_and_reassigns_it(
        teams_config: Path, service: str, browser: Browser) -> None:
    admin = await (await browser.new_context(viewport={"width": 800, "height": 800})).new_page()
    await agent_logs_in(admin, service)
    await admin_makes_a_supervisor(admin)
    ann = (await api(admin, service, "POST", "/api/agents", {"username": "ann", "display_name": "Ann Agent",
                                                    "password": "agent-password-1"}))["agent"]
    agents = {a["username"]: a for a in (await api(admin, service, "GET", "/api/agents"))["agents"]}

    # a customer writes; the conversation is team support's, and ann has it
    customer = await (await browser.new_context()).new_page()
    await open_widget(customer, service)
    await customer_says(customer, QUESTION)
    row = admin.locator('[data-testid="conversation"]', has_text=QUESTION)
    await expect(row).to_have_count(1)
    conv_id = await row.get_attribute("data-id")
    assert conv_id
    held = (await api(admin, service, "POST", f"/api/conversations/{conv_id}/assign",
                      {"agent_id": ann["id"]}))["conversation"]
    assert (held["team"], held["agent_id"]) == ("support", ann["id"])

    # the supervisor signs in; every request of a load (a reload, with the session) is answered
    sue = await (await browser.new_context(viewport={"width": 800, "height": 800})).new_page()
    await sign_in(sue, service, "sue", PASSWORD)
    await expect(sue.locator(SIGNED_IN)).to_be_visible()
    refused: list[str] = []

    def note(resp: Response) -> None:
        if resp.status >= 400:
            refused.append(f"{resp.status} {resp.request.method} {resp.url}")

    sue.on("response", note)
    await sue.reload()
    await expect(sue.locator(SIGNED_IN)).to_be_visible()
    await expect(sue.locator("#me-role")).to_have_text("Supervisor")

    # ann's conversation of team support, in the supervisor's list (all open ones, every team's)
    sue_row = sue.locator('[data-testid="conversation"]', has_text=QUESTION)
    await expect(sue_row).to_have_count(1)
    await sue_row.click()
    await expect(sue.locator("#conv-meta")).to_contain_text("support")
    await expect(sue.locator("#conv-meta")).to_contain_text("Ann Agent")
    reassign = sue.locator('[data-testid="reassign"]')
    await expect(reassign).to_be_visible()
    # every active agent but the one who has it now
    await expect(reassign.locator(f'option[value="{ann["id"]}"]')).to_have_count(0)
    await reassign.select_option(agents["admin"]["id"])
    await expect(sue.locator("#conv-meta")).not_to_contain_text("Ann Agent")
    now = (await api(admin, service, "GET", f"/api/conversations/{conv_id}"))["conversation"]
    assert (now["status"], now["agent_id"]) == ("assigned", agents["admin"]["id"])
    await expect(sue.locator("#reply-error")).to_have_text("")
    await sue.set_viewport_size({"width": 390, "height": 800})  # on a phone, the header's controls fit too
    await no_sideways_scroll(sue)
    await sue.set_viewport_size({"width": 800, "height": 800})

    await roster_for_a_supervisor(sue, service)
    assert refused == []
    await an_agent_has_neither(browser, service)
