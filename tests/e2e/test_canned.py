"""Canned replies in real Chromium against the real service: the agent saves
replies on the management screen, types "/" in the reply box, picks one with
the keyboard, reads it filled in for this customer, sends it, and the widget
shows it; a reply needing a value the customer lacks says so and nothing is
inserted or sent."""

from __future__ import annotations

from playwright.async_api import Browser, Page, expect

from tests.e2e.test_conversation import agent_logs_in, customer_says, open_widget
from tests.e2e.topbar import from_more

QUESTION = "Здравствуйте, где мой заказ?"
AGENT_MESSAGES = '[data-testid="message"][data-author="agent"]'
WIDGET_AGENT = '[data-omr="message"][data-author="agent"]'


async def save_reply(agent: Page, shortcut: str, title: str, ru: str, en: str = "") -> None:
    dialog = agent.locator('[data-testid="canned-dialog"]')
    await dialog.locator('[data-testid="canned-new"]').click()
    form = dialog.locator('[data-testid="canned-form"]')
    await form.locator('[name="shortcut"]').fill(shortcut)
    await form.locator('[name="title"]').fill(title)
    await form.locator('[name="ru"]').fill(ru)
    await form.locator('[name="en"]').fill(en)
    await form.locator('[data-testid="canned-save"]').click()
    await expect(form).to_be_hidden()
    await expect(dialog.locator('[data-testid="canned-row"]', has_text=f"/{shortcut}")).to_have_count(1)


async def name_the_customer(agent: Page, name: str) -> None:
    """The admin gives the (only) customer a name, as a CRM would."""
    await agent.evaluate("""async (name) => {
        const list = await (await fetch('/api/conversations')).json();
        const id = list.conversations[0].customer_id;
        const r = await fetch(`/api/customers/by/id/${id}`, {method: 'PUT',
            headers: {'Content-Type': 'application/json'}, body: JSON.stringify({display_name: name})});
        if (!r.ok) throw new Error(await r.text());
    }""", name)


async def agent_writes_two_replies(agent: Page) -> None:
    """On the management screen: two replies of the agent's own; an unknown variable is refused there."""
    await (await from_more(agent, "canned-manage")).click()
    dialog = agent.locator('[data-testid="canned-dialog"]')
    await expect(dialog).to_be_visible()
    await dialog.locator('[data-testid="canned-new"]').click()
    form = dialog.locator('[data-testid="canned-form"]')
    await form.locator('[name="shortcut"]').fill("late")
    await form.locator('[name="title"]').fill("Order late")
    await form.locator('[name="ru"]').fill("Ваш заказ {order_id} задерживается")
    await form.locator('[data-testid="canned-save"]').click()
    # in the console's language (a Russian browser's): the catalogue's words, naming the variable
    await expect(form.locator('[data-testid="canned-form-error"]')).to_contain_text("Неизвестная переменная {order_id}")
    await expect(dialog.locator('[data-testid="canned-row"]')).to_have_count(0)
    await form.locator('[name="ru"]').fill("{customer.name}, ваш заказ {customer.order_id} задерживается")
    await form.locator('[data-testid="canned-save"]').click()
    await expect(form).to_be_hidden()
    await save_reply(agent, "hello", "Greeting", "Здравствуйте, {customer.first_name}! Меня зовут {agent.name}.",
                     "Hello {customer.first_name}, I am {agent.name}.")
    await expect(dialog.locator('[data-testid="canned-row"]')).to_have_count(2)
    await dialog.press("Escape")
    await expect(dialog).to_be_hidden()


