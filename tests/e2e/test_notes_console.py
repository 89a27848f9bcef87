"""The notes' console (agents_ui/static/notes.js) where timing and state
matter, in Chromium: a note that arrives while the thread loads is placed by
time; each composer mode keeps its own draft; the unread badge is the
server's count, whatever order or how often the frames come; a mention in the
open conversation is read once the tab is visible; and the console's
``@name`` rule is the server's, character for character."""

from __future__ import annotations

import asyncio
import re
import sys
import unicodedata
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page, Route, expect

from router.notes.service import mentioned_names
from tests.conftest import HANG
from tests.e2e.conftest import new_page, open_row
from tests.e2e.page_wait import until_true
from tests.e2e.test_conversation import agent_logs_in, customer_says, open_widget
from tests.e2e.test_notes import BOB_PASSWORD, logs_in_as

QUESTION = "Здравствуйте! Где посылка 7730?"
NOTES_JS = Path(__file__).parents[2] / "agents_ui" / "static" / "notes.js"
ORDER = "() => [...document.querySelectorAll('#messages > li[data-ts]')].map(r => r.dataset.testid)"
# every note.created / note.mentioned frame the console was given, in order
RECORD = """() => { window.__frames = [];
  document.addEventListener('console:event', e => {
    if (e.detail.type.startsWith('note.')) window.__frames.push(e.detail); }); }"""


async def a_customer_asks(service: str, browser: Browser, admin: Page) -> str:
    """The customer asks in the widget; the id of the conversation, as the admin's console lists it."""
    customer = await new_page(browser)
    await open_widget(customer, service)
    await customer_says(customer, QUESTION)
    await expect(admin.locator('[data-testid="conversation"]', has_text=QUESTION)).to_have_count(1)
    listed = await (await admin.request.get(f"{service}/api/conversations")).json()
    conversation_id: str = listed["conversations"][0]["id"]
    return conversation_id


async def note(page: Page, service: str, conversation_id: str, text: str) -> dict[str, Any]:
    resp = await page.request.post(f"{service}/api/conversations/{conversation_id}/notes", data={"text": text})
    assert resp.status == 201, await resp.text()
    written: dict[str, Any] = (await resp.json())["note"]
    return written


async def test_a_note_arriving_while_the_thread_loads_is_placed_after_the_question(service: str, browser: Browser
                                                                                   ) -> None:
    a = await new_page(browser)
    await agent_logs_in(a, service)
    conversation_id = await a_customer_asks(service, browser, a)
    await a.evaluate(RECORD)
    # the thread's history is held back until the note has reached the console
    asked, release = asyncio.Event(), asyncio.Event()

    async def hold(route: Route) -> None:
        asked.set()
        await release.wait()
        await route.continue_()

    await a.route(re.compile(r".*/api/conversations/[^/]+/messages$"), hold)
    await a.locator('[data-testid="conversation"]', has_text=QUESTION).click()
    await asyncio.wait_for(asked.wait(), HANG)
    written = await note(a, service, conversation_id, "arrived before the history")
    await until_true(a, "id => window.__frames.some(f => f.data.note.id === id)", written["id"])
    release.set()
    await expect(a.locator('[data-testid="note"]')).to_have_count(1)
    await expect(a.locator('[data-testid="message"]')).to_have_count(1)
    assert await a.evaluate(ORDER) == ["message", "note"]


async def test_each_composer_mode_keeps_its_own_draft(service: str, browser: Browser) -> None:
    a = await new_page(browser)
    await agent_logs_in(a, service)
    await a_customer_asks(service, browser, a)
    await open_row(a, QUESTION)
    box = a.locator('[data-testid="reply"]')
    await a.locator('[data-testid="mode-note"]').click()
    await box.fill("internal: refund approved, do not tell yet")
    await a.locator('[data-testid="mode-reply"]').click()
    await expect(box).to_have_value("")  # the note's draft does not become the reply's
    await box.fill("Добрый день! Уже проверяем.")
    await a.locator('[data-testid="mode-note"]').click()
    await expect(box).to_have_value("internal: refund approved, do not tell yet")
    # the "r" shortcut (away from the box) switches back to the reply, with the reply's draft
    await a.locator('[data-testid="conversation-title"]').click()
    await a.keyboard.press("r")
    await expect(box).to_have_value("Добрый день! Уже проверяем.")
    await box.press("Enter")
    texts = a.locator('[data-testid="message"] [data-testid="message-text"]')
    await expect(texts).to_have_text([QUESTION, "Добрый день! Уже проверяем."])
    await expect(a.locator('[data-testid="note"]')).to_have_count(0)


