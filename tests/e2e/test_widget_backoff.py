"""The widget's connection logic alone, in headless Chromium: the widget as the
server bundles it, a shop page and the chat's socket answered by the test, and
the page's clock run by the test (so minutes of the widget's waiting take
none, and a busy machine changes nothing it counts).

The service's refusals for now (``unavailable``: its store down; ``busy``)
are waited out: the wait grows with each refusal in a row, a reconnection does
not send the message sooner, and only proof that the service works (an ack,
or a welcome while nothing waits) starts the waits over. Before, every
welcome started the backoff over: a tab whose message the store refused came
back two to four times a second."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from playwright.async_api import Browser, Page, Route, WebSocketRoute, expect

from connectors.webchat_widget import Prechat, bundle
from tests.conftest import eventually
from tests.e2e.test_conversation import customer_says

SHOP = "http://shop.test"
PAGE = '<!doctype html><html lang="en"><head><meta charset="utf-8"></head><body>' \
       '<script src="/chat/widget.js"></script></body></html>'
TOKEN = "v1.visitor-token"
FAKE_MINUTES = 2
# chat sockets the widget may open in FAKE_MINUTES of refusals: a handful are enough (it waits
# 5 s, then longer each time, up to 30 s); the widget before opened one or more a fake second
AT_MOST = 20


class FakeChat:
    """The chat's socket, answered here: each hello welcomed; each message refused with
    ``refusal`` (and the socket closed when ``close`` says so) or, when it is None, acknowledged."""

    def __init__(self, refusal: dict[str, Any] | None, close: bool = True) -> None:
        self.refusal, self.close = refusal, close
        self.sockets: list[WebSocketRoute] = []
        self.welcomed = 0
        self.messages: list[str] = []  # client_ids, as they came
        self.acked: list[str] = []

    async def connect(self, ws: WebSocketRoute) -> None:
        self.sockets.append(ws)

        async def on_message(raw: str | bytes) -> None:
            frame = json.loads(raw)
            if frame["type"] == "hello":
                self.welcomed += 1
                ws.send(json.dumps({"type": "welcome", "visitor_id": TOKEN, "history": []}))
            elif frame["type"] == "message":
                self.messages.append(frame["client_id"])
                if self.refusal is None:
                    if frame["client_id"] not in self.acked:
                        self.acked.append(frame["client_id"])
                    ws.send(json.dumps({"type": "ack", "client_id": frame["client_id"],
                                        "id": f"m-{self.acked.index(frame['client_id'])}"}))
                    return
                ws.send(json.dumps({**self.refusal, "client_id": frame["client_id"]}))
                if self.close:
                    await ws.close(code=1011)

        ws.on_message(on_message)


async def shop(browser: Browser, chat: FakeChat) -> Page:
    page = await (await browser.new_context(locale="en-US")).new_page()
    widget = bundle(None, None, Prechat())

    async def serve(route: Route) -> None:
        if route.request.url.endswith("/chat/widget.js"):
            await route.fulfill(body=widget, content_type="application/javascript")
        else:
            await route.fulfill(body=PAGE, content_type="text/html; charset=utf-8")

    await page.route(f"{SHOP}/**", serve)
    await page.route_web_socket("**/chat/ws", chat.connect)
    await page.clock.install()
    await page.goto(f"{SHOP}/")
    await page.clock.pause_at(await page.evaluate("Date.now() + 1000"))  # from here time moves when run
    await page.locator('[data-omr="launcher"]').click()
    await eventually(lambda: _true(chat.welcomed == 1), "the first welcome")
    return page


async def _true(value: bool) -> bool:
    return value


async def run(page: Page, chat: FakeChat, seconds: int, until: Callable[[], bool] = lambda: False) -> None:
    """The page's clock run a second at a time; after each, until what the widget started then (a
    new socket's hello) has been answered, so it goes on from there as it would in real time."""
    for _ in range(seconds):
        if until():
            return
        await page.clock.run_for(1000)
        await eventually(lambda: _true(chat.welcomed == len(chat.sockets)), "a new socket's hello")
        await page.evaluate("0")  # the page has taken what it was sent meanwhile


UNAVAILABLE = {"type": "error", "code": "unavailable", "retry_after": 5, "message": "not stored"}


async def test_messages_refused_while_the_store_is_down_wait_longer_each_time_then_go_once_in_order(
    browser: Browser,
) -> None:
    chat = FakeChat(UNAVAILABLE)
    page = await shop(browser, chat)
    await customer_says(page, "first")
    await customer_says(page, "second")
    await eventually(lambda: _true(len(chat.messages) >= 1), "the first message")

    await run(page, chat, FAKE_MINUTES * 60)
    assert len(chat.sockets) <= AT_MOST, f"{len(chat.sockets)} sockets in {FAKE_MINUTES} fake minutes"
    # both messages go at each try, in order (the service stores what it takes once)
    assert len(chat.messages) <= 2 * AT_MOST, f"sent {len(chat.messages)} times in {FAKE_MINUTES} fake minutes"
    assert len(chat.sockets) >= 3, "the widget stopped trying"
    await expect(page.locator('[data-omr="note"]')).to_contain_text("We cannot take messages for a moment")

    kept = await page.evaluate("JSON.parse(localStorage.getItem('omnirouter.pending')).map(p => p.client_id)")
    chat.refusal = None  # the store is back
    await run(page, chat, 60, until=lambda: len(chat.acked) == 2)
    assert chat.acked == kept, "not taken in the order typed"
    mine = page.locator('[data-omr="message"][data-author="customer"]')
    await expect(mine).to_have_text(["first", "second"])
    await expect(page.locator('[data-omr="message"][data-pending="true"]')).to_have_count(0)
    await expect(page.locator('[data-omr="note"]')).to_have_text("")
    assert await page.evaluate("localStorage.getItem('omnirouter.pending')") is None


async def test_a_message_refused_as_busy_is_not_sent_again_by_a_reconnection_before_its_time(
    browser: Browser,
) -> None:
    chat = FakeChat({"type": "error", "code": "busy", "retry_after": 30, "message": "busy"}, close=False)
    page = await shop(browser, chat)
    await customer_says(page, "hello?")
    await eventually(lambda: _true(len(chat.messages) == 1), "the message")
    await expect(page.locator('[data-omr="note"]')).to_contain_text("yours will go in")
    await chat.sockets[-1].close(code=1001)  # the line drops meanwhile: the widget reconnects, welcomed
    await run(page, chat, 20)
    assert chat.welcomed >= 2, "the widget did not reconnect"
    assert len(chat.messages) == 1, "the reconnection sent the message before the time the service said"
    chat.refusal = None
    await run(page, chat, 60, until=lambda: len(chat.acked) == 1)
    assert len(chat.acked) == 1
    await expect(page.locator('[data-omr="message"][data-pending="true"]')).to_have_count(0)
