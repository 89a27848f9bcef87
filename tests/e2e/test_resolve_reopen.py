"""Resolving with the customer's question unanswered asks first; a resolved
conversation reopens; the customer panel always says where each stands."""

from __future__ import annotations

from playwright.async_api import Browser, Dialog, expect

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
