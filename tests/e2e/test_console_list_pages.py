"""The conversation list's pages in Chromium: "Show more" loads the next page
with no row lost or shown twice, and the keyboard's focus never falls to the
page's body when the list is rebuilt: after "Show more" it is on the first row
added, and a live event while a row has focus leaves it on that row."""

from __future__ import annotations

from playwright.async_api import Browser, Page, Route, expect

from tests.e2e.test_conversation import agent_logs_in
from tests.e2e.test_search import customer_writes

PAGE = 3  # the console asks for pages this small here (the real server pages them)


async def small_pages(route: Route) -> None:
    url = route.request.url
    await route.continue_(url=url if "limit=" in url else f"{url}&limit={PAGE}")


async def focused(page: Page) -> str:
    return str(await page.evaluate("""() => { const el = document.activeElement;
      return el.dataset.testid === "conversation" ? "row:" + el.dataset.id : (el.dataset.testid || el.tagName); }"""))


async def test_show_more_pages_every_conversation_once_and_keeps_the_focus(service: str, browser: Browser) -> None:
    for i in range(7):
        await customer_writes(service, f"Visitor {i}", f"question number {i}")
    page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    await page.route("**/api/conversations?*", small_pages)
    await agent_logs_in(page, service)
    rows = page.locator('[data-testid="conversation"]')
    more = page.locator('[data-testid="list-more"]')
    await expect(rows).to_have_count(PAGE)

    await more.focus()
    await page.keyboard.press("Enter")  # the keyboard's way: the focus goes on at the first row added
    await expect(rows).to_have_count(2 * PAGE)
    fourth = await rows.nth(PAGE).get_attribute("data-id")
    assert await focused(page) == f"row:{fourth}"

    # a live event rebuilds the list: the focus stays on the same row
    await customer_writes(service, "Visitor 7", "question number 7")
    await expect(rows).to_have_count(2 * PAGE + 1)
    await expect(rows.first).to_contain_text("question number 7")
    assert await focused(page) == f"row:{fourth}"

    await more.focus()
    await page.keyboard.press("Enter")
    await expect(more).to_have_count(0)  # the last page: nothing more to show
    ids = [await r.get_attribute("data-id") for r in await rows.all()]
    assert len(ids) == 8 and len(set(ids)) == 8, ids  # every conversation, each once
    texts = await rows.all_inner_texts()
    assert all(any(f"question number {i}" in t for t in texts) for i in range(8)), texts
    assert (await focused(page)).startswith("row:")


async def smaller_views(route: Route) -> None:
    await route.continue_(url=route.request.url.replace("limit=20", f"limit={PAGE}"))


async def test_a_view_by_status_pages_with_more_every_conversation_once_newest_first(
        service: str, browser: Browser) -> None:
    """The Open view (search's filters alone) walks each status newest first on the server
    (issue 24): its "More" pages go on by cursor, none lost, none twice, the newest on top."""
    for i in range(7):
        await customer_writes(service, f"Viewer {i}", f"view question {i}")
    page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    await page.route("**/api/search?*", smaller_views)
    await agent_logs_in(page, service)
    await expect(page.locator('[data-testid="conversation"]')).to_have_count(7)  # the list, before the view
    await page.locator('[data-testid="search-filters-toggle"]').click()
    await page.locator('[data-testid="search-kind"]').select_option("conversations")
    await page.locator('[data-testid="search-status"]').select_option("open")
    hits = page.locator('[data-testid="search-hit"]')
    more = page.locator('[data-testid="search-more"]')
    await expect(hits).to_have_count(PAGE)
    await expect(hits.first).to_contain_text("view question 6")
    for shown in (2 * PAGE, 7):
        await more.click()
        await expect(hits).to_have_count(shown)
    await expect(more).to_have_count(0)  # the last page: nothing more
    texts = await hits.all_inner_texts()
    assert [next(i for i in range(7) if f"view question {i}" in t) for t in texts] == list(range(6, -1, -1)), texts
