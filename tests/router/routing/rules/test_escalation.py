"""Escalation steps on the conversation's age, opening hours and after-hours
behaviour, with a clock the tests move (no sleeping)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from router.bus import EventBus
from router.core import Router
from router.metrics import Metrics
from router.models import Author, ConversationStatus, Direction, IdentityRef, InboundMessage, Presence, Role
from router.routing.assignment import Assigner, Policy
from router.routing.rules import RulesRouting, load_rules
from router.routing.rules.calendar import Hours
from router.routing.rules.schema import Calendar
from router.store.sqlite import SQLiteStore
from router.yamlconf import ConfigError
from tests.router.routing.rules.conftest import write_config
from tests.router.routing.rules.test_decisions import customer, message

MONDAY_10 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # 10:00 in Moscow

TEAMS = """\
skills: [billing]
teams: {support: {}, senior: {}}
agents:
  - {username: zed, teams: [support], skills: {billing: 1}}
  - {username: bob, teams: [senior], skills: {billing: 2}}
  - {username: carl, teams: [support]}
"""

RULES = """\
timezone: Europe/Moscow
calendars:
  office:
    timezone: Europe/Moscow
    hours: {mon-fri: ["09:00-13:00", "14:00-18:00"], sat: ["10:00-14:00"]}
    holidays: [2026-03-09]
queues:
  senior:
    steps:
      - {after: 0, agents: last_agent, skills: ignore}
      - {after: 1m, agents: team}
      - {after: 2m, agents: team, skills: relaxed}
      - {after: 5m, agents: any, skills: ignore}
  support:
    hours: office
    after_hours_message: "We are closed; we answer from {opens}."
rules:
  - name: money
    when: text =~~ 'refund'
    queue: {team: senior, priority: 50, skills: {billing: 3}}
