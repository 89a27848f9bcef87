"""A claim that matches someone, as agents see it in real Chromium: a customer
known on WhatsApp (through the Twilio fake) and a site-chat visitor who typed
that number. Both panels carry the hint; "Send code" from the holder's panel
sends the code to WhatsApp; "Dismiss" takes the hint off both panels, live."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Dialog, Page, expect

from tests.conftest import eventually
from tests.connectors.twilio_helpers import CUSTOMER, whatsapp_form
from tests.e2e.conftest import TWILIO_ENV, new_page, running_service, site_chat_and_whatsapp
from tests.e2e.conftest import open_row as open_the_row
from tests.e2e.test_conversation import agent_logs_in, customer_says, open_widget
from tests.e2e.test_twilio_console import twilio_posts
from tests.fakes.twilio_api import Call, FakeTwilio

HOLDER_SAYS = "Здравствуйте, вопрос по карте"
VISITOR_SAYS = "Мой номер 8 (912) 345-67-89, перезвоните"


@pytest.fixture
async def service(tmp_path: Path, twilio_api: FakeTwilio) -> AsyncIterator[str]:
    """The site chat and WhatsApp through the Twilio fake. The bot's own offer
    of a code (self-service, tests/e2e/test_selfservice.py) is off: this is
    the agent's way, and a code the bot sent moments before would make the
    agent's wait for the resend interval."""
    (tmp_path / "identity.yaml").write_text("verification:\n  self_service: false\n", encoding="utf-8")
    async with running_service(tmp_path, site_chat_and_whatsapp(tmp_path, twilio_api.base_url), TWILIO_ENV) as base:
        yield base


async def agent_opens(browser: Browser, base: str, text: str) -> Page:
    """An agent's console (a browser of its own) with the conversation saying ``text`` open."""
    page = await (await browser.new_context(viewport={"width": 1400, "height": 900})).new_page()
    await agent_logs_in(page, base)
    await open_row(page, text)
    return page


async def open_row(page: Page, text: str) -> None:
    await open_the_row(page, text)
    await expect(page.locator('[data-testid="customer-panel"]')).to_be_visible()


async def test_both_panels_show_the_match_a_code_goes_to_whatsapp_and_dismiss_clears_both(
    service: str, browser: Browser, twilio_api: FakeTwilio
) -> None:
    await twilio_posts(service, "whatsapp", whatsapp_form(HOLDER_SAYS))
    visitor = await new_page(browser)
    await open_widget(visitor, service)
    await customer_says(visitor, VISITOR_SAYS)

    # the holder's panel: someone in the site chat claims this number
    holder_side = await agent_opens(browser, service, HOLDER_SAYS)
    on_holder = holder_side.locator('[data-testid="cp-claimed-by"] [data-testid="claim-match"]')
    await expect(on_holder).to_have_count(1)
    # the channel named as /api/channels names it (the connector's label), like the channel-switch divider
    await expect(on_holder).to_contain_text("A visitor (site chat) claims this phone number (unverified)")
    await expect(on_holder).to_contain_text(f"phone: {CUSTOMER}")
    # unnamed: a label of their id's end, never a token
    named = re.compile(r"Visitor · [0-9a-f]{4} \(cus_")
    await expect(on_holder.locator('[data-testid="match-customer"]')).to_contain_text(named)

    # the claimant's panel: the claim row says whose number it is
    claimant_side = await agent_opens(browser, service, VISITOR_SAYS)
    on_claimant = claimant_side.locator('[data-testid="claim"] [data-testid="claim-match"]')
    await expect(on_claimant).to_have_count(1)
    await expect(on_claimant).to_contain_text("Matches a known customer: Иван Петров (cus_")
    await expect(on_claimant).to_contain_text("known on WhatsApp")
    # its link opens the holder's conversation, and with it the holder's panel
    await on_claimant.locator('[data-testid="match-customer"]').click()
    await expect(claimant_side.locator('[data-testid="cp-claimed-by"]')).to_contain_text("A visitor (site chat)")
    await open_row(claimant_side, VISITOR_SAYS)
    await expect(on_claimant).to_have_count(1)

    # "Send code" on the holder's panel: the code goes to the holder's WhatsApp
    await on_holder.locator('[data-testid="match-send-code"]').click()
    await expect(holder_side.locator("#cp-note")).to_contain_text("Code sent on WhatsApp")

    async def code_sent() -> Call | None:
        return next((c for c in twilio_api.sent() if c.get("To") == f"whatsapp:{CUSTOMER}"), None)

    call = await eventually(code_sent, "the code on WhatsApp")
    assert re.search(r"\d{6}", call.get("Body") or ""), call.get("Body")

    # "Dismiss" on the claimant's panel: gone there, and live on the holder's
    async def give_reason(dialog: Dialog) -> None:
        await dialog.accept("a prank")

    claimant_side.once("dialog", give_reason)
    await on_claimant.locator('[data-testid="match-dismiss"]').click()
    await expect(on_claimant).to_have_count(0)
    await expect(claimant_side.locator('[data-testid="claim"]')).to_contain_text(f"phone: {CUSTOMER}")
    await expect(on_holder).to_have_count(0)
    await expect(holder_side.locator('[data-testid="cp-claimed-by"]')).to_have_count(0)
    # the visitor never saw whose number it is
    await expect(visitor.locator("body")).not_to_contain_text("Иван")
