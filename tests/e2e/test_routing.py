"""Routing in the browser: an agent goes online, gets the conversation the
rules queued, and the console says why it is there."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, Route, expect

from tests.conftest import HANG, eventually
from tests.e2e.test_conversation import agent_logs_in, customer_says, open_widget

LONG_QUESTION = "My parcel 1234 arrived damaged and I would like a refund to my card, not store credit. " * 3


@pytest.fixture
def routed_config(tmp_path: Path) -> Path:
    """rules.yaml and teams.yaml in the service's config folder (before ``service`` starts)."""
    (tmp_path / "teams.yaml").write_text(
        "teams: {support: {}, billing: {}}\nagents:\n  - {username: admin, teams: [support], capacity: {chat: 2}}\n",
        encoding="utf-8",
    )
    (tmp_path / "rules.yaml").write_text(
        "rules:\n  - name: long stories go to people\n    when: text.length > 100\n"
        "    queue: {team: support, priority: 50}\ndefault: {queue: {team: support}}\n",
        encoding="utf-8",
    )
    return tmp_path


async def test_online_agent_gets_the_queued_conversation_and_sees_why(
    routed_config: Path, service: str, browser: Browser
) -> None:
    agent = await (await browser.new_context()).new_page()
    customer = await (await browser.new_context()).new_page()
    await agent_logs_in(agent, service)
    await open_widget(customer, service)
    await customer_says(customer, LONG_QUESTION)

    presence = agent.locator('[data-testid="presence"]')
    await expect(presence).to_have_value("offline")
    await presence.select_option("online")
    # the assigner hands it over: it shows under "Mine"
    await agent.locator('.tabs button[data-filter="mine"]').click()
    row = agent.locator('[data-testid="conversation"]', has_text="My parcel 1234")
    await expect(row).to_have_count(1)
    await row.click()
    await agent.locator('[data-testid="why"] summary').click()
    why = agent.locator('[data-testid="why-body"]')
    await expect(why).to_contain_text("→ team support priority 50")
    await expect(why).to_contain_text("✓ long stories go to people")
    await expect(why).to_contain_text("true    text.length > 100")

    # and hands it over to another team's queue
    conversation_id = await row.get_attribute("data-id")
    await agent.locator('[data-testid="transfer"]').select_option("billing")
    url = f"{service}/api/conversations/{conversation_id}"

    async def moved() -> dict[str, Any] | None:
        conv: dict[str, Any] = (await (await agent.request.get(url)).json())["conversation"]
        return conv if conv["team"] == "billing" else None

    conv = await eventually(moved, "the conversation to move to billing")
    assert (conv["team"], conv["status"], conv["agent_id"]) == ("billing", "queued", None)


async def test_a_presence_picked_while_the_console_still_reads_it_is_not_undone(service: str, browser: Browser) -> None:
    """On a slow network the console's first read of presence can come back after the agent has
    already picked one: the older answer must not put the select back to offline."""
    agent = await (await browser.new_context()).new_page()
    asked, release = asyncio.Event(), asyncio.Event()

    async def hold_reads(route: Route) -> None:
        if route.request.method != "GET":
            await route.continue_()
            return
        answer = await route.fetch()  # read now, before the pick; handed to the page later
        asked.set()
        await release.wait()
        await route.fulfill(response=answer)

    await agent.route("**/api/presence", hold_reads)
    await agent_logs_in(agent, service)
    await asyncio.wait_for(asked.wait(), HANG)
    presence = agent.locator('[data-testid="presence"]')
    await expect(presence).to_have_attribute("aria-busy", "true")
    await presence.select_option("online")

    async def online() -> bool:
        resp = await agent.request.get(f"{service}/api/presence")
        return "online" in await resp.text()

    await eventually(online, "the agent's pick to reach the server")
    release.set()  # the read made before the pick answers now, with "offline"
    await expect(presence).not_to_have_attribute("aria-busy", "true")
    await expect(presence).to_have_value("online")


async def test_the_top_bar_shows_a_presence_changed_in_another_tab(service: str, browser: Browser) -> None:
    """Set away in another tab (or by a supervisor): this console's select says so without a reload,
    not "online" while no conversation will come."""
    agent = await (await browser.new_context()).new_page()
    await agent_logs_in(agent, service)
    presence = agent.locator('[data-testid="presence"]')
    await expect(presence).to_have_value("offline")
    await expect(agent.locator('[data-testid="live"]')).to_have_attribute("data-state", "online")
    other_tab = await (await browser.new_context()).new_page()
    await agent_logs_in(other_tab, service)
    for chosen in ("away", "online"):
        resp = await other_tab.request.post(f"{service}/api/presence", data={"presence": chosen})
        assert resp.ok, await resp.text()
        await expect(presence).to_have_value(chosen)


