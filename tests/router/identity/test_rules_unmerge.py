"""The identity slice's rules for a merge and its undoing, without a
database: what a conversation is summed up to after an unmerge, where a
message written meanwhile goes back, what is put back as it was."""

from __future__ import annotations

from typing import Any

from router.identity.rules import summary


def message(at: str, text: str = "", *, direction: str = "in", author: str = "customer", channel: str = "webchat",
            description: str | None = None, **extras: Any) -> dict[str, Any]:
    return {"created_at": at, "text": text, "description": description, "extras": extras, "channel": channel,
            "direction": direction, "author": author}


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
