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

from collections.abc import Mapping
from typing import Any

from router.language import answer_language
from router.models import ConversationStatus, Customer, Message, RouteDecision
from router.texts import localized


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


__all__ = ["handoff_notice"]
