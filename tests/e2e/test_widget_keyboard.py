"""The site-chat widget with the keyboard alone, in Chromium: rating with the
star buttons leaves the keyboard where the customer types next, in both
languages."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.e2e.test_csat import CSAT, TEXTS, asked_to_rate, shop_page


@pytest.fixture
def service_config(tmp_path: Path) -> str:
    """The service's config folder asks for ratings (csat.yaml beside omnirouter.yaml)."""
    (tmp_path / "csat.yaml").write_text(CSAT, encoding="utf-8")
    return ""


@pytest.mark.parametrize("lang", ["ru", "en"])
async def test_a_star_pressed_with_the_keyboard_leaves_it_in_the_message_box(
    service: str, browser: Browser, lang: str
) -> None:
    words = TEXTS[lang]
    customer = await shop_page(browser, service, lang)
    await asked_to_rate(browser, service, customer, lang)
    star = customer.get_by_role("group", name=words["group"]).get_by_role("button", name=words["label"])
    await star.focus()
    await customer.keyboard.press("Enter")
    await expect(star).to_have_attribute("aria-pressed", "true")
    # every star is disabled once one is pressed: the keyboard goes on to the box for the comment,
    # not to the page's <body> (where the next Tab starts over at the shop's first link)
    await expect(customer.locator('[data-omr="input"]')).to_be_focused()
    await customer.keyboard.type(words["comment"])
    await customer.keyboard.press("Enter")
    await expect(customer.locator('[data-omr="message"][data-author="bot"]').last).to_have_text(words["thanks"])
