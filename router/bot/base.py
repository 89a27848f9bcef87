"""The bot contract: given a customer's new message in a conversation the bot
owns, answer it, ask one short clarifying question, or step aside.

A bot never writes to the store and never decides a queue: it returns a
``BotReply``; ``router.bot.desk`` enqueues its texts through the outbox (only
while the conversation is still the bot's) or hands the conversation to the
routing rules with the reply's reason.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType
from typing import Any, Self

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from router.bot.choices import Choice
from router.human_request import HumanRequest
from router.language import Language, choose_language
from router.models import Author, Customer, Message


class BotError(Exception):
    """A bot could not produce a reply (a broken external bot, a bad answer)."""


class ReplyKind(StrEnum):
    ANSWER = "answer"
    CLARIFY = "clarify"
    HANDOFF = "handoff"
    # a greeting or a bot command (/start) greeted back: it asked nothing yet, and is no topic
    GREETING = "greeting"
    # a thanks that asks nothing more, answered with a "you're welcome": no topic either
    THANKS = "thanks"
    # a goodbye with no thanks («Всё, пока»), said back: no topic either
    GOODBYE = "goodbye"


class HandoffReason(StrEnum):
    """Why the bot stepped aside; routing sees it as the ``bot_reason`` fact."""

    ASKED_FOR_HUMAN = "asked_for_human"
    LOW_CONFIDENCE = "low_confidence"
    REPEATED = "repeated"
    UNCLEAR = "unclear"  # still ambiguous after a clarifying question
    BOT_FAILED = "bot_failed"  # an error, a timeout, a malformed or empty answer


_CHOICES = TypeAdapter(list[Choice])


class Candidate(BaseModel):
    intent: str
    score: float


class BotReply(BaseModel):
    """What the bot made of one customer message."""

    kind: ReplyKind
    texts: list[str] = Field(default_factory=list)
    intent: str | None = None
    confidence: float = 0.0
    candidates: list[Candidate] = Field(default_factory=list)
    reason: HandoffReason | None = None
    # for people: what the bot understood, shown with the handoff
    detail: str = ""
    language: str | None = None
    # the options its texts offered as a numbered list (an external bot's buttons): a typed pick of
    # one is read as that option in the next turn, the record kept with the message says which
    choices: list[Choice] = Field(default_factory=list)

    @classmethod
    def handoff(cls, reason: HandoffReason, detail: str, **more: Any) -> BotReply:
        return cls(kind=ReplyKind.HANDOFF, reason=reason, detail=detail, **more)

    def record(self) -> dict[str, Any]:
        """Kept with the bot's message (``Message.core.bot``): what it understood,
        and the choices it offered, if any (read back by ``BotTurn.offered``)."""
        record: dict[str, Any] = {
            "kind": self.kind.value, "intent": self.intent, "confidence": round(self.confidence, 3),
            "candidates": [c.model_dump() for c in self.candidates[:3]], "language": self.language,
        }
        if self.choices:
            record["choices"] = [c.model_dump() for c in self.choices]
        return record


@dataclass(frozen=True, slots=True)
class BotTurn:
    """One customer message for the bot, with the conversation so far."""

    conversation_id: str
    customer: Customer
    text: str
    # the conversation's earlier messages, oldest first (not including this one)
    history: list[Message] = field(default_factory=list)
    # what the channel knows of the customer's language (``core.language``: Telegram's app's, the site page's)
    hint: str | None = None

    def language(self) -> Language:
        """What to answer in: "1" after the bot's «Уточните…» is Russian (``router.language``)."""
        return choose_language(self.text, self.customer, reversed(self.history), self.hint)

    def last_bot_record(self) -> dict[str, Any] | None:
        """What the bot made of the previous customer message, if it answered it."""
        for message in reversed(self.history):
            if message.author is Author.BOT and message.core.bot is not None:
                return message.core.bot
            if message.author is Author.AGENT:
                return None  # a person spoke since: the bot starts afresh
        return None

    def offered(self) -> list[Choice]:
        """The choices the bot's last answer offered, until its next answer
        (none once a person spoke since, or when what is kept is unreadable)."""
        last = self.last_bot_record()
        if last is None or not last.get("choices"):
            return []
        try:
            return _CHOICES.validate_python(last["choices"])
        except ValidationError:
            return []

    def previous_customer_text(self) -> str | None:
        for message in reversed(self.history):
            if message.author is Author.CUSTOMER:
                return message.text
        return None


class Bot(ABC):
    """A bot's lifecycle is an async context manager (an HTTP session for an
    external bot); ``respond`` never raises for a customer's input, only
    ``BotError`` when the bot itself is broken."""

    name: str = "bot"
    # the "ask for a person" vocabulary it steps aside on. The app points it
    # at the routing's (rules.yaml's phrases with bot.yaml's), so a reloaded
    # rules file reaches the bot too, and the two never disagree
    vocabulary: Callable[[], HumanRequest]

    def person_requested(self, turn: BotTurn) -> BotReply | None:
        """A handoff when the turn's words ask for a person, else None."""
        phrase = self.vocabulary().find(turn.text)
        if phrase is None:
            return None
        return BotReply.handoff(HandoffReason.ASKED_FOR_HUMAN, f"the customer asked for a person ({phrase!r})",
                                language=turn.language())

    @property
    def readiness(self) -> str:
        """For /healthz: "ready", or "starting" while it warms up (turns wait
        for it meanwhile), or "failed" (turns go to people)."""
        return "ready"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    @abstractmethod
    async def respond(self, turn: BotTurn) -> BotReply: ...


def fixed_vocabulary(phrases: list[str]) -> Callable[[], HumanRequest]:
    """The built-in vocabulary with ``phrases``, for a bot on its own (no rules.yaml)."""
    vocabulary = HumanRequest(phrases)
    return lambda: vocabulary


class NoBot(Bot):
    """No bot.yaml: a conversation that rules send to the bot goes to people
    at once, never left silent."""

    name = "none"

    async def respond(self, turn: BotTurn) -> BotReply:
        return BotReply.handoff(HandoffReason.BOT_FAILED, "no bot is configured (config/bot.yaml)")


__all__ = [
    "Bot", "BotError", "BotReply", "BotTurn", "Candidate", "HandoffReason", "NoBot", "ReplyKind", "fixed_vocabulary",
]
