"""The satisfaction survey end to end in Chromium, in both languages: the
agent resolves in the console, the customer rates with the widget's star
buttons (labelled for screen readers) and adds a comment, and the agent sees
the rating and the comment appear live beside the conversation's title and
in the customer panel."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, Page, Route, expect

from tests.conftest import eventually
from tests.connectors import test_telegram as tg
from tests.connectors.test_csat import pressed
from tests.e2e.conftest import TELEGRAM_ENV, new_page, running_service, server_yaml
from tests.e2e.socket_line import SocketLine
from tests.e2e.test_conversation import agent_logs_in
from tests.e2e.test_telegram_contact import telegram_posts
from tests.e2e.topbar import from_more
from tests.fakes.telegram_api import Call, FakeTelegram

CSAT = "enabled: true\n"
PAGE = '<!doctype html><html lang="{lang}"><head><meta charset="utf-8"></head><body>' \
       '<script src="/chat/widget.js"></script></body></html>'
TEXTS = {
    "ru": {"question": "Здравствуйте, где мой заказ?", "answer": "Добрый день! Заказ уже в пути.",
           "label": "4 — хорошо", "group": "Оцените нашу помощь", "prompt": "Спасибо за оценку!",
           "comment": "Быстро и вежливо", "thanks": "Спасибо за отзыв!"},
    "en": {"question": "Hello, where is my order?", "answer": "Hello! Your order is on its way.",
           "label": "4 — very good", "group": "Rate our help", "prompt": "Thank you for your rating!",
           "comment": "Quick and kind", "thanks": "Thank you for your feedback!"},
}


# the elements of a selector that reach past the right edge of the viewport
OUTSIDE = """(selector) => [...document.querySelectorAll(selector)]
  .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
  .map((e) => e.className)"""


@pytest.fixture
def service_config(tmp_path: Path) -> str:
    """The service's config folder asks for ratings (csat.yaml beside omnirouter.yaml)."""
    (tmp_path / "csat.yaml").write_text(CSAT, encoding="utf-8")
    return ""


class Line(SocketLine):
    """The widget's socket (tests/e2e/socket_line.py), counting the rating frames the service was sent."""

    def __init__(self) -> None:
        super().__init__()
        self.ratings = 0

    def sent(self, message: str | bytes) -> None:
        if isinstance(message, str) and '"type":"rating"' in message.replace(" ", ""):
            self.ratings += 1


async def shop_page(browser: Browser, base: str, lang: str, line: Line | None = None) -> Page:
    page = await (await browser.new_context(locale="en-US")).new_page()
    if line is not None:
        await page.route_web_socket("**/chat/ws", line.connect)

    async def serve(route: Route) -> None:
        await route.fulfill(body=PAGE.format(lang=lang), content_type="text/html; charset=utf-8")

    await page.route(f"{base}/shop", serve)
    await page.goto(f"{base}/shop")
    await page.locator('[data-omr="launcher"]').click()
    await expect(page.locator('[data-omr="input"]')).to_be_visible()
    return page


async def asked_to_rate(browser: Browser, service: str, customer: Page, lang: str) -> Page:
    """The customer asks, an agent (their console in ``lang``) answers and resolves: the agent's page."""
    words = TEXTS[lang]
    await customer.locator('[data-omr="input"]').fill(words["question"])
    await customer.locator('[data-omr="send"]').click()

    agent = await (await browser.new_context(locale=f"{lang}-{lang.upper()}")).new_page()
    await agent_logs_in(agent, service)
    await (await from_more(agent, "language")).select_option(lang)
    await agent.locator('[data-testid="conversation"]', has_text=words["question"]).click()
    await agent.locator('[data-testid="reply"]').fill(words["answer"])
    await agent.locator('[data-testid="send"]').click()
    await expect(customer.locator('[data-omr="message"][data-author="agent"]')).to_have_text(words["answer"])
    await agent.locator('[data-testid="resolve"]').click()
    return agent


