"""The rule of router/ingest/reopen.py: which resolved conversation a
customer's message reopens, by rules.yaml's window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from router.ingest.reopen import reopening
from router.ingest.store import Reopening
from router.models import ConversationStatus, ConversationView, RouteDecision

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
DAY = timedelta(hours=24)
DECISION = RouteDecision(status=ConversationStatus.QUEUED, team="support", priority=30, reason="test")


def resolved(at: datetime = T0, assigned: bool = True) -> ConversationView:
    return ConversationView(id="conv_1", customer_id="cus_1", status=ConversationStatus.RESOLVED, channel="webchat",
                            created_at=T0 - DAY, updated_at=at, last_message_at=at, resolved_at=at,
                            agent_id="agt_ann", assigned_at=T0 - timedelta(hours=1) if assigned else None)


def test_within_the_window_the_conversation_is_reopened_at_the_rules_priority() -> None:
    assert reopening(resolved(), DAY, T0 + timedelta(hours=23), DECISION) == Reopening("conv_1", T0, 30)
    assert reopening(resolved(), DAY, T0 + DAY, DECISION) is not None  # the window's end is in it


@pytest.mark.parametrize(("case", "last", "window", "now"), [
    ("beyond the window", resolved(), DAY, T0 + DAY + timedelta(seconds=1)),
    ("window 0: never", resolved(), timedelta(0), T0),
    ("no resolved conversation", None, DAY, T0),
    ("never an agent's (the bot's, or resolved from the queue)", resolved(assigned=False), DAY, T0),
])
def test_otherwise_a_new_conversation_is_opened(case: str, last: ConversationView | None, window: timedelta,
                                                 now: datetime) -> None:
    assert reopening(last, window, now, DECISION) is None