default: {queue: {team: support}}
"""


class Clock:
    def __init__(self, now: datetime = MONDAY_10) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def setup(tmp_path: Path, clock: Clock) -> AsyncIterator[tuple[Router, Assigner]]:
    routing = RulesRouting(load_rules(write_config(tmp_path / "config", RULES, TEAMS)), clock)
    async with SQLiteStore(tmp_path / "esc.db") as store:
        policy = Policy(routing.ruleset.teams, routing.ruleset)
        yield Router(store, EventBus(), routing, Metrics(), clock=clock), Assigner(store, EventBus(), policy, clock)


async def online(router: Router, clock: Clock, *names: str) -> dict[str, str]:
    ids = {}
    for name in names:
        agent = await router.store.create_agent(name, name, Role.AGENT, "x")
        await router.store.set_presence(agent.id, Presence.ONLINE, clock())
        ids[name] = agent.id
    return ids


async def write(router: Router, n: int, text: str, sender: str = "v1") -> str:
    msg = InboundMessage(channel="webchat", external_id=str(n), sender=IdentityRef(kind="webchat", value=sender),
                         text=text)
    return (await router.on_message(msg)).conversation_id


async def owner(router: Router, conversation_id: str) -> str | None:
    return (await router.store.get_conversation(conversation_id)).agent_id


async def test_steps_relax_skills_then_open_to_anyone(setup: tuple[Router, Assigner], clock: Clock) -> None:
    router, assigner = setup
    ids = await online(router, clock, "bob")
    conv = await write(router, 1, "I want a refund")  # senior, billing ≥ 3: bob has 2
    await assigner.assign_round()
    assert await owner(router, conv) is None  # step 1: only the last agent (there is none)
    clock.advance(seconds=61)
    await assigner.assign_round()
    assert await owner(router, conv) is None  # step 2: the team, strict skills
    clock.advance(seconds=60)
    await assigner.assign_round()
    assert await owner(router, conv) == ids["bob"]  # step 3: relaxed skills


async def test_the_last_step_reaches_any_agent(setup: tuple[Router, Assigner], clock: Clock) -> None:
    router, assigner = setup
    ids = await online(router, clock, "carl")  # support, no billing at all
    conv = await write(router, 1, "refund please")
    clock.advance(minutes=4, seconds=59)
    await assigner.assign_round()
    assert await owner(router, conv) is None
    clock.advance(seconds=2)
    await assigner.assign_round()
    assert await owner(router, conv) == ids["carl"]


async def test_after_hours_a_message_then_the_queue_waits_for_the_opening(
    setup: tuple[Router, Assigner], clock: Clock
) -> None:
    router, assigner = setup
    clock.now = datetime(2026, 3, 6, 16, 30, tzinfo=UTC)  # Friday 19:30 in Moscow: closed
    ids = await online(router, clock, "carl")
    conv = await write(router, 1, "hello, my order is late")
    messages = await router.store.list_messages(conv, 10)
    auto = [m for m in messages if m.direction is Direction.OUT]
    assert [(m.author, m.text) for m in auto] == [(Author.BOT, "We are closed; we answer from tomorrow 10:00.")]
    await assigner.assign_round()
    assert (await router.store.get_conversation(conv)).status is ConversationStatus.QUEUED
    clock.now = datetime(2026, 3, 7, 7, 0, tzinfo=UTC)  # tomorrow 10:00 in Moscow
    await assigner.assign_round()
    assert await owner(router, conv) == ids["carl"]


async def test_the_after_hours_message_speaks_the_customers_language(tmp_path: Path, clock: Clock) -> None:
    rules = RULES.replace(
        'after_hours_message: "We are closed; we answer from {opens}."',
        'after_hours_message:\n      ru: "Мы закрыты, ответим: {opens}."'
        '\n      en: "We are closed; we answer from {opens}."',
    )
    routing = RulesRouting(load_rules(write_config(tmp_path / "config", rules, TEAMS)), clock)
    clock.now = datetime(2026, 3, 6, 16, 30, tzinfo=UTC)  # Friday 19:30 in Moscow: closed
    async with SQLiteStore(tmp_path / "lang.db") as store:
        router = Router(store, EventBus(), routing, Metrics(), clock=clock)
        notices = []
        for n, (sender, text) in enumerate([("v1", "Где мой заказ?"), ("v2", "where is my order?"),
                                            ("v3", "Wo ist meine Bestellung?")]):
            conv = await write(router, n, text, sender)
            notices += [m.text for m in await router.store.list_messages(conv, 10) if m.direction is Direction.OUT]
    # by script: any text in Latin letters reads as English
    assert notices == ["Мы закрыты, ответим: завтра в 10:00.", "We are closed; we answer from tomorrow 10:00.",
                       "We are closed; we answer from tomorrow 10:00."]


def test_a_language_without_its_own_after_hours_text_gets_the_first_one(tmp_path: Path) -> None:
    rules = RULES.replace(
        'after_hours_message: "We are closed; we answer from {opens}."',
        'after_hours_message: {ru: "Закрыто до {opens}", de: "Geschlossen bis {opens}"}',
    )
    ruleset = load_rules(write_config(tmp_path / "config", rules, TEAMS))
    friday_night = datetime(2026, 3, 6, 16, 30, tzinfo=UTC)
    assert ruleset.after_hours_notice("support", friday_night, "de") == "Geschlossen bis Samstag 10:00"
    assert ruleset.after_hours_notice("support", friday_night, "en") == "Закрыто до завтра 10:00"
    assert ruleset.after_hours_notice("support", MONDAY_10, "ru") is None


async def test_open_hours_say_a_colleague_will_answer_soon(setup: tuple[Router, Assigner]) -> None:
    """Not silence (invariant 8): the queue is open, so a person answers soon."""
    router, _ = setup
    conv = await write(router, 1, "hello")
    messages = await router.store.list_messages(conv, 10)
    assert [(m.direction, m.text) for m in messages] == [
        (Direction.IN, "hello"),
        (Direction.OUT, "I am passing your question to a colleague, who will answer here soon."),
    ]


CAL = Calendar(timezone="Europe/Moscow", hours={"mon-fri": ["09:00-13:00", "14:00-18:00"]}, holidays=["2026-03-09"])
MSK = timedelta(hours=3)

OPENINGS = [
    # (case, local time in Moscow, open?, next opening in local time)
    ("monday morning", datetime(2026, 3, 2, 10, 0), True, datetime(2026, 3, 2, 10, 0)),
    ("lunch", datetime(2026, 3, 2, 13, 30), False, datetime(2026, 3, 2, 14, 0)),
    ("closing time is closed", datetime(2026, 3, 2, 18, 0), False, datetime(2026, 3, 3, 9, 0)),
    ("friday night waits for monday", datetime(2026, 3, 6, 20, 0), False, datetime(2026, 3, 10, 9, 0)),
    ("a holiday is closed", datetime(2026, 3, 9, 11, 0), False, datetime(2026, 3, 10, 9, 0)),
]


@pytest.mark.parametrize(("case", "local", "is_open", "opens"), OPENINGS, ids=[c[0] for c in OPENINGS])
def test_opening_hours(case: str, local: datetime, is_open: bool, opens: datetime) -> None:
    hours = Hours(CAL)
    at = (local - MSK).replace(tzinfo=UTC)
    assert hours.is_open(at) is is_open
    nxt = hours.next_opening(at)
    assert nxt is not None and nxt.replace(tzinfo=None) == opens


def test_open_is_a_fact(tmp_path: Path, clock: Clock) -> None:
    rules = RULES.replace("    when: text =~~ 'refund'", "    when: not open['office']")
    routing = RulesRouting(load_rules(write_config(tmp_path, rules, TEAMS)), clock)
    clock.now = datetime(2026, 3, 8, 9, 0, tzinfo=UTC)  # Sunday
    decision = routing.decide(message("hi"), customer())
    assert decision.trace is not None and decision.trace.matched_rule == "money"


BAD = [
    ("overlapping hours", RULES.replace('sat: ["10:00-14:00"]', 'sat: ["10:00-14:00"], fri: ["17:00-19:00"]'), 5,
     "overlaps"),
    ("impossible time", RULES.replace("14:00-18:00", "14:00-25:00"), 5, "impossible"),
    ("backwards range", RULES.replace("14:00-18:00", "18:00-14:00"), 5, "ends before"),
    ("unknown day", RULES.replace("sat:", "saturday:"), 5, "no day"),
    ("bad zone", RULES.replace("    timezone: Europe/Moscow", "    timezone: Moscow"), 4, "time zone"),
    ("bad holiday", RULES.replace("2026-03-09", "someday"), 6, "date"),
    ("unknown calendar", RULES.replace("hours: office", "hours: shop"), 15, "unknown calendar 'shop'"),
    ("unknown queue team", RULES.replace("  senior:\n    steps", "  seniors:\n    steps"), 9, "unknown team"),
    ("steps out of order", RULES.replace("after: 5m", "after: 30s"), 9, "in order"),
    ("bad duration", RULES.replace("after: 1m", "after: soon"), 11, "duration"),
    ("unknown step kind", RULES.replace("agents: any", "agents: everyone"), 13, "agents"),
]


@pytest.mark.parametrize(("case", "text", "line", "words"), BAD, ids=[c[0] for c in BAD])
def test_bad_calendars_and_queues_are_refused(tmp_path: Path, case: str, text: str, line: int, words: str) -> None:
    path = write_config(tmp_path, text, TEAMS)
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    assert any(p.startswith(f"{path}:{line}: ") and words in p for p in caught.value.problems), caught.value.problems


# -- escalation to another team, and offers that lapse ------------------------------------

SUPERVISED_TEAMS = """\
skills: [billing]
teams: {support: {}, supervisors: {}}
agents:
  - {username: zed, teams: [support]}
  - {username: carl, teams: [support]}
  - {username: sue, teams: [supervisors], skills: {billing: 1}}
  - {username: sam, teams: [supervisors], skills: {billing: 3}}