@pytest.mark.parametrize("lang", ["ru", "en"])
async def test_a_rating_from_the_widget_reaches_the_agent_live(service: str, browser: Browser, lang: str) -> None:
    words = TEXTS[lang]
    customer = await shop_page(browser, service, lang)
    agent = await asked_to_rate(browser, service, customer, lang)

    # the customer is asked in their language, with five star buttons that say what they mean
    survey = customer.get_by_role("group", name=words["group"])
    await expect(survey.get_by_role("button")).to_have_count(5)
    badge = agent.locator('[data-testid="csat-badge"]')
    await expect(badge).to_be_visible()  # the console shows it was asked
    await survey.get_by_role("button", name=words["label"]).click()
    await expect(survey.get_by_role("button", name=words["label"])).to_have_attribute("aria-pressed", "true")
    await expect(customer.locator('[data-omr="message"][data-author="bot"]').last).to_contain_text(words["prompt"])

    # the agent sees it at once, without a reload
    await expect(badge.locator(".csat-stars")).to_have_text("★★★★☆")
    panel = agent.locator('[data-testid="cp-csat"]')
    await expect(panel.locator('[data-testid="csat-summary"]')).to_have_attribute("data-rating", "4")

    await customer.locator('[data-omr="input"]').fill(words["comment"])
    await customer.locator('[data-omr="send"]').click()
    await expect(customer.locator('[data-omr="message"][data-author="bot"]').last).to_have_text(words["thanks"])
    await expect(badge.locator('[data-testid="csat-comment"]')).to_have_text(words["comment"])
    await expect(panel.locator('[data-testid="csat-comment"]')).to_have_text(words["comment"])
    # the conversation stayed resolved: the rating reopened nothing
    await expect(agent.locator('[data-testid="reopen"]')).to_be_visible()

    # nothing of it reaches past the screen's edge, at a narrow console and on a phone
    await agent.set_viewport_size({"width": 800, "height": 700})
    await customer.set_viewport_size({"width": 390, "height": 760})
    await expect(badge.locator(".csat-stars")).to_be_visible()
    for page, ours in ((agent, ".csat-badge, .csat-badge *, .cp-csat, .cp-csat *"),
                       (customer, "[data-omr=survey], [data-omr=survey] *")):
        past = await page.evaluate(OUTSIDE, ours)
        assert past == [], past


async def test_the_stars_come_into_view_under_a_long_thread(service: str, browser: Browser) -> None:
    """The question and its buttons arrive at the bottom of a thread taller than the panel:
    the customer, reading at the bottom, sees the five stars without scrolling."""
    customer = await shop_page(browser, service, "ru")
    for n in range(3):  # more than the panel holds
        await customer.locator('[data-omr="input"]').fill(f"Уточнение {n}: " + "подробности заказа " * 12)
        await customer.locator('[data-omr="send"]').click()
    await asked_to_rate(browser, service, customer, "ru")
    survey = customer.get_by_role("group", name=TEXTS["ru"]["group"])
    await expect(survey.get_by_role("button")).to_have_count(5)
    for star in await survey.get_by_role("button").all():
        await expect(star).to_be_in_viewport(ratio=1)


async def pressed_offline(browser: Browser, service: str) -> tuple[Page, Page, Line, Locator]:
    """Asked to rate, the customer presses 4 while the service is unreachable:
    (the customer's page, the agent's, the line, the survey's buttons)."""
    words, line = TEXTS["en"], Line()
    customer = await shop_page(browser, service, "en", line)
    agent = await asked_to_rate(browser, service, customer, "en")
    survey = customer.get_by_role("group", name=words["group"])
    await expect(survey.get_by_role("button")).to_have_count(5)
    await line.cut()
    await expect(customer.locator('[data-omr="status"]')).to_have_attribute("data-state", "offline")
    await survey.get_by_role("button", name=words["label"]).click()
    return customer, agent, line, survey


async def test_a_rating_pressed_while_the_service_is_unreachable_arrives_once_on_reconnect(
    service: str, browser: Browser
) -> None:
    """The press is kept, not lost: sent when the widget is back, acknowledged,
    and never again (not on the next reconnect either)."""
    words = TEXTS["en"]
    customer, agent, line, survey = await pressed_offline(browser, service)
    note = customer.locator('[data-omr="survey-note"]')
    await expect(note).to_have_text("Not connected: your rating will be sent as soon as the connection is back.")
    await expect(survey.get_by_role("button", name=words["label"])).to_have_attribute("aria-pressed", "true")

    line.up = True  # the widget reconnects by itself, and sends the rating
    await expect(note).to_have_text("Your rating: 4 of 5")  # acknowledged by the service
    badge = agent.locator('[data-testid="csat-badge"]')
    await expect(badge.locator(".csat-stars")).to_have_text("★★★★☆")
    bot = customer.locator('[data-omr="message"][data-author="bot"]')
    await expect(bot.last).to_contain_text(words["prompt"])

    await line.cut()  # once more: an acknowledged rating is not sent again
    await expect(customer.locator('[data-omr="status"]')).to_have_attribute("data-state", "offline")
    line.up = True
    # a message after the reconnect, acknowledged: frames keep their order, so a rating sent again
    # on this welcome would have passed the line before it
    await customer.locator('[data-omr="input"]').fill(words["comment"])
    await customer.locator('[data-omr="send"]').click()
    await expect(customer.locator('[data-omr="message"][data-pending="true"]')).to_have_count(0)
    await expect(bot.last).to_have_text(words["thanks"])
    await expect(bot.filter(has_text=words["prompt"])).to_have_count(1)
    await expect(bot.filter(has_text="already been recorded")).to_have_count(0)
    assert line.ratings == 1


