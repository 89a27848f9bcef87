"""An agent's shift in the console, in Chromium, against the real service with
Telegram customers (the local fake): the console's live socket drops while
customers keep writing, and what the agent sees once it is back; a message
that arrives while a conversation's history is still loading."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Browser, Locator, Page, Route, expect

from connectors.telegram import SECRET_HEADER
from tests.conftest import eventually
from tests.connectors import test_telegram as tg
from tests.e2e.conftest import TELEGRAM_ENV, new_page, running_service, server_yaml
from tests.e2e.socket_line import SocketLine
from tests.e2e.test_conversation import agent_logs_in
from tests.e2e.topbar import from_more
from tests.fakes.telegram_api import FakeTelegram

ANNA, BORIS = 7001, 7002
LIVE = '[data-testid="live"]'
SAID = '[data-testid="message"][data-author="customer"] [data-testid="message-text"]'


@pytest.fixture
async def shift(tmp_path: Path, telegram_api: FakeTelegram) -> AsyncIterator[str]:
    def config(port: int) -> str:
        return server_yaml(port, tmp_path) + (
            f"connectors:\n  telegram:\n    type: telegram\n    api_base: {telegram_api.base_url}\n")

    async with running_service(tmp_path, config, TELEGRAM_ENV) as base:
        yield base


async def writes(base: str, user: int, message_id: int, text: str) -> None:
    """A Telegram customer's message, as Telegram delivers it to the webhook."""
    async with aiohttp.ClientSession() as http, http.post(
        base + tg.PATH, json=tg.text_update(message_id, text, user), headers={SECRET_HEADER: tg.SECRET}
    ) as resp:
        assert resp.status == 200, await resp.text()


class ConsoleLine(SocketLine):
    """The console's live socket (tests/e2e/socket_line.py)."""


async def row_of(page: Page, text: str) -> Locator:
    """The list's row of the conversation whose row shows ``text`` now, by its id
    (its preview changes with each message)."""
    found = page.locator('[data-testid="conversation"]', has_text=text)
    await expect(found).to_have_count(1)
    return page.locator(f'[data-testid="conversation"][data-id="{await found.get_attribute("data-id")}"]')


async def test_unread_counts_take_in_what_came_while_the_live_socket_was_down(shift: str, browser: Browser) -> None:
    line = ConsoleLine()
    agent = await new_page(browser)
    await agent.route_web_socket("**/api/ws", line.connect)
    await agent_logs_in(agent, shift)
    await writes(shift, ANNA, 1, "Анна: где мой заказ?")
    await writes(shift, BORIS, 1, "Борис: здравствуйте")
    anna = await row_of(agent, "Анна: где мой заказ?")
    await expect(anna.locator('[data-testid="unread"]')).to_have_text("1")
    await (await row_of(agent, "Борис")).click()
    await expect(agent.locator(SAID)).to_have_text(["Борис: здравствуйте"])

    await line.cut()
    await expect(agent.locator(LIVE)).to_have_attribute("data-state", "offline")
    await writes(shift, ANNA, 2, "Анна: алло?")
    await writes(shift, ANNA, 3, "Анна: вы здесь?")
    line.up = True

    # back: the row shows her last word, and counts the three she wrote, not the one seen before the drop
    await expect(agent.locator(LIVE)).to_have_attribute("data-state", "online")
    await expect(anna).to_contain_text("Анна: вы здесь?")
    await expect(anna.locator('[data-testid="unread"]')).to_have_text("3")
    # and it goes on counting live
    await writes(shift, ANNA, 4, "Анна: ответьте, пожалуйста")
    await expect(anna.locator('[data-testid="unread"]')).to_have_text("4")


async def test_a_reconnection_leaves_the_agents_work_in_the_open_conversation_as_it_was(
        shift: str, browser: Browser, tmp_path: Path) -> None:
    line = ConsoleLine()
    agent = await new_page(browser)
    await agent.route_web_socket("**/api/ws", line.connect)
    await agent_logs_in(agent, shift)
    await writes(shift, ANNA, 1, "Анна: пришлите счёт")
    row = await row_of(agent, "Анна: пришлите счёт")
    await row.click()
    await expect(agent.locator(SAID)).to_have_text(["Анна: пришлите счёт"])
    # a reply being written: a file picked for it, its words, and the agent gone to look something up
    invoice = tmp_path / "счёт.pdf"
    invoice.write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    await agent.locator('[data-testid="attach-input"]').set_input_files(str(invoice))
    ready = agent.locator('[data-testid="composer-file"][data-state="ready"]')
    await expect(ready).to_have_count(1)
    await agent.locator('[data-testid="reply"]').fill("Вот ваш счёт")
    search = agent.locator('[data-testid="search-input"]')
    await search.focus()

    await line.cut()
    await expect(agent.locator(LIVE)).to_have_attribute("data-state", "offline")
    await writes(shift, ANNA, 2, "Анна: жду")
    line.up = True

    await expect(agent.locator(SAID)).to_have_text(["Анна: пришлите счёт", "Анна: жду"])
    await expect(agent.locator(LIVE)).to_have_attribute("data-state", "online")
    await expect(ready).to_have_count(1)
    await expect(agent.locator('[data-testid="reply"]')).to_have_value("Вот ваш счёт")
    await expect(search).to_be_focused()
    # what came meanwhile is read, as it is on screen: none of it unread after a reload
    conversation = await row.get_attribute("data-id")

    async def read() -> bool:
        resp = await agent.request.get(f"{shift}/api/unread?ids={conversation}")
        return bool((await resp.json())["unread"].get(conversation) == 0)

    await eventually(read, "the messages that came while the socket was down marked read")


