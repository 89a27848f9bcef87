"""Which of the core's bus events (``router.events``) an integrator hears,
under which name, ordered by what, with which data.

A conversation's events are ordered by the conversation; a merge by the
customer kept. ``conversation.updated`` is heard only as
``conversation.resolved``, when it reports a resolved conversation, once per
resolution (``_event_id``)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from router import events as core
from router.bus import Event
from router.webhooks import types as t
from router.webhooks.types import Queued, WebhookEvent


def _conversation_key(data: dict[str, Any]) -> str | None:
    conversation = data.get("conversation")
    return f"conversation:{conversation['id']}" if isinstance(conversation, dict) else None


def _resolved(data: dict[str, Any]) -> bool:
    conversation = data.get("conversation")
    return isinstance(conversation, dict) and conversation.get("status") == "resolved"


def _merge_key(data: dict[str, Any]) -> str | None:
    merge = data.get("merge")
    return f"customer:{merge['survivor_id']}" if isinstance(merge, dict) else None


def _survey_key(data: dict[str, Any]) -> str | None:
    survey = data.get("survey")
    return f"conversation:{survey['conversation_id']}" if isinstance(survey, dict) else None


# core type -> (webhook type, whether this event of it is heard, its order key)
_MAP: dict[str, tuple[str, Callable[[dict[str, Any]], bool], Callable[[dict[str, Any]], str | None]]] = {
    core.CONVERSATION_CREATED: (t.CONVERSATION_OPENED, lambda _: True, _conversation_key),
    core.CONVERSATION_ASSIGNED: (t.CONVERSATION_ASSIGNED, lambda _: True, _conversation_key),
    core.CONVERSATION_UPDATED: (t.CONVERSATION_RESOLVED, _resolved, _conversation_key),
    core.MESSAGE_CREATED: (t.MESSAGE_CREATED, lambda _: True, _conversation_key),
    core.CUSTOMER_MERGED: (t.CUSTOMER_MERGED, lambda _: True, _merge_key),
    core.CUSTOMER_UNMERGED: (t.CUSTOMER_UNMERGED, lambda _: True, _merge_key),
    core.CSAT_RATED: (t.CSAT_RECEIVED, lambda _: True, _survey_key),
}


def webhook_type(event: Event) -> str | None:
    """The webhook type ``event`` is heard as; None: integrators never hear it."""
    found = _MAP.get(event.type)
    return found[0] if found is not None and found[1](event.data) else None


def _event_id(kind: str, data: dict[str, Any]) -> str:
    """A new id, except for a resolution: ``conversation.updated`` reports a
    resolved conversation again when it is labelled or snoozed, so its id is
    the resolution's own (conversation and ``resolved_at``), and the store's
    (subscription, event id) key delivers it once."""
    conversation = data.get("conversation")
    if kind == t.CONVERSATION_RESOLVED and isinstance(conversation, dict) and conversation.get("resolved_at"):
        digest = hashlib.sha256(f"{conversation['id']}|{conversation['resolved_at']}".encode()).hexdigest()
        return f"evt_{digest[:32]}"
    return f"evt_{uuid.uuid4().hex}"


def translate(event: Event, now: datetime) -> Queued | None:
    """``event`` as integrators get it; None when it is not heard."""
    kind = webhook_type(event)
    if kind is None:
        return None
    event_id = _event_id(kind, event.data)
    order_key = _MAP[event.type][2](event.data) or event_id
    data = {k: v for k, v in event.data.items() if k != core.TO_AGENT}
    return Queued(event=WebhookEvent(id=event_id, type=kind, created_at=now, data=data),
                  order_key=order_key)