async def replay(page: Page, badge: str, frame: int = 0) -> None:
    """The console is given a note.mentioned frame it had already (twice over a
    reconnection's catch-up, or late from another node): the badge says
    ``badge`` at once, and asks the server for the count."""
    async with page.expect_response(lambda r: r.url.endswith("/api/mentions")):
        shown: str = await page.evaluate(
            """i => { document.dispatchEvent(new CustomEvent('console:event', {detail: window.__frames
                        .filter(f => f.type === 'note.mentioned')[i]}));
                      const badge = document.querySelector('[data-testid="mentions-badge"]');
                      return badge.hidden ? '' : badge.textContent; }""", frame)
        assert shown == badge


async def test_the_badge_is_the_servers_count_and_a_mention_seen_in_the_open_conversation_is_read(
        service: str, browser: Browser) -> None:
    a = await new_page(browser)
    await agent_logs_in(a, service)
    made = await a.request.post(f"{service}/api/agents", data={
        "username": "bob", "display_name": "Bob Stone", "password": BOB_PASSWORD, "role": "agent"})
    assert made.status == 201
    conversation_id = await a_customer_asks(service, browser, a)
    b = await new_page(browser)
    await logs_in_as(b, service, "bob", BOB_PASSWORD)
    await expect(b.locator('[data-testid="live"]')).to_have_attribute("data-state", "online")
    await b.evaluate(RECORD)
    await b.evaluate("""id => document.dispatchEvent(new CustomEvent('conversation:open', {detail: {id}}))""",
                     conversation_id)
    await expect(b.locator('[data-testid="message"]')).to_have_count(1)
    # Bob's tab is in the background when the mention comes
    await b.evaluate("""() => { window.__visibility = 'hidden';
        Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => window.__visibility}); }""")
    badge = b.locator('[data-testid="mentions-badge"]')

    await note(a, service, conversation_id, "@bob the courier lost it")
    await expect(badge).to_have_text("1")  # not read: nobody is looking
    await expect(b.locator('[data-testid="note"]')).to_have_count(1)
    await replay(b, "1")  # the same mention twice is one
    await expect(badge).to_have_text("1")

    # Bob comes back to the tab: the conversation in front of him has its mention read
    await b.evaluate("() => { window.__visibility = 'visible';"
                     " document.dispatchEvent(new Event('visibilitychange')); }")
    await expect(badge).to_be_hidden()
    assert (await (await b.request.get(f"{service}/api/mentions")).json())["unread"] == 0
    await replay(b, "")  # a mention that comes after it was read is not unread again
    await expect(badge).to_be_hidden()


# the server's @name rule against the console's: every character before an "@" and a few texts
SAMPLES = ["заказ@bob", "ann@example.com", "@bob.", "(@bob)", "@bob.@ann", "ё@bob", "日本@bob", "x_@bob",
           "٣@bob", "@Bob, @ann_1 и @cid-2.", "e\u0301@bob", "—@bob", "@bob@ann", "@@bob", ".@bob", "1@bob"]


def _python_word_chars() -> list[int]:
    """The code points before which "@bob" is no mention on the server, of
    those Python's Unicode database knows (a newer browser may know more)."""
    return [c for c in range(sys.maxunicode + 1)
            if unicodedata.category(chr(c)) not in ("Cn", "Cs") and not mentioned_names(chr(c) + "@bob")]


async def test_the_consoles_mention_rule_is_the_servers(browser: Browser) -> None:
    page = await new_page(browser)
    await page.add_script_tag(content=NOTES_JS.read_text(encoding="utf-8"))
    names = await page.evaluate("texts => texts.map(t => window.notes.mentionedNames(t))", SAMPLES)
    assert names == [mentioned_names(t) for t in SAMPLES]
    in_browser = set(await page.evaluate(
        """() => { const no = [];
          for (let c = 0; c <= 0x10FFFF; c++) {
            if (c >= 0xD800 && c <= 0xDFFF) continue;
            if (window.notes.mentionedNames(String.fromCodePoint(c) + '@bob').length === 0) no.push(c);
          }
          return no; }"""))
    expected = set(_python_word_chars())
    assert len(expected) > 100_000  # letters and digits of every script, not ASCII's 63
    known = {c for c in in_browser if unicodedata.category(chr(c)) != "Cn"}
    assert sorted(f"U+{c:04X}" for c in known ^ expected) == []
