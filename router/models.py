"""The normalised models every part of omnirouter speaks.

Ids are ``str``; platform-specific data lives in one ``extras`` field, which
is the platform's alone: what the core itself knows of a message is typed
(``InboundMessage``'s fields, ``Message.core``, ``OutboundMessage.template``);
every timestamp is timezone-aware UTC.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from router.controls import customer_name, file_name
from router.kinds import AttachmentKind

MAX_TEXT_LENGTH = 10_000
# where an inbound text over MAX_TEXT_LENGTH is kept whole (``InboundMessage``)
FULL_TEXT_EXTRA = "full_text"
# where the store keeps a connector's description of a message without words
DESCRIPTION_EXTRA = "description"
MAX_DESCRIPTION_LENGTH = 1000


def utcnow() -> datetime:
    return datetime.now(UTC)


class _RandomPool(threading.local):
    """The OS's random bytes, fetched 4 KiB at a time: a getrandom call per
    id released the GIL several times per message, and under load each
    release meant waiting for the store's thread to give it back. One pool per
    thread; a forked child starts with an empty one, so parent and child never
    hand out the same bytes."""

    hex = ""
    pos = 0

    def take_hex(self, n: int) -> str:
        """``n`` random bytes as ``2 * n`` hex digits."""
        pos, end = self.pos, self.pos + 2 * n
        if end > len(self.hex):
            self.hex, pos, end = os.urandom(4096).hex(), 0, 2 * n
        self.pos = end
        return self.hex[pos:end]


_pool = _RandomPool()


def _fresh_pool() -> None:
    # only the forking thread lives on in the child: emptying its view is enough
    _pool.hex, _pool.pos = "", 0


os.register_at_fork(after_in_child=_fresh_pool)


def new_id(prefix: str) -> str:
    """A short unguessable id with a readable prefix (``conv_…``, ``file_…``):
    80 bits from the OS's CSPRNG, as ``secrets.token_hex(10)`` gives."""
    return f"{prefix}_{_pool.take_hex(10)}"


def new_ordered_id(prefix: str) -> str:
    """An unguessable id that sorts by when it was made (``msg_…``, ``out_…``):
    the milliseconds since the epoch in 12 hex digits, then ``new_id``'s 80
    random bits. For the rows written once or more per message: a random key
    puts each insert on a page of the primary key's index of its own, which the
    commit writes whole to the WAL and the checkpoint again (4 KiB a message);
    keys in time order fill the index's last page. Nothing orders by it: a
    clock stepped back only files a few keys mid-index."""
    return f"{prefix}_{time.time_ns() // 1_000_000:012x}{_pool.take_hex(10)}"


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


