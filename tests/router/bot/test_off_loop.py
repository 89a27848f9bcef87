"""The bot's embedding never holds up other customers: while one question
is being embedded (held inside the model's call here, as a long paragraph on
a busy CPU is), other customers' messages are stored and acknowledged, and
the held question is answered once the model lets go. A real store, the
real rules, the shipped bot.yaml and the real embedding model; only the
moment the model returns is in the test's hands."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from router.bot import FaqBot
from router.bot.config import BotFile
from router.bot.e5 import E5Encoder
from router.bot.semantic import Vectors
from router.models import Author, ConversationStatus
from router.routing.rules import RulesRouting
from router.store.sqlite import SQLiteStore
from tests.conftest import HANG, eventually
from tests.router.bot.conftest import Clock, make_router, say


class HeldEncoder:
    """The real model; once ``hold`` is set, each call waits inside until
    ``release`` (and notes whether it was called on an event loop's thread)."""

    def __init__(self, model: E5Encoder) -> None:
        self.model = model
        self.hold = False
        self.entered = threading.Event()
        self.release = threading.Event()
        self.on_a_loop = False

    def encode(self, texts: list[str]) -> Vectors:
        if self.hold:
            try:
                asyncio.get_running_loop()
                self.on_a_loop = True  # held here, it would stop every customer: not waited on
            except RuntimeError:
                self.entered.set()
                assert self.release.wait(HANG), "the test never released the model"
        return self.model.encode(texts)


async def test_other_customers_are_acknowledged_while_a_question_is_embedded(
    tmp_path: Path, store: SQLiteStore, routing: RulesRouting, clock: Clock, shipped: BotFile, encoder: E5Encoder,
) -> None:
    held = HeldEncoder(encoder)
    bot = FaqBot(shipped, encoder=held)
    await asyncio.to_thread(bot.load)  # the examples embedded without a hold
    router = make_router(store, routing, clock, bot, shipped)
    assert router.bot_desk is not None
    held.hold = True

    asking = await router.on_message(say(1, "сколько стоит доставка в Казань?", visitor="anna"))
    async def inside() -> bool:
        return held.entered.is_set() or held.on_a_loop

    await eventually(inside, "Anna's question inside the model")
    assert not held.on_a_loop, "the embedding ran on the event loop"

    # meanwhile other customers write, to the bot and not, and each is stored and acknowledged
    others = [await router.on_message(say(1, f"где мой заказ номер {n}?", visitor=f"other{n}")) for n in range(3)]
    assert not held.release.is_set()  # still inside Anna's embedding
    for accepted in others:
        stored = await store.get_message(accepted.message_id)
        assert stored.author is Author.CUSTOMER and stored.conversation_id == accepted.conversation_id
    assert [m.author for m in await store.list_messages(asking.conversation_id, 10)] == [Author.CUSTOMER]

    held.release.set()
    async with asyncio.timeout(HANG):
        await router.bot_desk.drain()
    assert not held.on_a_loop, "the embedding ran on the event loop"
    for accepted in [asking, *others]:
        conversation = await store.get_conversation(accepted.conversation_id)
        messages = await store.list_messages(conversation.id, 10)
        # each question got the bot's answer (or its handoff notice), none was lost while another waited
        assert conversation.status in (ConversationStatus.BOT, ConversationStatus.QUEUED)
        assert [m.author for m in messages] == [Author.CUSTOMER, Author.BOT]
    anna = await store.list_messages(asking.conversation_id, 10)
    assert anna[1].text.startswith("Доставка курьером — 290 ₽")
