"""Take at capacity, in Chromium: the console says in its language that the
agent is at their limit and what to do, with the kind in the roster's words;
the conversation stays queued (tests/agents_ui/test_capacity.py has every path)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.e2e.test_conversation import agent_logs_in, customer_says, open_widget

CATALOGUES = Path(__file__).parents[2] / "agents_ui" / "i18n"


@pytest.fixture(autouse=True)
def one_chat_at_once(tmp_path: Path) -> None:
    """The service's config folder (``service``'s, written first) gives the admin one chat at once."""
    (tmp_path / "teams.yaml").write_text(
        "teams: {support: {}}\nagents:\n  - {username: admin, teams: [support], capacity: {chat: 1}}\n",
        encoding="utf-8")


@pytest.mark.parametrize("locale", ["ru-RU", "en-US"])
async def test_take_at_capacity_says_so_in_the_consoles_language(service: str, browser: Browser,
                                                                 locale: str) -> None:
    texts = json.loads((CATALOGUES / f"{locale[:2]}.json").read_text(encoding="utf-8"))
    for question in ("first question", "second question"):
        customer = await (await browser.new_context()).new_page()
        await open_widget(customer, service)
        await customer_says(customer, question)
    agent = await (await browser.new_context(locale=locale)).new_page()
    await agent_logs_in(agent, service)
    header = agent.locator("#conv-meta")
    await agent.locator('[data-testid="conversation"]', has_text="first question").click()
    await agent.locator('[data-testid="take"]').click()
    await expect(header).to_contain_text(texts["status"]["assigned"])

    await agent.locator('[data-testid="conversation"]', has_text="second question").click()
    await expect(header).to_contain_text(texts["status"]["queued"])
    await agent.locator('[data-testid="take"]').click()
    expected = texts["errors"]["at_capacity_yours"].replace("{{kind}}", texts["agents_admin"]["kinds"]["chat"])
    await expect(agent.locator("#reply-error")).to_have_text(expected.replace("{{capacity}}", "1"))
    await expect(header).to_contain_text(texts["status"]["queued"])  # nothing changed
