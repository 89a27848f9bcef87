"""What a customer is told when their conversation goes to people.

Invariant 8: every handoff tells the customer what happens next, in their
language. Whichever step decides it (a rule on a new conversation, the
rules' handoff condition on a message to the bot, the bot stepping aside
for a request, low confidence, a repeat or an error), the text comes from
here: when the queue is closed, when it opens (``after_hours_message`` of
rules.yaml, or the default below); otherwise that a colleague answers soon
(``messages.handoff`` of bot.yaml, or its default). The caller sends it
only when its own change of the conversation succeeded, so two steps
deciding at once say it once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from router.language import answer_language
from router.models import Author, ConversationStatus, Customer, Direction, Message, RouteDecision
from router.texts import localized

# the automatic answer's kind (``CoreMeta.automatic``) of what happens next
HANDOFF = "handoff"


def handoff_notice(
    decision: RouteDecision, message: Message, customer: Customer | None, handoff_texts: Mapping[Any, str]
) -> str | None:
    """The message for a customer whose conversation ``decision`` sends to
    people; None when it stays with the bot (the bot answers instead) or
    nothing automatic handed it over (an inbox without rules)."""
    if decision.status is not ConversationStatus.QUEUED:
        return None
    if decision.notice:  # the queue is closed now: when it opens
        return decision.notice
    if not decision.handoff:
        return None
    return localized(handoff_texts, answer_language(message, customer))


def told_while_waiting(messages: Iterable[Message], channel: str, text: str, since: datetime | None) -> bool:
    """Whether ``text`` (what happens next) went to the customer on
    ``channel`` already while they wait: after the latest answer of an agent
    (their wait before it is over) and after ``since`` (the conversation's
    reopen). ``messages`` oldest first. A customer moving between channels
    while queued heard it on each channel once, not at every switch back;
    a notice that says something else (the queue has closed since) is new."""
    for message in reversed(list(messages)):
        if since is not None and message.created_at < since:
            return False
        if message.direction is Direction.OUT and message.author is Author.AGENT:
            return False
        if (message.direction is Direction.OUT and message.core.automatic == HANDOFF
                and message.channel == channel and message.text == text):
            return True
    return False


__all__ = ["HANDOFF", "handoff_notice", "told_while_waiting"]
