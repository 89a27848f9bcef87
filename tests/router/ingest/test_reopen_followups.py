"""What follows a reopen (router/ingest/service.py, router/routing/), on every
backend of tests/router/store/test_contract.py: the first-response clock runs
from the reopen (the sweep, the assigner and the wallboard alike), the
customer is told what happens next by the reopened conversation's own team,
the agent who handled the case (not whoever clicked Resolve) is preferred,
and the channel kind follows the channel written on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from router.bus import EventBus
from router.core import Router
from router.metrics import Metrics
from router.models import (
    Agent,
    ConversationStatus,
    Direction,
    IdentityRef,
    InboundMessage,
    Message,
    Presence,
    Role,
)
from router.routing.assignment import Assigner, Policy
from router.routing.rules import RulesRouting, load_rules
from router.store.base import Store
from tests.router.routing.rules.conftest import write_config
from tests.router.routing.rules.test_escalation import MONDAY_10, Clock

TEAMS = """\
teams: {support: {}, senior: {}}
channel_kinds: {voice: voice}
agents:
  - {username: ann, teams: [support]}
  - {username: sam, teams: [senior]}
"""

RULES = """\
timezone: Europe/Moscow
calendars:
  office:
    timezone: Europe/Moscow
    hours: {mon-fri: ["09:00-18:00"]}
queues:
  support:
    first_response: 5m
    hours: office
    after_hours_message: {en: "We are closed; we answer from {opens}.", ru: "Мы закрыты; ответим с {opens}."}
rules:
  - name: money
    when: text =~~ 'refund'
    queue: {team: senior, priority: 50}
default: {queue: {team: support}}
"""


@dataclass
class Desk:
    router: Router
    assigner: Assigner
    clock: Clock
    ann: Agent
    sam: Agent


@pytest.fixture
async def desk(store: Store, tmp_path: Path) -> AsyncIterator[Desk]:
    clock, bus = Clock(MONDAY_10), EventBus()
    routing = RulesRouting(load_rules(write_config(tmp_path / "config", RULES, TEAMS)), clock)
    router = Router(store, bus, routing, Metrics(), clock=clock)
    assigner = Assigner(store, bus, Policy(routing.ruleset.teams, routing.ruleset), clock)
    ann = await store.create_agent("ann", "Ann", Role.AGENT, "x")
    sam = await store.create_agent("sam", "Sam", Role.SUPERVISOR, "x")
    yield Desk(router, assigner, clock, ann, sam)


async def _write(desk: Desk, n: int, text: str, channel: str = "webchat") -> str:
    msg = InboundMessage(channel=channel, external_id=f"m{n}", sender=IdentityRef(kind="webchat", value="v1"),
                         text=text)
    conversation_id = (await desk.router.on_message(msg)).conversation_id
    assert conversation_id is not None
    return conversation_id


async def _handled(desk: Desk, reply: bool, resolver: Agent | None = None) -> str:
    """A conversation of support's, taken by Ann (answered by her when ``reply``), resolved by ``resolver``."""
    conv = await _write(desk, 1, "my parcel is late")
    await desk.router.conversations.assign(conv, desk.ann)
    if reply:
        await desk.router.conversations.reply(conv, desk.ann, "Looking into it.")
    await desk.router.conversations.resolve(conv, resolver or desk.ann)
    return conv


async def test_a_reopened_case_its_agent_had_answered_is_on_the_clock_again(desk: Desk) -> None:
    conv = await _handled(desk, reply=True)
    desk.clock.advance(hours=1)
    assert await _write(desk, 2, "it has still not come") == conv
    desk.clock.advance(minutes=4)
    assert await desk.assigner.sla_breaches() == []
    assert await _breached(desk) == 0
    desk.clock.advance(minutes=2)  # 6 minutes since the reopen: past support's 5
    [breach] = await desk.assigner.sla_breaches()
    assert (breach.conversation.id, breach.waited) == (conv, 360)
    assert await _breached(desk) == 1
    # an answer since the reopen stops the clock
    await desk.router.conversations.assign(conv, desk.ann)
    await desk.router.conversations.reply(conv, desk.ann, "Sent again today.")
    assert await desk.assigner.sla_breaches() == []
    assert await _breached(desk) == 0


