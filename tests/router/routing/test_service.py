"""Routing's rules without a database (router/routing/service.py): the
capacity rule every backend's offer asks, the serving order of the queue,
when an unopened offer lapses and when an agent's idle time restarts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from router.models import AgentPresence, ConversationStatus, ConversationView, Presence
from router.routing.service import (
    AgentAtCapacity,
    OfferState,
    has_room,
    idle_since,
    in_serving_order,
    offer_lapsed,
    offer_refusal,
)

T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
QUEUED = frozenset({ConversationStatus.QUEUED})
OPEN = frozenset({ConversationStatus.BOT, ConversationStatus.QUEUED, ConversationStatus.ASSIGNED})


def queued(load: int, status: ConversationStatus = ConversationStatus.QUEUED, assignee: str | None = None
           ) -> OfferState:
    return OfferState(status=status, assignee=assignee, channel_kind="chat", load=load)


@pytest.mark.parametrize(("load", "capacity", "room"), [(0, 1, True), (2, 3, True), (3, 3, False), (4, 3, False),
                                                         (0, 0, False)])
def test_an_agent_has_room_only_below_their_capacity(load: int, capacity: int, room: bool) -> None:
    assert has_room(load, capacity) is room


def test_a_queued_conversation_is_offered_to_an_agent_with_room() -> None:
    assert offer_refusal("cnv_1", "agt_ann", 3, QUEUED, queued(load=2)) is None


def test_an_agent_at_capacity_is_refused_with_the_kind_and_the_capacity() -> None:
    refusal = offer_refusal("cnv_1", "agt_ann", 3, QUEUED, queued(load=3))
    assert str(refusal) == "agent agt_ann is at capacity for chat (3)"
    # typed, so a transfer to a full agent answers at_capacity as a take does
    assert isinstance(refusal, AgentAtCapacity) and (refusal.agent_id, refusal.kind, refusal.capacity) == (
        "agt_ann", "chat", 3)


def test_an_agent_whose_kind_has_no_capacity_takes_none() -> None:
    assert offer_refusal("cnv_1", "agt_ann", 0, QUEUED, queued(load=0)) is not None


def test_a_conversation_taken_meanwhile_is_refused_whatever_the_room() -> None:
    taken = queued(load=0, status=ConversationStatus.ASSIGNED, assignee="agt_bob")
    assert str(offer_refusal("cnv_1", "agt_ann", 3, QUEUED, taken)) == "conversation cnv_1 is assigned"


def test_a_transfer_takes_another_agents_conversation_but_not_the_agents_own() -> None:
    bobs = queued(load=0, status=ConversationStatus.ASSIGNED, assignee="agt_bob")
    assert offer_refusal("cnv_1", "agt_ann", 3, OPEN, bobs) is None
    assert str(offer_refusal("cnv_1", "agt_bob", 3, OPEN, bobs)) == "conversation cnv_1 is assigned"
    resolved = queued(load=0, status=ConversationStatus.RESOLVED)
    assert str(offer_refusal("cnv_1", "agt_ann", 3, OPEN, resolved)) == "conversation cnv_1 is resolved"


def conversation(name: str, priority: int, minutes: int) -> ConversationView:
    at = T0 + timedelta(minutes=minutes)
    return ConversationView(id=name, customer_id="cus", status=ConversationStatus.QUEUED, priority=priority,
                            channel="webchat", created_at=at, updated_at=at, last_message_at=at)


def test_the_highest_priority_is_served_first_then_the_oldest() -> None:
    queue = [conversation("new-low", 0, 5), conversation("old-low", 0, 1), conversation("new-high", 10, 9),
             conversation("old-high", 10, 2), conversation("mid", 5, 0)]
    assert [c.id for c in in_serving_order(queue)] == ["old-high", "new-high", "mid", "old-low", "new-low"]


def test_a_tie_in_priority_and_age_is_served_by_id_whatever_order_it_came_in() -> None:
    # a backend's ORDER BY without a last key returns ties in any order: the
    # serving order is total, so every backend and every call agree
    twins = [conversation("a", 1, 3), conversation("b", 1, 3), conversation("c", 1, 3)]
    assert [c.id for c in in_serving_order(twins)] == ["a", "b", "c"]
    assert [c.id for c in in_serving_order(reversed(twins))] == ["a", "b", "c"]


def test_an_unopened_offer_lapses_before_the_bound_and_always_without_one() -> None:
    assert offer_lapsed(T0, T0 + timedelta(seconds=1))
    assert not offer_lapsed(T0, T0)  # made exactly at the bound: still the agent's
    assert not offer_lapsed(T0 + timedelta(seconds=1), T0)
    assert offer_lapsed(T0 + timedelta(days=1), None)  # its agent went offline


def presence(state: Presence, idle: datetime) -> AgentPresence:
    return AgentPresence(agent_id="agt_ann", presence=state, changed_at=idle, idle_since=idle)


def test_idle_time_restarts_on_coming_back_from_offline_not_after_a_break() -> None:
    later = T0 + timedelta(hours=1)
    assert idle_since(None, later) == later  # the first presence ever
    assert idle_since(presence(Presence.OFFLINE, T0), later) == later
    assert idle_since(presence(Presence.ONLINE, T0), later) == T0  # stepping away keeps the place in line
    assert idle_since(presence(Presence.AWAY, T0), later) == T0  # and so does coming back