"""

SUPERVISED_RULES = """\
queues:
  support:
    steps:
      - {after: 0, agents: team}
      - {after: 2m, team: supervisors}
  senior:
    steps:
      - {after: 0, agents: team}
      - {after: 2m, team: supervisors, skills: {billing: 2}}
rules:
  - name: money
    when: text =~~ 'refund'
    queue: {team: senior}
default: {queue: {team: support}}
"""


@pytest.fixture
async def supervised(tmp_path: Path, clock: Clock) -> AsyncIterator[tuple[Router, Assigner]]:
    teams = SUPERVISED_TEAMS.replace("teams: {support: {}, supervisors: {}}",
                                     "teams: {support: {}, supervisors: {}, senior: {}}")
    routing = RulesRouting(load_rules(write_config(tmp_path / "config", SUPERVISED_RULES, teams)), clock)
    async with SQLiteStore(tmp_path / "sup.db") as store:
        policy = Policy(routing.ruleset.teams, routing.ruleset)
        # offers lapse after 30 s here, well before the 2-minute escalation
        assigner = Assigner(store, EventBus(), policy, clock, offer_timeout=timedelta(seconds=30))
        yield Router(store, EventBus(), routing, Metrics(), clock=clock), assigner


async def test_no_agent_within_two_minutes_escalates_to_supervisors(
    supervised: tuple[Router, Assigner], clock: Clock
) -> None:
    router, assigner = supervised
    ids = await online(router, clock, "sue")  # a supervisor; no support agent is online
    conv = await write(router, 1, "my parcel is lost")
    await assigner.assign_round()
    assert await owner(router, conv) is None  # the support team's own step: sue is not in it
    clock.advance(minutes=1, seconds=59)
    await assigner.assign_round()
    assert await owner(router, conv) is None
    clock.advance(seconds=2)
    await assigner.assign_round()
    assert await owner(router, conv) == ids["sue"]


async def test_an_escalation_step_asks_for_its_own_skills(supervised: tuple[Router, Assigner], clock: Clock) -> None:
    router, assigner = supervised
    ids = await online(router, clock, "sue", "sam")  # billing 1 and 3: the step asks for 2
    conv = await write(router, 1, "refund please")
    clock.advance(minutes=2, seconds=1)
    await assigner.assign_round()
    assert await owner(router, conv) == ids["sam"]


async def test_a_lapsed_offer_goes_to_another_agent_with_room(
    supervised: tuple[Router, Assigner], clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    router, assigner = supervised
    ids = await online(router, clock, "zed", "carl")
    names = {v: k for k, v in ids.items()}
    conv = await write(router, 1, "a complaint")
    await assigner.assign_round()
    first = await owner(router, conv)
    assert first in names
    clock.advance(seconds=20)
    await assigner.assign_round()
    assert await owner(router, conv) == first  # the offer still runs
    clock.advance(seconds=11)  # 31 s without opening it
    with caplog.at_level(logging.INFO, logger="router.routing.assignment"):
        await assigner.assign_round()
    second = await owner(router, conv)
    assert second is not None and second != first
    assert f"offer to {names[first]} not opened in time" in caplog.text
    # the other one lets it lapse too: both had their chance, either may have it again
    clock.advance(seconds=31)
    await assigner.assign_round()
    assert await owner(router, conv) in names


async def test_a_lapsed_offer_comes_back_to_the_same_agent_when_nobody_else_has_room(
    supervised: tuple[Router, Assigner], clock: Clock
) -> None:
    router, assigner = supervised
    ids = await online(router, clock, "zed")
    conv = await write(router, 1, "a complaint")
    await assigner.assign_round()
    assert await owner(router, conv) == ids["zed"]
    clock.advance(seconds=15)
    ids.update(await online(router, clock, "carl"))
    carl = await router.store.get_agent(ids["carl"])
    for n in range(2, 5):  # carl is given three chats by hand (his capacity) before zed's offer lapses
        await assigner.transfer_to_agent(await write(router, n, "hello", sender=f"v{n}"), carl)
    clock.advance(seconds=16)
    await assigner.assign_round()
    assert await owner(router, conv) == ids["zed"]  # released and offered again: only zed has room


BAD_ESCALATION = [
    ("unknown step team", SUPERVISED_RULES.replace("team: supervisors}\n  senior", "team: supervisor}\n  senior"),
     5, "unknown team 'supervisor' (did you mean 'supervisors'?)"),
    ("unknown step skill", SUPERVISED_RULES.replace("skills: {billing: 2}", "skills: {biling: 2}"), 9,
     "unknown skill 'biling'"),
    ("a team with agents: any", SUPERVISED_RULES.replace("{after: 2m, team: supervisors}",
                                                         "{after: 2m, agents: any, team: supervisors}"), 5,
     "use it with `agents: team`"),
]


@pytest.mark.parametrize(("case", "text", "line", "words"), BAD_ESCALATION, ids=[c[0] for c in BAD_ESCALATION])
def test_bad_escalation_targets_are_refused_with_their_line(
    tmp_path: Path, case: str, text: str, line: int, words: str
) -> None:
    teams = SUPERVISED_TEAMS.replace("teams: {support: {}, supervisors: {}}",
                                     "teams: {support: {}, supervisors: {}, senior: {}}")
    path = write_config(tmp_path, text, teams)
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    assert any(p.startswith(f"{path}:{line}: ") and words in p for p in caught.value.problems), caught.value.problems


LATE_ONLY = """\
queues:
  support:
    steps:
      - {after: 2m, team: senior}
