"""The bot in the pipeline: a real SQLite store, the real rules, the shipped
bot.yaml. Its answers go through the outbox, it steps aside through the
routing rules with its reason, and it never speaks in a conversation that an
agent owns."""

from __future__ import annotations

import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from router.appkeys import ROUTER, STORE
from router.bot import BotReply, BotTurn, FaqBot, RasaBot, desk
from router.bot.config import BotFile, ExternalBot
from router.config import Settings
from router.core import Router
from router.models import Author, ConversationStatus, Direction, Role
from router.routing.rules import RulesRouting, load_rules
from router.server.app import create_app
from router.store.sqlite import SQLiteStore
from tests.conftest import ADMIN_PASSWORD, HANG
from tests.fakes.rasa_bot import FakeRasa
from tests.router.bot.conftest import SHIPPED, Clock, make_router, say
from tests.router.routing.rules.conftest import write_config

Client = TestClient[web.Request, web.Application]


async def settle(router: Router) -> None:
    assert router.bot_desk is not None
    await router.bot_desk.drain()


async def test_a_question_is_answered_through_the_outbox_with_what_the_bot_understood(router: Router) -> None:
    async with router.bus.subscribe() as sub:
        accepted = await router.on_message(say(1, "сколько стоит доставка в Казань?"))
        await settle(router)
        events = [sub.queue.get_nowait() for _ in range(sub.queue.qsize())]
    conv = await router.store.get_conversation(accepted.conversation_id)
    assert conv.status is ConversationStatus.BOT
    messages = await router.store.list_messages(conv.id, 10)
    assert [(m.direction, m.author) for m in messages] == [(Direction.IN, Author.CUSTOMER), (Direction.OUT, Author.BOT)]
    answer = messages[1]
    assert answer.text.startswith("Доставка курьером — 290 ₽")
    assert answer.core.bot["intent"] == "delivery_cost" and answer.core.bot["confidence"] > 0.28
    outbox = await router.store.pending_outbox(10)
    assert [(e.message_id, e.payload.recipient, e.payload.author) for e in outbox] == [(answer.id, "v1", Author.BOT)]
    assert [e.data["message"]["author"] for e in events if e is not None and e.type == "message.created"] == [
        "customer", "bot"]


async def test_asking_for_a_person_hands_off_to_the_rules_queue_with_the_reason(router: Router) -> None:
    await router.on_message(say(1, "где мой заказ?"))
    await settle(router)
    # misspelt: the rules read the bot's vocabulary, so they hand off at once (the bot is not asked)
    accepted = await router.on_message(say(2, "позавите чиловека"))
    await settle(router)
    conv = await router.store.get_conversation(accepted.conversation_id)
    assert (conv.status, conv.team, conv.priority) == (ConversationStatus.QUEUED, "support", 20)
    assert conv.route_reason is not None and conv.route_reason.startswith("rule 'simple': bot handoff")
    trace = await router.store.conversation_route(conv.id)
    assert trace is not None and trace.facts["asked_for_human"] is True and trace.facts["bot_failed"] is False
    messages = await router.store.list_messages(conv.id, 10)
    assert [m.author for m in messages] == [Author.CUSTOMER, Author.BOT, Author.CUSTOMER, Author.BOT]
    assert messages[1].core.bot["intent"] == "order_status"  # the agent sees what was understood and answered
    assert messages[3].text == "Передаю ваш вопрос коллеге — он скоро ответит здесь же."


async def test_the_bot_hands_off_with_its_reason_when_the_rules_would_keep_the_conversation(
    tmp_path: Path, store: SQLiteStore, clock: Clock, shipped: BotFile, faq: FaqBot
) -> None:
    """A rule whose handoff condition ignores asked_for_human: the bot still steps aside on it."""
    rules = """\
        rules:
          - name: simple
            when: not has_attachments
            bot: {handoff: bot_failed, then: {team: support, priority: 20}}
        default:
          queue: {team: support, priority: 10}
        """
    routing = RulesRouting(load_rules(write_config(tmp_path / "config", rules)), clock)
    router = make_router(store, routing, clock, faq, shipped)
    accepted = await router.on_message(say(1, "позовите оператора"))
    await settle(router)
    conv = await router.store.get_conversation(accepted.conversation_id)
    assert conv.status is ConversationStatus.QUEUED
    assert conv.route_reason is not None and "asked_for_human" in conv.route_reason
    trace = await router.store.conversation_route(conv.id)
    assert trace is not None and trace.facts["bot"]["reason"] == "asked_for_human"
    messages = await router.store.list_messages(conv.id, 10)
    assert [(m.author, m.text) for m in messages] == [
        (Author.CUSTOMER, "позовите оператора"),
        (Author.BOT, "Передаю ваш вопрос коллеге — он скоро ответит здесь же."),
    ]


