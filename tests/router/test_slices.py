"""The core's domain slices (issue 20): each ``router/<slice>/store.py``
declares a narrow store protocol of at most 15 methods, and ``Store`` inherits
every one of them, so a caller of the whole store loses nothing while a
consumer of one slice is typed against that slice alone."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
from typing import Any

import pytest

import router
from router.store.base import Store

MOST_METHODS = 15


def _slice_protocols() -> list[Any]:
    found = []
    for info in pkgutil.iter_modules(router.__path__):
        if not info.ispkg or importlib.util.find_spec(f"router.{info.name}.store") is None:
            continue
        module = importlib.import_module(f"router.{info.name}.store")
        found += [cls for _, cls in inspect.getmembers(module, inspect.isclass)
                  if cls.__module__ == module.__name__ and getattr(cls, "_is_protocol", False)]
    return found


def test_there_is_a_slice_to_check() -> None:
    assert "AccountStore" in {p.__name__ for p in _slice_protocols()}


@pytest.mark.parametrize("protocol", _slice_protocols(), ids=lambda p: p.__name__)
def test_a_slice_protocol_is_narrow_and_part_of_the_store(protocol: Any) -> None:
    assert 0 < len(protocol.__abstractmethods__) <= MOST_METHODS
    assert protocol in Store.__mro__


def test_the_outbox_is_a_slice() -> None:
    assert "OutboxStore" in {p.__name__ for p in _slice_protocols()}


def test_routing_is_a_slice() -> None:
    assert "AssignmentStore" in {p.__name__ for p in _slice_protocols()}


def test_ingest_and_conversations_are_slices() -> None:
    found = {p.__name__ for p in _slice_protocols()}
    assert {"IngestStore", "ConversationStore", "MessageStore", "OutboundStore"} <= found


def test_identity_is_a_slice() -> None:
    assert {"CustomerStore", "VerificationStore", "ClaimStore", "MergeStore"} <= {
        p.__name__ for p in _slice_protocols()}


# Every write of a slice protocol: one transaction that reads, asks a rule and
# writes, or one statement. On SQLite the one writer serialises them; a backend
# with several writers must hold what the docstring names from the read to the
# commit (router/store/base.py, "What a backend must hold"). Kept by hand: a
# method's name does not say whether it writes.
WRITES = {
    "AccountStore": {"create_agent", "set_password_hash", "set_agent_language", "create_session", "seen_sessions",
                     "end_session", "delete_agent_sessions", "replace_password"},
    "OutboxStore": {"claim_outbox", "outbox_sent", "outbox_part_sent", "outbox_retry", "outbox_dead", "outbox_wait",
                    "outbox_reached"},
    "IngestStore": {"insert_inbound", "ingest", "ingest_automated", "attach_to_conversation", "reopen_with"},
    "ConversationStore": {"set_conversation_state", "reroute_conversation"},
    "MessageStore": set(),
    "OutboundStore": {"enqueue_outbound", "record_delivery"},
    "CustomerStore": {"resolve_identity", "upsert_customer"},
    "VerificationStore": {"start_verification", "check_verification", "decline_verification"},
    "ClaimStore": {"dismiss_claim"},
    "MergeStore": {"merge_customers", "unmerge_customers"},
    "AssignmentStore": {"set_presence", "offer", "release_offers", "mark_opened", "announce_breaches",
                        "return_from_offline", "mark_absent"},
    "NoteStore": {"add_note", "mark_mentions_read"},
    "AgentAdminStore": {"update_agent", "create_managed_agent", "deactivate_agent", "reactivate_agent",
                        "set_agent_profile", "clear_agent_profile", "set_agents_settings"},
    "CannedStore": {"create_canned", "update_canned", "delete_canned"},
    "ReadStore": {"mark_read"},
    "FileStore": {"add_file", "delete_file"},
    "SurveyStore": {"claim_survey", "survey_asked", "rate_survey", "comment_survey", "reask_survey", "close_survey"},
    "SearchStore": {"index_for_search", "add_label", "remove_label", "snooze", "wake", "wake_due"},
    "WebhookStore": {"create_webhook", "update_webhook", "rotate_webhook_secret", "delete_webhook", "enqueue_webhooks",
                     "claim_webhooks", "webhook_sent", "webhook_retry", "webhook_dead", "redeliver_webhook",
                     "prune_webhook_deliveries"},
}
# and every method that only reads (no lock)
READS = {
    "AccountStore": {"agent_credentials", "get_agent", "list_agents", "session_agent"},
    "OutboxStore": {"pending_outbox"},
    "IngestStore": {"unrouted_messages", "contact_history", "conversation_openings", "last_resolved"},
    "ConversationStore": {"get_conversation", "customer_conversations", "list_conversations",
                          "count_conversations", "conversation_route"},
    "MessageStore": {"list_messages", "get_message", "customer_messages", "last_inbound", "customer_last_inbound",
                     "customer_channels", "last_answer"},
    "OutboundStore": set(),
    "CustomerStore": {"find_identity", "get_customer", "customer_identities", "automatic_sent", "last_contacts"},
    "VerificationStore": {"key_contacts", "conversation_verifications", "offered_codes"},
    "ClaimStore": {"customer_claims", "claim_matches"},
    "MergeStore": {"customer_merges", "identity_audit"},
    "AssignmentStore": {"list_presence", "queued_conversations", "agent_loads", "awaiting_first_response"},
    "NoteStore": {"conversation_notes", "agent_mentions", "unread_mentions"},
    "AgentAdminStore": {"agent_profiles", "agents_settings"},
    "CannedStore": {"get_canned", "list_canned"},
    "ReadStore": {"unread_counts", "assigned_unread", "open_conversation_of", "seen_message"},
    "FileStore": {"get_file", "get_files", "unreferenced_files"},
    "SurveyStore": {"get_survey", "conversation_survey", "agent_answered", "awaiting_survey", "customer_surveys",
                    "list_surveys"},
    "SearchStore": {"search_messages", "search_conversations", "search_customers", "list_labels", "labels_exist",
                    "next_wake"},
    "WallboardStore": {"open_counts", "sla_counts", "queued_values"},
    "WebhookStore": {"get_webhook", "list_webhooks", "subscribed_event_types", "list_webhook_deliveries"},
    "ReportStore": {"conversation_events", "cycles", "events_of_many", "events_of", "ratings",
                    "event_cursor", "events_after"},
}


@pytest.mark.parametrize("protocol", _slice_protocols(), ids=lambda p: p.__name__)
def test_every_method_of_a_slice_protocol_is_known_to_write_or_only_read(protocol: Any) -> None:
    # a new method fails here until it is put in WRITES (and says its lock) or in READS
    writes, reads = WRITES.get(protocol.__name__, set()), READS.get(protocol.__name__, set())
    assert not writes & reads
    assert set(protocol.__abstractmethods__) == writes | reads


@pytest.mark.parametrize("method", sorted(f"{p}.{m}" for p, methods in WRITES.items() for m in methods))
def test_every_write_of_a_slice_protocol_names_what_it_holds_against_other_writers(method: str) -> None:
    protocol_name, name = method.split(".")
    protocol = next(p for p in _slice_protocols() if p.__name__ == protocol_name)
    doc = (inspect.getdoc(getattr(protocol, name)) or "").lower()
    assert "lock" in doc or "single statement" in doc, f"{method}'s docstring names no lock nor single statement"