async def picks_hello_and_sends_it(agent: Page, customer: Page) -> str:
    """"/" opens the list, typing filters it, Enter fills the reply in; the agent edits and sends it."""
    box = agent.locator('[data-testid="reply"]')
    await box.press("/")
    picker = agent.locator('[data-testid="canned-picker"]')
    await expect(picker).to_be_visible()
    options = picker.locator('[data-testid="canned-option"]')
    await expect(options).to_have_count(2)
    await box.press_sequentially("зовут")  # a word of /hello's text
    await expect(options).to_have_count(1)
    await expect(options).to_contain_text("/hello")
    await box.fill("/")
    await box.press_sequentially("he")
    await expect(options).to_have_count(1)
    # the box holds the reply filled in, in the customer's language, and nothing is sent yet
    await box.press("Enter")
    await expect(picker).to_be_hidden()
    await expect(box).to_have_value("Здравствуйте, Анна! Меня зовут Administrator.")
    await expect(agent.locator(AGENT_MESSAGES)).to_have_count(0)
    await box.press("End")
    await box.press_sequentially(" Сейчас проверю.")
    await box.press("Enter")
    sent = "Здравствуйте, Анна! Меня зовут Administrator. Сейчас проверю."
    await expect(agent.locator(AGENT_MESSAGES)).to_have_count(1)
    await expect(customer.locator(WIDGET_AGENT)).to_have_text([sent])
    return sent


async def late_is_refused_and_nothing_is_sent(agent: Page, customer: Page, sent: str) -> None:
    """/late needs an order number this customer has not got: the list says so before the
    pick, the pick is refused naming the variable, and nothing is inserted or sent."""
    box = agent.locator('[data-testid="reply"]')
    picker = agent.locator('[data-testid="canned-picker"]')
    await box.press("/")
    await box.press_sequentially("late")
    late = picker.locator('[data-testid="canned-option"]').filter(has_text="/late")
    await expect(late.locator('[data-testid="canned-missing"]')).to_contain_text("{customer.order_id}")
    await box.press("ArrowDown")  # one option: the arrows keep it chosen
    await box.press("Enter")
    error = picker.locator('[data-testid="canned-error"]')
    await expect(error).to_contain_text("У клиента нет значения {customer.order_id}: ничего не вставлено")
    await expect(box).to_have_value("/late")
    await box.press("Enter")  # still the list's Enter: "/late" is never sent
    await expect(error).to_contain_text("{customer.order_id}")
    await box.press("Escape")
    await expect(picker).to_be_hidden()
    await box.fill("")
    await expect(agent.locator(AGENT_MESSAGES)).to_have_count(1)
    await expect(customer.locator(WIDGET_AGENT)).to_have_text([sent])


async def test_agent_inserts_a_filled_in_reply_with_slash_and_the_customer_gets_it(
    service: str, browser: Browser,
) -> None:
    agent = await (await browser.new_context(locale="ru-RU")).new_page()
    customer = await (await browser.new_context(locale="ru-RU")).new_page()
    await agent_logs_in(agent, service)
    await agent_writes_two_replies(agent)

    await open_widget(customer, service)
    await customer_says(customer, QUESTION)
    row = agent.locator('[data-testid="conversation"]', has_text=QUESTION)
    await expect(row).to_have_count(1)
    await name_the_customer(agent, "Анна Петрова")
    await row.click()

    sent = await picks_hello_and_sends_it(agent, customer)
    await late_is_refused_and_nothing_is_sent(agent, customer, sent)


