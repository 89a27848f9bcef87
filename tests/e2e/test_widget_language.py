"""The widget speaks the customer's language: Russian on a Russian page (and
by default), English on an English one, unless the site names one."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from playwright.async_api import Browser, Page, Route, expect

PAGE = '<!doctype html><html lang="{lang}"><head><meta charset="utf-8"></head><body>{script}</body></html>'


async def shop_page(browser: Browser, base: str, lang: str, script: str = "", zone: str | None = None) -> Page:
    """A site of the customer's own at ``base``/shop, embedding the widget (the browser in ``zone``)."""
    page = await (await browser.new_context(locale="en-US", timezone_id=zone)).new_page()
    html = PAGE.format(lang=lang, script=script or '<script src="/chat/widget.js"></script>')

    async def serve(route: Route) -> None:
        await route.fulfill(body=html, content_type="text/html; charset=utf-8")

    await page.route(f"{base}/shop", serve)
    await page.goto(f"{base}/shop")
    await page.locator('[data-omr="launcher"]').click()
    return page


@pytest.mark.parametrize(("lang", "script", "placeholder", "send", "title", "too_long"), [
    # the limit written as the language writes a number
    ("ru", "", "Напишите сообщение…", "Отправить", "Напишите нам",
     "Сообщение слишком длинное (не больше 10 000 символов)"),
    ("ru-RU", "", "Напишите сообщение…", "Отправить", "Напишите нам", "Сообщение слишком длинное"),
    ("en", "", "Type a message…", "Send", "Chat with us", "The message is too long (at most 10,000 characters)"),
    # the site's choice wins over the page's language; a language we do not speak falls back to Russian
    ("en", '<script src="/chat/widget.js" data-lang="ru"></script>', "Напишите сообщение…", "Отправить",
     "Напишите нам", "Сообщение слишком длинное"),
    ("de", "", "Type a message…", "Send", "Chat with us", "The message is too long"),  # the browser's en-US
])
async def test_the_widget_speaks_the_page_language(
    service: str, browser: Browser, lang: str, script: str, placeholder: str, send: str, title: str,
    too_long: str,
) -> None:
    page = await shop_page(browser, service, lang, script)
    await expect(page.locator('[data-omr="input"]')).to_have_attribute("placeholder", placeholder)
    await expect(page.locator('[data-omr="send"]')).to_have_text(send)
    await expect(page.locator(".omr-title")).to_have_text(title)
    await page.evaluate("window.OmnirouterChat.send('x'.repeat(10001))")
    await expect(page.locator('[data-omr="note"]')).to_contain_text(too_long)



@pytest.mark.parametrize(("lang", "clock"), [("ru", r"^1[78]:\d\d$"), ("en", r"^[56]:\d\d\sPM$")])
async def test_the_widget_writes_a_messages_time_as_its_language_does(
    service: str, browser: Browser, lang: str, clock: str,
) -> None:
    """Under each message its time, the language's own short time: «17:05», "5:05 PM" (not "05:05 PM").
    The visitor's zone is the one where it is five in the afternoon now (six, should the hour turn)."""
    hours = (17 - datetime.now(UTC).hour) % 24
    # POSIX's sign: Etc/GMT-3 is three hours ahead of UTC
    zone = "Etc/GMT" if hours == 0 else f"Etc/GMT{-hours:+d}" if hours <= 14 else f"Etc/GMT{24 - hours:+d}"
    page = await shop_page(browser, service, lang, zone=zone)
    await page.evaluate("window.OmnirouterChat.send('Hello')")
    message = page.locator('[data-omr="message"][data-author="customer"]')
    await expect(message).to_have_count(1)
    shown = (await message.get_attribute("data-time") or "").replace("\u202f", " ")
    assert re.match(clock, shown), shown
