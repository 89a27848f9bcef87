"""What a screen reader says in the console is in the console's language, in
Chromium: every accessible name, description and hint written into the page's
attributes (aria-label, title, placeholder) of the Russian console is Russian,
with nothing left in English; the page's lang says the language it is in."""

from __future__ import annotations

import re

from playwright.async_api import Browser, expect

from tests.e2e.conftest import open_row
from tests.e2e.test_console_languages import person, sign_in
from tests.e2e.test_conversation import customer_says, open_widget

# every attribute a screen reader reads out, with its element's test id (else its id, else its tag)
SPOKEN = """() => [...document.querySelectorAll('[aria-label], [title], [placeholder], [aria-description]')]
  .flatMap((n) => ['aria-label', 'title', 'placeholder', 'aria-description']
    .filter((a) => n.hasAttribute(a))
    .map((a) => [n.dataset.testid || n.id || n.tagName, a, n.getAttribute(a)]))"""
# words that are the same in both languages: the product's name, a language's own name
SAME_IN_BOTH = re.compile(r"omnirouter|English|RU|EN")


async def test_every_spoken_label_of_the_russian_console_is_russian(service: str, browser: Browser) -> None:
    customer = await person(browser, "ru-RU")
    await open_widget(customer, service)
    await customer_says(customer, "Здравствуйте, где мой заказ?")
    agent = await person(browser, "ru-RU")
    await sign_in(agent, service, "Войти")
    await open_row(agent, "где мой заказ")
    await expect(agent.locator('[data-testid="message"]')).not_to_have_count(0)
    assert await agent.evaluate("document.documentElement.lang") == "ru"

    english = [
        (who, attr, text)
        for who, attr, text in await agent.evaluate(SPOKEN)
        if re.search("[A-Za-z]{3}", SAME_IN_BOTH.sub("", text)) and not re.search("[А-Яа-яЁё]", text)
    ]
    assert english == [], f"English read out in the Russian console: {english}"
    # the customer's panel is named as the catalogue says, in each language
    await expect(agent.get_by_role("complementary", name="Профиль клиента", include_hidden=True)).to_have_count(1)


async def test_a_refused_sign_in_is_said_on_the_fields_to_correct(service: str, browser: Browser) -> None:
    for locale, said in (("ru-RU", "Неверное имя пользователя или пароль."), ("en-US", "Wrong username or password.")):
        page = await person(browser, locale)
        await page.goto(service + "/")
        form = page.locator('[data-testid="login-form"]')
        await form.locator('input[name="username"]').fill("admin")
        await form.locator('input[name="password"]').fill("not the password")
        await form.locator('input[name="password"]').press("Enter")
        await expect(page.locator('[data-testid="login-error"]')).to_have_text(said)
        # the error is the fields' description, and they are marked invalid: a screen reader on the
        # field the agent goes back to says what was wrong, not only the alert that passed
        for name in ("username", "password"):
            field = form.locator(f'input[name="{name}"]')
            await expect(field).to_have_accessible_description(said)
            await expect(field).to_have_attribute("aria-invalid", "true")


async def test_a_screen_reader_hears_each_new_message_once_and_no_history(service: str, browser: Browser) -> None:
    customer = await person(browser, "ru-RU")
    await open_widget(customer, service)
    await customer_says(customer, "Первый вопрос: где мой заказ?")
    agent = await person(browser, "ru-RU")
    await sign_in(agent, service, "Войти")
    await open_row(agent, "где мой заказ")
    await expect(agent.locator('[data-testid="message"]')).to_have_count(1)
    # the thread is no live region: opening a conversation does not read its whole history out,
    # nor a delivery receipt the agent's reply again
    assert await agent.locator("#messages").get_attribute("aria-live") is None
    live = agent.get_by_role("log", name="Новые сообщения")
    await expect(live).to_have_text("")
    await agent.locator('[data-testid="reply"]').fill("Сейчас посмотрю")
    await agent.locator('[data-testid="reply"]').press("Enter")
    await expect(agent.locator('[data-testid="message"]')).to_have_count(2)
    # the customer's next message is said once, with who wrote it, in the console's language
    await customer_says(customer, "Спасибо, жду")
    await expect(agent.locator('[data-testid="message"]')).to_have_count(3)
    name = await agent.locator('[data-testid="conversation-title"]').text_content()
    await expect(live.locator("p")).to_have_text([f"{name}: Спасибо, жду"])
