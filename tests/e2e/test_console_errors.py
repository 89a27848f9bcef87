"""An error that is not the API's own, in Chromium: a proxy's 502 page (not
JSON) and no answer at all (the network down) are shown in the console's
language, from the catalogue, never as "502 Bad Gateway" or "Failed to fetch"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.async_api import Browser, Route, expect

from tests.e2e.test_conversation import agent_logs_in

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
