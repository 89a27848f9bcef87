"""The API's refusals as an agent reads them in Chromium: a refused field by the
name the form gives it, in the console's language, never the API's own name
for it (display_name)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.e2e.test_conversation import agent_logs_in
from tests.e2e.topbar import from_more


@pytest.mark.parametrize(("locale", "said"), [("ru-RU", "Имя: не короче 1 символа."),
                                              ("en-US", "Name: at least 1 character.")])
async def test_a_refused_field_is_named_as_the_form_names_it(
        service: str, browser: Browser, locale: str, said: str) -> None:
    admin = await (await browser.new_context(locale=locale)).new_page()
    await agent_logs_in(admin, service)
    await admin.locator('[data-testid="presence-prompt-later"]').click()
    await (await from_more(admin, "agents-open")).click()
    screen = admin.locator('[data-testid="agents-screen"]')
    await screen.locator('[data-testid="agents-add"]').click()
    form = screen.locator('[data-testid="agent-form-add"]')
    await form.locator('input[name="username"]').fill("nina")
    await form.locator('input[name="display_name"]').fill("   ")  # blank once trimmed: the API refuses it
    await form.locator('[data-testid="agent-save"]').click()
    error = form.locator('[data-testid="agent-form-error"]')
    await expect(error).to_have_text(said)
    # a field the catalogue names, anywhere in a path, and one it does not, as the API said it
    shown = await admin.evaluate("""() => [
        window.i18n.error({code: "invalid", details: {field: "texts.ru", problem: "missing"}}),
        window.i18n.error({code: "invalid", details: {field: "files.0", problem: "missing"}}),
        window.i18n.error({code: "invalid", details: {field: "no_such_field", problem: "value_error"}}),
    ]""")
    ru = locale.startswith("ru")
    assert shown == ([
        "Текст (ru): обязательное поле.", "Файлы: обязательное поле.", "no_such_field: недопустимое значение.",
    ] if ru else [
        "Text (ru): required.", "Files: required.", "no_such_field: not a valid value.",
    ])


@pytest.mark.parametrize(("locale", "lang"), [("ru-RU", "ru"), ("en-US", "en")])
async def test_a_file_or_attachment_that_cannot_be_opened_is_a_page_not_json(
        service: str, browser: Browser, locale: str, lang: str) -> None:
    """The console opens files and relayed attachments in a new tab: an error there was raw JSON."""
    catalogue = json.loads((Path(__file__).parents[2] / "agents_ui" / "i18n" / f"{lang}.json").read_text("utf-8"))
    context = await browser.new_context(locale=locale)
    await agent_logs_in(await context.new_page(), service)
    tab = await context.new_page()
    for path, said in (("/api/messages/msg_missing/attachments/0", catalogue["errors"]["not_found"]),
                       ("/api/files/fil_missing", catalogue["error_page"]["file_not_found"])):
        await tab.goto(service + path)
        await expect(tab.locator('[data-testid="error-text"]')).to_have_text(said)
        await expect(tab.locator("h1")).to_have_text(catalogue["error_page"]["title"])
        assert '"error"' not in await tab.content()
