"""The SLA's mark on a conversation's row says how long the customer has
waited as a duration in the console's language («45 с», "1m 5s"): a target
of seconds was said «Нет ответа 0 минут» in whole minutes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.e2e.conftest import ADMIN_PASSWORD, sign_in
from tests.e2e.test_conversation import customer_says, open_widget
from tests.e2e.topbar import SIGNED_IN


@pytest.fixture
def seconds_target(tmp_path: Path) -> Path:
    """A queue open at all hours whose first-response target is one second (before ``service`` starts)."""
    (tmp_path / "teams.yaml").write_text(
        "teams: {support: {}}\nagents:\n  - {username: admin, teams: [support], capacity: {chat: 2}}\n",
        encoding="utf-8",
    )
    (tmp_path / "rules.yaml").write_text(
        "queues:\n  support: {first_response: 1s}\nrules: []\ndefault: {queue: {team: support}}\n",
        encoding="utf-8",
    )
    return tmp_path


@pytest.mark.parametrize(("locale", "said"), [
    ("ru-RU", r"^Нет ответа уже (\d+ с|\d+ мин \d+ с): время первого ответа превышено$"),
    ("en-US", r"^No answer for (\d+s|\d+m \d+s): first-response target missed$"),
])
async def test_a_breached_rows_mark_says_the_wait_as_a_duration(
    seconds_target: Path, service: str, browser: Browser, locale: str, said: str,
) -> None:
    customer = await (await browser.new_context(locale=locale)).new_page()
    await open_widget(customer, service)
    await customer_says(customer, "Where is my parcel?")

    agent = await (await browser.new_context(locale=locale)).new_page()
    await sign_in(agent, service, "admin", ADMIN_PASSWORD)
    await expect(agent.locator(SIGNED_IN)).to_be_visible()
    row = agent.locator('[data-testid="conversation"][data-sla="breached"]', has_text="Where is my parcel?")
    await expect(row).to_have_count(1)
    title = (await row.get_attribute("title") or "").replace("\u00a0", " ").replace("\u202f", " ")
    assert re.match(said, title), title
