"""What the router knows of a stored file."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from router.controls import MAX_FILE_NAME_LENGTH
from router.files.config import INLINE_TYPES
from router.kinds import AttachmentKind
from router.models import Attachment, Timestamp

MAX_NAME_LENGTH = MAX_FILE_NAME_LENGTH


class StoredFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    name: Annotated[str, Field(min_length=1, max_length=MAX_NAME_LENGTH)]
    # sniffed from the bytes, never the uploader's claim
    content_type: str
    size: int
    sha256: str
    # "agent:<id>" or "<channel>:customer"
    uploaded_by: str
    created_at: Timestamp

    @property
    def inline(self) -> bool:
        """Shown in the page (an image); anything else only downloads."""
        return self.content_type in INLINE_TYPES

    @property
    def kind(self) -> AttachmentKind:
        family = self.content_type.split("/", 1)[0]
        if self.inline:
            return "image"
        return "audio" if family == "audio" else "video" if family == "video" else "document"

    def attachment(self) -> Attachment:
        """How a message refers to it (the outbox entry carries this, not the bytes)."""
        return Attachment(kind=self.kind, file=self.id, name=self.name, mime_type=self.content_type, size=self.size)
