"""The identity slice's rules for a merge and its undoing, without a
database: what a conversation is summed up to after an unmerge, where a
message written meanwhile goes back, what is put back as it was."""

from __future__ import annotations

from typing import Any

import pytest

from router.identity.rules import (
    Said,
    check_live,
    check_undoable,
    merged_name,
    moved_verified,
    open_ones,
    other_open,
    return_target,
    returned_messages,
    summary,
    untouched_since,
)
from router.store.errors import ConflictError, NotFound


def message(at: str, text: str = "", *, direction: str = "in", author: str = "customer", channel: str = "webchat",
            description: str | None = None, automatic: str | None = None) -> Said:
    return Said(at, text, channel, direction, author, automatic=automatic, description=description)


def test_a_conversation_is_summed_up_from_its_newest_messages() -> None:
    newest_first = [
        message("t4", "a colleague will answer soon", direction="out", author="system", channel="sms",
                automatic="busy"),
        message("t3", "here you are", direction="out", author="agent", channel="sms"),
        message("t2", "", channel="telegram", description="[photo]"),
        message("t1", "hi", channel="webchat"),
    ]
    # the customer last wrote on telegram; the list shows the agent's words, not the automatic notice
    assert summary(newest_first) == ("telegram", ("t3", "here you are"))
    # a photo without words shows the connector's description, as when it arrived
    assert summary(newest_first[2:]) == ("telegram", ("t2", "[photo]"))
    assert summary([message("t1", "x" * 500)]) == ("webchat", ("t1", "x" * 200))


def test_a_conversation_with_nothing_to_say_is_left_as_it_is() -> None:
    assert summary([]) == (None, None)
    only_notice = [message("t1", "busy", direction="out", author="system", automatic="busy")]
    assert summary(only_notice) == (None, None)
    # an agent's note of the customer's channel is no customer's message
    assert summary([message("t1", "note", author="agent")]) == (None, ("t1", "note"))


def test_the_survivor_keeps_its_name_or_takes_the_merged_ones() -> None:
    assert merged_name("Анна", "Аня") == "Анна"
    assert merged_name(None, "Аня") == "Аня"
    assert merged_name("", "Аня") == ""  # a name set empty is a name
    assert merged_name(None, None) is None


def test_a_moved_identity_is_proven_as_the_merge_says_or_as_it_was() -> None:
    assert moved_verified(True, False)  # a verified code proves it
    assert not moved_verified(False, True)  # a claim merged by config proves nothing
    assert moved_verified(None, True) and not moved_verified(None, False)  # an agent's merge keeps its state


def merge(merge_id: str, at: str, undone_at: str | None = None) -> dict[str, Any]:
    return {"id": merge_id, "created_at": at, "undone_at": undone_at}


def test_a_merge_is_undone_only_after_every_later_merge_of_its_customers() -> None:
    first = merge("mrg_1", "t1")
    check_undoable(first, [first, merge("mrg_0", "t0"), merge("mrg_2", "t2", undone_at="t3")])
    with pytest.raises(ConflictError, match="undo the later merge mrg_3 first"):
        check_undoable(first, [first, merge("mrg_2", "t2"), merge("mrg_3", "t3")])
    with pytest.raises(ConflictError, match="undo the later merge mrg_2 first"):
        check_undoable(first, [first, merge("mrg_2", "t1")])  # at the same moment: later in doubt, refused
    with pytest.raises(ConflictError, match="mrg_1 was undone already"):
        check_undoable(merge("mrg_1", "t1", undone_at="t2"), [])


def test_a_row_is_put_back_only_when_nobody_changed_it_since_the_merge() -> None:
    assert untouched_since("t1", "t1")
    assert not untouched_since("t2", "t1")
    assert not untouched_since(None, "t1")


def conversation(conversation_id: str, at: str, status: str = "resolved") -> dict[str, Any]:
    return {"id": conversation_id, "created_at": at, "status": status}


def test_a_folded_conversation_reopens_only_when_its_customer_has_no_other_open() -> None:
    folded = conversation("conv_f", "t1")
    assert other_open([folded, conversation("conv_2", "t2")], "conv_f") is None
    assert other_open([conversation("conv_f", "t1", "bot"), conversation("conv_2", "t2")], "conv_f") is None
    assert other_open([folded, conversation("conv_3", "t3", "assigned")], "conv_f") == "conv_3"


def test_a_returning_message_goes_to_the_open_conversation_or_the_latest() -> None:
    assert return_target([]) is None
    assert return_target([conversation("conv_1", "t1", "queued"), conversation("conv_2", "t2")]) == "conv_1"
    assert return_target([conversation("conv_1", "t1"), conversation("conv_2", "t2")]) == "conv_2"
    # equal times: the one stored last
    assert return_target([conversation("conv_1", "t1"), conversation("conv_2", "t1")]) == "conv_2"


def written(message_id: str, sender: str, conversation_id: str | None, owner: str | None,
            direction: str = "in") -> dict[str, Any]:
    return {"id": message_id, "direction": direction, "sender": ("webchat", sender),
            "conversation_id": conversation_id, "owner": owner}


def test_messages_written_while_merged_go_back_to_their_senders_side() -> None:
    theirs = {("webchat", "merged-visitor")}
    targets = {"cus_m": "conv_m", "cus_s": "conv_s"}
    later = [
        written("msg_1", "merged-visitor", "conv_s", "cus_s"),  # the merged side's, in the survivor's: back
        written("msg_2", "survivor-visitor", "conv_s", "cus_s"),  # the survivor's own: stays
        written("msg_3", "survivor-visitor", "conv_m", "cus_m"),  # the survivor's, in the merged side's: back
        written("msg_4", "merged-visitor", "conv_m", "cus_m"),  # the merged side's own conversation: kept there
        written("msg_5", "merged-visitor", "conv_s", "cus_s", direction="out"),  # an answer: not a sender's
    ]
    moves, touched = returned_messages(later, theirs, "cus_m", "cus_s", targets)
    assert moves == [("cus_m", "conv_m", "msg_1"), ("cus_s", "conv_s", "msg_3"), ("cus_m", "conv_m", "msg_4")]
    assert touched == {"conv_m", "conv_s"}
    # a side with no conversation to take its message back keeps it where it is
    assert returned_messages(later[:1], theirs, "cus_m", "cus_s", {"cus_m": None, "cus_s": "conv_s"}) == ([], set())


def test_only_a_live_customer_is_written() -> None:
    check_live("cus_1", None)
    with pytest.raises(ConflictError, match="customer cus_1 was merged into cus_2"):
        check_live("cus_1", "cus_2")
    with pytest.raises(NotFound, match="customer cus_1"):
        check_live("cus_1", None, found=False)


def test_a_merge_folds_only_open_conversations() -> None:
    rows = [conversation("conv_1", "t1"), conversation("conv_2", "t2", "queued"), conversation("conv_3", "t3", "bot")]
    assert [c["id"] for c in open_ones(rows)] == ["conv_2", "conv_3"]
