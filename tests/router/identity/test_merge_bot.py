"""An agent's merge and its undo with the bot in the conversation: a question
the undo gives back to a conversation with the bot is answered, not left
until the next start."""

from __future__ import annotations

from pathlib import Path

from router.models import ConversationStatus, Role
from router.routing.rules import RulesRouting, load_rules
from router.store.base import Store
from tests.router.identity.merging import merger
from tests.router.identity.test_flow import Clock
from tests.router.identity.test_selfservice import (  # noqa: F401
    EchoBot,
    Visitor,
    clock,
    make_router,
    outbox,
    store,
    whatsapp_customer,
)
from tests.router.routing.rules.conftest import write_config


async def test_a_question_asked_while_merged_is_answered_by_the_bot_once_the_merge_is_undone(
    store: Store, clock: Clock, tmp_path: Path  # noqa: F811
) -> None:
    bot = EchoBot()
    router = make_router(store, clock, bot=bot, routing=RulesRouting(load_rules(write_config(tmp_path / "c")), clock))
    assert router.bot_desk is not None
    agent = await store.create_agent("olga", "Ольга", Role.AGENT, "x")
    await whatsapp_customer(router, "Привет")
    await router.bot_desk.drain()
    [taken] = await store.list_conversations([ConversationStatus.BOT], 10)
    await router.conversations.assign(taken.id, agent)
    visitor = Visitor(router, "visitor-1")
    await visitor.says("Здравствуйте")
    await router.bot_desk.drain()
    [chat] = await store.list_conversations([ConversationStatus.BOT], 10)
    # the agent takes the visitor for the WhatsApp customer: the chat folds into the taken conversation
    merge = await merger(router).merge_customers(taken.customer_id, chat.customer_id, agent, "the same person")
    await visitor.says("А где ближайший пункт выдачи?")
    await router.bot_desk.drain()
    assert bot.asked == ["Привет", "Здравствуйте"]  # the agent's conversation: theirs to answer
    await merger(router).unmerge_customers(merge.id, agent, "two people after all")
    await router.bot_desk.drain()
    assert (await store.get_conversation(chat.id)).status is ConversationStatus.BOT
    assert bot.asked == ["Привет", "Здравствуйте", "А где ближайший пункт выдачи?"]
    assert [p.text for p in await outbox(router) if p.recipient == "visitor-1"][-1] == (
        "echo: А где ближайший пункт выдачи?")
