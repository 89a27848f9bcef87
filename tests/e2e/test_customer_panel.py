"""The customer panel in the console: what an agent sees of who is writing,
and merging/unmerging from it — in real Chromium against the real service."""

from __future__ import annotations

from playwright.async_api import Browser, Dialog, expect

from tests.e2e.test_conversation import agent_logs_in, customer_says, open_widget


async def test_agent_sees_channels_claims_and_merges_and_unmerges(service: str, browser: Browser) -> None:
    agent = await (await browser.new_context()).new_page()
    customer = await (await browser.new_context()).new_page()
    await agent_logs_in(agent, service)
    await open_widget(customer, service)
    await customer_says(customer, "Мой номер 8 (912) 345-67-89, перезвоните")

    row = agent.locator('[data-testid="conversation"]', has_text="перезвоните")
    await row.click()
    panel = agent.locator('[data-testid="customer-panel"]')
    await expect(panel.locator('[data-testid="identity"]')).to_have_count(1)
    # the site chat by its name for people, never the visitor's token
    await expect(panel.locator('[data-testid="identity"]')).to_contain_text("Site chat")
    await expect(panel.locator('[data-testid="identity"]')).not_to_contain_text("webchat:")
    await expect(panel.locator('[data-testid="identity"]')).to_contain_text("verified")
    # one channel so far: replies go where they wrote last
    await expect(agent.locator('[data-testid="reply-channel"]')).to_have_text("Reply in the site chat (used last)")
    claim = panel.locator('[data-testid="claim"]')
    await expect(claim).to_contain_text("phone: +79123456789")
    await expect(claim).to_contain_text("claimed")
    await expect(claim).to_contain_text("typed “8 (912) 345-67-89”")

    # nobody has written from that number: the panel says a code cannot go there
    await claim.locator('[data-testid="send-code"]').click()
    await expect(panel.locator("#cp-note")).to_contain_text("no connected channel can reach phone +79123456789")

    # the CRM knows this person by another record: the agent merges it in
    crm = await agent.evaluate("""async () => {
        const r = await fetch('/api/customers/by/external/crm-7', {method: 'PUT',
            headers: {'Content-Type': 'application/json'}, body: JSON.stringify({tier: 'gold', lifetime_value: 1200})});
        return (await r.json()).customer.id;
    }""")
    await panel.locator('[data-testid="merge-other"]').fill(crm)
    await panel.locator('[data-testid="merge-reason"]').fill("same phone in the CRM")
    await panel.locator('[data-testid="merge-form"] button').click()
    await expect(panel.locator('[data-testid="identity"]')).to_have_count(2)
    await expect(panel.locator('[data-testid="cp-attributes"]')).to_contain_text("gold")
    merge = panel.locator('[data-testid="merge"]')
    await expect(merge).to_contain_text("same phone in the CRM")

    async def give_reason(dialog: Dialog) -> None:
        await dialog.accept("a different Anna")

    agent.once("dialog", give_reason)
    await merge.locator('[data-testid="unmerge"]').click()
    await expect(merge).to_contain_text("undone")
    await expect(panel.locator('[data-testid="identity"]')).to_have_count(1)
    await expect(panel.locator('[data-testid="cp-attributes"]')).not_to_contain_text("gold")
