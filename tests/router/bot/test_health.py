"""The supervisors' alert when the bot's answers fail: one ``bot.failing``
when a run of answers fails (an outage), none per message after it, one
``bot.recovered`` when it answers again; never for a single failure."""

from __future__ import annotations

from router import events
from router.bot import RasaBot
from router.bot.config import ExternalBot
from router.bot.health import BotHealth
from router.bus import Event, EventBus, Subscription
from router.models import ConversationStatus
from router.routing.rules import RulesRouting
from router.store.sqlite import SQLiteStore
from tests.conftest import HANG
from tests.fakes.rasa_bot import FakeRasa
from tests.router.bot.conftest import Clock, make_router, say


def alerts(sub: Subscription) -> list[Event]:
    found = [sub.queue.get_nowait() for _ in range(sub.queue.qsize())]
    return [e for e in found if e is not None and e.type in (events.BOT_FAILING, events.BOT_RECOVERED)]


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_one_failure_is_no_alert_a_run_is_one_and_answers_again_recover() -> None:
    bus, ticks = EventBus(), Ticks()
    health = BotHealth(bus, node="n1", clock=ticks)
    async with bus.subscribe() as sub:
        for _ in range(5):
            health.answered()
        health.failed()
        assert alerts(sub) == [] and not health.state.failing  # one failure among answers: no outage
        for _ in range(20):  # an outage: every answer fails
            health.failed()
        [failing] = alerts(sub)
        assert failing.type == events.BOT_FAILING and failing.data["node"] == "n1"
        assert failing.data["failed"] >= 3 and health.state.failing
        health.answered()
        health.answered()
        assert alerts(sub) == [] and health.state.failing  # not yet: two answers may be luck
        health.answered()
        [recovered] = alerts(sub)
        assert recovered.type == events.BOT_RECOVERED and recovered.data["since"] == failing.data["since"]
        assert not health.state.failing


async def test_a_failing_bot_with_no_traffic_after_recovers_when_its_window_has_passed() -> None:
    bus, ticks = EventBus(), Ticks()
    health = BotHealth(bus, clock=ticks, window=300)
    async with bus.subscribe() as sub:
        for _ in range(3):
            health.failed()
        assert [e.type for e in alerts(sub)] == [events.BOT_FAILING]
        ticks.now += 200
        health.check()
        assert alerts(sub) == []
        ticks.now += 200  # no failure left in the last 300 s
        health.check()
        assert [e.type for e in alerts(sub)] == [events.BOT_RECOVERED]


async def test_an_external_bot_down_raises_one_alert_for_many_customers(
    store: SQLiteStore, routing: RulesRouting, clock: Clock, rasa: FakeRasa
) -> None:
    rasa.script = [500] * 6
    async with RasaBot(ExternalBot.model_validate({"url": rasa.webhook_url, "timeout": HANG})) as bot:
        router = make_router(store, routing, clock, bot, None)
        assert router.bot_desk is not None
        async with router.bus.subscribe() as sub:
            for n in range(6):  # six customers during the outage
                accepted = await router.on_message(say(1, "hello", visitor=f"v{n}"))
                await router.bot_desk.drain()
                conv = await store.get_conversation(accepted.conversation_id)
                assert conv.status is ConversationStatus.QUEUED  # each still goes to people
            assert [e.type for e in alerts(sub)] == [events.BOT_FAILING]
            for n in range(3):  # it answers again
                await router.on_message(say(1, "hello", visitor=f"w{n}"))
                await router.bot_desk.drain()
            assert [e.type for e in alerts(sub)] == [events.BOT_RECOVERED]
