"""The rule of a customer writing after a resolve (rules.yaml's ``reopen``):
within the window of the resolved conversation's team, the message reopens
that conversation; later (or with a window of 0), it opens a new one by the
rules. Plain Python: the store reopens atomically what this decides
(``IngestStore.reopen_with``), and refuses when the conversation changed
since it was read.

What a reopen does, for the admin who reads the README: the conversation goes
back to its team's queue with the agent who handled it preferred (the
assigner offers it to them first when they are online and have room, else to
the team as the queue's steps say), at the higher of its priority and the
rules' priority for the new message. Only a conversation an agent had (assigned
before its resolve) is reopened, and it goes to people, never back to the bot:
the case was with them. A satisfaction survey's answer never reaches this
step (``router.csat`` keeps it in the survey's conversation)."""

from __future__ import annotations

from datetime import datetime, timedelta

from router.ingest.store import Reopening
from router.models import ConversationStatus, ConversationView, RouteDecision


def reopening(last: ConversationView | None, window: timedelta, now: datetime, decision: RouteDecision
              ) -> Reopening | None:
    """What to reopen for a customer with no open conversation, whose latest
    resolved one is ``last`` (its team's window is ``window``), given the
    rules' ``decision`` for the message; None: open a new conversation."""
    if last is None or last.status is not ConversationStatus.RESOLVED or last.resolved_at is None:
        return None
    if last.assigned_at is None:
        # never an agent's (resolved while with the bot, or straight from the queue): no case of
        # people's to go back to; the rules start afresh (the bot greets again, its flows run)
        return None
    if window <= timedelta(0) or now - last.resolved_at > window:
        return None
    return Reopening(last.id, last.resolved_at, decision.priority, decision.channel_kind)
