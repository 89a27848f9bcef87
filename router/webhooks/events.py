"""Which of the core's bus events (``router.events``) an integrator hears,
under which name, ordered by what, with which data.

A conversation's events are ordered by the conversation; a merge by the
customer kept. ``conversation.updated`` is heard only as
``conversation.resolved``, when it reports a resolved conversation, once per
resolution, and as ``conversation.reopened``, when it reports an open one its
customer reopened, once per reopen (``_event_id``)."""

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


def _updated_as(data: dict[str, Any]) -> str | None:
    """What a ``conversation.updated`` is heard as: resolved, reopened by its
    customer (queued, with a ``reopened_at``: a later update while it waits
    reports that reopen again, and its id makes it one delivery; an agent's
    Reopen makes it theirs, not queued, and is no customer's reopen), or nothing."""
    conversation = data.get("conversation")
    if not isinstance(conversation, dict):
        return None
    if conversation.get("status") == "resolved":
        return t.CONVERSATION_RESOLVED
    if conversation.get("status") == "queued" and conversation.get("reopened_at"):
        return t.CONVERSATION_REOPENED
    return None


def _always(kind: str) -> Callable[[dict[str, Any]], str | None]:
    return lambda _: kind


def _merge_key(data: dict[str, Any]) -> str | None:
    merge = data.get("merge")
    return f"customer:{merge['survivor_id']}" if isinstance(merge, dict) else None


def _survey_key(data: dict[str, Any]) -> str | None:
    survey = data.get("survey")
    return f"conversation:{survey['conversation_id']}" if isinstance(survey, dict) else None


# core type -> (the webhook type this event of it is heard as, None: not heard; its order key)
_MAP: dict[str, tuple[Callable[[dict[str, Any]], str | None], Callable[[dict[str, Any]], str | None]]] = {
    core.CONVERSATION_CREATED: (_always(t.CONVERSATION_OPENED), _conversation_key),
    core.CONVERSATION_ASSIGNED: (_always(t.CONVERSATION_ASSIGNED), _conversation_key),
    core.CONVERSATION_UPDATED: (_updated_as, _conversation_key),
    core.MESSAGE_CREATED: (_always(t.MESSAGE_CREATED), _conversation_key),
    core.CUSTOMER_MERGED: (_always(t.CUSTOMER_MERGED), _merge_key),
    core.CUSTOMER_UNMERGED: (_always(t.CUSTOMER_UNMERGED), _merge_key),
    core.CSAT_RATED: (_always(t.CSAT_RECEIVED), _survey_key),
}

# a state an update reports again (labelled, snoozed, ...): its id is the state's own, so the
# store's (subscription, event id) key delivers it once
_ONCE_PER = {t.CONVERSATION_RESOLVED: "resolved_at", t.CONVERSATION_REOPENED: "reopened_at"}


def webhook_type(event: Event) -> str | None:
    """The webhook type ``event`` is heard as; None: integrators never hear it."""
    found = _MAP.get(event.type)
    return found[0](event.data) if found is not None else None


def _event_id(kind: str, data: dict[str, Any]) -> str:
    """A new id, except for a resolution or a reopen: ``conversation.updated``
    reports them again when the conversation is labelled or snoozed, so the id
    is the resolution's (conversation and ``resolved_at``) or the reopen's
    (conversation and ``reopened_at``) own, and each is delivered once."""
    conversation, field = data.get("conversation"), _ONCE_PER.get(kind)
    if field is not None and isinstance(conversation, dict) and conversation.get(field):
        digest = hashlib.sha256(f"{conversation['id']}|{conversation[field]}".encode()).hexdigest()
        return f"evt_{digest[:32]}" if kind == t.CONVERSATION_RESOLVED else f"evt_r{digest[:31]}"
    return f"evt_{uuid.uuid4().hex}"


def translate(event: Event, now: datetime) -> Queued | None:
    """``event`` as integrators get it; None when it is not heard."""
    kind = webhook_type(event)
    if kind is None:
        return None
    event_id = _event_id(kind, event.data)
    order_key = _MAP[event.type][1](event.data) or event_id
    data = {k: v for k, v in event.data.items() if k != core.TO_AGENT}
    return Queued(event=WebhookEvent(id=event_id, type=kind, created_at=now, data=data),
                  order_key=order_key)
