"""The widget's panel as a customer meets it, in Chromium: the header's title
stays readable beside a long status line, a message in a right-to-left script
reads right to left, and the keyboard alone opens and closes the chat."""

from __future__ import annotations

import re

from playwright.async_api import Browser, Page, Route, expect

from tests.e2e.page_wait import until_true
from tests.e2e.test_conversation import agent_logs_in, customer_says

# the title's box is one line high: no word of it pushed onto a line of its own
ONE_LINE = """() => {
  const title = document.querySelector('.omr-title');
  return title.getBoundingClientRect().height < 1.5 * parseFloat(getComputedStyle(title).lineHeight);
}"""


async def visitor(browser: Browser, base: str, lang: str, width: int = 1280, height: int = 720) -> Page:
    context = await browser.new_context(locale=f"{lang}-{lang.upper()}", viewport={"width": width, "height": height})
    page = await context.new_page()
    await page.goto(f"{base}/chat/?lang={lang}")
    return page


async def test_the_title_keeps_one_line_beside_a_long_status(service: str, browser: Browser) -> None:
    for lang, title, status in (("en", "Chat with us", "Leave a message: we'll answer as soon as we can"),
                                ("ru", "Напишите нам", "Оставьте сообщение — ответим, как только сможем")):
        for width, height in ((1280, 720), (375, 667)):
            page = await visitor(browser, service, lang, width, height)
            await page.locator('[data-omr="launcher"]').click()
            # nobody online: the longest status the chat has
            await expect(page.locator('[data-omr="status"]')).to_have_text(status)
            await expect(page.locator(".omr-title")).to_have_text(title)
            await until_true(page, ONE_LINE)
            await page.context.close()


async def test_a_right_to_left_message_reads_right_to_left(service: str, browser: Browser) -> None:
    page = await visitor(browser, service, "en")
    await page.locator('[data-omr="launcher"]').click()
    hebrew = "שלום, מתי המשלוח מגיע?"
    field = page.locator('[data-omr="input"]')
    await field.fill(hebrew)
    # typed right to left already, the question mark at the end of the sentence (its left)
    assert await field.evaluate("(e) => getComputedStyle(e).direction") == "rtl"
    await page.locator('[data-omr="send"]').click()
    mine = page.locator('[data-omr="message"][data-author="customer"]', has_text="שלום")
    await expect(mine).not_to_have_attribute("data-pending", "true")
    assert await mine.evaluate("(e) => getComputedStyle(e).direction") == "rtl"
    # a Latin message beside it stays left to right
    await customer_says(page, "And in English, please")
    latin = page.locator('[data-omr="message"][data-author="customer"]', has_text="English")
    await expect(latin).to_have_count(1)
    assert await latin.evaluate("(e) => getComputedStyle(e).direction") == "ltr"


async def test_the_keyboard_opens_and_escape_closes_the_chat(service: str, browser: Browser) -> None:
    page = await visitor(browser, service, "ru")
    launcher = page.locator('[data-omr="launcher"]')
    await launcher.focus()
    await page.keyboard.press("Enter")
    field = page.locator('[data-omr="input"]')
    await expect(field).to_be_focused()
    await page.keyboard.type("Есть ли зелёный чай?")
    await page.keyboard.press("Enter")
    await expect(page.locator('[data-omr="message"][data-author="customer"]')).to_have_text("Есть ли зелёный чай?")
    await page.keyboard.press("Escape")
    await expect(page.locator("#omnirouter-chat")).to_be_hidden()
    await expect(launcher).to_be_focused()  # back where the customer started, not lost on the page
    await page.keyboard.press("Enter")
    await expect(field).to_be_focused()


async def test_a_message_tells_its_whole_date_on_hover_in_the_customers_language(
    service: str, browser: Browser,
) -> None:
    """The time under a message is the time alone; its tooltip gives the date as well, in the
    widget's language, never the raw timestamp the server sent."""
    for lang in ("ru", "en"):
        page = await visitor(browser, service, lang)
        await page.locator('[data-omr="launcher"]').click()
        await customer_says(page, "hello")
        mine = page.locator('[data-omr="message"][data-author="customer"]')
        await expect(mine).not_to_have_attribute("data-pending", "true")
        await page.reload()  # drawn from the history, with the service's own stamp
        await expect(mine).to_have_text("hello")
        tooltip = await mine.get_attribute("title") or ""
        assert not re.search(r"\d{4}-\d\d-\d\dT", tooltip), tooltip
        # today's day and month as the customer's language writes them: «7 декабря», "December 7"
        today = await page.evaluate("(lang) => new Date().toLocaleDateString(lang, {day: 'numeric', month: 'long'})",
                                    lang)
        assert today in tooltip, (tooltip, today)
        await page.context.close()


