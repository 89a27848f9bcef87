"""What the notes slice speaks: a note and a mention of an agent in one."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from router.models import Timestamp

MAX_NOTE_LENGTH = 10_000
MAX_MENTIONS = 20  # agents notified by one note; a longer list is a paste, not a call for help


class Note(BaseModel):
    """A private note an agent wrote in a conversation: seen by agents only."""

    model_config = ConfigDict(extra="forbid")

    id: str
    conversation_id: str
    agent_id: str
    # the author's name as colleagues were shown it when it was written
    agent_name: str
    text: str
    created_at: Timestamp
    # the agents it mentions (and notifies), by id
    mentions: list[str] = Field(default_factory=list)


class Mention(BaseModel):
    """A note that mentions an agent, as their Mentions view lists it."""

    model_config = ConfigDict(extra="forbid")

    note: Note
    agent_id: str
    read_at: Timestamp | None = None
    # the conversation's customer, to say where it was written
    customer_id: str | None = None
    customer_name: str | None = None
