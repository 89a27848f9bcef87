"""The reports service (router/reports/service.py) on every backend of
tests/router/store/test_contract.py: a report is counted off the event loop,
one at a time per node, and its clocks stop where the README says."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from router.models import ConversationStatus, Role, RouteDecision
from router.reports.figures import GroupBy
from router.reports.service import ReportBusy, Reports
from router.routing.rules import RuleSet, RulesFile, TeamsFile
from router.store.base import Store
from tests.router.reports.test_figures_contract import BOT, DAY, SUPPORT, _open, _reply, _resolve, at

CEILING = 120.0  # a hang detector, never reached when the behaviour is right
ONE_DAY = (DAY, DAY + timedelta(days=1))


def _rules() -> RuleSet:
    """support answers within 10 minutes (its queue's first_response in rules.yaml)."""
    config = RulesFile.model_validate({"default": {"queue": {"team": "support"}},
                                       "queues": {"support": {"first_response": 600}}})
    return RuleSet("rules.yaml", "test", config, TeamsFile())


async def test_the_event_loop_answers_while_a_report_is_counted(store: Store) -> None:
    """The rules are read where the figures are counted: the reading waits until the event loop
    has answered. Counted on the loop, the loop could not answer and the wait would run out."""
    for n in range(30):
        await _open(store, f"u{n}", at(9, n), SUPPORT)
    counting = threading.Event()
    answered = threading.Event()
    seen: list[bool] = []

    def ruleset() -> RuleSet:
        counting.set()
        seen.append(answered.wait(CEILING))
        return _rules()

    async def ping() -> None:  # the loop's answer to anything: here, a coroutine that runs
        assert await asyncio.to_thread(counting.wait, CEILING)
        answered.set()

    reports = Reports(store, ruleset)
    made, _ = await asyncio.gather(reports.figures(*ONE_DAY, GroupBy.DAY), ping())
    assert seen == [True]
    assert made.rows[0]["opened"] == 30 and made.rows[0]["sla_missed"] == 30


async def test_one_report_is_counted_at_a_time_per_node(store: Store) -> None:
    """While a report is counted, another asked on the node is refused at once (the API's 429)."""
    await _open(store, "u1", at(9, 0), SUPPORT)
    counting = threading.Event()
    go = threading.Event()
    calls: list[bool] = []

    def ruleset() -> RuleSet:
        calls.append(True)
        if len(calls) == 1:  # the first report holds here until the second was asked
            counting.set()
            go.wait(CEILING)
        return _rules()

    reports = Reports(store, ruleset)
    first = asyncio.create_task(reports.figures(*ONE_DAY, GroupBy.DAY))
    assert await asyncio.to_thread(counting.wait, CEILING)
    try:
        with pytest.raises(ReportBusy):
            await asyncio.wait_for(reports.figures(*ONE_DAY, GroupBy.DAY), CEILING)
    finally:
        go.set()
    assert (await first).rows[0]["opened"] == 1
    assert (await reports.figures(*ONE_DAY, GroupBy.DAY)).rows[0]["opened"] == 1  # and after it, again


async def test_an_unanswered_cycle_is_judged_by_now_and_by_its_resolve(store: Store) -> None:
    # c1: unanswered, opened 5 minutes before now: its 10 minutes have not passed, though the range ends tomorrow
    await _open(store, "u1", at(12, 0), SUPPORT)
    # c2: resolved unanswered after 3 minutes: neither met nor missed
    c2 = await _open(store, "u2", at(9, 0), SUPPORT)
    await _resolve(store, c2, None, at(9, 3))
    # c3: resolved unanswered after 30 minutes: the customer waited past the target, missed
    c3 = await _open(store, "u3", at(10, 0), SUPPORT)
    await _resolve(store, c3, None, at(10, 30))
    reports = Reports(store, _rules, clock=lambda: at(12, 5))
    [row] = (await reports.figures(*ONE_DAY, GroupBy.DAY)).rows
    assert (row["opened"], row["sla_met"], row["sla_missed"]) == (3, 0, 1)
    later = Reports(store, _rules, clock=lambda: at(12, 11))  # now c1's target has passed
    [row] = (await later.figures(*ONE_DAY, GroupBy.DAY)).rows
    assert (row["sla_met"], row["sla_missed"]) == (0, 2)


async def test_a_bot_cycle_with_a_handoff_is_not_contained(store: Store) -> None:
    ann = (await store.create_agent("ann", "Ann", Role.AGENT, "hash")).id
    c1 = await _open(store, "u1", at(9, 0), BOT)
    handoff = RouteDecision(status=ConversationStatus.QUEUED, team="support", reason="asked_for_human")
    await store.reroute_conversation(c1, handoff, at(9, 1), expected={ConversationStatus.BOT})
    await _reply(store, c1, ann, at(9, 2), take=True)
    back = RouteDecision(status=ConversationStatus.BOT, team="support", reason="back to the bot")
    await store.reroute_conversation(c1, back, at(9, 3), expected={ConversationStatus.ASSIGNED})
    await _resolve(store, c1, None, at(9, 4))  # the bot resolves it: after a person had it
    c2 = await _open(store, "u2", at(9, 10), BOT)
    await _resolve(store, c2, None, at(9, 11))  # kept by the bot from start to end
    [row] = (await Reports(store, _rules).figures(*ONE_DAY, GroupBy.DAY)).rows
    assert (row["bot"], row["handoffs"], row["bot_contained"], row["bot_containment"]) == (2, 1, 1, 0.5)


async def test_days_and_hours_are_cut_in_the_zone_asked(store: Store) -> None:
    await _open(store, "u1", at(22, 30), SUPPORT)  # 01:30 the next day in Moscow (UTC+3)
    await _open(store, "u2", at(9, 0), SUPPORT)
    reports = Reports(store, _rules)
    since, until = DAY - timedelta(hours=3), DAY + timedelta(days=1, hours=21)  # Moscow's 24th and 25th
    moscow = ZoneInfo("Europe/Moscow")
    days = {r["group"]: r["opened"] for r in (await reports.figures(since, until, GroupBy.DAY, moscow)).rows}
    assert days == {"2026-11-24": 1, "2026-11-25": 1}
    hours = {r["group"] for r in (await reports.figures(since, until, GroupBy.HOUR, moscow)).rows}
    assert hours == {"2026-11-24T12:00", "2026-11-25T01:00"}
    utc = {r["group"]: r["opened"] for r in (await reports.figures(*ONE_DAY, GroupBy.DAY)).rows}
    assert utc == {"2026-11-24": 2}
