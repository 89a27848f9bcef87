"""A customer's last contact on each channel: when, and what it was about,
for the agent's panel at a glance (``Store.last_contacts``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

# the first words of a customer's message shown with their last contact
PREVIEW_CHARS = 80


class ChannelContact(BaseModel):
    """The customer's latest message on one channel (any of their identities there)."""

    channel: str
    at: datetime
    conversation_id: str | None
    message_id: str
    # the intent the bot answered that message with (None: it did not answer it)
    intent: str | None = None
    # the first words of the message (customer text: agents only)
    preview: str = Field("", max_length=PREVIEW_CHARS + 1)


def preview(text: str) -> str:
    """The first ``PREVIEW_CHARS`` characters, cut at a word, with an ellipsis when cut."""
    words = " ".join(text.split())
    if len(words) <= PREVIEW_CHARS:
        return words
    cut = words[:PREVIEW_CHARS].rsplit(" ", 1)[0] or words[:PREVIEW_CHARS]
    return cut + "…"


__all__ = ["PREVIEW_CHARS", "ChannelContact", "preview"]
