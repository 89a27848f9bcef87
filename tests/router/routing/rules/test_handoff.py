"""The bot keeps a conversation until its rule's handoff condition holds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from router.bot import NoBot
from router.bus import EventBus
from router.core import Router
from router.metrics import Metrics
from router.models import ConversationStatus, IdentityRef, InboundMessage, Role
from router.routing.rules import RulesRouting, load_rules
from router.store.sqlite import SQLiteStore
from tests.router.routing.rules.conftest import RULES, write_config

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand: no sleeping."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


HANDOFF_RULES = RULES.replace(
    "bot: {then: {team: support, priority: 20}}",
    "bot: {handoff: asked_for_human or bot_failed or conversation_age > 600, then: {team: senior, priority: 30}}",
)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def router(tmp_path: Path, clock: Clock) -> AsyncIterator[Router]:
    routing = RulesRouting(load_rules(write_config(tmp_path / "config", HANDOFF_RULES)), clock)
    async with SQLiteStore(tmp_path / "handoff.db") as store:
        yield Router(store, EventBus(), routing, Metrics(), clock=clock)


def say(n: int, text: str, **extras: object) -> InboundMessage:
    return InboundMessage(channel="webchat", external_id=str(n), sender=IdentityRef(kind="webchat", value="v1"),
                          text=text, extras=dict(extras))


async def status_after(router: Router, n: int, text: str, **extras: object) -> tuple[ConversationStatus, str | None]:
    accepted = await router.on_message(say(n, text, **extras))
    conv = await router.store.get_conversation(accepted.conversation_id)
    return conv.status, conv.team


async def test_asking_for_a_human_hands_off_to_the_rules_queue(router: Router) -> None:
    assert await status_after(router, 1, "hi") == (ConversationStatus.BOT, "senior")
    assert await status_after(router, 2, "thanks, and the price?") == (ConversationStatus.BOT, "senior")
    accepted = await router.on_message(say(3, "let me talk to a human"))
    conv = await router.store.get_conversation(accepted.conversation_id)
    assert (conv.status, conv.team, conv.priority) == (ConversationStatus.QUEUED, "senior", 30)
    trace = await router.store.conversation_route(conv.id)
    assert trace is not None and trace.step.startswith("bot handoff")
    assert trace.rules[0].conditions[0].expression.startswith("asked_for_human")


async def test_a_failed_bot_answer_hands_off_with_its_reason(tmp_path: Path, clock: Clock) -> None:
    routing = RulesRouting(load_rules(write_config(tmp_path / "config", HANDOFF_RULES)), clock)
    async with SQLiteStore(tmp_path / "failed.db") as store:
        router = Router(store, EventBus(), routing, Metrics(), clock=clock, bot=NoBot())
        accepted = await router.on_message(say(1, "hi"))
        assert router.bot_desk is not None
        await router.bot_desk.drain()
        conv = await store.get_conversation(accepted.conversation_id)
        assert (conv.status, conv.team) == (ConversationStatus.QUEUED, "senior")
        trace = await store.conversation_route(conv.id)
        assert trace is not None and trace.facts["bot_failed"] is True
        assert trace.facts["bot"]["reason"] == "bot_failed"
        assert conv.route_reason is not None and "no bot is configured" in conv.route_reason


async def test_a_long_bot_conversation_hands_off_by_its_age(router: Router, clock: Clock) -> None:
    await status_after(router, 1, "hi")
    clock.now = T0 + timedelta(minutes=9)
    assert (await status_after(router, 2, "hmm"))[0] is ConversationStatus.BOT
    clock.now = T0 + timedelta(minutes=11)
    assert (await status_after(router, 3, "hmm"))[0] is ConversationStatus.QUEUED


async def test_a_handoff_is_announced(router: Router) -> None:
    async with router.bus.subscribe() as sub:
        await status_after(router, 1, "hi")
        await status_after(router, 2, "operator!")
        kinds = []
        while not sub.queue.empty():
            event = sub.queue.get_nowait()
            assert event is not None
            kinds.append(event.type)
    assert kinds.count("conversation.updated") == 1


async def test_a_handoff_on_the_customers_earlier_contacts_reads_them(tmp_path: Path, clock: Clock) -> None:
    """``handoff: ... or contacts_7d >= 1``: the routing saw the customer's earlier
    conversation, the handoff saw none, and the bot kept a returning customer."""
    rules = RULES.replace("bot: {then: {team: support, priority: 20}}",
                          "bot: {handoff: asked_for_human or contacts_7d >= 1, then: {team: senior, priority: 30}}")
    routing = RulesRouting(load_rules(write_config(tmp_path / "config", rules)), clock)
    async with SQLiteStore(tmp_path / "returning.db") as store:
        router = Router(store, EventBus(), routing, Metrics(), clock=clock)
        first = await router.on_message(say(1, "hi"))
        assert first.conversation_id is not None
        # a new customer stays with the bot
        assert (await store.get_conversation(first.conversation_id)).status is ConversationStatus.BOT
        ann = await store.create_agent("ann", "Ann", Role.AGENT, "x")
        await router.conversations.assign(first.conversation_id, ann)
        await router.conversations.resolve(first.conversation_id, ann)
        clock.now += timedelta(days=3)  # past the reopen window: a new conversation
        second = await router.on_message(say(2, "hi again"))
        assert second.conversation_id != first.conversation_id
        assert await status_after(router, 3, "and the price?") == (ConversationStatus.QUEUED, "senior")