async def test_a_question_the_bot_does_not_know_goes_to_people_with_its_best_guess(router: Router) -> None:
    accepted = await router.on_message(say(1, "recommend a gaming laptop"))
    await settle(router)
    conv = await router.store.get_conversation(accepted.conversation_id)
    assert conv.status is ConversationStatus.QUEUED
    trace = await router.store.conversation_route(conv.id)
    assert trace is not None and trace.facts["bot_failed"] is True and trace.facts["bot_reason"] == "low_confidence"
    assert trace.step.startswith("bot handoff")
    messages = await router.store.list_messages(conv.id, 10)
    assert messages[-1].text.startswith("I am passing your question to a colleague")


async def test_a_repeated_question_hands_off(router: Router) -> None:
    await router.on_message(say(1, "how do I return an item?"))
    await settle(router)
    accepted = await router.on_message(say(2, "but how do I return it???"))
    await settle(router)
    conv = await router.store.get_conversation(accepted.conversation_id)
    assert conv.status is ConversationStatus.QUEUED
    assert conv.route_reason is not None and "repeated" in conv.route_reason


async def test_no_bot_reply_once_an_agent_owns_the_conversation(router: Router) -> None:
    accepted = await router.on_message(say(1, "где мой заказ?"))
    await settle(router)
    agent = await router.store.create_agent("olga", "Olga", Role.AGENT, "x")
    await router.conversations.assign(accepted.conversation_id, agent)
    await router.on_message(say(2, "как оплатить?"))
    await settle(router)
    messages = await router.store.list_messages(accepted.conversation_id, 10)
    assert [m.author for m in messages] == [Author.CUSTOMER, Author.BOT, Author.CUSTOMER]


async def test_an_agent_who_takes_over_while_the_bot_thinks_wins(
    store: SQLiteStore, routing: RulesRouting, clock: Clock, rasa: FakeRasa
) -> None:
    rasa.stall = True
    async with RasaBot(ExternalBot.model_validate({"url": rasa.webhook_url, "timeout": 30})) as bot:
        router = make_router(store, routing, clock, bot, None)
        accepted = await router.on_message(say(1, "hello"))  # stored and acknowledged while the bot thinks
        await rasa.started.wait()
        agent = await store.create_agent("olga", "Olga", Role.AGENT, "x")
        await router.conversations.assign(accepted.conversation_id, agent)
        rasa.release.set()
        await settle(router)
    conv = await store.get_conversation(accepted.conversation_id)
    assert (conv.status, conv.agent_id) == (ConversationStatus.ASSIGNED, agent.id)
    assert [m.author for m in await store.list_messages(conv.id, 10)] == [Author.CUSTOMER]
    assert await store.pending_outbox(10) == []


async def test_a_message_left_unanswered_by_a_restart_is_answered_on_start(
    store: SQLiteStore, routing: RulesRouting, clock: Clock, faq: FaqBot, shipped: BotFile
) -> None:
    before = make_router(store, routing, clock, None, None)  # stopped before the bot could answer
    accepted = await before.on_message(say(1, "как вернуть товар?"))
    assert [m.author for m in await store.list_messages(accepted.conversation_id, 10)] == [Author.CUSTOMER]
    after = make_router(store, routing, clock, faq, shipped)
    await after.ingest.resume()
    await settle(after)
    messages = await store.list_messages(accepted.conversation_id, 10)
    assert [m.author for m in messages] == [Author.CUSTOMER, Author.BOT]
    assert messages[1].core.bot["intent"] == "returns"


async def handed_to_people(store: SQLiteStore, routing: RulesRouting, clock: Clock, rasa: FakeRasa,
                           reason: str) -> None:
    """The external bot's turn ends with the conversation in a queue for ``reason``, the customer told."""
    async with RasaBot(ExternalBot.model_validate({"url": rasa.webhook_url, "timeout": HANG})) as bot:
        router = make_router(store, routing, clock, bot, None)
        accepted = await router.on_message(say(1, "hello"))
        await settle(router)
        conv = await store.get_conversation(accepted.conversation_id)
        assert conv.status is ConversationStatus.QUEUED
        assert conv.route_reason is not None and reason in conv.route_reason
        # the customer hears that a person takes over
        assert [m.author for m in await store.list_messages(conv.id, 10)] == [Author.CUSTOMER, Author.BOT]


