"""Files both ways in the browser: a visitor sends a photo from the widget and
the agent sees it inline in the console; the agent attaches a file from disk
and the visitor sees it in the widget (an image inline, a document as a link).
A file over the limit is refused in the console before it is sent."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, WebSocketRoute, expect

from tests.conftest import eventually
from tests.e2e.page_wait import until_true
from tests.e2e.test_conversation import agent_logs_in, customer_says, open_widget

QUESTION = "Здравствуйте! Посылка пришла мятой"


@pytest.fixture
def service_config(tmp_path: Path) -> str:
    return f"files:\n  folder: {tmp_path / 'files'}\n"


def png(width: int = 24, height: int = 16) -> bytes:
    """A real PNG (the browser must decode it to show it), red."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


async def decoded(page: Page, selector: str) -> None:
    """The image is shown, decoded, not a broken-image icon."""
    image = page.locator(selector).last
    await expect(image).to_be_visible()
    await until_true(page, "(img) => img.complete && img.naturalWidth > 0", await image.element_handle())


async def test_files_both_ways(service: str, browser: Browser, tmp_path: Path) -> None:
    agent = await (await browser.new_context()).new_page()
    customer = await (await browser.new_context()).new_page()
    await agent_logs_in(agent, service)
    await open_widget(customer, service)
    await customer_says(customer, QUESTION)

    # the visitor sends a photo from the widget
    photo = tmp_path / "коробка.png"
    photo.write_bytes(png())
    await customer.locator('[data-omr="attach-input"]').set_input_files(str(photo))
    await decoded(customer, '[data-omr="message"][data-author="customer"] img')

    # the agent sees it inline in the thread (the row's preview is the file now)
    row = agent.locator('[data-testid="conversation"]')
    await expect(row).to_have_count(1)
    await row.click()
    await decoded(agent, '[data-testid="message"][data-author="customer"] img.attachment-image')

    # the agent attaches a photo and a document from disk and sends them
    invoice = tmp_path / "счёт.pdf"
    invoice.write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    reply_photo = tmp_path / "замена.png"
    reply_photo.write_bytes(png(32, 32))
    await agent.locator('[data-testid="attach-input"]').set_input_files([str(reply_photo), str(invoice)])
    chips = agent.locator('[data-testid="composer-file"]')
    await expect(chips).to_have_count(2)
    await expect(chips.locator('xpath=self::*[@data-state="ready"]')).to_have_count(2)
    await agent.locator('[data-testid="reply"]').fill("Отправим замену, вот счёт")
    await agent.locator('[data-testid="send"]').click()
    await expect(chips).to_have_count(0)

    # the visitor sees the photo inline and the document as a link to download
    said = customer.locator('[data-omr="message"][data-author="agent"]')
    await expect(said).to_have_count(1)
    await decoded(customer, '[data-omr="message"][data-author="agent"] img')
    link = said.locator('a[data-omr="file"]', has_text="счёт.pdf")
    await expect(link).to_have_count(1)
    async with customer.expect_download() as download:
        await link.click()
    assert (await download.value).suggested_filename == "счёт.pdf"

    # a file over the limit is refused in the console, in words, before it is sent
    big = tmp_path / "огромный.pdf"
    big.write_bytes(b"%PDF-1.4\n" + b"0" * (21 * 1024 * 1024))
    await agent.locator('[data-testid="attach-input"]').set_input_files(str(big))
    failed = agent.locator('[data-testid="composer-file"][data-state="failed"]')
    await expect(failed).to_have_count(1)
    await expect(failed.locator('[data-testid="composer-file-status"]')).to_contain_text("20")


@pytest.mark.parametrize(("lang", "said"), [("ru", "Файл пустой"), ("en", "The file is empty")])
async def test_an_empty_file_is_said_to_be_empty(service: str, browser: Browser, lang: str, said: str) -> None:
    """A file of no bytes (a download that failed, a file not yet saved) is told for what it is,
    not as a type that is not allowed, and nothing reaches the agent."""
    customer = await (await browser.new_context(locale=f"{lang}-{lang.upper()}")).new_page()
    await customer.goto(f"{service}/chat/?lang={lang}")
    await customer.locator('[data-omr="launcher"]').click()
    await customer.locator('[data-omr="attach-input"]').set_input_files(
        {"name": "invoice.pdf", "mimeType": "application/pdf", "buffer": b""})
    failed = customer.locator('[data-omr="upload"].omr-msg--failed')
    await expect(failed.locator('[data-omr="upload-state"]')).to_contain_text(said)
    await expect(failed).to_contain_text("invoice.pdf")


async def test_a_file_chosen_before_the_chat_is_welcomed_keeps_its_bubble(service: str, browser: Browser) -> None:
    """A file chosen as the chat opens, before the service's welcome: the welcome redraws the thread
    with its history, and that wiped the file's bubble, and with it why the file failed (a busy CI run
    caught it as the empty-file test choosing its file a moment too soon)."""
    customer = await (await browser.new_context(locale="en-US")).new_page()
    held: list[str | bytes] = []
    line: dict[str, WebSocketRoute | None] = {"page": None}

    def relay(ws: WebSocketRoute) -> None:  # the service's frames wait until the test lets them pass
        server = ws.connect_to_server()
        line["page"] = ws

        def hold(frame: str | bytes) -> None:  # a function: Playwright reads a handler's signature, a
            held.append(frame)                 # builtin's (list.append) has none, and was never called

        ws.on_message(server.send)
        server.on_message(hold)

    await customer.route_web_socket("**/chat/ws", relay)
    await customer.goto(f"{service}/chat/?lang=en")
    await customer.locator('[data-omr="launcher"]').click()
    async def welcomed() -> bool | None:
        return True if held else None

    await eventually(welcomed, "the welcome to reach the test's relay")
    await customer.locator('[data-omr="attach-input"]').set_input_files(
        {"name": "invoice.pdf", "mimeType": "application/pdf", "buffer": b""})
    failed = customer.locator('[data-omr="upload"].omr-msg--failed')
    await expect(failed.locator('[data-omr="upload-state"]')).to_contain_text("The file is empty")
    page = line["page"]
    assert page is not None
    for frame in held:  # the welcome, after the file was chosen
        page.send(frame)
    await expect(customer.locator('[data-omr="status"]')).to_have_attribute("data-state", "online")
    await expect(failed.locator('[data-omr="upload-state"]')).to_contain_text("The file is empty")
    await expect(failed).to_contain_text("invoice.pdf")


async def test_a_picture_dropped_on_the_chat_is_sent(service: str, browser: Browser) -> None:
    """The customer drags a screenshot onto the open chat: it is sent as with the paperclip
    (shown in the thread), and the shop's page stays where it was."""
    customer = await (await browser.new_context(locale="ru-RU")).new_page()
    await open_widget(customer, service)
    address = customer.url
    transfer = await customer.evaluate_handle("""(bytes) => {
        const transfer = new DataTransfer();
        transfer.items.add(new File([new Uint8Array(bytes)], "screenshot.png", {type: "image/png"}));
        return transfer;
    }""", list(png()))
    thread = customer.locator('[data-omr="messages"]')
    for kind in ("dragenter", "dragover", "drop"):
        await thread.dispatch_event(kind, {"dataTransfer": transfer})
    await decoded(customer, '[data-omr="message"][data-author="customer"] img')
    assert customer.url == address
