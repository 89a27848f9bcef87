"""The reply box around canned replies, in real Chromium against the real
service: what is written (or filled in) for one customer stays with that
customer's conversation; a typed "/shortcut" is never sent, whatever closed the
list; and a file picked while writing a private note never reaches the customer."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, Route, expect

from tests.conftest import HANG
from tests.e2e.test_canned import save_reply
from tests.e2e.test_conversation import agent_logs_in, customer_says, open_widget
from tests.e2e.test_files import png
from tests.e2e.topbar import from_more

AGENT_MESSAGES = '[data-testid="message"][data-author="agent"]'
WIDGET_AGENT = '[data-omr="message"][data-author="agent"]'


@pytest.fixture
def service_config(tmp_path: Path) -> str:
    return f"files:\n  folder: {tmp_path / 'files'}\n"


async def saves_ref(agent: Page) -> None:
    """A reply that fills in the conversation's id: every customer has one."""
    await (await from_more(agent, "canned-manage")).click()
    dialog = agent.locator('[data-testid="canned-dialog"]')
    await expect(dialog).to_be_visible()
    await save_reply(agent, "ref", "Reference", "Номер вашего обращения: {conversation.id}",
                     "Your reference: {conversation.id}")
    await dialog.press("Escape")
    await expect(dialog).to_be_hidden()


async def conversation_id(agent: Page) -> str:
    """The id of the conversation open in the console (the selected row's)."""
    selected = agent.locator('[data-testid="conversation"].selected')
    await expect(selected).to_have_count(1)
    found = await selected.get_attribute("data-id")
    assert found
    return found


async def customer_writes(browser: Browser, base: str, text: str) -> Page:
    customer = await (await browser.new_context(locale="ru-RU")).new_page()
    await open_widget(customer, base)
    await customer_says(customer, text)
    return customer


async def test_a_reply_filled_in_for_one_customer_never_goes_to_another(service: str, browser: Browser) -> None:
    agent = await (await browser.new_context(locale="ru-RU")).new_page()
    await agent_logs_in(agent, service)
    await saves_ref(agent)
    anna = await customer_writes(browser, service, "Анна: где мой заказ?")
    boris = await customer_writes(browser, service, "Борис: здравствуйте")
    box = agent.locator('[data-testid="reply"]')

    # the agent fills /ref in for Anna, and does not send it yet
    await agent.locator('[data-testid="conversation"]', has_text="Анна").click()
    anna_id = await conversation_id(agent)
    await box.press("/")
    await box.press_sequentially("ref")
    await expect(agent.locator('[data-testid="canned-option"]')).to_have_count(1)
    await box.press("Enter")
    filled = f"Номер вашего обращения: {anna_id}"
    await expect(box).to_have_value(filled)

    # Boris's conversation: the box is his (empty), and Enter sends him nothing of Anna's
    await agent.locator('[data-testid="conversation"]', has_text="Борис").click()
    boris_id = await conversation_id(agent)
    assert boris_id != anna_id
    await expect(box).to_have_value("")
    await box.press("Enter")
    await box.press_sequentially("Сейчас посмотрю")
    # back to Anna: her draft is there as it was; Boris's stays his
    await agent.locator('[data-testid="conversation"]', has_text="Анна").click()
    await expect(box).to_have_value(filled)
    await box.press("Enter")
    await expect(anna.locator(WIDGET_AGENT)).to_have_text([filled])
    await agent.locator('[data-testid="conversation"]', has_text="Борис").click()
    await expect(box).to_have_value("Сейчас посмотрю")
    await box.press("Enter")
    await expect(boris.locator(WIDGET_AGENT)).to_have_text(["Сейчас посмотрю"])
    await expect(anna.locator(WIDGET_AGENT)).to_have_count(1)


async def test_a_typed_shortcut_is_never_sent_whatever_closed_the_list(service: str, browser: Browser) -> None:
    agent = await (await browser.new_context(locale="ru-RU")).new_page()
    await agent_logs_in(agent, service)
    await saves_ref(agent)
    customer = await customer_writes(browser, service, "Здравствуйте, вопрос")
    await agent.locator('[data-testid="conversation"]', has_text="вопрос").click()
    conv = await conversation_id(agent)
    box = agent.locator('[data-testid="reply"]')
    picker = agent.locator('[data-testid="canned-picker"]')

    # Esc closes the list; Enter opens it again instead of sending "/ref"
    await box.press("/")
    await box.press_sequentially("ref")
    await expect(picker).to_be_visible()
    await box.press("Escape")
    await expect(picker).to_be_hidden()
    await box.press("Enter")
    await expect(picker).to_be_visible()
    await expect(box).to_have_value("/ref")

    # focus left and came back: the list is closed, and Enter still looks up, never sends
    await agent.locator("#conv-name").click()
    await expect(picker).to_be_hidden()
    await box.focus()
    await box.press("Enter")
    await expect(picker).to_be_visible()
    await box.press("Escape")
    # the Send button neither
    await agent.locator('[data-testid="send"]').click()
    await expect(picker).to_be_visible()
    await expect(box).to_have_value("/ref")

    # Enter in the open list fills it in; that is what goes out
    await box.press("Enter")
    filled = f"Номер вашего обращения: {conv}"
    await expect(box).to_have_value(filled)
    await box.press("Enter")
    await expect(customer.locator(WIDGET_AGENT)).to_have_text([filled])
    await expect(agent.locator(AGENT_MESSAGES)).to_have_count(1)