async def test_a_new_tab_shows_the_presence_the_agent_already_has(service: str, browser: Browser) -> None:
    """An agent already away opens the console in a new tab: its top bar says away (read at load; the
    change was made before that tab's live socket opened, so no event tells it), not the select's
    default of offline, or "online" would be one click from a queue they did not mean to take."""
    context = await browser.new_context()
    first = await context.new_page()
    await agent_logs_in(first, service)
    resp = await first.request.post(f"{service}/api/presence", data={"presence": "away"})
    assert resp.ok, await resp.text()
    second = await context.new_page()
    await second.goto(service + "/")
    presence = second.locator('[data-testid="presence"]')
    await expect(second.locator('[data-testid="live"]')).to_have_attribute("data-state", "online")
    await expect(presence).not_to_have_attribute("aria-busy", "true")
    await expect(presence).to_have_value("away")


async def presence_on_the_server(page: Page, service: str) -> str:
    rows = (await (await page.request.get(f"{service}/api/presence")).json())["presence"]
    return str(rows[0]["presence"]) if rows else "offline"


async def test_go_online_in_the_sign_in_prompt_is_not_undone_by_an_older_read(service: str, browser: Browser) -> None:
    """The prompt's "Go online" answered before the console's first read of presence came back
    (and before its live socket opened, so no event says it either): the select stays online."""
    agent = await (await browser.new_context()).new_page()
    reads, asked, release, socket_may_open = 0, asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def hold_the_first_read(route: Route) -> None:
        nonlocal reads
        if route.request.method != "GET" or (reads := reads + 1) != 1:  # the prompt's own read comes second
            await route.continue_()
            return
        answer = await route.fetch()  # "offline", read now; handed to the page after the pick
        asked.set()
        await release.wait()
        await route.fulfill(response=answer)

    async def hold_agents(route: Route) -> None:  # the console opens its socket after reading them
        await socket_may_open.wait()
        await route.continue_()

    await agent.route("**/api/presence", hold_the_first_read)
    await agent.route("**/api/agents", hold_agents)
    await agent_logs_in(agent, service)
    await asyncio.wait_for(asked.wait(), HANG)
    await agent.locator('[data-testid="presence-prompt-online"]').click()
    await expect(agent.locator('[data-testid="presence-prompt"]')).to_have_count(0)
    presence = agent.locator('[data-testid="presence"]')
    await expect(presence).to_have_value("online")
    assert await presence_on_the_server(agent, service) == "online"
    release.set()
    await expect(presence).not_to_have_attribute("aria-busy", "true")
    # the older read has been handled: what it did is on screen now, before any socket could mend it
    assert await presence.input_value() == "online"
    socket_may_open.set()


async def test_a_presence_changed_while_the_live_socket_was_down_shows_once_it_is_back(
    service: str, browser: Browser
) -> None:
    agent = await (await browser.new_context()).new_page()
    await agent_logs_in(agent, service)
    presence = agent.locator('[data-testid="presence"]')
    live = agent.locator('[data-testid="live"]')
    await expect(live).to_have_attribute("data-state", "online")
    await expect(presence).not_to_have_attribute("aria-busy", "true")
    await expect(presence).to_have_value("offline")
    asked, held = asyncio.Event(), asyncio.Event()

    async def hold_me(route: Route) -> None:  # the console asks who it is before it opens the socket again
        asked.set()
        await held.wait()
        await route.continue_()

    await agent.route("**/api/me", hold_me)
    await agent.evaluate("() => state.ws.close()")  # the network dropped it
    await expect(live).to_have_attribute("data-state", "offline")
    await asyncio.wait_for(asked.wait(), HANG)
    other_tab = await (await browser.new_context()).new_page()
    await agent_logs_in(other_tab, service)
    resp = await other_tab.request.post(f"{service}/api/presence", data={"presence": "away"})
    assert resp.ok, await resp.text()  # told while this console had no socket: no event reaches it
    held.set()
    await expect(live).to_have_attribute("data-state", "online")
    await expect(presence).to_have_value("away")
