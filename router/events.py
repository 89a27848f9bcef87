"""Every event the core publishes, one typed constructor each.

An event goes on the bus (``router.bus``) and out to the console's
websockets as ``{"type": ..., "data": ...}``; the console, the assigner and
integrators read that JSON, so each constructor here fixes its type's name
and the shape of its data. Publish only what these build: a new kind of
event is a new constructor here (and its name in ``TYPES``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from router.bus import Event
from router.csat.types import Survey
from router.models import Agent, AgentPresence, ConversationView, MergeRecord, Message
from router.notes.models import Mention, Note

MESSAGE_CREATED = "message.created"
MESSAGE_UPDATED = "message.updated"
CONVERSATION_CREATED = "conversation.created"
CONVERSATION_UPDATED = "conversation.updated"
CONVERSATION_ASSIGNED = "conversation.assigned"
CONVERSATION_SLA_BREACHED = "conversation.sla_breached"
AGENT_PRESENCE = "agent.presence"
AGENT_UPDATED = "agent.updated"
CUSTOMER_MERGED = "customer.merged"
CUSTOMER_UNMERGED = "customer.unmerged"
CUSTOMER_UPDATED = "customer.updated"
CLAIM_DISMISSED = "claim.dismissed"
RULES_RELOADED = "rules.reloaded"
RULES_REFUSED = "rules.refused"
BOT_RELOADED = "bot.reloaded"
BOT_REFUSED = "bot.refused"
BOT_FAILING = "bot.failing"
BOT_RECOVERED = "bot.recovered"
NOTE_CREATED = "note.created"
NOTE_MENTIONED = "note.mentioned"
MENTIONS_READ = "mentions.read"
CONVERSATION_TYPING = "conversation.typing"
CONVERSATION_READ = "conversation.read"
CSAT_RATED = "csat.rated"
WEBHOOKS_CHANGED = "webhooks.changed"
WEBHOOK_DELIVERIES = "webhooks.deliveries"

# an event meant for one agent carries their id here: the console pushes it only to
# their sockets, on whichever node they are (agents_ui/live.py)
TO_AGENT = "to_agent"

# every type this module builds
TYPES = frozenset({
    MESSAGE_CREATED, MESSAGE_UPDATED, CONVERSATION_CREATED, CONVERSATION_UPDATED, CONVERSATION_ASSIGNED,
    CONVERSATION_SLA_BREACHED, AGENT_PRESENCE, CUSTOMER_MERGED, CUSTOMER_UNMERGED, CLAIM_DISMISSED,
    RULES_RELOADED, RULES_REFUSED, BOT_RELOADED, BOT_REFUSED, BOT_FAILING, BOT_RECOVERED, NOTE_CREATED,
    NOTE_MENTIONED, MENTIONS_READ,
    AGENT_UPDATED,
    CONVERSATION_TYPING, CONVERSATION_READ, CSAT_RATED, WEBHOOKS_CHANGED, WEBHOOK_DELIVERIES, CUSTOMER_UPDATED,
})
# live signals that are never stored: a cluster carries them to the other nodes without the event log
# (router.cluster.pg_bus), and a node that is away meanwhile misses them, as it should
EPHEMERAL = frozenset({CONVERSATION_TYPING, WEBHOOK_DELIVERIES})


def _json(model: BaseModel) -> dict[str, Any]:
    """``model.model_dump(mode="json")`` without its Python wrapper: the same call of pydantic-core's
    serializer, the same dict (its datetimes, enums, extras), ~1.5 µs less per model; a message's
    ``message.created`` builds two."""
    data: dict[str, Any] = model.__pydantic_serializer__.to_python(model, mode="json")
    return data


def addressed_to(event: Event) -> str | None:
    """The one agent an event is for (None: every console)."""
    to = event.data.get(TO_AGENT)
    return to if isinstance(to, str) else None


# -- messages ---------------------------------------------------------------------
def message_created(message: Message, conversation: ConversationView) -> Event:
    """A message stored in ``conversation``, either direction (as the conversation is after it)."""
    return Event(MESSAGE_CREATED, {
        "message": _json(message), "conversation": _json(conversation),
    })


def message_updated(message: Message) -> Event:
    """A stored message changed: its delivery state (sent, delivered, read, failed)."""
    return Event(MESSAGE_UPDATED, {"message": _json(message)})


# -- conversations ---------------------------------------------------------------------
def _conversation(kind: str, conversation: ConversationView) -> Event:
    return Event(kind, {"conversation": _json(conversation)})


def conversation_created(conversation: ConversationView) -> Event:
    return _conversation(CONVERSATION_CREATED, conversation)


def conversation_updated(conversation: ConversationView) -> Event:
    """Its state, team or route changed (handed off, resolved, transferred, offer released)."""
    return _conversation(CONVERSATION_UPDATED, conversation)


def conversation_assigned(conversation: ConversationView) -> Event:
    """Given to an agent (taken, offered, or by a first reply)."""
    return _conversation(CONVERSATION_ASSIGNED, conversation)


def conversation_sla_breached(conversation: ConversationView, target_seconds: float) -> Event:
    """Waited longer than its team's first-response target."""
    return Event(CONVERSATION_SLA_BREACHED, {
        "conversation": _json(conversation), "target_seconds": target_seconds,
    })


