"""Resolving with the customer's question unanswered asks first; a resolved
conversation reopens; the customer panel always says where each stands."""

from __future__ import annotations

import asyncio

from playwright.async_api import Browser, Dialog, WebSocketRoute, expect

from tests.e2e.test_conversation import agent_logs_in, customer_says, open_widget


async def test_resolve_asks_when_the_question_is_unanswered_and_reopen_gives_it_back(service: str,
                                                                                      browser: Browser) -> None:
    customer = await (await browser.new_context()).new_page()
    await open_widget(customer, service)
    await customer_says(customer, "is anyone there?")
    agent = await (await browser.new_context()).new_page()
    await agent_logs_in(agent, service)
    await agent.locator('[data-testid="conversation"]', has_text="is anyone there").click()
    await agent.locator('[data-testid="take"]').click()
    header = agent.locator("#conv-meta")
    await expect(header).to_contain_text("assigned")

    asked: list[str] = []

    async def refuse(dialog: Dialog) -> None:
        asked.append(dialog.message)
        await dialog.dismiss()
    agent.once("dialog", refuse)
    await agent.locator('[data-testid="resolve"]').click()
    await expect(agent.locator('[data-testid="resolve"]')).to_be_visible()
    assert asked and "no answer" in asked[0]
    await expect(header).to_contain_text("assigned")  # nothing changed

    # answered: resolving asks nothing
    await agent.locator('[data-testid="reply"]').fill("Yes, I'm here. Done!")
    await agent.locator('[data-testid="send"]').click()
    await expect(customer.locator('[data-omr="message"][data-author="agent"]')).to_have_text("Yes, I'm here. Done!")
    agent.once("dialog", refuse)
    await agent.locator('[data-testid="resolve"]').click()
    await expect(header).to_contain_text("resolved")
    assert len(asked) == 1
    # the panel says so too
    past = agent.locator('[data-testid="customer-panel"] [data-testid="past-conversation"]')
    await expect(past.first).to_contain_text("resolved")

    await agent.locator('[data-testid="reopen"]').click()
    await expect(header).to_contain_text("assigned")
    await expect(agent.locator('[data-testid="reply"]')).to_be_visible()
    await expect(past.first).to_contain_text("assigned")


async def test_a_message_the_console_has_not_shown_yet_stops_the_resolve_and_asks(service: str,
                                                                                 browser: Browser) -> None:
    """The customer writes while Resolve is on its way (here the console's live feed holds the message back):
    the service refuses the resolve, the console says how many messages came and asks; nothing is resolved
    unless the agent says so."""
    customer = await (await browser.new_context()).new_page()
    await open_widget(customer, service)
    await customer_says(customer, "where is my parcel?")
    agent = await (await browser.new_context(locale="en-US")).new_page()
    held = {"on": False}

    async def feed(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()
        server.on_message(lambda m: None if held["on"] and "message.created" in str(m) else ws.send(m))
        ws.on_message(server.send)

    await agent.route_web_socket("**/api/ws", feed)
    await agent_logs_in(agent, service)
    await agent.locator('[data-testid="conversation"]', has_text="where is my parcel").click()
    await agent.locator('[data-testid="take"]').click()
    await agent.locator('[data-testid="reply"]').fill("It left the warehouse today.")
    await agent.locator('[data-testid="send"]').click()
    await expect(agent.locator('[data-testid="message"]')).to_have_count(2)
    header = agent.locator("#conv-meta")
    await expect(header).to_contain_text("assigned")

    held["on"] = True  # the customer's next word is not on the agent's screen yet
    await customer_says(customer, "and the second one?")
    asked: list[str] = []
    came = asyncio.Event()

    async def answer(dialog: Dialog, accept: bool) -> None:
        asked.append(dialog.message)
        came.set()
        await (dialog.accept() if accept else dialog.dismiss())

    agent.once("dialog", lambda d: answer(d, False))
    await agent.locator('[data-testid="resolve"]').click()
    await asyncio.wait_for(came.wait(), 120)  # a hang detector, not a wait
    assert asked == ["The customer wrote 1 more message while you were resolving. Resolve anyway?"]
    await expect(header).to_contain_text("assigned")  # dismissed: nothing changed

    agent.once("dialog", lambda d: answer(d, True))
    await agent.locator('[data-testid="resolve"]').click()
    await expect(header).to_contain_text("resolved")
    assert len(asked) == 2
