"""Agents in the browser: an admin adds an agent on the Agents screen (a
generated password shown once), the agent signs in and is offered to go
online, the admin deactivates them and their console shows the sign-in page
again. The admin works at 800 px, the agent at 390 px; neither page scrolls
sideways."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, Page, Response, expect

from tests.e2e.conftest import sign_in
from tests.e2e.test_conversation import agent_logs_in
from tests.e2e.topbar import SIGNED_IN, from_more


@pytest.fixture
def teams_config(tmp_path: Path) -> Path:
    """teams.yaml in the service's config folder (before ``service`` starts)."""
    (tmp_path / "teams.yaml").write_text(
        "skills: [billing, tech]\nteams: {support: {}, senior: {}}\n"
        "agents:\n  - {username: admin, teams: [senior], capacity: {chat: 1}}\n",
        encoding="utf-8",
    )
    return tmp_path


async def no_sideways_scroll(page: Page) -> None:
    overflow = await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow} px"


async def fits(page: Page, locator: Locator) -> None:
    """``locator`` (fixed over the console, whose own layout is not this test's) is
    inside the viewport's width and does not scroll sideways itself."""
    width = (page.viewport_size or {"width": 0})["width"]
    box = await locator.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, (box, width)
    overflow = await locator.evaluate("node => node.scrollWidth - node.clientWidth")
    assert overflow <= 0, f"{locator} scrolls sideways by {overflow} px"


async def shot(page: Page, name: str) -> None:
    folder = os.environ.get("OMNIROUTER_SCREENSHOTS")
    if folder:
        await page.screenshot(path=str(Path(folder) / name))


async def screen_fits(page: Page, screen: Locator) -> None:
    await fits(page, screen)
    for card in await screen.locator('[data-testid="agent-row"]').all():
        await fits(page, card)


async def admin_adds_nina(admin: Page) -> str:
    """On the Agents screen: nina, of team support, billing 3, with a generated
    password; the password as the screen shows it, once."""
    await (await from_more(admin, "agents-open")).click()
    screen = admin.locator('[data-testid="agents-screen"]')
    await expect(screen.locator('[data-testid="agent-row"][data-username="admin"]')).to_be_visible()
    await expect(screen.locator('[data-testid="agents-add"]')).to_have_text("Add agent")  # an English browser
    await screen.locator('[data-testid="agents-add"]').click()
    form = screen.locator('[data-testid="agent-form-add"]')
    await form.locator('input[name="username"]').fill("nina")
    await form.locator('input[name="display_name"]').fill("Нина Петрова")
    await form.locator('input[name="team:support"]').check()
    await form.locator('select[name="skill:billing"]').select_option("3")
    await form.locator('[data-testid="agent-save"]').click()
    generated = screen.locator('[data-testid="generated-password"]')
    await expect(generated).to_be_visible()
    password = (await generated.text_content() or "").strip()
    assert len(password) >= 12
    nina_row = screen.locator('[data-testid="agent-row"][data-username="nina"]')
    await expect(nina_row.locator('[data-testid="agent-name"]')).to_have_text("Нина Петрова")
    await expect(nina_row.locator('[data-testid="agent-source"]')).to_have_attribute("class", "source source-console")
    await screen_fits(admin, screen)
    await shot(admin, "agents-800.png")
    await screen.locator('[data-testid="password-done"]').click()
    await expect(generated).to_have_count(0)
    return password


async def test_an_admin_adds_an_agent_who_goes_online_and_is_deactivated(
    teams_config: Path, service: str, browser: Browser
) -> None:
    admin = await (await browser.new_context(viewport={"width": 800, "height": 800})).new_page()
    await agent_logs_in(admin, service)
    # the admin signed in offline: asked, and may say not now
    prompt = admin.locator('[data-testid="presence-prompt"]')
    await expect(prompt).to_be_visible()
    await admin.locator('[data-testid="presence-prompt-later"]').click()
    await expect(prompt).to_have_count(0)
    await expect(admin.locator('[data-testid="presence"]')).to_have_value("offline")
    password = await admin_adds_nina(admin)
    screen = admin.locator('[data-testid="agents-screen"]')
    nina_row = screen.locator('[data-testid="agent-row"][data-username="nina"]')

    # the agent, on a phone: signs in with the password handed over and is offered to go online
    # (a Russian browser: the console speaks Russian to her)
    agent = await (await browser.new_context(viewport={"width": 390, "height": 800}, locale="ru-RU")).new_page()
    await sign_in(agent, service, "nina", password)
    await expect(agent.locator(SIGNED_IN)).to_be_visible()
    await expect(agent.locator('[data-testid="presence-prompt"]')).to_contain_text("Выйти на линию?")
    # in the conversation list, whose width at 390 px is the console layout's: nothing of it overflows
    prompt = agent.locator('[data-testid="presence-prompt"]')
    assert await prompt.evaluate("node => node.scrollWidth - node.clientWidth") <= 0
    await agent.locator('[data-testid="presence-prompt-online"]').click()
    await expect(agent.locator('[data-testid="presence-prompt"]')).to_have_count(0)
    await expect(agent.locator('[data-testid="presence"]')).to_have_value("online")
    await (await from_more(agent, "logout")).is_visible()  # the "More" menu, where an admin's Agents button is
    await expect(agent.locator('[data-testid="agents-open"]')).to_be_hidden()  # not an admin
    await agent.keyboard.press("Escape")

    # the admin's screen follows live: nina is online; then the admin deactivates her
    await expect(nina_row.locator('[data-testid="agent-status"]')).to_have_class("badge presence-online")
    admin.once("dialog", lambda dialog: dialog.accept())
    await nina_row.locator('[data-testid="agent-deactivate"]').click()
    await expect(nina_row).to_have_attribute("data-active", "false")
    await expect(nina_row.locator('[data-testid="agent-reactivate"]')).to_be_visible()

    # her console goes back to the sign-in page, and signing in again is refused with the reason
    await expect(agent.locator('[data-testid="login-form"]')).to_be_visible()
    await expect(agent.locator("#app")).to_be_hidden()
    await sign_in(agent, service, "nina", password)
    await expect(agent.locator('[data-testid="login-error"]')).to_have_text(
        "Эта учётная запись отключена: обратитесь к администратору.")
    await expect(agent.locator("#app")).to_be_hidden()
    await no_sideways_scroll(agent)

    # the admin screen at 390 px: one column, nothing cut
    await admin.set_viewport_size({"width": 390, "height": 800})
    await expect(nina_row).to_be_visible()
    await screen_fits(admin, screen)
    await shot(admin, "agents-390.png")
    await screen.locator('[data-testid="agents-add"]').click()
    await fits(admin, screen.locator('[data-testid="agent-form-add"]'))
    await shot(admin, "agents-form-390.png")


