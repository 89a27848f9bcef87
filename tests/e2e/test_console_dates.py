"""Dates and numbers as the console writes them, in Chromium, on a clock the
test sets: a day of another year says its year, "yesterday" is the
calendar's day before today, also across a clock change, a number in a
text is grouped and has the decimal mark of the console's language, and
a text glued from pieces reads right whatever the pieces."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from playwright.async_api import Browser, Page, expect

from tests.e2e.test_conversation import agent_logs_in, customer_says, open_widget


async def console_at(browser: Browser, service: str, locale: str, zone: str, now: datetime) -> Page:
    """The console's sign-in page (its language and fmt loaded) in ``zone`` with the clock fixed at ``now``."""
    page = await (await browser.new_context(locale=locale, timezone_id=zone)).new_page()
    await page.clock.set_fixed_time(now)
    await page.goto(service + "/")
    await expect(page.locator('[data-testid="login-form"] button[type="submit"]')).to_be_visible()
    return page


async def said(page: Page, call: str, when: datetime | str) -> str:
    value = when if isinstance(when, str) else when.isoformat()
    text: str = await page.evaluate(f"(when) => fmt.{call}(when)", value)
    return text.replace("\u00a0", " ").replace("\u202f", " ")


async def test_a_day_of_another_year_says_its_year(service: str, browser: Browser) -> None:
    moscow = ZoneInfo("Europe/Moscow")
    page = await console_at(browser, service, "ru-RU", "Europe/Moscow", datetime(2026, 12, 8, 12, 0, tzinfo=moscow))
    last_year = datetime(2025, 12, 5, 10, 0, tzinfo=moscow)
    this_year = datetime(2026, 11, 5, 10, 0, tzinfo=moscow)
    # the list's time of a conversation of last December, and the thread's day line over its messages
    assert await said(page, "relative", last_year) == "5 дек. 2025 г."
    assert await said(page, "date", last_year) == "5 дек. 2025 г."
    assert await said(page, "day", last_year) == "пятница, 5 декабря 2025 г."
    # a report's days across the New Year
    assert await said(page, "calendarDay", "2025-12-31") == "31 дек. 2025 г."
    # this year's days stay short
    assert await said(page, "relative", this_year) == "5 нояб."
    assert await said(page, "day", this_year) == "четверг, 5 ноября"
    assert await said(page, "calendarDay", "2026-01-01") == "1 янв."

    english = await console_at(browser, service, "en-GB", "Europe/Moscow", datetime(2026, 12, 8, 12, 0, tzinfo=moscow))
    assert await said(english, "date", last_year) == "Dec 5, 2025"
    assert await said(english, "day", this_year) == "Thursday, November 5"


async def test_yesterday_is_the_calendars_day_before_also_after_a_clock_change(service: str,
                                                                              browser: Browser) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # 29 March 2026 had 23 hours in Berlin: half past midnight after it, 24 hours ago was the 28th
    page = await console_at(browser, service, "ru-RU", "Europe/Berlin", datetime(2026, 3, 30, 0, 30, tzinfo=berlin))
    assert await said(page, "day", datetime(2026, 3, 29, 10, 0, tzinfo=berlin)) == "Вчера"
    assert await said(page, "day", datetime(2026, 3, 28, 23, 50, tzinfo=berlin)) == "суббота, 28 марта"
    assert await said(page, "day", datetime(2026, 3, 30, 0, 5, tzinfo=berlin)) == "Сегодня"
    # and in autumn, the day of 25 hours: at 23:30 after it, 24 hours ago was the same day
    autumn = await console_at(browser, service, "ru-RU", "Europe/Berlin", datetime(2026, 10, 25, 23, 30, tzinfo=berlin))
    assert await said(autumn, "day", datetime(2026, 10, 24, 23, 40, tzinfo=berlin)) == "Вчера"
    assert await said(autumn, "day", datetime(2026, 10, 25, 0, 10, tzinfo=berlin)) == "Сегодня"



async def test_numbers_in_the_consoles_texts_are_written_as_its_language_writes_them(service: str,
                                                                                      browser: Browser) -> None:
    now = datetime(2026, 12, 8, 12, 0, tzinfo=ZoneInfo("Europe/Moscow"))
    for locale, expected in (
        ("ru-RU", ("Передан по правилам: 12 345", "Файл больше 19,5 МБ: он не отправлен.",
                   "Заметка может быть не длиннее 10 000 символов.", "1 021 пересланное сообщение")),
        ("en-GB", ("Handed over by the rules: 12,345", "The file is larger than 19.5 MB: it was not sent.",
                   "A note can be at most 10,000 characters long.", "1,021 forwarded messages")),
    ):
        page = await console_at(browser, service, locale, "Europe/Moscow", now)
        shown = await page.evaluate("""() => [
            t("reports.reason_count", { reason: t("reports.reasons.rules"), count: 12345 }),
            i18n.error({ code: "file_too_large", details: { limit: 20447232, limit_mb: 19.5 } }),
            i18n.error({ code: "note_too_long", details: { max: 10000 } }),
            t("described.forwarded_many", { count: 1021 }),
        ]""")
        assert [s.replace("\u00a0", " ").replace("\u202f", " ") for s in shown] == list(expected)


