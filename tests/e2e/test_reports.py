"""The Reports screen in the browser: a customer writes, the admin (who may
supervise) opens Reports and sees today's conversation counted, drawn as
charts and listed in the table, regrouped by channel, with CSV downloads of
the same figures; the screen is usable at 390 px wide."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Locator, Page, Route, expect

from tests.e2e.test_agents_admin import no_sideways_scroll
from tests.e2e.test_conversation import agent_logs_in, customer_says, open_widget
from tests.e2e.topbar import from_more

CATALOGUES = Path(__file__).parents[2] / "agents_ui" / "i18n"


async def reports_screen(browser: Browser, service: str, rewrite: Callable[[Route], Awaitable[None]] | None = None,
                         **context: Any) -> tuple[Page, Locator, Locator]:
    """A customer asks, then an admin (a browser context made with ``context``; ``rewrite``: the
    figures' answer rewritten on its way) opens the reports: the admin's page, the screen and its
    table, once the table has today's one row."""
    customer = await (await browser.new_context()).new_page()
    await open_widget(customer, service)
    await customer_says(customer, "Where is my order?")
    admin = await (await browser.new_context(viewport={"width": 1200, "height": 800}, **context)).new_page()
    if rewrite is not None:
        await admin.route("**/api/reports/figures?*", rewrite)
    await agent_logs_in(admin, service)
    await expect(admin.locator('[data-testid="conversation"]', has_text="Where is my order?")).to_be_visible()
    await (await from_more(admin, "reports-open")).click()
    screen = admin.locator('[data-testid="reports-screen"]')
    table = screen.locator('[data-testid="report-table"]')
    await expect(table.locator("tbody tr")).to_have_count(1)
    return admin, screen, table


async def test_reports_count_todays_conversation_chart_it_and_export_it(service: str, browser: Browser) -> None:
    # a browser far from UTC: its own days are asked for, cut in its zone
    admin, screen, table = await reports_screen(browser, service, timezone_id="Pacific/Kiritimati")
    headers = await table.locator("thead th").all_text_contents()
    opened = headers.index("Opened")
    assert (await table.locator("tbody tr").first.locator("th, td").nth(opened).text_content()) == "1"
    for chart in ("chart-volumes", "chart-first-response", "chart-wait"):
        await expect(screen.locator(f'[data-testid="{chart}"] svg rect').first).to_be_attached()
    # a chart's label is cut short when long; its whole text is its <title>
    await expect(screen.locator('[data-testid="chart-volumes"] svg text.report-label title').first).to_be_attached()

    await screen.locator('[data-testid="report-group"]').select_option("channel")
    await screen.locator('[data-testid="report-show"]').click()
    # the channel by the name the console gives it elsewhere, not its connector's id ("webchat")
    await expect(table.locator("tbody tr th")).to_have_text(["site chat"])
    href = await screen.locator('[data-testid="report-csv-figures"]').get_attribute("href")
    assert href is not None and "group_by=channel" in href and "tz=Pacific%2FKiritimati" in href
    assert "lang=en" in href  # a spreadsheet in the console's language: its header in the console's words
    resp = await admin.request.get(service + href)
    assert resp.ok and resp.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO((await resp.text()).removeprefix("\ufeff"))))
    assert [(r["Channel"], r["Opened"]) for r in rows] == [("site chat", "1")]

    await admin.set_viewport_size({"width": 390, "height": 800})
    await expect(table).to_be_visible()
    await no_sideways_scroll(admin)
    await screen.locator('[data-testid="reports-close"]').click()
    await expect(screen).to_be_hidden()
    await expect(admin.locator('[data-testid="conversation"]', has_text="Where is my order?")).to_be_visible()