rules: []
default: {queue: {team: support}}
"""


async def test_a_queue_whose_first_step_comes_later_is_its_teams_until_then(tmp_path: Path, clock: Clock) -> None:
    """The README's "if nobody takes it within 2 minutes, the supervisors" written
    alone: nobody at all was offered the conversation for those 2 minutes."""
    routing = RulesRouting(load_rules(write_config(tmp_path / "config", LATE_ONLY, TEAMS)), clock)
    async with SQLiteStore(tmp_path / "late.db") as store:
        router = Router(store, EventBus(), routing, Metrics(), clock=clock)
        assigner = Assigner(store, EventBus(), Policy(routing.ruleset.teams, routing.ruleset), clock)
        ids = await online(router, clock, "carl", "bob")  # carl: support; bob: senior
        first = await write(router, 1, "где мой заказ?")
        await assigner.assign_round()
        assert await owner(router, first) == ids["carl"]  # the team, at once
        await router.store.set_presence(ids["carl"], Presence.AWAY, clock())
        second = await write(router, 2, "и ещё вопрос", sender="v2")
        clock.advance(minutes=2, seconds=1)
        await assigner.assign_round()
        assert await owner(router, second) == ids["bob"]  # then the step's team


HOLIDAYS = """\
timezone: Europe/Moscow
calendars:
  office:
    timezone: Europe/Moscow
    hours: {mon-fri: ["09:00-18:00"]}
    holidays: [2026-12-31, 2027-01-01, 2027-01-04, 2027-01-05, 2027-01-06, 2027-01-07, 2027-01-08]