Timestamp = Annotated[AwareDatetime, AfterValidator(_to_utc)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class Author(StrEnum):
    CUSTOMER = "customer"
    BOT = "bot"
    AGENT = "agent"
    SYSTEM = "system"


class Direction(StrEnum):
    IN = "in"
    OUT = "out"


class ConversationStatus(StrEnum):
    BOT = "bot"
    QUEUED = "queued"
    ASSIGNED = "assigned"
    RESOLVED = "resolved"


class Delivery(StrEnum):
    """Where a message is on its way: inbound ones are simply ``received``.
    The order receipts move it in is ``router.conversations.receipts``'."""

    RECEIVED = "received"
    PENDING = "pending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


class Role(StrEnum):
    ADMIN = "admin"
    # between the two: sees every team's queues, the wallboard and reports, may reassign;
    # changes no rules, teams or accounts (its rights are in router.agents.service.GRANTS)
    SUPERVISOR = "supervisor"
    AGENT = "agent"


class IdentityRef(_Model):
    """A customer's handle on one channel kind: ``(kind, value)`` is unique.

    ``kind`` is opaque to the core (``webchat``, ``telegram``, ``phone``…):
    connectors choose it, the core only compares it.
    """

    kind: Annotated[str, Field(min_length=1, max_length=64)]
    value: Annotated[str, Field(min_length=1, max_length=512)]


def _file_name(name: str | None) -> str | None:
    return (file_name(name) or None) if name is not None else None


class Attachment(_Model):
    kind: AttachmentKind
    url: str | None = None
    # as the platform or the mail gave it, made safe to show and to save: no path, no bidi
    # override, at most 255 characters (router.controls.file_name)
    name: Annotated[str | None, AfterValidator(_file_name)] = None
    mime_type: str | None = None
    size: int | None = None
    extras: dict[str, Any] = Field(default_factory=dict)
    # a file in the router's own storage (router.files): its id, never its bytes
    file: str | None = None


class RatingAnswer(_Model):
    """A satisfaction survey's button pressed (the widget's, Telegram's inline
    keyboard): which survey, and the score chosen. A typed number carries none:
    the survey reads it from the words (router.csat.service)."""

    survey_id: Annotated[str, Field(min_length=1, max_length=64)]
    score: Annotated[int, Field(ge=1, le=5)]


class RatingRequest(_Model):
    """Ask for a 1-5 rating with buttons under the message (``Connector.rates_with_buttons``);
    each button's label, from 1 to 5, in the customer's language."""

    survey_id: Annotated[str, Field(min_length=1, max_length=64)]
    labels: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(min_length=5, max_length=5)


class Given(_Model):
    """What a connector says of a customer's message beside its words, that
    the core reads: typed fields of ``InboundMessage``, kept as they were
    given in the stored message's ``core``."""

    # a phone / email the customer gave beside their words (a form's fields):
    # a claim, never proof (router.identity.service.CLAIM_KEYS)
    claimed_phone: str | None = None
    claimed_email: str | None = None
    # a phone / email the platform itself vouches is the sender's own (a
    # Telegram contact of the sender's own account): proven, so it links at
    # once, as a one-time code would (router.identity.service.PROVEN_KEYS)
    proven_phone: str | None = None
    proven_email: str | None = None
    # the connector's thread data (mail headers), opaque to the core: kept with
    # the stored message and handed back in ``OutboundMessage.thread`` of a reply
    thread: dict[str, Any] = Field(default_factory=dict)
    # the message's language, when the platform knows it ("ru", "en")
    language: str | None = None
    # the customer pressed a rating button of a satisfaction survey (router.csat)
    rating: RatingAnswer | None = None


class InboundMessage(Given):
    """What a connector hands the router for every message a customer sends."""

    channel: Annotated[str, Field(min_length=1, max_length=64)]
    external_id: Annotated[str, Field(min_length=1, max_length=256)]
    sender: IdentityRef
    # without bidi overrides and other controls, whichever connector took it (router.controls)
    sender_name: Annotated[str | None, Field(max_length=256), AfterValidator(customer_name)] = None
    # the customer's own words, and only those: claims, codes, rules and the
    # bot read it. Over MAX_TEXT_LENGTH it is cut (with "…") and kept whole in
    # ``extras["full_text"]`` (see ``_keep_long_text_whole``)
    text: Annotated[str, Field(max_length=MAX_TEXT_LENGTH)] = ""
    # what the connector wrote for a message without words of its own
    # ("[sticker 😀]", "[contact Mum +7903…]"): shown to agents, never read
    # as the customer's words (a shared contact's number is no claim). The
    # store keeps it in the message's ``extras["description"]``
    description: Annotated[str | None, Field(max_length=MAX_DESCRIPTION_LENGTH)] = None
    attachments: list[Attachment] = Field(default_factory=list)
    sent_at: Timestamp | None = None
    extras: dict[str, Any] = Field(default_factory=dict)
    # external ids of earlier messages on this channel (either direction) that
    # this one answers, most relevant first: it joins the open conversation of
    # the first one known, whoever sent it (mail threads by these, not by sender)
    replies_to: list[Annotated[str, Field(min_length=1, max_length=256)]] = Field(default_factory=list, max_length=100)
    # set, with the reason, when a machine wrote it (an auto-reply, a delivery
    # report): stored and shown in its thread, but it never opens a
    # conversation, is never routed and never answered, so no reply loops
    automated: Annotated[str | None, Field(max_length=256)] = None
    # with ``automated``: the sender's own words, which their platform answered itself (an opt-out
    # keyword): kept as theirs and shown in their open conversation, still never routed or answered
    platform_answered: bool = False

    @field_validator("description", mode="before")
    @classmethod
    def _cut_description(cls, value: Any) -> Any:
        """Built from the platform's names (a file's, a contact's): one too long
        is cut, never a reason to lose the message it describes."""
        if isinstance(value, str) and len(value) > MAX_DESCRIPTION_LENGTH:
            return value[: MAX_DESCRIPTION_LENGTH - 1] + "…"
        return value

    @model_validator(mode="before")
    @classmethod
    def _keep_long_text_whole(cls, data: Any) -> Any:
        """A text over ``MAX_TEXT_LENGTH`` is cut for everything that reads
        ``text`` (screens, rules, the bot, claims) and kept whole in
        ``extras["full_text"]``: once a platform has been told "received",
        the customer's words are never lost, whatever connector took them."""
        if not isinstance(data, dict):
            return data
        text, extras = data.get("text"), data.get("extras") or {}
        if not isinstance(text, str) or len(text) <= MAX_TEXT_LENGTH or not isinstance(extras, dict):
            return data
        return data | {"text": text[: MAX_TEXT_LENGTH - 1] + "…", "extras": {FULL_TEXT_EXTRA: text} | extras}


class PhoneButton(_Model):
    """A button under the message that sends the customer's own phone number
    back, proven by the platform (Telegram's request-contact button)."""

    label: str = Field(min_length=1, max_length=64)


class TemplateRequest(_Model):
    """Send the channel's approved template instead of free text (the
    platform's reply window has closed), with its variables' values."""

    customer_name: str = ""
    agent_name: str = ""


class OutboundMessage(_Model):
    """What the outbox hands a connector to deliver."""

    message_id: str
    channel: str
    recipient: str
    author: Author
    text: str = ""
    attachments: list[Attachment] = Field(default_factory=list)
    created_at: Timestamp
    extras: dict[str, Any] = Field(default_factory=dict)
    # the connector's thread data of the message answered, handed back as it
    # put it in that inbound message's ``thread`` (mail headers)
    thread: dict[str, Any] = Field(default_factory=dict)
    # an agent's reply: their name, as the customer is shown it
    agent_name: str | None = None
    # set: send the channel's template (``OutboundMessage.text`` is its text as stored)
    template: TemplateRequest | None = None
    # ask for the customer's phone with a button; a connector that cannot
    # (``Connector.asks_phone`` False) sends the text alone
    ask_phone: PhoneButton | None = None
    # ask for a satisfaction rating with buttons; a connector that cannot sends the text alone
    # (which then says "reply with a number from 1 to 5")
    rating: RatingRequest | None = None
    # the recipient has just proven more of their history (a code linked their
    # channels): a connector that shows history (the site chat) shows it again
    history_changed: bool = False


class CoreMeta(Given):
    """What the core itself keeps with a stored message (``Message.core``;
    ``Message.extras`` is the platform's). Every field is optional: most
    messages carry none of them."""

    # written by the core without a person (what kind: "handoff", "ask_phone",
    # "phone_saved", "verification"): never a conversation's preview
    automatic: str | None = None
    # said beside the topic (a one-time code, the phone request): the bot's
    # recall of what the customer asked looks past it
    aside: bool = False
    # a one-time code's message (its digits only went to the outbox)
    verification: bool = False
    # what the bot understood and answered (``router.bot.base.BotReply.record``)
    bot: dict[str, Any] | None = None
    # the sender's identity value as stored, when the connector wrote it
    # otherwise (an unmerge sorts messages by it)
    identity: str | None = None
    # a message to a closed conversation's thread: the conversation it follows
    follows_conversation: str | None = None
    # an agent's reply: their name as the customer was shown it
    agent_name: str | None = None
    # sent as the channel's template, with these values
    template: TemplateRequest | None = None
    # an inbound message's, as the connector gave them (``InboundMessage``)
    sender_name: str | None = None
    automated: str | None = None
    # an outbound message's addressee, as the message it answers gave it: a
    # customer's history shows an answer only to the identity it went to
    recipient: IdentityRef | None = None


class Message(_Model):
    """A stored message of a conversation, either direction."""

    id: str
    conversation_id: str | None
    customer_id: str | None
    direction: Direction
    author: Author
    agent_id: str | None = None
    channel: str
    external_id: str | None = None
    sender: IdentityRef | None = None
    text: str = ""
    attachments: list[Attachment] = Field(default_factory=list)
    extras: dict[str, Any] = Field(default_factory=dict)
    core: CoreMeta = Field(default_factory=CoreMeta)
    created_at: Timestamp
    delivery: Delivery = Delivery.RECEIVED
    delivery_error: str | None = None


class Customer(_Model):
    """The golden record: one person, whatever channel they write from."""

    id: str
    display_name: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    created_at: Timestamp
    updated_at: Timestamp
    # set on a profile folded into another by a merge (kept so an unmerge can restore it)
    merged_into: str | None = None


class ChannelIdentity(_Model):
    customer_id: str
    ref: IdentityRef
    verified: bool = True
    # provenance of the link to this customer: channel, rule, code, agent, import
    source: str = "channel"
    created_at: Timestamp
    # the normalised key it is matched by ("phone:+79123456789"), if any
    key: str | None = None
    link_reason: str | None = None


class Conversation(_Model):
    id: str
    customer_id: str
    status: ConversationStatus
    team: str | None = None
    agent_id: str | None = None
    priority: int = 0
    channel: str
    created_at: Timestamp
    updated_at: Timestamp
    last_message_at: Timestamp
    resolved_at: Timestamp | None = None
    route_reason: str | None = None
    # the rules file version that routed it (None: no rules file)
    rules_version: str | None = None
    skills: dict[str, int] = Field(default_factory=dict)
    channel_kind: str = "chat"
    preferred_agent_id: str | None = None
    assigned_at: Timestamp | None = None
    # when the assignee first opened it; an offer not opened goes back to the queue
    opened_at: Timestamp | None = None
    # until when it is out of the open views (router/search/); None: not snoozed
    snoozed_until: Timestamp | None = None
    # the last time a customer's message reopened it after a resolve, and how many times (router.ingest.reopen)
    reopened_at: Timestamp | None = None
    reopens: int = 0


class ConversationView(Conversation):
    """A conversation with what a list in the console needs to show it."""

    customer_name: str | None = None
    last_message_text: str | None = None
    # its labels by name (router/search/); None where the row was read without them
    labels: list[str] | None = None


class Agent(_Model):
    id: str
    username: str
    display_name: str
    role: Role
    created_at: Timestamp
    # the console's language the agent chose; None: their browser's
    language: Literal["ru", "en"] | None = None
    # a deactivated account cannot log in nor be assigned; its history stays (router.agents)
    active: bool = True


class OutboxEntry(_Model):
    id: str
    message_id: str
    conversation_id: str | None
    payload: OutboundMessage
    attempts: int = 0
    next_attempt_at: Timestamp
    status: Literal["pending", "sent", "dead"] = "pending"
    last_error: str | None = None
    # of a message that goes out in several platform calls: how many went
    # already, and the platform's id of the latest (``SendProgress``)
    parts_sent: int = 0
    part_external_id: str | None = None


class ConditionTrace(_Model):
    """One condition of a rule and what it evaluated to (None: not evaluated,
    an earlier condition of the same rule was already false)."""

    expression: str
    value: bool | None = None
    error: str | None = None


class RuleTrace(_Model):
    rule: str
    matched: bool
    conditions: list[ConditionTrace] = Field(default_factory=list)


class RouteTrace(_Model):
    """Why a conversation went where it went: every rule tried, in order."""

    rules_version: str
    rules: list[RuleTrace] = Field(default_factory=list)
    matched_rule: str | None = None  # None: the default route
    step: str
    facts: dict[str, Any] = Field(default_factory=dict)
    decided_at: Timestamp


class RouteDecision(_Model):
    """Where a new conversation goes, and the human-readable why."""

    status: ConversationStatus
    team: str | None = None
    priority: int = 0
    reason: str
    # the rules file's version and the explanation, when rules decided
    rules_version: str | None = None
    trace: RouteTrace | None = None
    # what assignment needs: the skills an agent must have (name → minimum
    # level), the capacity the conversation counts against, and the agent
    # preferred for it (the customer's last one)
    skills: dict[str, int] = Field(default_factory=dict)
    channel_kind: str = "chat"
    preferred_agent_id: str | None = None
    # told to the customer right away (the queue is closed: when it opens)
    notice: str | None = None
    # the automation (rules, bot) handed the conversation to people: the
    # customer is told what happens next (router.notices). False for a plain
    # inbox without rules, where people answer every conversation anyway
    handoff: bool = False


class Presence(StrEnum):
    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


class AgentPresence(_Model):
    agent_id: str
    presence: Presence = Presence.OFFLINE
    changed_at: Timestamp
    # since when the agent has had nothing new: the longest idle is offered first
    idle_since: Timestamp


class CustomerHistory(_Model):
    """The customer's earlier contacts, as routing rules see them."""

    total: int = 0  # conversations before this one
    recent: list[Timestamp] = Field(default_factory=list)  # their opening times, within the window asked
    last_agent_id: str | None = None  # who handled the latest one


class IdentityClaim(_Model):
    """A phone or email a customer gave but has not proven: never merges by
    itself (unless config says so), never reveals another profile's history."""

    id: str
    customer_id: str
    kind: str
    value: str
    source: str
    raw: str | None = None
    message_id: str | None = None
    created_at: Timestamp
    verified_at: Timestamp | None = None


class ClaimMatch(_Model):
    """An unproven claim of one customer (``claim.customer_id``) to a phone or
    email that a proven identity of another customer (the holder) has: a hint
    for agents only, until the claim is proven or an agent dismisses it."""

    claim: IdentityClaim
    claimant_name: str | None = None
    holder_id: str
    holder_name: str | None = None
    # the holder's proven identities with that key, e.g. ["whatsapp"]: where a code goes
    holder_channels: list[str] = Field(default_factory=list)


class MergeRecord(_Model):
    """One merge: ``merged_id`` folded into ``survivor_id``; undone when ``undone_at`` is set."""

    id: str
    survivor_id: str
    merged_id: str
    source: str
    actor: str | None = None
    reason: str
    created_at: Timestamp
    undone_at: Timestamp | None = None


class AuditEntry(_Model):
    id: str
    action: str
    customer_id: str
    other_customer_id: str | None = None
    source: str
    actor: str | None = None
    reason: str
    details: dict[str, Any] = Field(default_factory=dict)
    created_at: Timestamp


class Verification(_Model):
    """A one-time code sent to a claimed phone/email, to link it to the customer who claimed it."""

    id: str
    customer_id: str
    kind: str
    value: str
    # where the code went; "" when it went nowhere (the bot's offer for a key nobody can be reached by)
    channel: str
    status: Literal["pending", "verified", "failed", "expired", "declined"]
    attempts: int = 0
    sends: int = 1
    created_at: Timestamp
    last_sent_at: Timestamp
    expires_at: Timestamp
    verified_at: Timestamp | None = None
    # the claimant's conversation it belongs to; who started it (an agent's "Send code", or the bot's offer)
    conversation_id: str | None = None
    origin: Literal["agent", "bot"] = "agent"


class BotOutcome(_Model):
    """Why the bot stepped aside from a conversation: the bot facts routing
    decides the handoff with, kept in the handoff's trace for the agent."""

    reason: str  # router.bot.base.HandoffReason
    detail: str = ""
    intent: str | None = None
    confidence: float | None = None

    @property
    def failed(self) -> bool:
        return self.reason != "asked_for_human"
