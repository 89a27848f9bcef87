"""The canned replies' value types. Plain data, importing no store, so the
store's protocol can name them."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from router.models import Timestamp
from router.texts import Language


class Scope(StrEnum):
    TEAM = "team"  # shared by a team of teams.yaml; written by admins
    PERSONAL = "personal"  # an agent's own; only they see and write it


class CannedReply(BaseModel):
    """A stored reply. ``owner`` is the team's name or the agent's id, as
    ``scope`` says; ``texts`` has the text in one language or both."""

    model_config = ConfigDict(extra="forbid")

    id: str
    scope: Scope
    owner: str
    shortcut: str
    title: str
    texts: dict[Language, str]
    created_by: str | None = None
    created_at: Timestamp
    updated_at: Timestamp


class Source(StrEnum):
    PERSONAL = "personal"
    TEAM = "team"
    BOT = "bot"  # an answer of the bot's (config/bot.yaml): offered, never written here


class Listed(BaseModel):
    """A reply as the management screen lists it: whether this agent may
    change it, and which personal reply of theirs hides it from their list."""

    reply: CannedReply
    editable: bool
    shadowed_by: str | None = None


class Offer(BaseModel):
    """A reply offered in a conversation's composer: its text in the
    language chosen for this customer (not filled yet; the bot's as the bot
    would say it), and the variables this customer has no value for."""

    id: str
    source: Source
    team: str | None = None
    shortcut: str
    title: str
    text: str
    language: Language
    missing: list[str] = []


class Expanded(BaseModel):
    """A reply filled in for a conversation: what goes into the reply box."""

    id: str
    text: str
    language: Language
    # the customer's language, when known and the reply has no text in it
    wanted_language: Language | None = None