async def edit_one_and_delete_another(admin: Page) -> None:
    """On the open management screen: /hi edited, a new /bye deleted after a confirmation."""
    dialog = admin.locator('[data-testid="canned-dialog"]')
    form = dialog.locator('[data-testid="canned-form"]')
    mine = dialog.locator('[data-testid="canned-row"]', has_text="My greeting")
    await mine.locator('[data-testid="canned-edit"]').click()
    await expect(form.locator('[name="en"]')).to_have_value("Hi, it's me again!")
    await expect(form.locator('[name="scope"]')).to_be_disabled()  # a reply keeps its scope
    await form.locator('[name="en"]').fill("Hi {customer.name}, it's me again!")
    await form.locator('[data-testid="canned-save"]').click()
    await expect(mine).to_contain_text("EN: Hi {customer.name}, it's me again!")
    await dialog.locator('[data-testid="canned-new"]').click()
    await form.locator('[name="shortcut"]').fill("bye")
    await form.locator('[name="title"]').fill("Farewell")
    await form.locator('[name="ru"]').fill("До свидания!")
    await form.locator('[data-testid="canned-save"]').click()
    farewell = dialog.locator('[data-testid="canned-row"]', has_text="Farewell")
    admin.once("dialog", lambda d: d.accept())
    await farewell.locator('[data-testid="canned-delete"]').click()
    await expect(farewell).to_have_count(0)
    await expect(dialog.locator('[data-testid="canned-row"]')).to_have_count(2)


async def test_a_personal_reply_hides_the_teams_of_the_same_shortcut_and_the_screen_says_so(
    service: str, browser: Browser,
) -> None:
    admin = await (await browser.new_context(locale="en-US")).new_page()
    await agent_logs_in(admin, service)
    await (await from_more(admin, "canned-manage")).click()
    dialog = admin.locator('[data-testid="canned-dialog"]')
    form = dialog.locator('[data-testid="canned-form"]')
    # a team reply (an admin may write one for the team conversations go to)
    await dialog.locator('[data-testid="canned-new"]').click()
    await form.locator('[name="scope"]').select_option("team:support")
    await form.locator('[name="shortcut"]').fill("hi")
    await form.locator('[name="title"]').fill("Team greeting")
    await form.locator('[name="en"]').fill("Hello from the support team!")
    await form.locator('[data-testid="canned-save"]').click()
    await expect(dialog.locator('[data-testid="canned-row"]', has_text="Team greeting")).to_have_count(1)
    # a personal one of the same shortcut: the form warns while it is typed, the list says it after
    await dialog.locator('[data-testid="canned-new"]').click()
    await form.locator('[name="shortcut"]').fill("/HI")
    await expect(form.locator('[data-testid="canned-shadow-note"]')).to_have_text(
        "Your /hi will hide team support's reply of the same shortcut from your list.")
    await form.locator('[name="title"]').fill("My greeting")
    await form.locator('[name="en"]').fill("Hi, it's me again!")
    await form.locator('[data-testid="canned-save"]').click()
    team_row = dialog.locator('[data-testid="canned-row"]', has_text="Team greeting")
    await expect(team_row.locator('[data-testid="canned-shadowed"]')).to_have_text(
        "Hidden from your list by your own /hi.")
    # the same shortcut again is refused, in words
    await dialog.locator('[data-testid="canned-new"]').click()
    await form.locator('[name="shortcut"]').fill("hi")
    await form.locator('[name="title"]').fill("Again")
    await form.locator('[name="en"]').fill("Again")
    await form.locator('[data-testid="canned-save"]').click()
    await expect(form.locator('[data-testid="canned-form-error"]')).to_have_text(
        "The shortcut /hi is taken here already: choose another.")
    await edit_one_and_delete_another(admin)
    await dialog.press("Escape")

    customer = await (await browser.new_context(locale="en-US")).new_page()
    await open_widget(customer, service)
    await customer_says(customer, "Hello, anyone there?")
    await admin.locator('[data-testid="conversation"]', has_text="anyone there").click()
    box = admin.locator('[data-testid="reply"]')
    await box.press("/")
    options = admin.locator('[data-testid="canned-option"]')
    await expect(options).to_have_count(1)
    await expect(options).to_contain_text("My greeting")
    # the visitor gave no name: the list says so, and the pick fills nothing in
    await expect(options.locator('[data-testid="canned-missing"]')).to_contain_text("{customer.name}")
    await box.press("Enter")
    await expect(admin.locator('[data-testid="canned-error"]')).to_contain_text("{customer.name}")
    await expect(box).to_have_value("/")