async def test_a_rating_pressed_offline_survives_a_reload_of_the_page(service: str, browser: Browser) -> None:
    customer, agent, line, _ = await pressed_offline(browser, service)
    await customer.reload()  # still unreachable: the press waits in the page's storage
    line.up = True
    await customer.locator('[data-omr="launcher"]').click()
    bot = customer.locator('[data-omr="message"][data-author="bot"]')
    await expect(bot.last).to_contain_text(TEXTS["en"]["prompt"])
    await expect(agent.locator('[data-testid="csat-badge"] .csat-stars')).to_have_text("★★★★☆")
    assert line.ratings == 1


@pytest.fixture
async def on_telegram(tmp_path: Path, telegram_api: FakeTelegram) -> AsyncIterator[str]:
    """The service with the Telegram connector (through the fake), asking for ratings."""
    (tmp_path / "csat.yaml").write_text(CSAT, encoding="utf-8")

    def config(port: int) -> str:
        return (server_yaml(port, tmp_path, writer_process=False) + "connectors:\n"
                + f"  telegram:\n    type: telegram\n    api_base: {telegram_api.base_url}\n")

    async with running_service(tmp_path, config, TELEGRAM_ENV) as base:
        yield base


async def test_a_rating_from_telegrams_buttons_reaches_the_agent_live(on_telegram: str, browser: Browser,
                                                                     telegram_api: FakeTelegram) -> None:
    await telegram_posts(on_telegram, tg.text_update(1, "Hello, where is my order?"))
    agent = await new_page(browser)
    await agent_logs_in(agent, on_telegram)
    await (await from_more(agent, "language")).select_option("en")
    await agent.locator('[data-testid="conversation"]', has_text="where is my order").click()
    await agent.locator('[data-testid="reply"]').fill("It is on its way.")
    await agent.locator('[data-testid="send"]').click()
    # the reply in the thread before Resolve: clicked earlier (a loaded machine), the console asks
    # "no answer: resolve anyway?", which the browser dismisses, and nothing is resolved
    await expect(agent.locator('[data-testid="message"][data-author="agent"]')).to_contain_text("It is on its way.")
    await expect(agent.locator('[data-testid="resolve"]')).to_be_enabled()
    await agent.locator('[data-testid="resolve"]').click()
    await expect(agent.locator("#conv-meta")).to_contain_text("resolved")

    asked = await eventually(lambda: _keyboard(telegram_api), "the question with its inline keyboard")
    buttons = [b for row in asked.params["reply_markup"]["inline_keyboard"] for b in row]
    assert [b["text"] for b in buttons] == ["1 — poor", "2 — fair", "3 — good", "4 — very good", "5 — excellent"]
    badge = agent.locator('[data-testid="csat-badge"]')
    await expect(badge).to_contain_text("Awaiting the rating")

    await telegram_posts(on_telegram, pressed(buttons[1], message_id=2))
    await expect(badge.locator(".csat-stars")).to_have_text("★★☆☆☆")
    await expect(badge.locator(".csat-stars")).to_have_attribute("aria-label", "Rating: 2 of 5")
    await telegram_posts(on_telegram, tg.text_update(2, "Slow, but it worked out"))
    await expect(badge.locator('[data-testid="csat-comment"]')).to_have_text("Slow, but it worked out")
    await expect(agent.locator('[data-testid="reopen"]')).to_be_visible()  # still resolved
    assert telegram_api.sent("answerCallbackQuery")


async def _keyboard(api: FakeTelegram) -> Call | None:
    return next((c for c in api.sent("sendMessage") if "inline_keyboard" in (c.params.get("reply_markup") or {})),
                None)


async def test_a_rating_the_service_refuses_for_good_is_dropped_and_the_customer_told(
    service: str, browser: Browser
) -> None:
    """A kept rating the service cannot take (here a score of 9, from an older page's storage) is refused
    with its client_id: the widget stops sending it on every welcome, forgets it, and says so."""
    page = await (await browser.new_context(locale="en-US")).new_page()
    await page.add_init_script("""localStorage.setItem("omnirouter.pending_ratings",
        JSON.stringify([{client_id: "rating-bad", survey_id: "srv_gone", score: 9}]));""")

    async def serve(route: Route) -> None:
        await route.fulfill(body=PAGE.format(lang="en"), content_type="text/html; charset=utf-8")

    await page.route(f"{service}/shop", serve)
    await page.goto(f"{service}/shop")
    await page.locator('[data-omr="launcher"]').click()
    await expect(page.locator('[data-omr="note"]')).to_have_text(
        "Your rating could not be sent: the server did not accept it. Choose again or type the number in the chat.")
    assert await page.evaluate('localStorage.getItem("omnirouter.pending_ratings")') is None