async def test_an_external_bot_that_fails_hands_off_never_silent(
    store: SQLiteStore, routing: RulesRouting, clock: Clock, rasa: FakeRasa
) -> None:
    rasa.script = [500]
    await handed_to_people(store, routing, clock, rasa, "HTTP 500")


async def test_an_agent_hands_a_conversation_back_to_the_bot_from_the_api(
    aiohttp_client: Callable[..., Awaitable[Client]], settings: Settings, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OMNIROUTER_ADMIN_PASSWORD", ADMIN_PASSWORD)
    settings.connectors = {}
    folder = write_config(tmp_path / "config").parent
    shutil.copy(SHIPPED, folder / "bot.yaml")
    client = await aiohttp_client(create_app(settings, folder, base_dir=tmp_path))
    router, store = client.app[ROUTER], client.app[STORE]
    accepted = await router.on_message(say(1, "оператор"))
    await settle(router)  # the bot hands it to people at once
    conv_id = str(accepted.conversation_id)
    assert (await store.get_conversation(conv_id)).status is ConversationStatus.QUEUED
    assert (await client.post(f"/api/conversations/{conv_id}/bot", json={})).status == 401
    await client.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    resp = await client.post(f"/api/conversations/{conv_id}/bot", json={})
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["conversation"]["status"] == "bot"
    again = await client.post(f"/api/conversations/{conv_id}/bot", json={})
    assert again.status == 409  # the bot has it already
    await router.on_message(say(2, "как можно оплатить?"))
    await settle(router)
    messages = await store.list_messages(conv_id, 10)
    assert messages[-1].author is Author.BOT and messages[-1].core.bot["intent"] == "payment"
    # when the bot steps aside again, the conversation goes back to the team it was with
    await router.on_message(say(3, "recommend a gaming laptop"))
    await settle(router)
    conv = await store.get_conversation(conv_id)
    assert (conv.status, conv.team) == (ConversationStatus.QUEUED, "support")
    route = await (await client.get(f"/api/conversations/{conv_id}/route")).json()
    assert route["trace"]["facts"]["bot"]["reason"] == "low_confidence"


async def test_the_webhook_answer_does_not_wait_for_a_slow_bot(
    store: SQLiteStore, routing: RulesRouting, clock: Clock, rasa: FakeRasa
) -> None:
    rasa.stall = True
    async with RasaBot(ExternalBot.model_validate({"url": rasa.webhook_url, "timeout": 30})) as bot:
        router = make_router(store, routing, clock, bot, None)
        accepted = await router.on_message(say(1, "hello"))  # returns while the bot is still thinking
        await rasa.started.wait()
        assert [m.author for m in await store.list_messages(str(accepted.conversation_id), 10)] == [Author.CUSTOMER]
        rasa.release.set()
        await settle(router)
    texts = [m.text for m in await store.list_messages(str(accepted.conversation_id), 10)]
    assert texts == ["hello", "You said: hello"]


async def test_a_bot_that_never_answers_hands_off_after_its_patience(
    store: SQLiteStore, routing: RulesRouting, clock: Clock, rasa: FakeRasa, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model or a bot service that hangs must not silence the conversation: people answer it."""
    monkeypatch.setattr(desk, "BOT_PATIENCE", 0.5)  # the bot below never answers: no edge to sit on
    rasa.stall = True
    try:
        await handed_to_people(store, routing, clock, rasa, "the bot took over 0.5 s")
    finally:
        rasa.release.set()


class BuggyBot(FaqBot):
    """A bug in the bot (its model's library raising what is no BotError)."""

    async def respond(self, turn: BotTurn) -> BotReply:
        raise ValueError(f"a bug: {turn.text}")


async def test_a_bug_in_the_bot_hands_the_conversation_to_people(
    store: SQLiteStore, routing: RulesRouting, clock: Clock, shipped: BotFile, caplog: pytest.LogCaptureFixture
) -> None:
    router = make_router(store, routing, clock, BuggyBot(shipped), shipped)
    accepted = await router.on_message(say(1, "секретный вопрос"))
    await settle(router)
    conv = await store.get_conversation(accepted.conversation_id)
    assert conv.status is ConversationStatus.QUEUED
    assert conv.route_reason is not None and "the bot failed (ValueError)" in conv.route_reason
    assert [m.author for m in await store.list_messages(conv.id, 10)] == [Author.CUSTOMER, Author.BOT]
    assert "секретный" not in caplog.text