queues:
  support:
    hours: office
    after_hours_message: {ru: "Ответим: {opens}.", en: "We answer: {opens}."}
rules: []
default: {queue: {team: support}}
"""


@pytest.mark.parametrize(("now", "ru", "en"), [
    (datetime(2026, 12, 28, 4, 0, tzinfo=UTC), "сегодня в 09:00", "today at 09:00"),  # Monday 07:00 in Moscow
    (datetime(2026, 12, 28, 16, 0, tzinfo=UTC), "завтра в 09:00", "tomorrow at 09:00"),  # Monday 19:00
    (datetime(2026, 12, 25, 16, 0, tzinfo=UTC), "в понедельник в 09:00", "on Monday at 09:00"),  # Friday 19:00
    # the New Year holidays: "Monday" read as the coming one, a week early
    (datetime(2026, 12, 30, 16, 0, tzinfo=UTC), "в понедельник, 11 января, в 09:00",
     "on Monday 11 January at 09:00"),
])
def test_the_opening_says_today_tomorrow_or_its_date_when_it_is_over_a_week_away(
        tmp_path: Path, now: datetime, ru: str, en: str) -> None:
    ruleset = load_rules(write_config(tmp_path / "config", HOLIDAYS, TEAMS))
    assert ruleset.after_hours_notice("support", now, "ru") == f"Ответим: {ru}."
    assert ruleset.after_hours_notice("support", now, "en") == f"We answer: {en}."