async def test_a_file_picked_for_a_note_never_reaches_the_customer(service: str, browser: Browser,
                                                                    tmp_path: Path) -> None:
    agent = await (await browser.new_context(locale="en-US")).new_page()
    await agent_logs_in(agent, service)
    customer = await customer_writes(browser, service, "Hello, the parcel came broken")
    await agent.locator('[data-testid="conversation"]', has_text="parcel").click()
    box = agent.locator('[data-testid="reply"]')

    # Note mode: an internal screenshot is refused in words, and nothing waits in the composer
    await agent.locator('[data-testid="mode-note"]').click()
    shot = tmp_path / "internal-screenshot.png"
    shot.write_bytes(png())
    await agent.locator('[data-testid="attach-input"]').set_input_files(str(shot))
    await expect(agent.locator("#reply-error")).to_have_text(
        "A note cannot carry files: switch to Reply to send a file to the customer.")
    await expect(agent.locator('[data-testid="composer-file"]')).to_have_count(0)
    await box.fill("Warehouse: see the screenshot in the ticket")
    await box.press("Enter")
    await expect(agent.locator('[data-testid="note"]')).to_have_count(1)

    # the next reply goes out with its words only
    await agent.locator('[data-testid="mode-reply"]').click()
    await box.fill("We are sorry: a new one is on its way")
    await box.press("Enter")
    said = customer.locator(WIDGET_AGENT)
    await expect(said).to_have_text(["We are sorry: a new one is on its way"])
    await expect(said.locator("img, a")).to_have_count(0)
    messages = await agent.evaluate("""async () => {
        const list = await (await fetch('/api/conversations')).json();
        const id = list.conversations[0].id;
        return (await (await fetch(`/api/conversations/${id}/messages`)).json()).messages;
    }""")
    assert [m.get("attachments") or [] for m in messages if m["author"] == "agent"] == [[]]


async def test_a_late_fill_never_overwrites_typing_and_one_list_takes_enter(service: str, browser: Browser) -> None:
    agent = await (await browser.new_context(locale="ru-RU")).new_page()
    await agent_logs_in(agent, service)
    await saves_ref(agent)
    await agent.evaluate("""async () => {
        const r = await fetch('/api/agents', {method: 'POST', headers: {'Content-Type': 'application/json'},
            body: JSON.stringify({username: 'ann', display_name: 'Ann Smith', role: 'agent'})});
        if (!r.ok) throw new Error(await r.text());
    }""")
    await customer_writes(browser, service, "Здравствуйте, вопрос")
    await agent.locator('[data-testid="conversation"]', has_text="вопрос").click()
    box = agent.locator('[data-testid="reply"]')

    # the filled reply is slow to come; the agent types on meanwhile: their words stay
    held, asked, answered = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def hold(route: Route) -> None:
        asked.set()
        await held.wait()
        await route.continue_()
        answered.set()

    await agent.route("**/canned/cnd_*", hold)
    await box.press("/")
    await box.press_sequentially("ref")
    await expect(agent.locator('[data-testid="canned-option"]')).to_have_count(1)
    await box.press("Enter")
    await asyncio.wait_for(asked.wait(), HANG)
    await box.press("Escape")
    await box.fill("Сейчас посмотрю")
    held.set()
    await asyncio.wait_for(answered.wait(), HANG)
    await agent.unroute("**/canned/cnd_*")
    # a round trip after the held answer came: the box is still the agent's own words
    await box.press("End")
    await box.press_sequentially("!")
    await expect(box).to_have_value("Сейчас посмотрю!")
    await box.fill("")

    # in a note that starts "/ref", the @-list opened at the caret takes Enter, not the canned list
    await agent.locator('[data-testid="mode-note"]').click()
    await box.press("/")
    await box.press_sequentially("ref @an")
    await expect(agent.locator('[data-testid="mention-suggestion"]')).to_have_count(1)
    await box.press("Enter")
    await expect(box).to_have_value("/ref @ann ")
    await expect(agent.locator('[data-testid="canned-picker"]')).to_be_hidden()
    await box.press("Enter")
    await expect(agent.locator('[data-testid="note-text"]')).to_have_text(["/ref @ann"])
