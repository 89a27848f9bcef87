"""The widget's status line, in Chromium, speaks for the team that will
answer the visitor: the default route's before their first message, the
team the rules sent them to after it (closed now, while the default's is open)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.e2e.test_conversation import customer_says
from tests.e2e.test_widget_welcome import visitor


@pytest.fixture
def seniors_closed(tmp_path: Path) -> Path:
    """Support (the default) always open; the seniors closed from yesterday to the day after
    tomorrow, whatever the time the test runs at (their holidays)."""
    today = datetime.now(UTC).date()
    holidays = ", ".join(str(today + timedelta(days=n)) for n in range(-1, 3))
    (tmp_path / "teams.yaml").write_text("teams: {support: {}, senior: {}}\nagents: []\n", encoding="utf-8")
    (tmp_path / "rules.yaml").write_text(
        "calendars:\n  office:\n    timezone: UTC\n    hours: {mon-sun: ['09:00-18:00']}\n"
        f"    holidays: [{holidays}]\n"
        "queues:\n  senior: {hours: office}\n"
        "rules:\n  - name: money\n    when: text =~~ 'refund'\n    queue: {team: senior}\n"
        "default: {queue: {team: support}}\n",
        encoding="utf-8",
    )
    return tmp_path


async def test_the_status_speaks_for_the_team_the_visitor_was_routed_to(
    seniors_closed: Path, service: str, browser: Browser
) -> None:
    page = await visitor(browser, service, "en-US", "en")
    await page.locator('[data-omr="launcher"]').click()
    status = page.locator('[data-omr="status"]')
    # support is open, nobody is online
    await expect(status).to_have_text("Leave a message: we'll answer as soon as we can")
    await expect(status).to_have_attribute("data-people", "soon")
    await customer_says(page, "I want a refund for order 42")
    # the seniors answer this visitor, and they are closed: when they open
    await expect(status).to_have_attribute("data-people", "later")
    await expect(status).to_contain_text("We'll answer on ")
    await page.reload()  # a reload says the same
    await page.locator('[data-omr="launcher"]').click()
    await expect(status).to_have_attribute("data-people", "later")