async def test_a_reopened_case_resolved_without_an_answer_starts_its_clock_at_the_reopen(desk: Desk) -> None:
    conv = await _handled(desk, reply=False)
    desk.clock.advance(hours=2)
    assert await _write(desk, 2, "hello?") == conv
    assert await desk.assigner.sla_breaches() == []  # not breached at once: it waited 0 s, not 2 h
    assert await _breached(desk) == 0
    [row] = [r for r in await desk.router.store.open_counts() if r.status is ConversationStatus.QUEUED]
    assert row.oldest == desk.clock()  # the wallboard's "oldest queued" counts from the reopen too
    desk.clock.advance(minutes=6)
    [breach] = await desk.assigner.sla_breaches()
    assert breach.waited == 360


async def _breached(desk: Desk) -> int:
    rows = await desk.router.store.sla_counts({"support": desk.clock() - timedelta(minutes=5)})
    return sum(r.breached for r in rows)


def _told(messages: list[Message]) -> list[str]:
    """The automatic "what happens next" texts the customer was sent."""
    return [m.text for m in messages if m.direction is Direction.OUT and m.core.automatic == "handoff"]


async def test_a_reopen_after_hours_tells_the_customer_when_its_team_opens(desk: Desk) -> None:
    conv = await _handled(desk, reply=True)
    before = _told(await desk.router.store.list_messages(conv, 50))
    desk.clock.advance(hours=10)  # 20:00 in Moscow: support is closed; the rules send "refund" to senior (open)
    assert await _write(desk, 2, "I want a refund now") == conv
    after = _told(await desk.router.store.list_messages(conv, 50))
    assert len(after) == len(before) + 1
    assert after[-1].startswith("We are closed; we answer from")


async def test_a_reopen_in_open_hours_tells_the_customer_a_colleague_answers(desk: Desk) -> None:
    conv = await _handled(desk, reply=True)
    before = _told(await desk.router.store.list_messages(conv, 50))
    assert len(before) == 1  # what a new queued conversation is told
    desk.clock.advance(hours=1)
    assert await _write(desk, 2, "it has still not come") == conv
    after = _told(await desk.router.store.list_messages(conv, 50))
    assert after == before + before  # the same words again, not the closed queue's


async def test_the_agent_who_handled_the_case_is_preferred_not_the_supervisor_who_resolved_it(desk: Desk) -> None:
    conv = await _handled(desk, reply=True, resolver=desk.sam)
    desk.clock.advance(hours=1)
    assert await _write(desk, 2, "it has still not come") == conv
    view = await desk.router.store.get_conversation(conv)
    assert (view.status, view.preferred_agent_id) == (ConversationStatus.QUEUED, desk.ann.id)
    await desk.router.store.set_presence(desk.ann.id, Presence.ONLINE, desk.clock())
    await desk.router.store.set_presence(desk.sam.id, Presence.ONLINE, desk.clock())
    [offered] = await desk.assigner.assign_round()
    assert offered.agent_id == desk.ann.id
    history = await desk.router.store.contact_history(view.customer_id, desk.clock() - timedelta(days=30))
    assert history.last_agent_id == desk.ann.id  # a new conversation would prefer her too


async def test_a_reopen_on_another_channel_takes_that_channels_kind(desk: Desk) -> None:
    conv = await _handled(desk, reply=True)
    assert (await desk.router.store.get_conversation(conv)).channel_kind == "chat"
    desk.clock.advance(hours=1)
    assert await _write(desk, 2, "calling about it", channel="voice") == conv
    view = await desk.router.store.get_conversation(conv)
    assert (view.channel, view.channel_kind) == ("voice", "voice")


def _told_on(messages: list[Message]) -> list[tuple[str, str]]:
    return [(m.channel, m.text) for m in messages if m.direction is Direction.OUT and m.core.automatic == "handoff"]


