"""The conversations' rules that every backend's transaction calls
(router/conversations/receipts.py, states.py), without a database: the order
delivery receipts move a message in, and how a conversation's row may change."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from router.conversations import receipts, states
from router.models import ConversationStatus, Delivery
from router.store.errors import ConflictError

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ON_ITS_WAY = [Delivery.PENDING, Delivery.SENT, Delivery.DELIVERED, Delivery.READ]


def test_a_receipt_moves_a_message_forward_and_never_back() -> None:
    for earlier, later in itertools.combinations(ON_ITS_WAY, 2):
        assert receipts.moves_forward(earlier, later), (earlier, later)
        assert not receipts.moves_forward(later, earlier), (later, earlier)
    # the same receipt twice changes nothing the second time
    assert not any(receipts.moves_forward(state, state) for state in Delivery)


def test_failed_ends_an_undelivered_message_and_cannot_hide_a_delivery() -> None:
    assert receipts.moves_forward(Delivery.PENDING, Delivery.FAILED)
    assert receipts.moves_forward(Delivery.SENT, Delivery.FAILED)
    assert not receipts.moves_forward(Delivery.DELIVERED, Delivery.FAILED)
    assert not receipts.moves_forward(Delivery.READ, Delivery.FAILED)
    assert not any(receipts.moves_forward(Delivery.FAILED, state) for state in Delivery)


def test_an_inbound_message_takes_no_receipt() -> None:
    assert not any(receipts.moves_forward(Delivery.RECEIVED, state) for state in Delivery)


def test_a_kept_receipt_is_replaced_only_by_a_later_one() -> None:
    assert receipts.supersedes(None, Delivery.SENT)
    assert receipts.supersedes(Delivery.SENT, Delivery.DELIVERED)
    assert not receipts.supersedes(Delivery.DELIVERED, Delivery.SENT)


def test_only_a_failure_keeps_the_platforms_reason() -> None:
    assert receipts.error_kept(Delivery.FAILED, "30003: unreachable handset") == "30003: unreachable handset"
    assert [receipts.error_kept(s, "x") for s in ON_ITS_WAY] == [None] * len(ON_ITS_WAY)


def test_a_stray_receipt_is_kept_for_a_day() -> None:
    cutoff = receipts.forgotten_before(T0)
    assert T0 - timedelta(hours=23) > cutoff > T0 - timedelta(hours=25)


def test_a_change_for_a_status_the_conversation_has_left_is_refused() -> None:
    with pytest.raises(ConflictError, match="conversation conv_1 is assigned"):
        states.check_expected("conv_1", ConversationStatus.ASSIGNED, {ConversationStatus.QUEUED})
    states.check_expected("conv_1", ConversationStatus.QUEUED, {ConversationStatus.QUEUED, ConversationStatus.BOT})
    for status in ConversationStatus:  # no expectation: any status takes the change
        states.check_expected("conv_1", status, None)


def test_only_a_resolved_conversation_has_a_resolution_time() -> None:
    assert states.resolved_at(ConversationStatus.RESOLVED, T0) == T0
    others = [s for s in ConversationStatus if s is not ConversationStatus.RESOLVED]
    assert [states.resolved_at(s, T0) for s in others] == [None] * len(others)
    assert [states.is_open(s) for s in others] == [True] * len(others)
    assert not states.is_open(ConversationStatus.RESOLVED)


def test_a_reroute_without_a_preferred_agent_keeps_the_one_there_was() -> None:
    assert states.preferred_after_reroute(None, "agt_1") == "agt_1"
    assert states.preferred_after_reroute("agt_2", "agt_1") == "agt_2"
    assert states.preferred_after_reroute(None, None) is None


def test_the_list_shows_a_messages_words_or_its_description() -> None:
    assert states.preview("Где мой заказ?") == "Где мой заказ?"
    assert states.preview(None, "[photo]") == "[photo]"
    assert states.preview("", {"not": "text"}) == ""
    assert states.preview("x" * 500) == "x" * states.PREVIEW_CHARS


def test_an_automatic_message_leaves_the_list_showing_the_customers_words() -> None:
    assert states.shown_in_list("handoff", "A colleague will answer soon") is None
    assert states.shown_in_list(None, "Your order ships today") == "Your order ships today"
    assert states.shown_in_list(None, None, "[document]") == "[document]"


def test_a_conversation_taken_is_assigned_and_opened_by_its_taker() -> None:
    # from a colleague's unopened offer: both now, so the offer's lapse cannot take it back
    assert states.taken("ann", "bob", "t0", None, "t1") == ("t1", "t1")
    # one's own offer, answered unopened: opened now, assigned when it was offered
    assert states.taken("ann", "ann", "t0", None, "t1") == ("t0", "t1")
    # one's own, opened already: as it was
    assert states.taken("ann", "ann", "t0", "t0", "t1") == ("t0", "t0")
    # nobody's (a queued conversation taken)
    assert states.taken(None, "ann", None, None, "t1") == ("t1", "t1")
