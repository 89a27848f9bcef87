"""A customer writing after a resolve, seen by the agent who resolved it:
within rules.yaml's reopen window the conversation comes back live, to them
(online, with room), and the open panel says so; beyond it a new conversation
appears beside the resolved one, which stays resolved."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Browser, Page, expect

from tests.conftest import HANG
from tests.e2e.test_conversation import agent_logs_in, customer_says, open_widget

TEAMS = "teams: {support: {}}\nagents:\n  - {username: admin, teams: [support], capacity: {chat: 2}}\n"
RULES = "rules: []\ndefault: {queue: {team: support}}\n"
WINDOW = 1  # seconds, in the beyond-the-window test: the test waits past it, never races it


@pytest.fixture
def reopen_within(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """rules.yaml (with the test's reopen window) and teams.yaml in the service's folder, before it starts."""
    within = getattr(request, "param", "24h")
    (tmp_path / "teams.yaml").write_text(TEAMS, encoding="utf-8")
    (tmp_path / "rules.yaml").write_text(RULES + f"reopen: {{within: {within}}}\n", encoding="utf-8")
    return tmp_path


async def _resolved_by_the_agent(service: str, browser: Browser) -> tuple[Page, Page, str]:
    """A customer asks, the admin (online) gets it, answers and resolves it, and keeps it open on screen."""
    customer = await (await browser.new_context()).new_page()
    agent = await (await browser.new_context()).new_page()
    await agent_logs_in(agent, service)
    await agent.locator('[data-testid="presence"]').select_option("online")
    await open_widget(customer, service)
    await customer_says(customer, "my parcel 77 never came")
    await agent.locator('.tabs button[data-filter="mine"]').click()
    row = agent.locator('[data-testid="conversation"]', has_text="my parcel 77")
    await expect(row).to_have_count(1)
    await row.click()
    conversation_id = await row.get_attribute("data-id")
    assert conversation_id is not None
    await agent.locator('[data-testid="reply"]').fill("It is on its way again.")
    await agent.locator('[data-testid="send"]').click()
    await expect(customer.locator('[data-omr="message"][data-author="agent"]')).to_have_text("It is on its way again.")
    await agent.locator('[data-testid="resolve"]').click()
    await expect(agent.locator("#conv-meta")).to_contain_text("resolved")
    await agent.locator('.tabs button[data-filter="resolved"]').click()
    await expect(agent.locator('[data-testid="conversation"]', has_text="on its way")).to_have_count(1)
    return agent, customer, conversation_id


async def test_the_resolver_sees_the_conversation_come_back_live_within_the_window(
    reopen_within: Path, service: str, browser: Browser
) -> None:
    agent, customer, conversation_id = await _resolved_by_the_agent(service, browser)
    await customer_says(customer, "it still has not come")
    header = agent.locator("#conv-meta")
    # the open panel follows: back to the agent who resolved it (online, with room), answerable again
    await expect(header).to_contain_text("assigned")
    await expect(agent.locator('[data-testid="reply"]')).to_be_visible()
    await expect(agent.locator('[data-testid="reopen"]')).to_be_hidden()
    await expect(agent.locator("#messages li", has_text="it still has not come")).to_have_count(1)
    await expect(agent.locator('[data-testid="reopened"]')).to_have_text("Reopened")
    # the customer panel lists it as it stands now
    past = agent.locator('[data-testid="customer-panel"] [data-testid="past-conversation"]')
    await expect(past.first).to_contain_text("assigned")
    # and the lists: gone from Resolved, in Mine, the same conversation
    await expect(agent.locator('[data-testid="conversation"]')).to_have_count(0)
    await agent.locator('.tabs button[data-filter="mine"]').click()
    await expect(agent.locator(f'[data-testid="conversation"][data-id="{conversation_id}"]')).to_have_count(1)
    await expect(agent.locator('[data-testid="conversation"]')).to_have_count(1)


@pytest.mark.parametrize("reopen_within", [f"{WINDOW}s"], indirect=True)
async def test_beyond_the_window_a_new_conversation_appears_beside_the_resolved_one(
    reopen_within: Path, service: str, browser: Browser
) -> None:
    agent, customer, conversation_id = await _resolved_by_the_agent(service, browser)
    await _past_the_window(agent, service, conversation_id)
    await customer_says(customer, "a new question about invoices")
    await agent.locator('.tabs button[data-filter="mine"]').click()
    new_row = agent.locator('[data-testid="conversation"]', has_text="invoices")
    await expect(new_row).to_have_count(1)
    assert await new_row.get_attribute("data-id") != conversation_id
    # the one on screen stays resolved, and stays under Resolved
    await expect(agent.locator("#conv-meta")).to_contain_text("resolved")
    await expect(agent.locator('[data-testid="reopened"]')).to_have_count(0)
    await agent.locator('.tabs button[data-filter="resolved"]').click()
    await expect(agent.locator('[data-testid="conversation"]', has_text="invoices")).to_have_count(0)
    await expect(agent.locator(f'[data-testid="conversation"][data-id="{conversation_id}"]')).to_have_count(1)


async def _past_the_window(agent: Page, service: str, conversation_id: str) -> None:
    """Wait (polling, with a hang ceiling) until the service's clock is past the resolve plus the window."""
    cookies = {c["name"]: c["value"] for c in await agent.context.cookies()}
    async with aiohttp.ClientSession(cookies=cookies) as http:
        resp = await http.get(f"{service}/api/conversations/{conversation_id}")
        resolved_at = datetime.fromisoformat((await resp.json())["conversation"]["resolved_at"])
    loop = asyncio.get_running_loop()
    deadline = loop.time() + HANG
    while (datetime.now(resolved_at.tzinfo) - resolved_at).total_seconds() <= 2 * WINDOW:
        assert loop.time() < deadline, "the clock did not move past the window"
        await asyncio.sleep(0.1)