async def test_a_queued_customer_who_switches_channel_is_told_there_what_happens_next(desk: Desk) -> None:
    conv = await _write(desk, 1, "my parcel is late")
    [(channel, text)] = _told_on(await desk.router.store.list_messages(conv, 50))
    assert channel == "webchat"
    # waiting in the queue, they write from another channel: the notice went only to the first
    assert await _write(desk, 2, "still no parcel", channel="telegram") == conv
    assert _told_on(await desk.router.store.list_messages(conv, 50)) == [("webchat", text), ("telegram", text)]
    # their next message there is told nothing again
    assert await _write(desk, 3, "hello?", channel="telegram") == conv
    assert len(_told_on(await desk.router.store.list_messages(conv, 50))) == 2


async def test_a_queued_customer_switching_channel_after_hours_hears_when_the_team_opens(desk: Desk) -> None:
    conv = await _write(desk, 1, "my parcel is late")
    desk.clock.advance(hours=10)  # 20:00 in Moscow: support is closed
    assert await _write(desk, 2, "still no parcel", channel="telegram") == conv
    told = _told_on(await desk.router.store.list_messages(conv, 50))
    assert told[-1][0] == "telegram" and told[-1][1].startswith("We are closed; we answer from")


async def test_a_customer_whose_conversation_an_agent_has_is_not_told_on_switching(desk: Desk) -> None:
    conv = await _write(desk, 1, "my parcel is late")
    await desk.router.conversations.assign(conv, desk.ann)
    assert await _write(desk, 2, "still no parcel", channel="telegram") == conv
    assert [c for c, _ in _told_on(await desk.router.store.list_messages(conv, 50))] == ["webchat"]


async def test_a_queued_customer_switching_back_and_forth_hears_it_once_on_each_channel(desk: Desk) -> None:
    """Telegram, the site chat, Telegram again while waiting: the same "a colleague
    will answer" came back at every switch, a reminder of the wait each time."""
    conv = await _write(desk, 1, "my parcel is late")
    for n, channel in enumerate(["telegram", "webchat", "telegram", "webchat", "telegram"], start=2):
        assert await _write(desk, n, f"still waiting {n}", channel=channel) == conv
    [(_, text), _] = told = _told_on(await desk.router.store.list_messages(conv, 50))
    assert told == [("webchat", text), ("telegram", text)]


async def test_a_queued_customer_switching_after_the_team_closed_hears_when_it_opens(desk: Desk) -> None:
    """What happens next changed (the team closed while they waited): told once more on each channel."""
    conv = await _write(desk, 1, "my parcel is late")
    assert await _write(desk, 2, "still no parcel", channel="telegram") == conv
    [(_, soon), _] = _told_on(await desk.router.store.list_messages(conv, 50))
    desk.clock.advance(hours=10)  # 20:00 in Moscow: support is closed
    for n, channel in enumerate(["webchat", "telegram", "webchat", "telegram"], start=3):
        assert await _write(desk, n, f"hello? {n}", channel=channel) == conv
    told = _told_on(await desk.router.store.list_messages(conv, 50))
    closed = told[2][1]
    assert closed.startswith("We are closed; we answer from")
    assert told == [("webchat", soon), ("telegram", soon), ("webchat", closed), ("telegram", closed)]


async def test_a_customer_waiting_again_after_an_agents_answer_is_told_again(desk: Desk) -> None:
    """An agent answered, then handed it to another team: a new wait, told anew where they write."""
    conv = await _write(desk, 1, "my parcel is late")
    assert await _write(desk, 2, "still no parcel", channel="telegram") == conv
    await desk.router.conversations.assign(conv, desk.ann)
    await desk.router.conversations.reply(conv, desk.ann, "Passing you to a colleague.")
    await desk.assigner.transfer_to_team(conv, "support", desk.sam)
    assert (await desk.router.store.get_conversation(conv)).status is ConversationStatus.QUEUED
    assert await _write(desk, 3, "ok, waiting", channel="webchat") == conv
    assert [c for c, _ in _told_on(await desk.router.store.list_messages(conv, 50))] == [
        "webchat", "telegram", "webchat"]
