"""Private notes and @mentions in Chromium, with three people in their own
browsers: agent A writes a note mentioning agent B; B's console shows it live
(badge, Mentions view, the conversation opened from it, read once opened);
the customer's widget never shows the note, live or after a reload."""

from __future__ import annotations

from playwright.async_api import Browser, Page, expect

from tests.e2e.conftest import new_page, sign_in
from tests.e2e.test_conversation import agent_logs_in, customer_says, open_widget
from tests.e2e.topbar import SIGNED_IN

QUESTION = "Здравствуйте! Посылка 5521 так и не пришла."
NOTE_REST = "проверь у курьера, клиент VIP — вернём деньги"
REPLY = "Добрый день! Уже выясняем у курьера."
BOB_PASSWORD = "bob-password-1"
LABEL = {"en": "Private note", "ru": "Заметка"}  # agents_ui/i18n/*.json: notes.label
LANG = "document.documentElement.lang"


async def logs_in_as(page: Page, base: str, username: str, password: str) -> None:
    await sign_in(page, base, username, password)
    await expect(page.locator(SIGNED_IN)).to_be_visible()


async def a_notes_for_bob(a: Page) -> None:
    """A switches the composer to Note, picks Bob from the @ suggestions and adds the note."""
    await a.locator('[data-testid="mode-note"]').click()
    box = a.locator('[data-testid="reply"]')
    await box.press_sequentially("@bo")
    suggestion = a.locator('[data-testid="mention-suggestion"]')
    await expect(suggestion).to_have_count(1)
    await expect(suggestion).to_contain_text("Bob Stone")
    await box.press("Enter")  # picks the suggestion, sends nothing
    await expect(box).to_have_value("@bob ")
    await box.press_sequentially(NOTE_REST)
    await box.press("Enter")
    note = a.locator('[data-testid="note"]')
    await expect(note.locator('[data-testid="note-text"]')).to_have_text(f"@bob {NOTE_REST}")
    await expect(note.locator('[data-testid="note-label"]')).to_have_text(LABEL[await a.evaluate(LANG)])
    await expect(note.locator(".mention")).to_have_text("@bob")


async def bob_opens_it_from_his_mentions(b: Page) -> None:
    """The badge counts the mention live, the view lists it, opening it opens the conversation and reads it."""
    badge = b.locator('[data-testid="mentions-badge"]')
    await expect(badge).to_have_text("1")
    await b.locator('[data-testid="mentions-button"]').click()
    mention = b.locator('[data-testid="mention"]')
    await expect(mention).to_have_count(1)
    await expect(mention).to_contain_text(NOTE_REST)
    # a list of mentions, each a button in its item: what a screen reader counts and presses
    what = "(n) => [n.tagName, n.parentElement.tagName, n.parentElement.getAttribute('role')]"
    assert await mention.evaluate(what) == ["BUTTON", "LI", None]
    await expect(b.locator('[data-testid="mentions-view"] h2')).to_have_text("Упоминания")  # Bob reads Russian
    await mention.click()
    await expect(b.locator('[data-testid="conversation-title"]')).to_be_visible()
    await expect(b.locator('[data-testid="note"] [data-testid="note-text"]')).to_have_text(f"@bob {NOTE_REST}")
    await expect(badge).to_be_hidden()  # read once opened
    await b.reload()
    await expect(b.locator('[data-testid="live"]')).to_have_attribute("data-state", "online")
    await expect(badge).to_be_hidden()  # and it stays read


async def background(page: Page, selector: str) -> str:
    colour: str = await page.locator(selector).first.evaluate("e => getComputedStyle(e).backgroundColor")
    return colour


async def test_a_mention_reaches_b_live_and_the_note_never_reaches_the_customer(service: str, browser: Browser
                                                                                ) -> None:
    a, customer = await new_page(browser), await new_page(browser)
    b = await (await browser.new_context(locale="ru-RU")).new_page()  # Bob's browser speaks Russian
    await agent_logs_in(a, service)
    created = await a.request.post(f"{service}/api/agents", data={
        "username": "bob", "display_name": "Bob Stone", "password": BOB_PASSWORD, "role": "agent"})
    assert created.status == 201
    await logs_in_as(b, service, "bob", BOB_PASSWORD)
    await expect(b.locator('[data-testid="live"]')).to_have_attribute("data-state", "online")
    await expect(b.locator('[data-testid="mentions-badge"]')).to_be_hidden()
    await open_widget(customer, service)
    await customer_says(customer, QUESTION)
    await a.locator('[data-testid="conversation"]', has_text=QUESTION).click()

    await a_notes_for_bob(a)
    await bob_opens_it_from_his_mentions(b)

    # A answers the customer; the widget shows the answer and never the note, live or after a reload
    await a.locator('[data-testid="mode-reply"]').click()
    await a.locator('[data-testid="reply"]').fill(REPLY)
    await a.locator('[data-testid="reply"]').press("Enter")
    shown = customer.locator('[data-omr="message"]')
    await expect(shown).to_have_text([QUESTION, REPLY])
    assert NOTE_REST not in await customer.content()
    await customer.reload()
    await customer.locator('[data-omr="launcher"]').click()
    await expect(shown).to_have_text([QUESTION, REPLY])
    assert NOTE_REST not in await customer.content()

    # in A's thread the note sits between the question and the reply, in a colour neither has
    order = await a.locator("#messages > li[data-ts]").evaluate_all("rows => rows.map(r => r.dataset.testid)")
    assert order == ["message", "note", "message"]
    note = await background(a, '[data-testid="note"] [data-testid="note-text"]')
    assert note not in {await background(a, '[data-author="customer"] [data-testid="message-text"]'),
                        await background(a, '[data-author="agent"] [data-testid="message-text"]')}
