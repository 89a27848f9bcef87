"""A desk PC shared by a shift: when one agent logs out (or their session
ends and the console shows the sign-in), nothing of theirs stays in the page
for whoever signs in next: not the conversation they had open, its private
notes, the customer panel, nor what they had typed and not sent."""

from __future__ import annotations

from playwright.async_api import Browser, Page, expect

from tests.e2e.conftest import new_page, open_row
from tests.e2e.test_conversation import agent_logs_in
from tests.e2e.test_notes_console import QUESTION, a_customer_asks, note
from tests.e2e.test_supervisor import api
from tests.e2e.topbar import SIGNED_IN, from_more

NOTE = "private: the customer is on the refund list"
DRAFT = "a reply typed and never sent"
ANN_PASSWORD = "ann-password-1"
# everything the page holds, the hidden parts too, and what its fields hold (a typed value is no attribute)
PAGE_HOLDS = """() => [document.documentElement.outerHTML,
  ...[...document.querySelectorAll('input, textarea, select')].map((field) => field.value)].join('\\n')"""


async def the_admin_works_a_conversation(desk: Page, service: str, browser: Browser) -> None:
    """The admin, signed in at the desk, opens a customer's conversation with a private
    note in it, and leaves a reply typed in its composer."""
    await agent_logs_in(desk, service)
    await api(desk, service, "POST", "/api/agents",
              {"username": "ann", "display_name": "Ann Agent", "password": ANN_PASSWORD})
    conversation_id = await a_customer_asks(service, browser, desk)
    await note(desk, service, conversation_id, NOTE)
    await open_row(desk, QUESTION)
    await expect(desk.locator('[data-testid="note"]')).to_have_count(1)
    await expect(desk.locator("#customer-panel")).not_to_be_empty()
    await desk.locator('[data-testid="reply"]').fill(DRAFT)


async def nothing_of_theirs_is_left(desk: Page) -> None:
    held = await desk.evaluate(PAGE_HOLDS)
    for left in (NOTE, DRAFT, QUESTION):
        assert left not in held, f"{left!r} is still in the page"


async def ann_signs_in_here(desk: Page) -> None:
    form = desk.locator('[data-testid="login-form"]')
    await form.locator('input[name="username"]').fill("ann")
    await form.locator('input[name="password"]').fill(ANN_PASSWORD)
    await form.locator('input[name="password"]').press("Enter")
    await expect(desk.locator(SIGNED_IN)).to_be_visible()
    await expect(desk.locator("#me-name")).to_have_text("Ann Agent")


async def ann_starts_afresh(desk: Page) -> None:
    """The page as a fresh load shows it: no conversation open, and nothing the admin typed."""
    await expect(desk.locator("#placeholder")).to_be_visible()
    await expect(desk.locator("#conversation")).to_be_hidden()
    await expect(desk.locator('[data-testid="message"]')).to_have_count(0)
    await expect(desk.locator('[data-testid="note"]')).to_have_count(0)
    await expect(desk.locator("#conv-name")).to_be_empty()
    await expect(desk.locator("#customer-panel")).to_be_empty()
    await expect(desk.locator('[data-testid="reply"]')).to_have_value("")
    await expect(desk.locator('[data-testid="conversation"]', has_text=QUESTION)).to_have_count(1)  # hers to see
    assert DRAFT not in await desk.evaluate(PAGE_HOLDS)


async def test_after_a_logout_the_next_agent_at_the_desk_sees_nothing_of_the_previous_ones(
        service: str, browser: Browser) -> None:
    desk = await new_page(browser)
    await the_admin_works_a_conversation(desk, service, browser)
    await (await from_more(desk, "logout")).click()
    await expect(desk.locator('[data-testid="login-form"]')).to_be_visible()
    await nothing_of_theirs_is_left(desk)
    await ann_signs_in_here(desk)
    await ann_starts_afresh(desk)


async def test_a_session_ended_elsewhere_leaves_nothing_of_its_agent_behind_the_sign_in(
        service: str, browser: Browser) -> None:
    """The session ends on the server (a logout through another tab with the
    same cookie here): the console notices, shows the sign-in, and keeps nothing."""
    desk = await new_page(browser)
    await the_admin_works_a_conversation(desk, service, browser)
    assert (await desk.request.post(f"{service}/api/logout", data={})).status == 204
    await expect(desk.locator('[data-testid="login-form"]')).to_be_visible()
    await nothing_of_theirs_is_left(desk)
    await ann_signs_in_here(desk)
    await ann_starts_afresh(desk)


# each desktop notification the page shows, and each it closes, kept where the test reads them
# after the page was loaded again (a close as the page goes is too late for a binding to the test)
NOTIFICATIONS = """
const Real = window.Notification;
const record = (key, title) => localStorage.setItem(key, JSON.stringify(
  [...JSON.parse(localStorage.getItem(key) || "[]"), String(title)]));
window.Notification = function (title, options) {
  const note = new Real(title, options);
  record("test.shown", title);
  const close = note.close.bind(note);
  note.close = () => { record("test.closed", title); close(); };
  return note;
};
Object.defineProperty(window.Notification, "permission", { get: () => Real.permission });
window.Notification.requestPermission = (...args) => Real.requestPermission(...args);
"""
RECORDED = "key => JSON.parse(localStorage.getItem(key) || '[]')"


async def test_a_logout_takes_the_agents_desktop_notifications_off_the_screen(service: str, browser: Browser
                                                                              ) -> None:
    """They show customers' words: they are the agent's, not the desk's."""
    context = await browser.new_context(permissions=["notifications"])
    await context.add_init_script(NOTIFICATIONS)
    desk = await context.new_page()
    await agent_logs_in(desk, service)
    await desk.locator('[data-testid="alerts"] summary').click()
    await desk.locator('[data-testid="alerts-desktop"]').check()
    for title in ("Anna mentioned you", "Boris mentioned you"):  # a tag each: the second does not replace the first
        await desk.evaluate("title => window.consoleAlerts.notify(title, title, 'the refund list')", title)
    assert await desk.evaluate(RECORDED, "test.shown") == ["Anna mentioned you", "Boris mentioned you"]
    await (await from_more(desk, "logout")).click()
    await expect(desk.locator('[data-testid="login-form"]')).to_be_visible()
    assert await desk.evaluate(RECORDED, "test.closed") == ["Anna mentioned you", "Boris mentioned you"]
