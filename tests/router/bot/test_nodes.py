"""The bot on two nodes of one PostgreSQL database (issue 21): a customer's
messages given to two nodes at once, or a node starting (its resume) while
another answers, get one answer, never two to the same message. Each node
runs its own turns; the store refuses the answer of a turn that another
answered before it (router/bot/desk.py, ``AnswerMark``)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from router.bot.base import Bot, BotReply, BotTurn, ReplyKind
from router.bus import EventBus
from router.core import Router
from router.metrics import Metrics
from router.models import Author, Direction, utcnow
from router.routing.rules import RulesRouting, load_rules
from router.store.postgres import PostgresStore
from tests.conftest import eventually
from tests.router.bot.conftest import say
from tests.router.routing.rules.conftest import write_config

ROUNDS = 12
QUESTIONS = ("привет", "где мой заказ?")


class HeldBot(Bot):
    """An external bot that answers every turn in two texts, each naming the
    messages the turn answered, once the test lets it: so the turns of both
    nodes are all under way before either answers."""

    name = "held"

    def __init__(self) -> None:
        self.asked = 0
        self.release = asyncio.Event()

    async def respond(self, turn: BotTurn) -> BotReply:
        self.asked += 1
        try:
            await self.release.wait()
        finally:
            self.asked -= 1
        answered = " | ".join(turn.text.split("\n"))
        return BotReply(kind=ReplyKind.ANSWER, texts=[f"1/2 {answered}", f"2/2 {answered}"], intent="x",
                        confidence=0.9)


Nodes = tuple[Router, Router]


@pytest.fixture
async def nodes(pg_database: str, tmp_path: Path) -> AsyncIterator[tuple[Nodes, HeldBot]]:
    bot = HeldBot()
    rules = load_rules(write_config(tmp_path / "config"))
    async with PostgresStore(pg_database) as a, PostgresStore(pg_database) as b:
        routers = tuple(Router(store, EventBus(), RulesRouting(rules, utcnow), Metrics(), bot=bot) for store in (a, b))
        yield (routers[0], routers[1]), bot
        for router in routers:
            assert router.bot_desk is not None
            await router.bot_desk.drain()


async def one_round(nodes: Nodes, bot: HeldBot, visitor: str, second: Callable[[], Awaitable[object]]) -> str:
    """«привет» to node A and, at once, ``second`` on node B; the bot answers
    once every turn either node started is waiting for it."""
    a, b = nodes
    assert a.bot_desk is not None and b.bot_desk is not None
    desks = (a.bot_desk, b.bot_desk)
    bot.release.clear()
    accepted, _ = await asyncio.gather(a.on_message(say(1, QUESTIONS[0], visitor)), second())

    async def all_waiting() -> bool:
        return bot.asked > 0 and bot.asked == sum(d.running for d in desks)

    await eventually(all_waiting, "the turns of both nodes asking the bot")
    bot.release.set()
    for desk in desks:
        await desk.drain()
    assert accepted.conversation_id is not None
    return accepted.conversation_id


async def bot_answers(router: Router, conversation_id: str) -> list[str]:
    return [m.text for m in await router.store.list_messages(conversation_id, 50)
            if m.direction is Direction.OUT and m.author is Author.BOT and not m.core.aside]


def assert_answered_once(answers: list[str]) -> None:
    assert answers, "the bot said nothing"
    # each turn's two texts at most once, and each message answered by at most one turn
    assert max(Counter(answers).values()) == 1, answers
    answered = Counter(q for text in answers if text.startswith("1/2 ") for q in text[4:].split(" | "))
    assert max(answered.values()) == 1, answers
    # and a turn's second text is not refused by its first (all messages came before any answer here)
    assert Counter(t[4:] for t in answers if t.startswith("2/2 ")) == Counter(
        t[4:] for t in answers if t.startswith("1/2 "))


async def test_two_messages_given_to_two_nodes_at_once_are_answered_once(nodes: tuple[Nodes, HeldBot]) -> None:
    routers, bot = nodes
    for n in range(ROUNDS):
        visitor = f"v{n}"
        conversation_id = await one_round(routers, bot, visitor,
                                          lambda v=visitor: routers[1].on_message(say(2, QUESTIONS[1], v)))
        assert_answered_once(await bot_answers(routers[0], conversation_id))


async def test_a_node_resuming_while_another_answers_answers_nothing_twice(nodes: tuple[Nodes, HeldBot]) -> None:
    routers, bot = nodes
    resuming = routers[1].ingest
    for n in range(ROUNDS):
        conversation_id = await one_round(routers, bot, f"v{n}", resuming.resume)
        assert_answered_once(await bot_answers(routers[0], conversation_id))
