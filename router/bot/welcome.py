"""Show me you know me: a recognised customer back after a pause is greeted
by name, and told where they left off when their conversation is open.

Recognised means the identity they write from is verified (a code, or the
platform's own proof) and they wrote to us before. Invariant 9: an identity
linked without proof (an agent's merge, a claim merged by config) is never
greeted by name nor told anything of the other side; and what the greeting
says of the past comes only from messages of verified identities, as the
customer's history does (``Router.history``).

Every fact in the greeting is read from the store: when they last wrote
(babel's relative time), the channel they wrote from (its connector's
label) and what the bot answered them (its intent's topic). Without a known
topic the "about" part is left out; nothing is invented.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from babel.dates import format_timedelta

from router.bot.config import Intent, Messages, render
from router.connector import ChannelLabel
from router.conversations.store import MessageStore
from router.identity.phone_ask import proof_only
from router.identity.store import CustomerStore
from router.models import Author, Customer, Direction, IdentityRef, Message
from router.texts import localized

log = logging.getLogger(__name__)

# the customer's latest messages read for their previous contact
RECALL_LIMIT = 200
DEFAULT_PAUSE = timedelta(hours=4)

# a real name: words of letters (any script), joined by a space, hyphen, dot or
# apostrophe; no digits, no @, no underscores (a phone, an email, a token, a login)
_NAME = re.compile(r"^[^\W\d_]+(?:[ .'’-]{1,2}[^\W\d_]+){0,4}\.?$")
NAME_MAX = 60


class WelcomeStore(CustomerStore, MessageStore, Protocol):
    """What greeting a returning customer needs of the store."""


def real_name(display_name: str | None) -> str | None:
    """``display_name`` when it reads as a person's name, else None."""
    name = " ".join((display_name or "").split())
    if not name or len(name) > NAME_MAX or not _NAME.match(name):
        return None
    return name


@dataclass(frozen=True, slots=True)
class LeftOff:
    """Where a customer left off in their open conversation: facts only."""

    at: datetime
    channel: ChannelLabel
    intent: Intent | None = None


@dataclass(frozen=True, slots=True)
class Recall:
    """What the bot may say it knows of a returning customer."""

    name: str | None
    left_off: LeftOff | None = None


def _language(messages: Messages, language: str) -> str:
    """One of the languages the texts are written in (``language`` when it is)."""
    return language if language in messages.welcome_back else next(iter(messages.welcome_back))


def topic_text(intent: Intent, messages: Messages, language: str) -> str:
    if intent.topic is not None:
        return localized(intent.topic, language)
    return render(localized(messages.about_title, language), {"title": localized(intent.title, language)})


def greeting(recall: Recall, messages: Messages, language: str, now: datetime) -> str | None:
    """The words put before the bot's answer; None when there is nothing to
    say that shows we know them (no real name and nothing open)."""
    if recall.name is None and recall.left_off is None:
        return None
    lang = _language(messages, language)
    hello = (render(localized(messages.welcome_back, lang), {"name": recall.name}) if recall.name is not None
             else localized(messages.welcome_back_anonymous, lang))
    left = recall.left_off
    if left is None:
        return hello
    values = {
        "when": format_timedelta(left.at - now, add_direction=True, locale=lang),
        "where": localized(left.channel.where, lang),
    }
    if left.intent is not None:
        values["topic"] = topic_text(left.intent, messages, lang)
        template = messages.left_off
    else:
        template = messages.left_off_no_topic
    return f"{hello} {render(localized(template, lang), values)}"


def _answered_intent(after: list[Message], conversation_id: str) -> str | None:
    """The intent the bot answered right after the customer's message (the
    messages that followed it): an answer only, never a guess it handed off."""
    for m in after:
        if m.direction is Direction.IN:
            return None
        record = m.core.bot
        if (m.author is Author.BOT and m.conversation_id == conversation_id and isinstance(record, dict)
                and record.get("kind") == "answer" and isinstance(record.get("intent"), str)):
            return str(record["intent"])
    return None


class Greeter:
    """Reads what a bot turn may say it knows of the customer (``recall``)."""

    def __init__(
        self, store: WelcomeStore, identity_of: Callable[[IdentityRef], IdentityRef], messages: Messages,
        intents: Mapping[str, Intent], labels: Callable[[], Mapping[str, ChannelLabel]],
        pause: timedelta = DEFAULT_PAUSE,
    ) -> None:
        self.store = store
        self.identity_of = identity_of
        self.messages = messages
        self.intents = intents
        self.labels = labels
        self.pause = pause

    async def recall(
        self, conversation_id: str, customer: Customer, first: Message, earlier: list[Message] | None = None,
    ) -> Recall | None:
        """What may be said to ``customer``, whose message ``first`` opens a
        bot turn: None unless it comes from a verified identity at least
        ``pause`` after their previous message. ``earlier``: the
        conversation's messages before the turn, which the turn read already:
        a customer message among them within the pause ends it without a
        store read (the common case: a conversation under way)."""
        if first.sender is None or self._recent(first, earlier or []):
            return None
        linked = await self.store.customer_identities(customer.id)
        identity = self.identity_of(first.sender)
        if not any(i.ref == identity and i.verified for i in linked):
            return None
        allowed = {(i.ref.kind, i.ref.value) for i in linked if i.verified}
        messages = await self.store.customer_messages(customer.id, RECALL_LIMIT)
        cut = next((i for i, m in enumerate(messages) if m.id == first.id), len(messages))
        mine = [i for i in range(cut) if self._from(messages[i], allowed)]
        if not mine or first.created_at - messages[mine[-1]].created_at < self.pause:
            return None
        previous, after = messages[mine[-1]], messages[mine[-1] + 1:cut]
        unproven = any(not i.verified for i in linked)
        name = real_name(self._name(customer, messages[:cut + 1], allowed, unproven))
        if previous.conversation_id != conversation_id:  # their conversation was closed meanwhile
            return Recall(name)
        label = self.labels().get(previous.channel)
        if label is None:  # a channel no longer configured: no name to say it by
            return Recall(name)
        intent = _answered_intent(after, conversation_id)
        return Recall(name, LeftOff(previous.created_at, label, self.intents.get(intent) if intent else None))

    def _recent(self, first: Message, earlier: list[Message]) -> bool:
        return any(m.direction is Direction.IN and first.created_at - m.created_at < self.pause for m in earlier)

    def _from(self, message: Message, allowed: set[tuple[str, str]]) -> bool:
        """A customer's message (not a machine's, nor a platform's proof without words: a contact
        shared after a question is no new topic) from one of the ``allowed`` identities."""
        if message.direction is not Direction.IN or message.sender is None or message.core.automated:
            return False
        if proof_only(message):
            return False
        ref = self.identity_of(message.sender)
        return (ref.kind, ref.value) in allowed

    def _name(self, customer: Customer, messages: list[Message], allowed: set[tuple[str, str]],
              unproven: bool) -> str | None:
        """The profile's name when every identity linked to it is proven; else
        the name a verified identity's platform gave last: any message updates
        the profile's name, so with an identity linked without proof it may be
        the other side's (invariant 9)."""
        if not unproven:
            return customer.display_name
        for m in reversed(messages):
            name = m.core.sender_name
            if name and self._from(m, allowed):
                return name
        return None


__all__ = ["DEFAULT_PAUSE", "Greeter", "LeftOff", "Recall", "greeting", "real_name", "topic_text"]