# -- agents -------------------------------------------------------------------------
def agent_presence(state: AgentPresence) -> Event:
    return Event(AGENT_PRESENCE, _json(state))


def agent_updated(agent: Agent, *, sessions_ended: bool = False) -> Event:
    """An account was created or changed by an admin (name, role, active,
    routing profile); ``sessions_ended``: its console sessions were ended
    (deactivated, a new password), so every node closes their live sockets."""
    return Event(AGENT_UPDATED, {"agent": _json(agent), "sessions_ended": sessions_ended})


# -- customers -----------------------------------------------------------------------
def customer_merged(merge: MergeRecord) -> Event:
    return Event(CUSTOMER_MERGED, {"merge": _json(merge)})


def customer_unmerged(merge: MergeRecord) -> Event:
    return Event(CUSTOMER_UNMERGED, {"merge": _json(merge)})


def customer_updated(customer_id: str, *, created: bool) -> Event:
    """A CRM wrote a customer's value attributes (``PUT /api/customers/by/...``): the wallboard's valuable
    customers waiting may have changed. Only the id: the attributes are read where they are needed."""
    return Event(CUSTOMER_UPDATED, {"customer_id": customer_id, "created": created})


def claim_dismissed(claim_id: str, customers: list[str]) -> Event:
    """A claim's hints hidden: each console showing one of ``customers`` refreshes."""
    return Event(CLAIM_DISMISSED, {"claim_id": claim_id, "customers": customers})


# -- rules -----------------------------------------------------------------------
def rules_reloaded(version: str) -> Event:
    return Event(RULES_RELOADED, {"version": version})


def rules_refused(version: str) -> Event:
    """A changed rules file was refused: ``version`` (the running one) stays active."""
    return Event(RULES_REFUSED, {"version": version})


def bot_reloaded(intents: int) -> Event:
    """bot.yaml changed and its new bot answers the next turn."""
    return Event(BOT_RELOADED, {"intents": intents})


def bot_refused(problems: int) -> Event:
    """A changed bot.yaml was refused: the running bot stays."""
    return Event(BOT_REFUSED, {"problems": problems})


def bot_failing(node: str, failed: int, answered: int, window: float, since: datetime) -> Event:
    """The bot's answers fail (router.bot.health): ``failed`` of the ``answered`` turns of the last
    ``window`` seconds on ``node``; customers go to people meanwhile. Once per outage, not per message."""
    return Event(BOT_FAILING, {"node": node, "failed": failed, "answered": answered, "window": window,
                               "since": since.isoformat()})


def bot_recovered(node: str, since: datetime | None) -> Event:
    """The bot answers again on ``node`` (it was failing ``since``)."""
    return Event(BOT_RECOVERED, {"node": node, "since": since.isoformat() if since else None})


# -- notes (router/notes/) ---------------------------------------------------------
def note_created(note: Note) -> Event:
    """A private note written in a conversation: every console showing it adds it to the thread."""
    return Event(NOTE_CREATED, {"note": _json(note)})


def note_mentioned(mention: Mention) -> Event:
    """A note mentions an agent: for their consoles only (badge, Mentions view, alert)."""
    return Event(NOTE_MENTIONED, {TO_AGENT: mention.agent_id, "mention": _json(mention)})


def mentions_read(agent_id: str, conversation_id: str, unread: int) -> Event:
    """The agent opened a conversation that mentioned them: their other consoles update the badge."""
    return Event(MENTIONS_READ, {TO_AGENT: agent_id, "conversation_id": conversation_id, "unread": unread})


# -- live signals (router.signals) ---------------------------------------------------
def conversation_typing(conversation_id: str, author: str) -> Event:
    """Someone is typing in the conversation now (``author``: "customer"); ephemeral, never stored."""
    return Event(CONVERSATION_TYPING, {"conversation_id": conversation_id, "author": author})


def conversation_read(conversation_id: str, agent_id: str, message_id: str, read_at: datetime) -> Event:
    """An agent read the conversation up to ``message_id``: their other tabs and devices (theirs only) clear
    its count."""
    return Event(CONVERSATION_READ, {TO_AGENT: agent_id, "conversation_id": conversation_id, "agent_id": agent_id,
                                     "message_id": message_id, "read_at": read_at.isoformat()})


# -- satisfaction surveys ----------------------------------------------------------------
def csat_rated(survey: Survey) -> Event:
    """A customer rated a conversation (1-5), or added the comment to their rating: the survey as it is now."""
    return Event(CSAT_RATED, {"survey": _json(survey)})


# -- outbound webhooks (router/webhooks/) ------------------------------------------------
def webhooks_changed() -> Event:
    """An admin added, changed or removed a webhook subscription: every node re-reads which event
    types are subscribed, and open admin screens refresh."""
    return Event(WEBHOOKS_CHANGED, {})


def webhook_deliveries() -> Event:
    """Deliveries changed in a way an admin watches (a dead letter, a redelivery): open admin
    screens refresh. A live signal only (never stored), sent at most once a second by a node;
    the subscriptions are unchanged, so no node re-reads them."""
    return Event(WEBHOOK_DELIVERIES, {})
