"""An outage of the service's store, in Chromium, against the real service:
its writes are refused (the chat answers each message ``unavailable`` and
closes the socket) while its reads go on, so every hello is welcomed.

Before, the welcome started the widget's backoff over: each open tab
reconnected, said hello, read its history and sent its message again two to
four times a second for as long as the store was down, and the customer saw
the message faded with no word. Now a refused message goes again after a
wait that grows with each refusal (with jitter), the customer is told in
their language that it waits, and it arrives once, in order, when the store
is back."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, Route, WebSocket, expect

from tests.conftest import HANG
from tests.e2e.test_conversation import customer_says
from tests.e2e.test_files import decoded, png

PAGE = '<!doctype html><html lang="{lang}"><head><meta charset="utf-8"></head><body>' \
       '<script src="/chat/widget.js"></script></body></html>'
WAITING = {"ru": "Мы ненадолго не можем принимать сообщения", "en": "We cannot take messages for a moment"}
# seconds of outage watched: the widget before reconnected 40-80 times in it (a slow machine only
# makes that fewer); now a handful: AT_MOST is far from both
WATCH = 20.0
AT_MOST = 10


@pytest.fixture
def service_config(tmp_path: Path) -> str:
    return f"files:\n  folder: {tmp_path / 'files'}\n"


class StoreOutage:
    """The service's database file replaced under it by a copy, as a restored backup is: the
    service stops its writes (nothing it acknowledged could be read again) and keeps reading
    the file it has open. Putting the file back (a hard link kept of it) ends the outage."""

    def __init__(self, database: Path) -> None:
        self.database = database
        self.kept = database.with_name(database.name + ".kept")

    def start(self) -> None:
        os.link(self.database, self.kept)
        copy = self.database.with_name(self.database.name + ".copy")
        shutil.copyfile(self.database, copy)
        os.replace(copy, self.database)

    def end(self) -> None:
        os.replace(self.kept, self.database)


class Sockets:
    """The page's chat sockets, and the refusals they were told."""

    def __init__(self, page: Page) -> None:
        self.opened: list[WebSocket] = []
        self.refusals = 0
        page.on("websocket", self._opened)

    def _opened(self, ws: WebSocket) -> None:
        self.opened.append(ws)
        ws.on("framereceived", self._frame)

    def _frame(self, payload: str | bytes) -> None:
        text = payload if isinstance(payload, str) else payload.decode(errors="replace")
        if '"unavailable"' in text:
            self.refusals += 1


async def shop_page(browser: Browser, base: str, lang: str) -> tuple[Page, Sockets]:
    page = await (await browser.new_context(locale=f"{lang}-{lang.upper()}")).new_page()
    sockets = Sockets(page)

    async def serve(route: Route) -> None:
        await route.fulfill(body=PAGE.format(lang=lang), content_type="text/html; charset=utf-8")

    await page.route(f"{base}/shop", serve)
    await page.goto(f"{base}/shop")
    await page.locator('[data-omr="launcher"]').click()
    return page, sockets


@pytest.mark.parametrize("lang", ["ru", "en"])
async def test_a_store_outage_is_waited_out_without_a_storm_of_reconnections_and_loses_nothing(
    service: str, browser: Browser, tmp_path: Path, lang: str,
) -> None:
    page, sockets = await shop_page(browser, service, lang)
    mine = page.locator('[data-omr="message"][data-author="customer"]')
    await customer_says(page, "before")
    await expect(mine).not_to_have_attribute("data-pending", "true")

    outage = StoreOutage(tmp_path / "e2e.db")
    outage.start()
    before = len(sockets.opened)
    await customer_says(page, "first")
    await customer_says(page, "second")
    # watched for a while: the widget keeps trying (refused each time), on a few sockets only
    loop = asyncio.get_running_loop()
    began = loop.time()
    while loop.time() - began < WATCH or sockets.refusals < 2:
        assert loop.time() - began < HANG, f"{sockets.refusals} refusal(s) in {HANG:g} s: the widget gave up?"
        await asyncio.sleep(0.5)
    opened = len(sockets.opened) - before
    assert opened <= AT_MOST, f"{opened} chat sockets opened in {WATCH:g} s of outage: a reconnection storm"
    note = page.locator('[data-omr="note"]')
    await expect(note).to_contain_text(WAITING[lang])
    await expect(mine.nth(1)).to_have_attribute("data-pending", "true")
    await expect(mine.nth(2)).to_have_attribute("data-pending", "true")

    outage.end()
    await expect(mine.nth(1)).not_to_have_attribute("data-pending", "true")
    await expect(mine.nth(2)).not_to_have_attribute("data-pending", "true")
    await expect(note).to_have_text("")
    await expect(mine).to_have_text(["before", "first", "second"])
    # stored once each, in order: a fresh visit shows them so
    await page.reload()
    await page.locator('[data-omr="launcher"]').click()
    await expect(mine).to_have_text(["before", "first", "second"])


async def test_a_file_sent_while_the_store_is_down_goes_by_itself_once_it_is_back(
    service: str, browser: Browser, tmp_path: Path,
) -> None:
    """The upload's 503 says when to send it again (Retry-After): the widget, which still has the
    file, says so and sends it then, not leaving the customer a failed file to choose again."""
    page, _ = await shop_page(browser, service, "en")
    await customer_says(page, "before")
    await expect(page.locator('[data-omr="message"][data-pending="true"]')).to_have_count(0)
    outage = StoreOutage(tmp_path / "e2e.db")
    outage.start()
    await page.locator('[data-omr="attach-input"]').set_input_files(
        {"name": "photo.png", "mimeType": "image/png", "buffer": png()})
    upload = page.locator('[data-omr="upload"]')
    await expect(upload.locator('[data-omr="upload-state"]')).to_contain_text("We cannot take files for a moment")
    outage.end()
    await decoded(page, '[data-omr="message"][data-author="customer"] img')
    await expect(upload).to_have_count(0)
    await page.reload()
    await page.locator('[data-omr="launcher"]').click()
    await expect(page.locator('[data-omr="message"][data-author="customer"] img')).to_have_count(1)
