"""An error that is not the API's own, in Chromium: a proxy's 502 page (not
JSON) and no answer at all (the network down) are shown in the console's
language, from the catalogue, never as "502 Bad Gateway" or "Failed to fetch"."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Browser, Route, WebSocketRoute, expect

from tests.e2e.conftest import ADMIN_PASSWORD
from tests.e2e.test_conversation import agent_logs_in, customer_says, open_widget

CATALOGUES = Path(__file__).parents[2] / "agents_ui" / "i18n"


def catalogue(lang: str) -> dict[str, dict[str, str]]:
    return json.loads((CATALOGUES / f"{lang}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("locale", ["ru-RU", "en-US"])
async def test_a_proxys_page_and_a_network_failure_are_shown_in_the_consoles_language(
        service: str, browser: Browser, locale: str) -> None:
    errors = catalogue(locale[:2])["errors"]
    page = await (await browser.new_context(locale=locale)).new_page()
    await agent_logs_in(page, service)
    box = page.locator('[data-testid="search-input"]')
    shown = page.locator('[data-testid="search-error"]')

    async def proxy(route: Route) -> None:
        await route.fulfill(status=502, content_type="text/html", body="<html><h1>502 Bad Gateway</h1></html>")

    await page.route("**/api/search?*", proxy)
    await box.fill("заказ")
    await box.press("Enter")
    await expect(shown).to_have_text(errors["unknown"])

    await page.unroute("**/api/search?*")
    await page.route("**/api/search?*", lambda route: route.abort("internetdisconnected"))
    await box.fill("доставка")
    await box.press("Enter")
    await expect(shown).to_have_text(errors["network"])


@pytest.mark.parametrize("locale", ["ru-RU", "en-US"])
async def test_a_reply_refused_by_the_conversations_state_says_why_in_the_consoles_language(
        service: str, browser: Browser, locale: str) -> None:
    """A reply to a conversation resolved meanwhile (another tab, a colleague)
    showed the server's "the conversation is resolved" in a Russian console."""
    visitor = await (await browser.new_context()).new_page()
    await open_widget(visitor, service)
    await customer_says(visitor, "Где мой заказ?")
    page = await (await browser.new_context(locale=locale)).new_page()
    live = {"on": True}  # the console's live events; off: they lag behind (a slow network, a busy server)

    def relay(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()
        server.on_message(lambda frame: ws.send(frame) if live["on"] else None)

    await page.route_web_socket("**/api/ws", relay)
    await agent_logs_in(page, service)
    row = page.locator('[data-testid="conversation"]', has_text="Где мой заказ?")
    await row.click()
    await expect(page.locator('[data-testid="reply"]')).to_be_visible()
    live["on"] = False
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:  # resolved elsewhere
        async with http.post(f"{service}/api/login", json={"username": "admin", "password": ADMIN_PASSWORD}) as resp:
            assert resp.status == 200
        async with http.get(f"{service}/api/conversations?status=all") as resp:
            [conversation] = (await resp.json())["conversations"]
        async with http.post(f"{service}/api/conversations/{conversation['id']}/resolve", json={}) as resp:
            assert resp.status == 200
    await page.locator('[data-testid="reply"]').fill("Сейчас проверю")
    await page.locator('[data-testid="send"]').click()
    await expect(page.locator("#reply-error")).to_have_text(catalogue(locale[:2])["errors"]["conflict_resolved"])


@pytest.mark.parametrize(("limit", "ru", "en"), [
    (1, "Имя: не короче 1 символа.", "Имя: at least 1 character."),
    (3, "Имя: не короче 3 символов.", "Имя: at least 3 characters."),
    (21, "Имя: не короче 21 символа.", "Имя: at least 21 characters."),
])
async def test_a_length_limit_agrees_with_its_number(service: str, browser: Browser, limit: int, ru: str,
                                                     en: str) -> None:
    """«не короче 1 символов»: the limits' words had one form for every number."""
    for locale, expected in (("ru-RU", ru), ("en-US", en)):
        page = await (await browser.new_context(locale=locale)).new_page()
        await agent_logs_in(page, service)
        shown = await page.evaluate("(limit) => window.i18n.error({code: 'invalid', details: "
                                    "{field: 'Имя', problem: 'string_too_short', min_length: limit}})", limit)
        assert shown == expected


@pytest.mark.parametrize(("locale", "expected"), [
    ("ru-RU", "Не доставлено: попытки кончились (8): telegram: the Bot API could not be reached "
              "(клиент уже получил 2 части сообщения)"),
    ("en-US", "Not delivered: gave up after 8 attempts: telegram: the Bot API could not be reached "
              "(the customer has 2 parts of it already)"),
])
async def test_why_a_message_was_not_delivered_is_framed_in_the_consoles_language(
        service: str, browser: Browser, locale: str, expected: str) -> None:
    """The outbox's own words around a platform's were English in a Russian console."""
    page = await (await browser.new_context(locale=locale)).new_page()
    await agent_logs_in(page, service)
    reason = ("gave up after 8 attempts: telegram: the Bot API could not be reached"
              " (after 2 part(s) of it had been delivered)")
    shown = await page.evaluate("(reason) => t('delivery.failed', {reason: window.i18n.deliveryReason(reason)})",
                                reason)
    assert shown == expected


@pytest.mark.parametrize(("locale", "blocked", "unavailable"), [
    ("ru-RU", "Не доставлено: клиент заблокировал нас или не принимает наши сообщения в этом канале: "
              "напишите ему в другом",
     "Не доставлено: попытки кончились (15): сервис канала не отвечал или возвращал ошибки "
     "(клиент уже получил 1 часть сообщения)"),
    ("en-US", "Not delivered: the customer has blocked us or does not accept our messages on this channel: "
              "write to them on another one",
     "Not delivered: gave up after 15 attempts: the channel's service did not answer or kept failing "
     "(the customer has 1 part of it already)"),
])
async def test_why_a_message_was_not_delivered_is_said_in_the_agents_words_not_the_platforms(
        service: str, browser: Browser, locale: str, blocked: str, unavailable: str) -> None:
    """«Не доставлено: telegram: Telegram server says - Forbidden: bot was blocked by the user»: the
    platform's English and codes in a Russian console. The cause a connector gives is said in the
    console's language; the platform's words stay in the stored reason for whoever digs."""
    page = await (await browser.new_context(locale=locale)).new_page()
    await agent_logs_in(page, service)
    said = "(reason) => t('delivery.failed', {reason: window.i18n.deliveryReason(reason)})"
    reason = "[blocked] telegram: Telegram server says - Forbidden: bot was blocked by the user"
    assert await page.evaluate(said, reason) == blocked
    assert await page.evaluate("(reason) => window.i18n.deliveryDetail(reason)", reason) == (
        "telegram: Telegram server says - Forbidden: bot was blocked by the user")
    reason = ("gave up after 15 attempts: [unavailable] telegram: the Bot API's answer could not be read"
              " (after 1 part(s) of it had been delivered)")
    assert await page.evaluate(said, reason) == unavailable