async def test_a_webhook_given_up_after_one_attempt_says_attempt(service: str, browser: Browser) -> None:
    """webhooks.max_attempts may be 1: the dead letter's reason agrees with its count (webhooks.js
    passes the attempts as the count; tests/e2e/test_webhooks.py sees it on the screen with 2)."""
    now = datetime(2026, 12, 8, 12, 0, tzinfo=ZoneInfo("Europe/Moscow"))
    for locale, one, five in (
        ("en-GB", "gave up after 1 attempt: x", "gave up after 5 attempts: x"),
        ("ru-RU", "доставка прекращена, попыток: 1: x", "доставка прекращена, попыток: 5: x"),
    ):
        page = await console_at(browser, service, locale, "Europe/Moscow", now)
        said_one, said_five = await page.evaluate("""() => [
            t("webhooks.reasons.gave_up", { count: 1, reason: "x" }),
            t("webhooks.reasons.gave_up", { count: 5, reason: "x" }),
        ]""")
        assert (said_one, said_five) == (one, five)


async def test_a_time_is_the_languages_own_short_time(service: str, browser: Browser) -> None:
    """«17:05» and «01:53» in Russian; "5:05 PM" in English, not "05:05 PM" (the list, the thread, the
    wallboard's "Updated", a survey's "asked at")."""
    moscow = ZoneInfo("Europe/Moscow")
    now = datetime(2026, 12, 8, 18, 0, tzinfo=moscow)
    evening, night = datetime(2026, 12, 8, 17, 5, tzinfo=moscow), datetime(2026, 12, 8, 1, 53, tzinfo=moscow)
    russian = await console_at(browser, service, "ru-RU", "Europe/Moscow", now)
    assert (await said(russian, "time", evening), await said(russian, "time", night)) == ("17:05", "01:53")
    english = await console_at(browser, service, "en-GB", "Europe/Moscow", now)
    assert (await said(english, "time", evening), await said(english, "time", night)) == ("5:05 PM", "1:53 AM")


async def test_a_claims_visitor_is_said_right_whatever_the_channels_name(service: str, browser: Browser) -> None:
    """"A {{channel}} visitor" glued an article to a channel's name: "A email visitor", "A SMS visitor"."""
    page = await console_at(browser, service, "en-US", "Europe/Moscow", datetime(2026, 12, 8, 12, 0, tzinfo=UTC))
    said = await page.evaluate("""() => ["email", "SMS", "site chat"].map((channel) =>
        t("claims.someone_claims_phone", { who: t("claims.visitor", { channel }) }))""")
    assert said == [f"A visitor ({channel}) claims this phone number (unverified)"
                    for channel in ("email", "SMS", "site chat")]


async def test_the_reply_channel_is_said_where_russian_declines_it(service: str, browser: Browser) -> None:
    """«Ответить через почта» glued a channel's name after a preposition that declines it: the reply's
    channel is now said by the channel's own `where` («по почте», «в чате на сайте»)."""
    customer = await (await browser.new_context(locale="ru-RU")).new_page()
    await open_widget(customer, service)
    await customer_says(customer, "Где мой заказ?")
    agent = await (await browser.new_context(locale="ru-RU")).new_page()
    await agent_logs_in(agent, service)
    await agent.locator('[data-testid="conversation"]', has_text="Где мой заказ?").click()
    reply_by = agent.locator('[data-testid="reply-channel"]')
    await expect(reply_by).to_have_text("Ответить в чате на сайте (последний канал)")
    where = await agent.evaluate("""async () => (await (await fetch('/api/channels')).json()).channels
        .map((c) => [c.name, c.where.ru, c.where.en])""")
    assert ["webchat", "в чате на сайте", "in the site chat"] in where


async def test_a_refusal_names_the_channel_where_russian_declines_it(service: str, browser: Browser) -> None:
    """«Клиент не писал в {{channel}}» read «не писал в чат на сайте»: the refusal says the channel's where."""
    agent = await (await browser.new_context(locale="ru-RU")).new_page()
    await agent_logs_in(agent, service)
    await agent.wait_for_function("() => window.channelSwitch.where('webchat') !== 'webchat'")
    said = await agent.evaluate("""() => i18n.error({ code: "conflict", message: "refused",
        details: { reason: "channel_unused", channel: "webchat" } })""")
    assert said == "Клиент не писал в чате на сайте: туда ему не ответить."
