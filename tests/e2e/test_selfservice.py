"""Self-service linking as a customer lives it (issue 19, part 1): known on
WhatsApp, they open the site chat with their phone; the bot offers a code,
the code arrives on WhatsApp (the local Twilio fake) and nowhere else, and
typing it in the widget shows the WhatsApp history, hidden until then.
Real service process, real Chromium."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.conftest import eventually
from tests.connectors.twilio_helpers import CUSTOMER, whatsapp_form
from tests.e2e.conftest import TWILIO_ENV, running_service, site_chat_and_whatsapp
from tests.e2e.test_conversation import customer_says
from tests.e2e.test_twilio_console import twilio_posts
from tests.e2e.test_widget_language import shop_page
from tests.fakes.twilio_api import Call, FakeTwilio

NOBODY = "+79261234567"
SECRET = "Мой заказ 1234 — где он?"
WRONG = "Код не подошёл. Осталось попыток: {left}."
EXPIRED = "Срок действия кода истёк. Новый код может отправить наш сотрудник — просто попросите."
DEAD = ("Слишком много неверных попыток: этот код больше не действует. Новый код может отправить наш "
        "сотрудник — просто попросите.")
LINKED = "Готово: мы связали ваши обращения. Продолжим с того места, где вы остановились."
DECLINED = "Хорошо, не будем. Чем можем помочь?"
BOT = '[data-omr="message"][data-author="bot"]'
ALL = '[data-omr="message"]'


def offer(number: str) -> str:
    return (f"Если номер {number} уже есть у нас, мы отправили на него код. Введите его здесь — и продолжим "
            "с того места, где вы остановились. Не нужно — напишите «нет, спасибо».")


@pytest.fixture
def identity_yaml() -> str:
    """config/identity.yaml of the service: a test overrides it."""
    return ""


@pytest.fixture
async def service(tmp_path: Path, twilio_api: FakeTwilio, identity_yaml: str) -> AsyncIterator[str]:
    """The site chat and WhatsApp (through the Twilio fake), in one service process."""
    if identity_yaml:
        (tmp_path / "identity.yaml").write_text(identity_yaml, encoding="utf-8")
    async with running_service(tmp_path, site_chat_and_whatsapp(tmp_path, twilio_api.base_url), TWILIO_ENV) as base:
        yield base


async def visitor(browser: Browser, base: str, phone: str) -> Page:
    """The site chat on a shop's page that passes the customer's phone in the widget's hello."""
    return await shop_page(browser, base, "ru", f'<script src="/chat/widget.js" data-phone="{phone}"></script>')


async def known_on_whatsapp(base: str) -> None:
    await twilio_posts(base, "whatsapp", whatsapp_form(SECRET))


async def greets(browser: Browser, base: str, phone: str) -> Page:
    """The customer known on WhatsApp greets the site chat of a shop's page that passes ``phone``."""
    await known_on_whatsapp(base)
    page = await visitor(browser, base, phone)
    await types(page, "Здравствуйте")
    return page


async def the_code(twilio_api: FakeTwilio) -> str:
    async def sent() -> list[Call] | None:
        return twilio_api.sent() or None

    [call] = await eventually(sent, "the code on WhatsApp")
    assert call.get("To") == f"whatsapp:{CUSTOMER}"
    return re.findall(r"\d{6}", call.get("Body") or "")[0]


async def types(page: Page, text: str) -> None:
    """The customer sends ``text`` and the service has taken it (the widget shows it acknowledged)."""
    await customer_says(page, text)
    await expect(page.locator('[data-omr="message"][data-pending="true"]')).to_have_count(0)


def wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


async def test_the_code_sent_to_whatsapp_links_the_site_chat_and_shows_the_whatsapp_history(
    service: str, browser: Browser, twilio_api: FakeTwilio
) -> None:
    page = await greets(browser, service, "8 912 345-67-89")
    await expect(page.locator(BOT)).to_have_text([offer(CUSTOMER)])
    code = await the_code(twilio_api)
    # before the proof the site chat shows nothing of WhatsApp's, not even after a reload
    await page.reload()
    await page.locator('[data-omr="launcher"]').click()
    await expect(page.locator(ALL)).to_have_text(["Здравствуйте", offer(CUSTOMER)])
    await expect(page.locator(ALL, has_text=code)).to_have_count(0)  # the code is on WhatsApp only

    await types(page, code)
    await expect(page.locator(BOT).last).to_have_text(LINKED)
    await expect(page.locator(ALL).first).to_have_text(SECRET)  # the WhatsApp history, shown at once
    await expect(page.locator(ALL, has_text=SECRET)).to_have_count(1)
    assert len(twilio_api.sent()) == 1  # the code went to WhatsApp once, and nothing else went there


async def test_wrong_codes_are_counted_and_too_many_kill_the_code(
    service: str, browser: Browser, twilio_api: FakeTwilio
) -> None:
    page = await greets(browser, service, CUSTOMER)
    code = await the_code(twilio_api)
    for left in (4, 3, 2, 1):
        await types(page, wrong(code))
        await expect(page.locator(BOT).last).to_have_text(WRONG.format(left=left))
    await types(page, wrong(code))
    await expect(page.locator(BOT).last).to_have_text(DEAD)
    await types(page, code)  # right, but too late: nothing is linked or shown
    await expect(page.locator(BOT)).to_have_count(6)
    await expect(page.locator(ALL, has_text=SECRET)).to_have_count(0)


@pytest.mark.parametrize("identity_yaml", ["verification:\n  ttl_seconds: 0.001\n"])
async def test_an_expired_code_is_told_and_links_nothing(
    service: str, browser: Browser, twilio_api: FakeTwilio
) -> None:
    page = await greets(browser, service, CUSTOMER)
    code = await the_code(twilio_api)  # a code lives a millisecond here: dead long before it is typed
    await types(page, code)
    await expect(page.locator(BOT).last).to_have_text(EXPIRED)
    await expect(page.locator(ALL, has_text=SECRET)).to_have_count(0)


async def test_a_number_of_nobody_gets_the_same_words_and_no_code_goes_anywhere(
    service: str, browser: Browser, twilio_api: FakeTwilio
) -> None:
    page = await greets(browser, service, "8 926 123-45-67")
    await expect(page.locator(BOT)).to_have_text([offer(NOBODY)])
    await types(page, "123456")
    await expect(page.locator(BOT).last).to_have_text(WRONG.format(left=4))
    assert twilio_api.calls == []  # no code was sent to anyone


async def test_no_thanks_declines_and_the_offer_is_not_made_again(
    service: str, browser: Browser, twilio_api: FakeTwilio
) -> None:
    page = await greets(browser, service, CUSTOMER)
    code = await the_code(twilio_api)
    await types(page, "Нет, спасибо")
    await expect(page.locator(BOT).last).to_have_text(DECLINED)
    await types(page, "Тогда вопрос: сколько стоит доставка?")
    await types(page, code)  # the declined code proves nothing
    await expect(page.locator(BOT)).to_have_text([offer(CUSTOMER), DECLINED])
    await expect(page.locator(ALL, has_text=SECRET)).to_have_count(0)
    assert len(twilio_api.sent()) == 1