async def test_a_web_address_in_a_reply_is_a_link_and_nothing_else_is(service: str, browser: Browser) -> None:
    """An agent sends the order's tracking page: the customer clicks it (a new tab), the
    sentence's full stop left out of it; markup and a script address stay text."""
    page = await visitor(browser, service, "ru")
    await page.locator('[data-omr="launcher"]').click()
    await customer_says(page, "Где мой заказ 1234?")
    agent = await (await browser.new_context()).new_page()
    await agent_logs_in(agent, service)
    listing = await (await agent.request.get(f"{service}/api/conversations")).json()
    conversation = listing["conversations"][0]["id"]
    reply = ("Отследить можно здесь: https://track.example.com/o/1234?lang=ru. "
             'А это не ссылки: javascript:alert(1) <a href="https://evil.example">жмите</a>')
    sent = await agent.request.post(f"{service}/api/conversations/{conversation}/messages", data={"text": reply})
    assert sent.status == 201, await sent.text()
    answer = page.locator('[data-omr="message"][data-author="agent"]')
    await expect(answer).to_have_text(reply)  # the text is the agent's, to the letter
    link = answer.get_by_role("link")
    await expect(link).to_have_count(2)  # the tracking page, and the address inside the quoted markup
    await expect(link.first).to_have_text("https://track.example.com/o/1234?lang=ru")
    await expect(link.first).to_have_attribute("href", "https://track.example.com/o/1234?lang=ru")
    await expect(link.first).to_have_attribute("target", "_blank")
    await expect(link.nth(1)).to_have_attribute("href", "https://evil.example/")
    await expect(answer.locator("a[href^='javascript']")).to_have_count(0)
    await page.context.route("https://track.example.com/**", tracking_page)
    async with page.context.expect_page() as opened:
        await link.first.click()
    tab = await opened.value
    await expect(tab.locator("h1")).to_have_text("Заказ 1234 в пути")


async def tracking_page(route: Route) -> None:
    """The shop's tracking page (no network here)."""
    await route.fulfill(body="<!doctype html><h1>Заказ 1234 в пути</h1>", content_type="text/html; charset=utf-8")


async def test_on_a_phone_the_panel_fills_the_screen_evenly(service: str, browser: Browser) -> None:
    """At 375×667 the open chat leaves the same margin on every side, the field and its
    button inside the screen."""
    page = await visitor(browser, service, "ru", 375, 667)
    await page.locator('[data-omr="launcher"]').click()
    field = page.locator('[data-omr="input"]')
    await expect(field).to_be_in_viewport(ratio=1)
    await expect(page.locator('[data-omr="send"]')).to_be_in_viewport(ratio=1)
    box = await page.locator("#omnirouter-chat").bounding_box()
    assert box is not None
    left, right = box["x"], 375 - box["x"] - box["width"]
    top, bottom = box["y"], 667 - box["y"] - box["height"]
    assert abs(left - right) <= 1 and abs(top - bottom) <= 1 and 0 < left <= 16, (left, right, top, bottom)


async def test_an_answer_that_came_while_the_customer_was_away_shows_on_the_launcher(
    service: str, browser: Browser,
) -> None:
    """The customer asks and leaves the site; the agent answers; back on the site later, the
    folded chat's launcher says an answer is waiting, and no longer once they have read it."""
    context = await browser.new_context(locale="ru-RU")
    page = await context.new_page()
    await page.goto(f"{service}/chat/?lang=ru")
    await page.locator('[data-omr="launcher"]').click()
    await customer_says(page, "Когда привезут заказ 777?")
    await expect(page.locator('[data-omr="message"][data-author="customer"]')).not_to_have_attribute(
        "data-pending", "true")
    await page.close()

    agent = await (await browser.new_context()).new_page()
    await agent_logs_in(agent, service)
    listing = await (await agent.request.get(f"{service}/api/conversations")).json()
    conversation = listing["conversations"][0]["id"]
    sent = await agent.request.post(f"{service}/api/conversations/{conversation}/messages",
                                    data={"text": "Завтра до обеда."})
    assert sent.status == 201, await sent.text()

    page = await context.new_page()
    await page.goto(f"{service}/chat/?lang=ru")
    badge = page.locator('[data-omr="unread"]')
    await expect(badge).to_have_text("1")
    await expect(badge).to_be_visible()
    await page.locator('[data-omr="launcher"]').click()
    await expect(page.locator('[data-omr="message"][data-author="agent"]')).to_have_text("Завтра до обеда.")
    await page.locator('[data-omr="close"]').click()
    await page.reload()
    await expect(page.locator('[data-omr="launcher"]')).to_be_visible()
    await until_true(page, "() => window.OmnirouterChat && document.querySelector('[data-omr=unread]').hidden")


async def test_a_paste_over_the_limit_is_said_to_be_too_long_and_kept_whole(service: str, browser: Browser) -> None:
    """A customer pastes a text longer than a message may be: nothing is cut off unseen and
    sent; they are told, and the whole text stays in the field for them to shorten."""
    page = await visitor(browser, service, "ru")
    await page.locator('[data-omr="launcher"]').click()
    field = page.locator('[data-omr="input"]')
    await field.focus()
    text = "Описание проблемы. " * 526 + "Самое важное в конце."  # 10,015 characters
    await page.keyboard.insert_text(text)
    await page.keyboard.press("Enter")
    await expect(page.locator('[data-omr="note"]')).to_contain_text("Сообщение слишком длинное")
    await expect(field).to_have_value(text)
    await expect(page.locator('[data-omr="message"][data-author="customer"]')).to_have_count(0)