async def test_a_message_that_comes_while_the_history_loads_is_drawn_after_it(shift: str, browser: Browser) -> None:
    agent = await new_page(browser)
    await agent_logs_in(agent, shift)
    for n in range(1, 4):
        await writes(shift, ANNA, n, f"Анна, сообщение {n}")
    row = await row_of(agent, "Анна, сообщение 3")

    # the history's answer held back until the customer's next message has reached the console
    held: list[Route] = []

    async def hold(route: Route) -> None:
        if held:
            await route.continue_()
        else:
            held.append(route)

    await agent.route("**/api/conversations/*/messages", hold)
    await row.click()

    async def asked() -> bool:
        return bool(held)

    await eventually(asked, "the console asking for the history")
    await writes(shift, ANNA, 4, "Анна, сообщение 4")
    await expect(row).to_contain_text("Анна, сообщение 4")  # the live event is in the page
    await held[0].continue_()

    # the thread in the order she wrote it, each once
    await expect(agent.locator(SAID)).to_have_text([f"Анна, сообщение {n}" for n in range(1, 5)])


async def test_a_connection_that_died_without_a_close_is_noticed_and_replaced(shift: str, browser: Browser) -> None:
    line = ConsoleLine()
    agent = await new_page(browser)
    await agent.clock.install()  # the console's pings run on this clock: the test moves it on
    await agent.route_web_socket("**/api/ws", line.connect)
    await agent_logs_in(agent, shift)
    await writes(shift, ANNA, 1, "Анна: где мой заказ?")
    await (await row_of(agent, "Анна: где мой заказ?")).click()
    await expect(agent.locator(SAID)).to_have_text(["Анна: где мой заказ?"])
    await expect(agent.locator(LIVE)).to_have_attribute("data-state", "online")

    line.go_silent()
    await writes(shift, ANNA, 2, "Анна: алло?")
    await agent.clock.run_for(2 * 60_000)  # pings unanswered: two minutes of them

    # a new connection, and what she wrote meanwhile, once
    await expect(agent.locator(SAID)).to_have_text(["Анна: где мой заказ?", "Анна: алло?"])
    await expect(agent.locator(LIVE)).to_have_attribute("data-state", "online")
    await writes(shift, ANNA, 3, "Анна: вы здесь?")
    await expect(agent.locator(SAID)).to_have_text(["Анна: где мой заказ?", "Анна: алло?", "Анна: вы здесь?"])


@pytest.mark.parametrize(("locale", "offline"), [("en-US", "Reconnecting…"), ("ru-RU", "Переподключаемся…")])
async def test_the_console_says_so_while_the_computer_is_offline(
        shift: str, browser: Browser, locale: str, offline: str) -> None:
    context = await browser.new_context(locale=locale)
    agent = await context.new_page()
    await agent_logs_in(agent, shift)
    await writes(shift, ANNA, 1, "Анна: где мой заказ?")
    await (await row_of(agent, "Анна: где мой заказ?")).click()
    await expect(agent.locator(SAID)).to_have_text(["Анна: где мой заказ?"])
    await agent.locator('[data-testid="reply"]').fill("Сейчас посмотрю")
    live = agent.locator(LIVE)
    online = await live.inner_text()

    await context.set_offline(True)  # a laptop's Wi-Fi gone
    await expect(live).to_have_attribute("data-state", "offline")
    await expect(live).to_have_text(offline)
    await writes(shift, ANNA, 2, "Анна: алло?")
    await context.set_offline(False)

    await expect(live).to_have_attribute("data-state", "online")
    await expect(live).to_have_text(online)
    await expect(agent.locator(SAID)).to_have_text(["Анна: где мой заказ?", "Анна: алло?"])
    await expect(agent.locator('[data-testid="reply"]')).to_have_value("Сейчас посмотрю")  # the draft kept


@pytest.mark.parametrize(("locale", "said"), [("en-US", "Your session has ended"), ("ru-RU", "Ваш сеанс завершился")])
async def test_a_session_that_ended_mid_shift_is_said_on_the_sign_in(
        shift: str, browser: Browser, locale: str, said: str) -> None:
    agent = await (await browser.new_context(locale=locale)).new_page()
    await agent_logs_in(agent, shift)
    await writes(shift, ANNA, 1, "Анна: где мой заказ?")
    await (await row_of(agent, "Анна: где мой заказ?")).click()
    await agent.locator('[data-testid="reply"]').fill("Сейчас посмотрю")
    notice = agent.locator('[data-testid="login-notice"]')

    # the session ends elsewhere (a logout with the same cookie): the sign-in says why it is there
    assert (await agent.request.post(f"{shift}/api/logout", data={})).status == 204
    await expect(agent.locator('[data-testid="login-form"]')).to_be_visible()
    await expect(notice).to_be_visible()
    await expect(notice).to_contain_text(said)
    await expect(agent.locator('[data-testid="reply"]')).to_have_value("")  # a shared desk keeps nothing

    # signed in again, then the agent's own Log out: no word of an ended session
    await agent_logs_in(agent, shift)
    await (await from_more(agent, "logout")).click()
    await expect(agent.locator('[data-testid="login-form"]')).to_be_visible()
    await expect(notice).to_be_hidden()
