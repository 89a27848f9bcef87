"""Live signals in the browser: a customer in the widget and an agent in the
console see each other typing; the agent's unread counts survive a reload;
the widget says "Seen"; and the console alerts (a sound and a desktop
notification) when a conversation is queued in the agent's team, as the
agent set them."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Browser, expect

from tests.e2e.conftest import ADMIN_PASSWORD, new_page, open_row
from tests.e2e.page_wait import until_true
from tests.e2e.test_conversation import agent_logs_in, customer_says, open_widget

CUSTOMER_TYPING = '[data-testid="typing-indicator"]'
AGENT_TYPING = '[data-omr="typing"]'
SEEN = '[data-omr="seen"]'

# Notification and <audio>.play recorded as the page calls them (the real ones still run)
SPY = """
window.__notes = [];
window.__sounds = 0;
const RealNotification = window.Notification;
if (RealNotification) {
  const Spy = function (title, options) {
    window.__notes.push({ title: String(title), body: options && options.body });
    return new RealNotification(title, options);
  };
  Object.defineProperty(Spy, "permission", { get: () => RealNotification.permission });
  Spy.requestPermission = (...args) => RealNotification.requestPermission(...args);
  window.Notification = Spy;
}
const realPlay = HTMLMediaElement.prototype.play;
HTMLMediaElement.prototype.play = function () {
  window.__sounds += 1;
  return realPlay.call(this).catch(() => {});
};
"""


@pytest.fixture
def teams_config(tmp_path: Path) -> Path:
    """admin is an agent of team support, where every conversation is queued."""
    (tmp_path / "teams.yaml").write_text(
        "teams: {support: {}}\nagents:\n  - {username: admin, teams: [support], capacity: {chat: 5}}\n",
        encoding="utf-8")
    (tmp_path / "rules.yaml").write_text("rules: []\ndefault: {queue: {team: support}}\n", encoding="utf-8")
    return tmp_path


async def test_customer_and_agent_see_each_other_typing(service: str, browser: Browser) -> None:
    agent, customer = await new_page(browser), await new_page(browser)
    await agent_logs_in(agent, service)
    await open_widget(customer, service)
    await customer_says(customer, "Здравствуйте, вопрос по заказу")
    await open_row(agent, "вопрос по заказу")

    # the customer types without sending: the agent sees it, and it goes away by itself
    await customer.locator('[data-omr="input"]').press_sequentially("Номер заказа")
    indicator = agent.locator(CUSTOMER_TYPING)
    await expect(indicator).to_be_visible()
    await expect(indicator).to_have_text(re.compile("typing|печатает"))
    await expect(indicator).to_be_hidden()

    # the agent types a reply: the widget shows it until the reply arrives
    await agent.locator('[data-testid="reply"]').press_sequentially("Сейчас посмотрю")
    typing = customer.locator(AGENT_TYPING)
    await expect(typing).to_be_visible()
    await agent.locator('[data-testid="reply"]').press("Enter")
    await expect(customer.locator('[data-omr="message"][data-author="agent"]')).to_have_text(["Сейчас посмотрю"])
    await expect(typing).to_be_hidden()


async def test_unread_counts_survive_a_reload_and_opening_reads(service: str, browser: Browser) -> None:
    agent, first, second = await new_page(browser), await new_page(browser), await new_page(browser)
    await agent_logs_in(agent, service)
    await open_widget(first, service)
    await customer_says(first, "Первый клиент: где заказ?")
    await customer_says(first, "Номер 1234")
    await open_widget(second, service)
    await customer_says(second, "Второй клиент здесь")

    found = agent.locator('[data-testid="conversation"]', has_text="Номер 1234")
    await expect(found).to_have_count(1)
    # by its id: the row's preview changes with each message
    row = agent.locator(f'[data-testid="conversation"][data-id="{await found.get_attribute("data-id")}"]')
    badge = row.locator('[data-testid="unread"]')
    await expect(badge).to_have_text("2")
    await agent.reload()
    await expect(badge).to_have_text("2")

    # taking the first customer's conversation reads it; then the agent looks at the second
    await row.click()
    await agent.locator('[data-testid="take"]').click()
    await expect(badge).to_be_hidden()
    await open_row(agent, "Второй клиент")
    # the second conversation on screen before the first customer writes: a message that comes while
    # the first is still the one open is read there (a loaded machine drew the click late)
    await expect(agent.locator('[data-testid="message"]')).to_have_count(1)
    await expect(agent.locator('[data-testid="message"]')).to_contain_text("Второй клиент здесь")
    await customer_says(first, "Алло?")
    await expect(badge).to_have_text("1")
    # the tab's title counts the agent's own conversations, and so does the reload's
    await expect(agent).to_have_title(re.compile(r"^\(1\) "))
    await agent.reload()
    await expect(badge).to_have_text("1")
    await expect(agent).to_have_title(re.compile(r"^\(1\) "))
    await row.click()
    await expect(badge).to_be_hidden()
    await expect(agent).not_to_have_title(re.compile(r"^\("))


async def test_the_widget_says_seen_once_the_agent_opened_the_conversation(service: str, browser: Browser) -> None:
    agent, customer = await new_page(browser), await new_page(browser)
    await agent_logs_in(agent, service)
    await open_widget(customer, service)
    await customer_says(customer, "Вы здесь?")
    seen = customer.locator(SEEN)
    await expect(customer.locator('[data-omr="message"][data-author="customer"]')).to_have_text(["Вы здесь?"])
    await expect(seen).to_have_count(0)

    await open_row(agent, "Вы здесь?")
    await expect(seen).to_have_count(1)
    await expect(seen).to_have_text(re.compile("Seen|Просмотрено"))
    await customer.reload()
    await customer.locator('[data-omr="launcher"]').click()
    await expect(seen).to_have_count(1)
    # a newer message is not seen until the agent reads it too
    await customer_says(customer, "Ещё вопрос")
    await expect(seen).to_have_count(0)


async def test_a_conversation_queued_in_my_team_rings_and_notifies_as_set(
        teams_config: Path, service: str, browser: Browser) -> None:
    context = await browser.new_context(permissions=["notifications"])
    await context.add_init_script(SPY)
    agent = await context.new_page()
    await agent_logs_in(agent, service)
    # desktop notifications are off until the agent turns them on
    await agent.locator('[data-testid="alerts"] summary').click()
    await agent.locator('[data-testid="alerts-desktop"]').check()
    await expect(agent.locator('[data-testid="alerts-desktop"]')).to_be_checked()

    customer = await new_page(browser)
    await open_widget(customer, service)
    await customer_says(customer, "Нужна помощь с возвратом")
    await until_true(agent, "window.__notes.length === 1")
    note = await agent.evaluate("window.__notes[0]")
    assert re.search("support", note["title"]) and "Нужна помощь с возвратом" in note["body"]
    assert await agent.evaluate("window.__sounds") == 1

    # the other scripts' hook (a mention), with the sound switched off
    await agent.locator('[data-testid="alerts-sound"]').uncheck()
    await agent.evaluate("window.consoleAlerts.notify('mention', 'Anna mentioned you', 'look at this')")
    assert await agent.evaluate("window.__notes.at(-1)") == {"title": "Anna mentioned you", "body": "look at this"}
    assert await agent.evaluate("window.__sounds") == 1
    # the switches are this browser's: still off after a reload
    await agent.reload()
    await agent.locator('[data-testid="alerts"] summary').click()
    await expect(agent.locator('[data-testid="alerts-sound"]')).not_to_be_checked()
    await expect(agent.locator('[data-testid="alerts-desktop"]')).to_be_checked()


async def test_an_agent_is_alerted_when_a_conversation_is_assigned_to_them(service: str, browser: Browser) -> None:
    # unsafe: the service is an IP address, whose cookies a jar refuses by default
    async with aiohttp.ClientSession(service, cookie_jar=aiohttp.CookieJar(unsafe=True)) as admin:
        assert (await admin.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD})).ok
        created = await admin.post("/api/agents", json={"username": "anna", "display_name": "Anna",
                                                        "password": "anna password", "role": "agent"})
        anna_id = (await created.json())["agent"]["id"]
        context = await browser.new_context(permissions=["notifications"])
        await context.add_init_script(SPY)
        agent = await context.new_page()
        await agent.goto(service + "/")
        form = agent.locator('[data-testid="login-form"]')
        await form.locator('input[name="username"]').fill("anna")
        await form.locator('input[name="password"]').fill("anna password")
        await form.locator('input[name="password"]').press("Enter")
        await expect(agent.locator('[data-testid="alerts"]')).to_be_visible()

        customer = await new_page(browser)
        await open_widget(customer, service)
        await customer_says(customer, "Позовите Анну")
        await expect(agent.locator('[data-testid="conversation"]', has_text="Позовите Анну")).to_have_count(1)
        conversations = (await (await admin.get("/api/conversations")).json())["conversations"]
        resp = await admin.post(f"/api/conversations/{conversations[0]['id']}/assign", json={"agent_id": anna_id})
        assert resp.ok
        await until_true(agent, "window.__sounds === 1")
        assert await agent.evaluate("window.__notes.length") == 0  # desktop notifications were not turned on


async def test_typing_a_private_note_tells_the_customer_nothing(service: str, browser: Browser) -> None:
    context = await browser.new_context()
    # every "agent is typing" the console sends, counted as it goes
    await context.add_init_script("""
        window.__typing = 0;
        const realFetch = window.fetch;
        window.fetch = (url, init) => {
          if (String(url).endsWith("/typing")) window.__typing += 1;
          return realFetch(url, init);
        };
    """)
    agent, customer = await context.new_page(), await new_page(browser)
    await agent_logs_in(agent, service)
    await open_widget(customer, service)
    await customer_says(customer, "Вопрос про доставку")
    await open_row(agent, "Вопрос про доставку")

    await agent.locator('[data-testid="mode-note"]').click()
    await agent.locator('[data-testid="reply"]').press_sequentially("Клиент из Казани, проверить склад")
    assert await agent.evaluate("window.__typing") == 0
    await agent.locator('[data-testid="reply"]').fill("")
    await agent.locator('[data-testid="mode-reply"]').click()
    await agent.locator('[data-testid="reply"]').press_sequentially("Сейчас проверю")
    await until_true(agent, "window.__typing >= 1")  # the same box, as a reply, does
    await expect(customer.locator(AGENT_TYPING)).to_be_visible()
