"""The console and the widget in Russian and English, in Chromium: the
language follows the agent's setting, then the browser; nothing of the other
language shows; dates are written in it."""

from __future__ import annotations

import json
import re
from pathlib import Path

from playwright.async_api import Browser, Page, expect

from tests.e2e.conftest import ADMIN_PASSWORD
from tests.e2e.test_conversation import customer_says, open_widget
from tests.e2e.topbar import SIGNED_IN, from_more

ROOT = Path(__file__).resolve().parents[2]


def catalogue_texts(lang: str) -> list[str]:
    def walk(tree: dict[str, object]) -> list[str]:
        out: list[str] = []
        for value in tree.values():
            out.extend(walk(value) if isinstance(value, dict) else [str(value)])
        return out
    return walk(json.loads((ROOT / "agents_ui" / "i18n" / f"{lang}.json").read_text(encoding="utf-8")))


def english_only_fragments() -> set[str]:
    """Pieces of the English catalogue's texts (between variables) long
    enough to be words of a sentence, that no Russian text also has."""
    russian = " ".join(catalogue_texts("ru"))
    pieces = {p.strip(" .:…“”()·") for text in catalogue_texts("en") for p in re.split(r"\{\{[^}]*\}\}", text)}
    return {p for p in pieces if len(p) >= 5 and re.search(r"[A-Za-z]{3}", p) and p not in russian}


async def person(browser: Browser, locale: str) -> Page:
    """A page of its own whose browser speaks ``locale`` first."""
    return await (await browser.new_context(locale=locale)).new_page()


async def sign_in(page: Page, base: str, submit: str) -> None:
    await page.goto(base + "/")
    form = page.locator('[data-testid="login-form"]')
    await expect(form.locator('button[type="submit"]')).to_have_text(submit)
    await form.locator('input[name="username"]').fill("admin")
    await form.locator('input[name="password"]').fill(ADMIN_PASSWORD)
    await form.locator('input[name="password"]').press("Enter")
    await expect(page.locator(SIGNED_IN)).to_be_visible()


async def test_a_russian_browser_gets_a_console_with_no_english_in_it(service: str, browser: Browser) -> None:
    customer = await person(browser, "ru-RU")
    await open_widget(customer, service)
    await customer_says(customer, "Здравствуйте, где мой заказ?")

    agent = await person(browser, "ru-RU")
    await sign_in(agent, service, "Войти")
    await expect(agent.locator('[data-testid="live"]')).to_have_text("На связи")
    row = agent.locator('[data-testid="conversation"]', has_text="где мой заказ")
    await row.click()
    await expect(agent.locator('[data-testid="message"]').first).to_be_visible()
    await expect(agent.locator("#messages .day").first).to_have_text("Сегодня")
    await expect(agent.locator('[data-testid="take"]')).to_have_text("Взять")
    # the visitor gave no name: a label, never the visitor's token
    title = agent.locator('[data-testid="conversation-title"]')
    await expect(title).to_have_text(re.compile(r"^Посетитель · [0-9a-f]{4}$"))
    await expect(agent.locator('[data-testid="customer-panel"]')).to_contain_text("Чат на сайте")
    assert await agent.evaluate("document.documentElement.lang") == "ru"

    # how long ago, as a duration in the console's language (Intl's narrow relative style wrote "-5 мин")
    assert await agent.evaluate("fmt.relative(Date.now() - 5 * 60000)") == "5 мин"
    assert await agent.evaluate("fmt.relative(Date.now() - 3 * 3600000)") == "3 ч"

    shown = await agent.evaluate("document.body.innerText")
    # whole words: the admin's own name "Administrator" is no text of the console's
    leaked = sorted(f for f in english_only_fragments() if re.search(rf"(?<!\w){re.escape(f)}(?!\w)", shown))
    assert leaked == [], f"English on the Russian console: {leaked}"


async def test_the_agents_choice_of_language_wins_over_the_browser_and_is_kept(service: str,
                                                                               browser: Browser) -> None:
    agent = await person(browser, "ru-RU")
    await sign_in(agent, service, "Войти")
    await (await from_more(agent, "language")).select_option("en")
    # the page is drawn again in English
    await expect(agent.locator('[data-testid="logout"]')).to_have_text("Log out")
    await expect(agent.locator('.tabs button[data-filter="queued"]')).to_have_text("Queued")
    assert await agent.evaluate("document.documentElement.lang") == "en"

    # another device of the same agent, with a Russian browser: English, as they chose
    elsewhere = await person(browser, "ru-RU")
    await sign_in(elsewhere, service, "Войти")  # before sign-in, only the browser is known
    await expect(elsewhere.locator('[data-testid="logout"]')).to_have_text("Log out")
    await expect(elsewhere.locator('[data-testid="language"]')).to_have_value("en")


async def test_an_english_browser_gets_english_and_dates_in_english(service: str, browser: Browser) -> None:
    customer = await person(browser, "en-GB")
    await customer.goto(f"{service}/chat/")
    await expect(customer.locator("html")).to_have_attribute("lang", "en")
    await customer.locator('[data-omr="launcher"]').click()
    await expect(customer.locator('[data-omr="send"]')).to_have_text("Send")
    await customer_says(customer, "Where is my order?")

    agent = await person(browser, "en-GB")
    await sign_in(agent, service, "Sign in")
    await agent.locator('[data-testid="conversation"]', has_text="Where is my order").click()
    await expect(agent.locator("#messages .day").first).to_have_text("Today")
    assert await agent.evaluate("fmt.relative(Date.now() - 5 * 60000)") == "5 min"
    title = agent.locator('[data-testid="conversation-title"]')
    await expect(title).to_have_text(re.compile(r"^Visitor · [0-9a-f]{4}$"))
