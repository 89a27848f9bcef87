"""The figures' rules that need no store: nearest-rank percentiles, business
time by a rules.yaml calendar, ratings by group."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from router.reports.events import ConversationEvent, Kind, Rating
from router.reports.figures import GroupBy, Queues, percentile, report
from router.reports.hours import open_seconds
from router.routing.rules.calendar import Hours
from router.routing.rules.schema import Calendar

# Moscow is UTC+3 all year: 09:00-18:00 there is 06:00-15:00 UTC
OFFICE = Hours(Calendar(timezone="Europe/Moscow", hours={"mon-fri": ["09:00-18:00"]}, holidays=[date(2026, 11, 25)]))
MON = datetime(2026, 11, 23, tzinfo=UTC)  # a Monday


def test_percentiles_are_nearest_rank_values_that_happened() -> None:
    assert percentile([], 50) is None
    assert percentile([7.0], 90) == 7.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.0
    assert percentile([float(v) for v in range(1, 11)], 90) == 9.0
    assert percentile([float(v) for v in range(1, 12)], 90) == 10.0


def test_business_time_counts_only_the_open_hours() -> None:
    # Monday 14:00 UTC (17:00 Moscow) to Tuesday 07:00 UTC (10:00 Moscow): 1 h on Monday, 1 h on Tuesday
    assert open_seconds(OFFICE, MON + timedelta(hours=14), MON + timedelta(days=1, hours=7)) == 2 * 3600
    # Tuesday 14:00 UTC to Thursday 06:30 UTC: 1 h on Tuesday, Wednesday is a holiday, 30 min on Thursday
    assert open_seconds(OFFICE, MON + timedelta(days=1, hours=14), MON + timedelta(days=3, hours=6, minutes=30)) \
        == 1.5 * 3600
    # Saturday: closed
    assert open_seconds(OFFICE, MON + timedelta(days=5), MON + timedelta(days=6)) == 0
    assert open_seconds(OFFICE, MON + timedelta(hours=8), MON + timedelta(hours=7)) == 0


def _event(seq: int, kind: Kind, at: datetime, status: str = "queued", team: str = "support",
           agent: str | None = None) -> ConversationEvent:
    return ConversationEvent(seq, "conv_1", "cus_1", kind, at, status, None, team, "webchat", "chat", agent, None,
                             None, 0, None, None)


def test_a_queue_with_hours_runs_its_clocks_only_while_open() -> None:
    """Written at Monday 17:50 Moscow, answered Tuesday 09:05: 15 business minutes, within a 20 min target."""
    queued = MON + timedelta(hours=14, minutes=50)
    answered = MON + timedelta(days=1, hours=6, minutes=5)
    events = [_event(1, Kind.OPENED, queued), _event(2, Kind.QUEUED, queued),
              _event(3, Kind.ASSIGNED, answered, "assigned", agent="agt_1"),
              _event(4, Kind.FIRST_REPLY, answered, "assigned", agent="agt_1")]
    queues = Queues(targets={"support": 1200.0}, hours={"support": OFFICE})
    [row] = report(events, [], MON, MON + timedelta(days=2), GroupBy.TEAM, queues).rows
    assert (row["first_response_p50"], row["wait_p50"], row["sla_met"], row["sla_missed"]) == (900.0, 900.0, 1, 0)
    [wall] = report(events, [], MON, MON + timedelta(days=2), GroupBy.TEAM, Queues(targets={"support": 1200.0})).rows
    assert (wall["first_response_p50"], wall["sla_met"], wall["sla_missed"]) == (54900.0, 0, 1)  # 15 h 15 min


def test_ratings_count_by_the_group_of_their_answer() -> None:
    ratings = [Rating("c1", 5, MON + timedelta(hours=1), "support", "webchat", "agt_1"),
               Rating("c2", 4, MON + timedelta(hours=2), "support", "telegram", "agt_2"),
               Rating("c3", 1, MON + timedelta(hours=3), "senior", "webchat", "agt_1")]
    rows = {r["group"]: r for r in report([], ratings, MON, MON + timedelta(days=1), GroupBy.AGENT, Queues()).rows}
    csat = {agent: (r["csat_count"], r["csat_average"], r["csat_satisfied"]) for agent, r in rows.items()}
    assert csat == {"agt_1": (2, 3.0, 0.5), "agt_2": (1, 4.0, 1.0)}


def test_a_range_to_24_00_is_open_to_midnight() -> None:
    """"-24:00" keeps the day's last minute: a queue open all day counts every second of it."""
    always = Hours(Calendar(timezone="Europe/Moscow", hours={"mon-sun": ["00:00-24:00"]}))
    assert open_seconds(always, MON, MON + timedelta(days=2)) == 2 * 86400
    evening = Hours(Calendar(timezone="UTC", hours={"mon-fri": ["18:00-24:00"]}))
    assert open_seconds(evening, MON, MON + timedelta(days=1)) == 6 * 3600
    assert evening.is_open(MON + timedelta(hours=23, minutes=59, seconds=30))
    assert not evening.is_open(MON + timedelta(days=5, minutes=0, seconds=30))  # Saturday 00:00:30


def test_a_bot_conversation_merged_into_another_is_not_a_failure_of_the_bot() -> None:
    """A customer asked the bot on the site chat (answered, resolved by the bot), then wrote on Telegram and
    shared their contact: that second conversation, still with the bot, was folded into their WhatsApp one.
    Bot containment read 1 of 2 (50 %), though the merge, not the bot, ended it: now 1 of 1."""
    at = MON + timedelta(hours=10)

    def bot_event(seq: int, conversation: str, kind: Kind, seconds: int, status: str, prev: str | None,
                  reason: str | None = None) -> ConversationEvent:
        return ConversationEvent(seq, conversation, "cus_1", kind, at + timedelta(seconds=seconds), status, prev,
                                 "support", "webchat", "chat", None, None, None, 0, reason, None)

    events = [bot_event(1, "conv_answered", Kind.OPENED, 0, "bot", None),
              bot_event(2, "conv_answered", Kind.RESOLVED, 30, "resolved", "bot"),
              bot_event(3, "conv_folded", Kind.OPENED, 40, "bot", None),
              bot_event(4, "conv_folded", Kind.HANDOFF, 41, "queued", "bot", "low_confidence"),
              bot_event(5, "conv_folded", Kind.QUEUED, 41, "queued", "bot"),
              bot_event(6, "conv_folded", Kind.MERGED, 42, "resolved", "queued")]
    made = report(events, [], MON, MON + timedelta(days=1), GroupBy.TEAM, Queues(targets={"support": 60.0}))
    [row] = made.rows
    assert (row["opened"], row["resolved"]) == (2, 1)
    assert (row["bot"], row["bot_contained"], row["bot_containment"]) == (1, 1, 1.0)
    assert row["handoffs"] == 1 and made.handoff_reasons == {"low_confidence": 1}  # the handoff did happen
    assert (row["sla_met"], row["sla_missed"]) == (0, 0)
