"""Whether people answer now, else when they will (the site chat's status
line): from the default route's opening hours and who is online."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from router.models import AgentPresence, Presence
from router.routing.availability import availability, office_hours
from router.routing.decide import DefaultTeamRouting, RoutingConfig
from router.routing.rules import RulesRouting, load_rules
from tests.router.routing.rules.conftest import write_config

TEAMS = """\
teams: {support: {}, senior: {}}
agents:
  - {username: zed, teams: [support]}
"""

RULES = """\
calendars:
  office:
    timezone: Europe/Moscow
    hours: {mon-fri: ["09:00-18:00"]}
queues:
  support: {hours: office}
default: {queue: {team: support}}
"""

MONDAY_10 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # 10:00 in Moscow
MONDAY_20 = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)  # 20:00: closed
SATURDAY = datetime(2026, 3, 7, 9, 0, tzinfo=UTC)


def present(*states: Presence) -> list[AgentPresence]:
    return [AgentPresence(agent_id=f"agt_{i}", presence=s, changed_at=MONDAY_10, idle_since=MONDAY_10)
            for i, s in enumerate(states)]


def routing(tmp_path: Path, rules: str = RULES) -> RulesRouting:
    return RulesRouting(load_rules(write_config(tmp_path, rules, TEAMS)))


def test_open_with_someone_online_people_answer_now(tmp_path: Path) -> None:
    hours = office_hours(routing(tmp_path))
    answer = availability(hours, present(Presence.AWAY, Presence.ONLINE), MONDAY_10)
    assert (answer.people_now, answer.opens_at) == (True, None)


def test_open_with_nobody_online_says_so_without_an_opening(tmp_path: Path) -> None:
    hours = office_hours(routing(tmp_path))
    answer = availability(hours, present(Presence.AWAY, Presence.OFFLINE), MONDAY_10)
    assert (answer.people_now, answer.opens_at) == (False, None)


@pytest.mark.parametrize(("now", "opens"), [
    (MONDAY_20, datetime(2026, 3, 3, 6, 0, tzinfo=UTC)),  # Tuesday 09:00 in Moscow
    (SATURDAY, datetime(2026, 3, 9, 6, 0, tzinfo=UTC)),  # Monday 09:00
])
def test_after_hours_nobody_answers_now_even_online_and_it_says_when(tmp_path: Path, now: datetime,
                                                                     opens: datetime) -> None:
    hours = office_hours(routing(tmp_path))
    answer = availability(hours, present(Presence.ONLINE), now)
    assert answer.people_now is False
    assert answer.opens_at == opens


def test_the_bots_handoff_team_is_the_office_when_the_bot_takes_new_customers(tmp_path: Path) -> None:
    rules = RULES.replace("default: {queue: {team: support}}", "default: {bot: {then: {team: support}}}")
    hours = office_hours(routing(tmp_path, rules))
    assert availability(hours, present(Presence.ONLINE), MONDAY_20).people_now is False


def test_without_rules_or_hours_it_is_always_open(tmp_path: Path) -> None:
    assert office_hours(DefaultTeamRouting(RoutingConfig())) is None
    no_hours = RULES.replace("  support: {hours: office}\n", "  support: {}\n")
    assert office_hours(routing(tmp_path, no_hours)) is None
    assert availability(None, present(Presence.ONLINE), MONDAY_20).people_now is True