async def admin_adds_olga(screen: Locator) -> Locator:
    """Olga, with a password the admin typed (none is shown); a second olga is refused."""
    await screen.locator('[data-testid="agents-add"]').click()
    form = screen.locator('[data-testid="agent-form-add"]')
    await form.locator('input[name="username"]').fill("olga")
    await form.locator('input[name="display_name"]').fill("Olga")
    await form.locator('input[name="password"]').fill("olga's own password")
    await form.locator('[data-testid="agent-save"]').click()
    olga = screen.locator('[data-testid="agent-row"][data-username="olga"]')
    await expect(olga).to_be_visible()
    await expect(screen.locator('[data-testid="generated-password"]')).to_have_count(0)  # she chose one

    # a name taken is refused, with the reason, and nothing is added
    await screen.locator('[data-testid="agents-add"]').click()
    await form.locator('input[name="username"]').fill("olga")
    await form.locator('input[name="display_name"]').fill("Another Olga")
    await form.locator('[data-testid="agent-save"]').click()
    await expect(form.locator('[data-testid="agent-form-error"]')).to_have_text("The username olga is taken.")
    await form.locator('[data-testid="agent-cancel"]').click()
    await expect(screen.locator('[data-testid="agent-row"]')).to_have_count(2)
    return olga


async def shortcuts_stay_off(admin: Page, screen: Locator) -> None:
    """The console's one-key shortcuts do nothing behind the screen ("?" opens no
    help over it); Escape closes it. Opened again after."""
    await admin.keyboard.press("?")
    await expect(admin.locator("dialog[open]")).to_have_count(0)
    await admin.keyboard.press("Escape")
    await expect(screen).to_be_hidden()
    await (await from_more(admin, "agents-open")).click()


async def test_an_admin_edits_an_agent_resets_the_password_and_makes_agents_start_online(
    teams_config: Path, service: str, browser: Browser
) -> None:
    admin = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    await agent_logs_in(admin, service)
    await (await from_more(admin, "agents-open")).click()
    screen = admin.locator('[data-testid="agents-screen"]')
    olga = await admin_adds_olga(screen)

    # her teams and capacity, set in the console; then back to teams.yaml (which does not name her)
    await olga.locator('[data-testid="agent-edit"]').click()
    edit = screen.locator('[data-testid="agent-form-edit"]')
    await edit.locator('input[name="display_name"]').fill("Olga Ivanova")
    await edit.locator('input[name="team:senior"]').check()
    await edit.locator('input[name="capacity:chat"]').fill("2")
    await edit.locator('[data-testid="agent-save"]').click()
    await expect(olga.locator('[data-testid="agent-name"]')).to_have_text("Olga Ivanova")
    await expect(olga.locator('[data-testid="agent-source"]')).to_have_attribute("class", "source source-console")
    await expect(olga).to_contain_text("senior")
    await olga.locator('[data-testid="agent-edit"]').click()
    await edit.locator('[data-testid="agent-use-file"]').click()
    await expect(olga.locator('[data-testid="agent-source"]')).to_have_attribute("class", "source source-none")

    await shortcuts_stay_off(admin, screen)

    # a new password, generated and shown once
    await olga.locator('[data-testid="agent-reset"]').click()
    await screen.locator('[data-testid="agent-form-password"] [data-testid="agent-save"]').click()
    generated = screen.locator('[data-testid="generated-password"]')
    await expect(generated).to_be_visible()
    password = (await generated.text_content() or "").strip()
    await screen.locator('[data-testid="password-done"]').click()

    # agents start online: she signs in online, and is not asked
    def saved(response: Response) -> bool:
        return response.url.endswith("/api/agents/settings") and response.request.method == "PUT"

    async with admin.expect_response(saved) as answer:
        await screen.locator('[data-testid="presence-at-login"]').select_option("online")
    assert (await answer.value).ok
    agent = await (await browser.new_context(viewport={"width": 800, "height": 800})).new_page()
    await sign_in(agent, service, "olga", "olga's own password")
    await expect(agent.locator('[data-testid="login-error"]')).not_to_be_empty()  # the old password is gone
    await sign_in(agent, service, "olga", password)
    await expect(agent.locator(SIGNED_IN)).to_be_visible()
    await expect(agent.locator('[data-testid="presence"]')).to_have_value("online")
    await expect(agent.locator('[data-testid="presence-prompt"]')).to_have_count(0)
