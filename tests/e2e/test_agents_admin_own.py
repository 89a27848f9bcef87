"""The Agents screen in the browser, where it once went wrong:

- an agent teams.yaml lists, added on the screen without touching their
  teams, keeps the file's entry (the form sent an empty console profile,
  which hid it: they were offered nothing);
- a username typed «Kate» is stored as «kate» (the server's are lowercase);
- an admin who gives themselves a generated password sees it (their session
  ended and the reload failed before it was shown: locked out);
- a badge reads «Не в сети», not «Не В Сети»; «Маршрутизация» is not cut at 390 px."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.e2e.conftest import ADMIN_PASSWORD, sign_in
from tests.e2e.topbar import SIGNED_IN, from_more


@pytest.fixture
def teams_config(tmp_path: Path) -> Path:
    """teams.yaml in the service's config folder (before ``service`` starts): kate has no account yet."""
    (tmp_path / "teams.yaml").write_text(
        "skills: [billing]\nteams: {support: {}, senior: {}}\n"
        "agents:\n  - {username: admin, teams: [senior], capacity: {chat: 1}}\n"
        "  - {username: kate, teams: [support], capacity: {chat: 2}}\n",
        encoding="utf-8",
    )
    return tmp_path


async def test_an_agent_of_teams_yaml_added_on_the_screen_keeps_the_files_entry_and_an_own_password_is_shown(
    teams_config: Path, service: str, browser: Browser
) -> None:
    page = await (await browser.new_context(viewport={"width": 800, "height": 800}, locale="ru-RU")).new_page()
    await sign_in(page, service, "admin", ADMIN_PASSWORD)
    await expect(page.locator(SIGNED_IN)).to_be_visible()
    await (await from_more(page, "agents-open")).click()
    screen = page.locator('[data-testid="agents-screen"]')
    await screen.locator('[data-testid="agents-add"]').click()
    form = screen.locator('[data-testid="agent-form-add"]')
    await form.locator('input[name="username"]').press_sequentially("Kate")
    await expect(form.locator('input[name="username"]')).to_have_value("kate")
    await form.locator('input[name="display_name"]').fill("Катя")
    await form.locator('input[name="password"]').fill("kates own password")
    await form.locator('[data-testid="agent-save"]').click()
    kate = screen.locator('[data-testid="agent-row"][data-username="kate"]')
    await expect(kate.locator('[data-testid="agent-source"]')).to_have_attribute("class", "source source-file")
    await expect(kate.locator(".agent-chips .chip").first).to_have_text("support")
    # sentence case, as the catalogue writes it
    status = kate.locator('[data-testid="agent-status"]')
    assert await status.evaluate("node => node.innerText") == "Не в сети"
    # on a phone the longest label stays whole, on one line
    await page.set_viewport_size({"width": 390, "height": 800})
    label = kate.locator(".agent-field > .muted", has_text="Маршрутизация")
    await expect(label).to_be_visible()
    lines = ("node => { const r = document.createRange(); r.selectNodeContents(node);"
             " return r.getClientRects().length; }")
    assert await label.evaluate(lines) == 1
    await page.set_viewport_size({"width": 800, "height": 800})

    me = screen.locator('[data-testid="agent-row"][data-username="admin"]')
    await me.locator('[data-testid="agent-reset"]').click()
    await screen.locator('[data-testid="agent-save"]').click()
    generated = screen.locator('[data-testid="generated-password"]')
    await expect(generated).to_be_visible()
    password = (await generated.text_content() or "").strip()
    assert len(password) >= 12
    await expect(screen.locator('[data-testid="agents-error"]')).to_have_text("")
    await screen.locator('[data-testid="password-done"]').click()
    await expect(me).to_be_visible()  # still signed in here
    # and the password works
    other = await (await browser.new_context(viewport={"width": 800, "height": 800})).new_page()
    await sign_in(other, service, "admin", password)
    await expect(other.locator(SIGNED_IN)).to_be_visible()
