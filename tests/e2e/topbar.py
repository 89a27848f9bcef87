"""The console's top bar in the browser tests: the less used buttons (language,
canned replies, agents, shortcuts, logout) are in its "More" menu."""

from __future__ import annotations

from playwright.async_api import Locator, Page, expect

# what shows that the console is up after a login: the bar's own "More" button
SIGNED_IN = '[data-testid="more-open"]'


async def from_more(page: Page, testid: str) -> Locator:
    """The item ``testid`` of the "More" menu, the menu opened when it is shut."""
    item = page.locator(f'[data-testid="{testid}"]')
    if not await page.locator('[data-testid="more"][open]').count():
        await page.locator(SIGNED_IN).click()
    await expect(item).to_be_visible()
    return item
