"""The widget's first minute, in Chromium: an SVG launcher, a greeting, the
pre-chat form when the site asks for one, and a status that says whether
people answer now, never a bare "online"."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page, expect

from tests.conftest import eventually
from tests.e2e.test_conversation import agent_logs_in, customer_says

PRECHAT = """connectors:
  webchat:
    type: webchat
    greeting: {ru: "Добрый день! Я помогу выбрать чай.", en: "Good day! Let me help you choose a tea."}
    prechat: {name: required, phone: optional}
"""


async def visitor(browser: Browser, base: str, locale: str = "ru-RU", lang: str = "ru") -> Page:
    page = await (await browser.new_context(locale=locale)).new_page()
    await page.goto(f"{base}/chat/?lang={lang}")
    return page


async def test_the_launcher_is_an_svg_and_the_greeting_opens_the_chat(service: str, browser: Browser) -> None:
    page = await visitor(browser, service)
    launcher = page.locator('[data-omr="launcher"]')
    await expect(launcher.locator("svg")).to_have_count(1)
    assert (await launcher.inner_text()).strip() == "", "no emoji or other text in the launcher"
    await expect(launcher).to_have_attribute("aria-label", "Открыть чат")
    await launcher.click()
    await expect(page.locator('[data-omr="greeting"]')).to_have_text("Здравствуйте! Чем можем помочь?")
    # nobody online, no opening hours: the visitor is told to leave a message, not "online"
    status = page.locator('[data-omr="status"]')
    await expect(status).to_have_text("Оставьте сообщение — ответим, как только сможем")
    await expect(status).to_have_attribute("data-people", "soon")
    await customer_says(page, "Есть ли улун?")
    await expect(page.locator('[data-omr="message"][data-author="customer"]')).to_have_text("Есть ли улун?")
    # the greeting is the site's sign, not a message: the agent does not see it
    agent = await (await browser.new_context()).new_page()
    await agent_logs_in(agent, service)
    await agent.locator('[data-testid="conversation"]', has_text="Есть ли улун").click()
    await expect(agent.locator('[data-testid="message"]')).to_have_count(1)


async def test_the_status_says_people_answer_when_an_agent_is_online(service: str, browser: Browser) -> None:
    agent = await (await browser.new_context()).new_page()
    await agent_logs_in(agent, service)
    await agent.locator('[data-testid="presence"]').select_option("online")

    async def online() -> bool:
        # the pick is posted as the select changes: read until it has landed, not at once
        resp = await agent.request.get(f"{service}/api/presence")
        return "online" in await resp.text()

    await eventually(online, "the agent's pick of online to reach the server")
    page = await visitor(browser, service, "en-US", "en")
    await page.locator('[data-omr="launcher"]').click()
    status = page.locator('[data-omr="status"]')
    # read at most every few seconds by the server: the ceiling is expect's
    await expect(status).to_have_text("We're online and answering")
    await expect(status).to_have_attribute("data-people", "now")


@pytest.mark.parametrize("service_config", [PRECHAT])
async def test_a_new_visitor_gives_their_name_first_and_the_agent_sees_it(service: str, browser: Browser) -> None:
    page = await visitor(browser, service)
    await page.locator('[data-omr="launcher"]').click()
    form = page.locator('[data-omr="prechat"]')
    await expect(form).to_be_visible()
    # the chat waits for the form: its status says nothing, never its state's English name ("idle")
    await expect(page.locator('[data-omr="status"]')).to_have_text("")
    await expect(page.locator('[data-omr="greeting"]')).to_have_text("Добрый день! Я помогу выбрать чай.")
    await expect(page.locator('[data-omr="input"]')).to_be_hidden()
    await expect(page.locator('[data-omr="prechat-skip"]')).to_have_count(0)  # the name is required

    await page.locator('[data-omr="prechat-start"]').click()
    await expect(page.locator('[data-omr="prechat-error"]')).to_have_text("Заполните, пожалуйста, поле «Ваше имя».")
    await page.locator('[data-omr="prechat-name"]').fill("Ольга")
    await page.locator('[data-omr="prechat-phone"]').fill("не телефон")
    await page.locator('[data-omr="prechat-start"]').click()
    await expect(page.locator('[data-omr="prechat-error"]')).to_have_text("Номер телефона выглядит неверным.")
    await page.locator('[data-omr="prechat-phone"]').fill("+7 912 345-67-89")
    await page.locator('[data-omr="prechat-start"]').click()
    await expect(form).to_be_hidden()
    await customer_says(page, "Хочу улун")

    agent = await (await browser.new_context()).new_page()
    await agent_logs_in(agent, service)
    row = agent.locator('[data-testid="conversation"]', has_text="Хочу улун")
    await expect(row.locator(".conv-name")).to_have_text("Ольга")
    await row.click()
    claims = agent.locator('[data-testid="customer-panel"] [data-testid="claim"]')
    await expect(claims).to_contain_text("+79123456789")

    # a reload does not ask again: the visitor is known now
    await page.reload()
    await page.locator('[data-omr="launcher"]').click()
    await expect(page.locator('[data-omr="message"][data-author="customer"]')).to_have_text("Хочу улун")
    await expect(form).to_have_count(0)
