"""A satisfaction survey as stored: one per conversation at most."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from router.models import Timestamp

MAX_COMMENT_LENGTH = 2000


class Survey(BaseModel):
    """The question asked after a resolve, and the customer's answers.

    ``rating`` None: not rated (yet). ``closed_at``: typed answers are no
    longer read as answers (the customer wrote something else, or a bad
    number twice); a button may still rate it."""

    model_config = ConfigDict(extra="forbid")

    id: str
    conversation_id: str
    customer_id: str
    agent_id: str | None = None
    team: str | None = None
    channel: str
    language: str
    asked_at: Timestamp
    question_message_id: str | None = None
    rating: Annotated[int, Field(ge=1, le=5)] | None = None
    answered_at: Timestamp | None = None
    comment: Annotated[str, Field(max_length=MAX_COMMENT_LENGTH)] | None = None
    commented_at: Timestamp | None = None
    reasked: bool = False
    closed_at: Timestamp | None = None