async def test_a_supervisor_in_new_zealand_reads_todays_date_in_russian(service: str, browser: Browser) -> None:
    """A browser in Auckland (UTC+13 in December) saw each day of a report named as the next day (the server's
    day read as noon UTC, then shown in the browser's zone), the table's first column headed «Дням» ("by days",
    the menu's word) and the volumes chart titled «Диалогы»."""
    customer = await (await browser.new_context()).new_page()
    await open_widget(customer, service)
    await customer_says(customer, "Где мой заказ?")
    admin = await (await browser.new_context(viewport={"width": 1200, "height": 800}, locale="ru-RU",
                                             timezone_id="Pacific/Auckland")).new_page()
    await agent_logs_in(admin, service)
    await expect(admin.locator('[data-testid="conversation"]', has_text="Где мой заказ?")).to_be_visible()

    await (await from_more(admin, "reports-open")).click()
    screen = admin.locator('[data-testid="reports-screen"]')
    table = screen.locator('[data-testid="report-table"]')
    await expect(table.locator("tbody tr")).to_have_count(1)
    # the day the server counted it on, in Auckland: the one the console asked for
    href = await screen.locator('[data-testid="report-csv-figures"]').get_attribute("href")
    assert href is not None and "tz=Pacific%2FAuckland" in href
    asked = await admin.request.get(service + href.replace("figures.csv", "figures"))
    [row] = (await asked.json())["rows"]
    day = row["group"]
    # that calendar day as Russian names it, whatever the zone: e.g. «8 дек.»
    named = await admin.evaluate(
        "(day) => new Intl.DateTimeFormat('ru', {day: 'numeric', month: 'short', timeZone: 'UTC'})"
        ".format(new Date(day + 'T00:00:00Z'))", day)
    await expect(table.locator("tbody tr th")).to_have_text([named])
    await expect(table.locator("thead th").first).to_have_text("День")
    await expect(screen.locator('[data-testid="chart-volumes"] figcaption')).to_have_text("Диалоги")
    await expect(screen.locator('[data-testid="chart-volumes"] svg text.report-label').first).to_contain_text(named)


@pytest.mark.parametrize("locale", ["ru-RU", "en-US"])
async def test_a_period_that_ends_before_it_starts_is_refused_in_the_consoles_language(
        service: str, browser: Browser, locale: str) -> None:
    """The server's 422 for it named no problem of its own, so the console showed "query: not a
    valid value." in either language; now the catalogue's words for a backwards period."""
    words = json.loads((CATALOGUES / f"{locale[:2]}.json").read_text(encoding="utf-8"))["invalid"]
    admin = await (await browser.new_context(locale=locale)).new_page()
    await agent_logs_in(admin, service)
    await (await from_more(admin, "reports-open")).click()
    screen = admin.locator('[data-testid="reports-screen"]')
    await screen.locator('[data-testid="report-from"]').fill("2026-03-10")
    await screen.locator('[data-testid="report-to"]').fill("2026-03-01")
    await screen.locator('[data-testid="report-show"]').click()
    await expect(screen.locator('[data-testid="report-error"]')).to_have_text(words["period_backwards"])


async def test_figures_are_written_in_the_unit_they_are_shown_in_and_grouped(service: str, browser: Browser) -> None:
    """The screen draws figures the test chooses (the server's answer rewritten on its way): 59.7 s is
    «1 мин», not «60 с»; 7 199 s «2 ч», not «120 мин»; a count in thousands grouped, in the table and the
    handoff reasons alike."""
    async def rewritten(route: Route) -> None:
        response = await route.fetch()
        body = await response.json()
        body["rows"] = [{**row, "opened": 12345, "first_response_p50": 59.7, "first_response_p90": 7199.0}
                        for row in body["rows"]]
        body["handoff_reasons"] = {"rules": 12345}
        await route.fulfill(response=response, json=body)

    _, screen, table = await reports_screen(browser, service, rewritten, locale="ru-RU")
    headers = await table.locator("thead th").all_text_contents()
    cells = [(c or "").replace("\u00a0", " ").replace("\u202f", " ")
             for c in await table.locator("tbody tr").first.locator("th, td").all_text_contents()]
    shown = dict(zip(headers, cells, strict=True))
    assert (shown["Открыто"], shown["Первый ответ p50"], shown["Первый ответ p90"]) == ("12 345", "1 мин", "2 ч")
    await expect(screen.locator('[data-testid="report-reasons"] li')).to_have_text(["Передан по правилам: 12 345"])
