"""The widget plus a Telegram contact (issue 19, Tests): a Telegram user who
shared their own contact has a phone Telegram proved; giving that phone in
the site chat gets the bot's offer, the code arrives in the Telegram chat and
nowhere else, and typing it in the widget shows the Telegram history, hidden
until then. Someone else's contact proves nothing: the same words, no code.
Real service process, real Chromium, the local Telegram fake."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.conftest import eventually
from tests.connectors import test_telegram as tg
from tests.connectors.twilio_helpers import CUSTOMER
from tests.e2e.conftest import TELEGRAM_ENV, new_page, running_service, server_yaml
from tests.e2e.test_conversation import agent_logs_in
from tests.e2e.test_selfservice import ALL, BOT, LINKED, WRONG, offer, types, visitor
from tests.e2e.test_telegram_contact import telegram_posts
from tests.fakes.telegram_api import Call, FakeTelegram

QUESTION = "Где мой заказ 1042? Пишу из телеграма"
SAVED = "Спасибо, номер сохранили."  # the answer to one's own contact that linked nobody (identity.yaml)
PHONE = CUSTOMER.lstrip("+")  # as Telegram sends a contact's number: international, without the "+"
STRANGER = 5559876  # another Telegram user, whose contact card is shared
# a code: six digits standing alone (not the tail of the phone number in the same text)
CODE = re.compile(r"(?<!\d)\d{6}(?!\d)")


@pytest.fixture
async def service(tmp_path: Path, telegram_api: FakeTelegram) -> AsyncIterator[str]:
    """The site chat and Telegram (through the fake), in one service process."""
    def config(port: int) -> str:
        return (server_yaml(port, tmp_path) + "connectors:\n  webchat:\n    type: webchat\n"
                + f"  telegram:\n    type: telegram\n    api_base: {telegram_api.base_url}\n")

    async with running_service(tmp_path, config, TELEGRAM_ENV) as base:
        yield base


def contact(user_id: int) -> dict[str, Any]:
    """A contact card as the Bot API sends it (https://core.telegram.org/bots/api#contact)."""
    return {"phone_number": PHONE, "first_name": "Ivan", "last_name": "Petrov", "user_id": user_id}


async def asks_then_shares(base: str, user_id: int) -> None:
    """Telegram user ``tg.USER`` writes a question, then shares the contact of ``user_id``."""
    await telegram_posts(base, tg.text_update(1, QUESTION))
    await telegram_posts(base, tg.update(message=tg.message(2, contact=contact(user_id))))


def codes_sent(telegram_api: FakeTelegram) -> list[Call]:
    return [c for c in telegram_api.sent("sendMessage") if CODE.search(str(c.params.get("text", "")))]


async def the_code(telegram_api: FakeTelegram) -> str:
    async def sent() -> list[Call] | None:
        return codes_sent(telegram_api) or None

    [call] = await eventually(sent, "the code in the Telegram chat")
    assert str(call.params["chat_id"]) == str(tg.USER)  # the chat of the account that proved the phone
    found = CODE.search(str(call.params["text"]))
    assert found is not None
    return found.group(0)


async def reopened(page: Page) -> None:
    await page.reload()
    await page.locator('[data-omr="launcher"]').click()


async def test_the_code_sent_to_telegram_links_the_site_chat_and_shows_the_telegram_history(
    service: str, browser: Browser, telegram_api: FakeTelegram
) -> None:
    await asks_then_shares(service, tg.USER)  # the customer's own contact: Telegram proved the phone
    page = await visitor(browser, service, "8 912 345-67-89")  # the same phone, as people type it at home
    await types(page, "Здравствуйте")
    await expect(page.locator(BOT)).to_have_text([offer(CUSTOMER)])  # the words an unknown number gets too
    code = await the_code(telegram_api)
    # before the proof the site chat shows nothing of Telegram's, not even after a reload
    await reopened(page)
    await expect(page.locator(ALL)).to_have_text(["Здравствуйте", offer(CUSTOMER)])
    await expect(page.locator(ALL, has_text=code)).to_have_count(0)  # the code is in Telegram only

    await types(page, code)
    await expect(page.locator(BOT).last).to_have_text(LINKED)
    # the Telegram history, shown at once, before hers; never the code's message (masked or not)
    await expect(page.locator(ALL)).to_have_text([QUESTION, f"[contact Ivan Petrov {PHONE}]", SAVED, "Здравствуйте",
                                                  offer(CUSTOMER), code, LINKED])
    assert len(codes_sent(telegram_api)) == 1

    agent = await new_page(browser)
    await agent_logs_in(agent, service)
    rows = agent.locator('[data-testid="conversation"]')
    await expect(rows).to_have_count(1)  # one customer, one conversation
    await rows.first.click()
    said = agent.locator('[data-testid="message"][data-author="customer"] [data-testid="message-text"]')
    await expect(said).to_have_text([QUESTION, f"[contact Ivan Petrov {PHONE}]", "Здравствуйте", code])
    switch = agent.locator('[data-testid="channel-switch"]')
    await expect(switch).to_have_text(["Customer moved from Telegram to site chat"])
    after_switch = agent.locator('[data-testid="channel-switch"] + [data-testid="message"]')
    await expect(after_switch).to_contain_text("Здравствуйте")
    panel = agent.locator('[data-testid="customer-panel"]')
    await expect(panel.locator('[data-testid="identity"]')).to_have_count(2)  # Telegram and the site chat


async def test_someone_elses_contact_gets_the_same_words_and_no_code(
    service: str, browser: Browser, telegram_api: FakeTelegram
) -> None:
    await asks_then_shares(service, STRANGER)  # a contact card of another account: Telegram vouches nothing
    page = await visitor(browser, service, CUSTOMER)
    await types(page, "Здравствуйте")
    await expect(page.locator(BOT)).to_have_text([offer(CUSTOMER)])
    await types(page, "123456")  # the offer's answers are a real code's: nothing tells a decoy
    await expect(page.locator(BOT).last).to_have_text(WRONG.format(left=4))
    # no code went to Telegram, to either account (and below: none was even queued for it)
    assert codes_sent(telegram_api) == []
    await reopened(page)
    await expect(page.locator(ALL)).to_have_text(["Здравствуйте", offer(CUSTOMER), "123456",
                                                  WRONG.format(left=4)])  # nothing of Telegram's

    agent = await new_page(browser)
    await agent_logs_in(agent, service)
    rows = agent.locator('[data-testid="conversation"]')
    await expect(rows).to_have_count(2)  # nothing linked
    # the Telegram chat holds no code, not even its masked copy (stored before the offer is said,
    # so this does not depend on how soon the outbox delivers)
    await rows.filter(has=agent.locator(".channel", has_text="telegram")).click()
    shown = agent.locator('[data-testid="message"] [data-testid="message-text"]')
    await expect(shown.first).to_have_text(QUESTION)
    await expect(shown).to_have_count(2)  # the question and the contact card
    await expect(shown.filter(has_text="•")).to_have_count(0)


async def test_a_site_chat_claim_made_before_the_telegram_proof_stays_unproven(
    service: str, browser: Browser, telegram_api: FakeTelegram
) -> None:
    """The visitor gives the phone first (nobody's yet: the same words, no code);
    then the holder proves it in Telegram. That proof is the Telegram user's,
    never the visitor's: nothing of Telegram's reaches the site chat."""
    page = await visitor(browser, service, CUSTOMER)
    await types(page, "Здравствуйте")
    await expect(page.locator(BOT)).to_have_text([offer(CUSTOMER)])
    await asks_then_shares(service, tg.USER)

    agent = await new_page(browser)
    await agent_logs_in(agent, service)
    rows = agent.locator('[data-testid="conversation"]')
    await expect(rows).to_have_count(2)
    await rows.filter(has=agent.locator(".channel", has_text="telegram")).click()
    shown = agent.locator('[data-testid="message"] [data-testid="message-text"]')
    # the contact is stored (and any link it makes made, in the same transaction): the chats are still two
    # the contact answered by the service itself (it linked nobody): a thanks, never a handoff
    await expect(shown).to_have_text([QUESTION, f"[contact Ivan Petrov {PHONE}]", SAVED])
    await expect(rows).to_have_count(2)
    await reopened(page)
    await expect(page.locator(ALL)).to_have_text(["Здравствуйте", offer(CUSTOMER)])
    assert codes_sent(telegram_api) == []
