"""First-response SLA per queue: a breach is announced once, listed for the
console, and can open an escalation step."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from router.bus import Event, EventBus
from router.core import Router
from router.metrics import Metrics
from router.models import Presence, Role
from router.routing.assignment import Assigner, Policy
from router.routing.rules import RulesRouting, load_rules
from router.store.base import Store
from router.store.sqlite import SQLiteStore
from router.yamlconf import ConfigError
from tests.router.routing.rules.conftest import write_config
from tests.router.routing.rules.test_escalation import TEAMS, Clock, write

RULES = """\
queues:
  support:
    first_response: 5m
    steps:
      - {after: 0, agents: team}
      - {after: sla, agents: any, skills: ignore}
default: {queue: {team: senior}}
rules:
  - {name: all, when: "text != ''", queue: {team: support, skills: {billing: 3}}}
"""


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[tuple[Router, Assigner, Clock, EventBus]]:
    clock, bus = Clock(), EventBus()
    routing = RulesRouting(load_rules(write_config(tmp_path / "config", RULES, TEAMS)), clock)
    async with SQLiteStore(tmp_path / "sla.db") as store:
        policy = Policy(routing.ruleset.teams, routing.ruleset)
        yield Router(store, bus, routing, Metrics(), clock=clock), Assigner(store, bus, policy, clock), clock, bus


async def test_a_breach_is_announced_once_and_opens_the_sla_step(
    setup: tuple[Router, Assigner, Clock, EventBus],
) -> None:
    router, assigner, clock, bus = setup
    bob = await router.store.create_agent("bob", "Bob", Role.AGENT, "x")  # senior only: not support's team
    await router.store.set_presence(bob.id, Presence.ONLINE, clock())
    conv = await write(router, 1, "where is my money")
    async with bus.subscribe() as events:
        clock.advance(minutes=4)
        await assigner.assign_round()
        assert await assigner.sla_breaches() == []
        assert (await router.store.get_conversation(conv)).agent_id is None  # nobody in the team
        clock.advance(minutes=2)
        await assigner.assign_round()
        await assigner.assign_round()
        kinds = []
        while not events.queue.empty():
            event = events.queue.get_nowait()
            assert event is not None
            kinds.append(event.type)
    assert kinds.count("conversation.sla_breached") == 1
    [breach] = await assigner.sla_breaches()
    assert (breach.conversation.id, breach.target, breach.waited) == (conv, 300, 360)
    # the step after the SLA opens the queue to anyone
    assert (await router.store.get_conversation(conv)).agent_id == bob.id


def _breaches_announced(events: asyncio.Queue[Event | None]) -> list[str]:
    found = []
    while not events.empty():
        event = events.get_nowait()
        if event is not None and event.type == "conversation.sla_breached":
            found.append(event.data["conversation"]["id"])
    return found


async def test_a_breach_is_announced_once_whichever_node_leads_the_assigner(store: Store, tmp_path: Path) -> None:
    """On every backend: a node that starts leading the assigner (another node died, or this one
    restarted) remembers nothing, and announced every current breach again."""
    clock, bus = Clock(), EventBus()
    routing = RulesRouting(load_rules(write_config(tmp_path / "config", RULES, TEAMS)), clock)
    router, policy = Router(store, bus, routing, Metrics(), clock=clock), Policy(routing.ruleset.teams, routing.ruleset)
    first = await write(router, 1, "where is my money")
    async with bus.subscribe() as events:
        clock.advance(minutes=6)
        await Assigner(store, bus, policy, clock).assign_round()
        assert _breaches_announced(events.queue) == [first]
        second = await write(router, 2, "and my parcel", sender="v2")
        clock.advance(minutes=6)
        leader = Assigner(store, bus, policy, clock)  # the next leader, with nothing in memory
        await leader.assign_round()
        await leader.assign_round()
        assert _breaches_announced(events.queue) == [second]


async def test_an_answered_conversation_is_no_breach(setup: tuple[Router, Assigner, Clock, EventBus]) -> None:
    router, assigner, clock, _ = setup
    carl = await router.store.create_agent("carl", "Carl", Role.AGENT, "x")
    conv = await write(router, 1, "hello")
    await router.conversations.reply(conv, carl, "Hello! Looking into it.")
    clock.advance(minutes=10)
    assert await assigner.sla_breaches() == []


def test_a_sla_step_needs_a_target(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_rules(write_config(tmp_path, RULES.replace("    first_response: 5m\n", ""), TEAMS))
    assert "needs first_response" in caught.value.problems[0]
    assert caught.value.problems[0].split(":")[1] == "3"


OFFICE = """\
calendars:
  office:
    timezone: Europe/Moscow
    hours: {mon-fri: ["09:00-18:00"]}
queues:
  support:
    first_response: 5m
    hours: office
default: {queue: {team: support}}
rules: []
"""


async def test_the_first_response_clock_runs_only_while_the_queue_is_open(tmp_path: Path) -> None:
    """A customer who wrote at 06:51 was "late" at 06:56, and every night's
    conversation was red in the console before anybody could answer it."""
    clock = Clock()
    clock.now = clock.now.replace(hour=3, minute=51)  # Monday 06:51 in Moscow: closed until 09:00
    routing = RulesRouting(load_rules(write_config(tmp_path / "config", OFFICE, TEAMS)), clock)
    async with SQLiteStore(tmp_path / "night.db") as store:
        router = Router(store, EventBus(), routing, Metrics(), clock=clock)
        assigner = Assigner(store, EventBus(), Policy(routing.ruleset.teams, routing.ruleset), clock)
        conv = await write(router, 1, "где мой заказ?")
        clock.advance(hours=2, minutes=12)  # 09:03: open for 3 minutes
        assert await assigner.sla_breaches() == []
        clock.advance(minutes=3)  # 09:06: open for 6
        [breach] = await assigner.sla_breaches()
        assert (breach.conversation.id, breach.waited) == (conv, 360)
