"""The site chat coming back after its connection dropped, in Chromium: the
thread the customer sees stays as it was, the same elements in place, and
only what was written meanwhile is added, in its place. Each reconnection
drew the whole thread again, so the log's aria-live read every message out
again to a screen reader's user, and a reader lost their place."""

from __future__ import annotations

from playwright.async_api import Browser, Page, expect

from tests.e2e.test_conversation import agent_logs_in, customer_says
from tests.e2e.test_csat import Line

MARK = "document.querySelectorAll('[data-omr=message]').forEach(function (n) { n.dataset.shownBefore = 'yes'; })"
# a message's element's text is exactly its text (the time is drawn by CSS)
THREAD = ("Array.from(document.querySelectorAll('[data-omr=message]'))"
          ".map(function (n) {"
          " return [n.getAttribute('data-author'), n.textContent, n.dataset.shownBefore || 'no']; })")


async def thread(page: Page) -> list[tuple[str, str, str]]:
    rows = await page.evaluate(THREAD)
    return [(author, text, before) for author, text, before in rows]


async def test_a_reconnection_keeps_the_thread_in_place_and_adds_what_came_meanwhile(
    service: str, browser: Browser
) -> None:
    line = Line()
    customer = await (await browser.new_context(locale="ru-RU")).new_page()
    await customer.route_web_socket("**/chat/ws", line.connect)
    await customer.goto(f"{service}/chat/?lang=ru")
    await customer.locator('[data-omr="launcher"]').click()
    question = "Подскажите, пожалуйста, сроки доставки заказа номер 1042 в Казань и можно ли оплатить курьеру"
    await customer_says(customer, question)
    agent = await (await browser.new_context(locale="ru-RU")).new_page()
    await agent_logs_in(agent, service)
    await agent.locator('[data-testid="conversation"]', has_text="заказа номер 1042").click()
    await agent.locator('[data-testid="reply"]').fill("Добрый день! Сейчас посмотрю.")
    await agent.locator('[data-testid="send"]').click()
    shown = customer.locator('[data-omr="message"]')
    await expect(shown.filter(has_text="Сейчас посмотрю")).to_have_count(1)
    await expect(customer.locator('[data-omr="message"][data-pending]')).to_have_count(0)  # all acknowledged
    before = len(await thread(customer))
    await customer.evaluate(MARK)

    await line.cut()
    await agent.locator('[data-testid="reply"]').fill("Доставка в Казань — два дня.")
    await agent.locator('[data-testid="send"]').click()
    await expect(agent.locator('[data-testid="message"]', has_text="два дня")).to_have_count(1)
    line.up = True

    # welcomed again: the reply written meanwhile comes in the history, after what was shown
    await expect(shown.filter(has_text="два дня")).to_have_count(1)
    after = await thread(customer)
    assert [row[2] for row in after] == ["yes"] * before + ["no"], after  # the same elements, one new
    assert after[-1][:2] == ("agent", "Доставка в Казань — два дня."), after
    await customer_says(customer, "Спасибо!")
    await expect(shown.filter(has_text="Спасибо!")).to_have_count(1)
    assert [row[1] for row in await thread(customer)][-1] == "Спасибо!"
