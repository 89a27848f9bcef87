"""Teams by the names people read: teams.yaml's ids (latin letters, what rules
and the API use) were what a Russian agent read on the conversation's header
and in the transfer list («Команда support»); a team's ``title`` is read there
now, in the console's language, and an edit of it reaches open consoles."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.e2e.test_conversation import agent_logs_in, customer_says, open_widget

AGENTS = "agents:\n  - {username: admin, teams: [support], capacity: {chat: 2}}\n"


def teams_yaml(billing: str) -> str:
    return f"teams:\n  support:\n    title: {{ru: Поддержка, en: Support}}\n  billing: {{title: {billing}}}\n{AGENTS}"


@pytest.fixture
def titled_config(tmp_path: Path) -> Path:
    """rules.yaml and teams.yaml in the service's config folder (before ``service`` starts)."""
    (tmp_path / "teams.yaml").write_text(teams_yaml("{ru: Биллинг, en: Billing}"), encoding="utf-8")
    (tmp_path / "rules.yaml").write_text("rules: []\ndefault: {queue: {team: support}}\n", encoding="utf-8")
    return tmp_path


async def test_a_russian_agent_reads_the_teams_titles_and_their_edits(
        titled_config: Path, service: str, browser: Browser) -> None:
    agent = await (await browser.new_context(locale="ru-RU")).new_page()
    customer = await (await browser.new_context()).new_page()
    await agent_logs_in(agent, service)
    await open_widget(customer, service)
    await customer_says(customer, "Здравствуйте, где мой заказ?")

    row = agent.locator('[data-testid="conversation"]', has_text="где мой заказ")
    await row.click()
    await expect(agent.locator("#conv-meta")).to_contain_text("Команда: Поддержка")
    transfer = agent.locator('[data-testid="transfer"] option')
    await expect(transfer).to_have_text(["Передать в команду…", "Команда Поддержка", "Команда Биллинг"])

    # an admin renames a team in teams.yaml: the open console reads the new title, without a reload
    (titled_config / "teams.yaml").write_text(teams_yaml("{ru: Расчёты, en: Payments}"), encoding="utf-8")
    await expect(transfer).to_have_text(["Передать в команду…", "Команда Поддержка", "Команда Расчёты"])
    await expect(agent.locator("#conv-meta")).to_contain_text("Команда: Поддержка")
