"""A line that goes dead without a word, in Chromium: the network stops
carrying the chat's frames but closes nothing (a train into a tunnel, a
wedged router), so the browser's socket still looks open. The customer who
sends a message then is told it has not gone through yet, in their language,
and it arrives once, in its place, when the line comes back."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.async_api import Browser, Page, Route, WebSocketRoute, expect

from tests.e2e.test_conversation import customer_says

PAGE = '<!doctype html><html lang="{lang}"><head><meta charset="utf-8"></head><body>' \
       '<script src="/chat/widget.js"></script></body></html>'
NOT_DELIVERED = {"ru": "Сообщение пока не доставлено", "en": "Your message has not gone through yet"}


class StallingLine:
    """The widget's socket passed through to the service; ``stall`` holds
    every frame either way on the sockets open then (nothing is closed, as on
    a dead network), ``resume`` delivers what was held, in order."""

    def __init__(self) -> None:
        self.stalled = False
        self.held: list[tuple[WebSocketRoute, str | bytes]] = []

    async def connect(self, page_side: WebSocketRoute) -> None:
        server_side = page_side.connect_to_server()

        def carry(to: WebSocketRoute) -> Callable[[str | bytes], None]:
            def send(message: str | bytes) -> None:
                if self.stalled:
                    self.held.append((to, message))
                else:
                    to.send(message)
            return send

        page_side.on_message(carry(server_side))
        server_side.on_message(carry(page_side))

    def stall(self) -> None:
        self.stalled = True

    def resume(self) -> None:
        self.stalled = False
        for to, message in self.held:
            to.send(message)
        self.held.clear()


async def shop_page(browser: Browser, base: str, lang: str, line: StallingLine) -> Page:
    page = await (await browser.new_context(locale=f"{lang}-{lang.upper()}")).new_page()
    await page.route_web_socket("**/chat/ws", line.connect)

    async def serve(route: Route) -> None:
        await route.fulfill(body=PAGE.format(lang=lang), content_type="text/html; charset=utf-8")

    await page.route(f"{base}/shop", serve)
    await page.goto(f"{base}/shop")
    await page.locator('[data-omr="launcher"]').click()
    return page


@pytest.mark.parametrize("lang", ["ru", "en"])
async def test_a_message_sent_into_a_dead_line_is_said_to_be_waiting_and_arrives_once(
    service: str, browser: Browser, lang: str,
) -> None:
    line = StallingLine()
    page = await shop_page(browser, service, lang, line)
    mine = page.locator('[data-omr="message"][data-author="customer"]')
    await customer_says(page, "first words")
    await expect(mine).not_to_have_attribute("data-pending", "true")

    line.stall()
    await customer_says(page, "into the tunnel")
    note = page.locator('[data-omr="note"]')
    await expect(note).to_contain_text(NOT_DELIVERED[lang])
    await expect(mine.last).to_have_attribute("data-pending", "true")

    line.resume()
    await expect(mine.last).not_to_have_attribute("data-pending", "true")
    await expect(note).to_have_text("")
    await expect(mine).to_have_text(["first words", "into the tunnel"])
    # the service stored it once: a fresh visit shows it once, in its place
    await page.reload()
    await page.locator('[data-omr="launcher"]').click()
    await expect(mine).to_have_text(["first words", "into the tunnel"])
