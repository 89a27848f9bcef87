"""The shapes the console API speaks: request bodies (strict: an unknown
field is an error, never silently dropped), query parameters and answers.
The OpenAPI document is generated from these same classes."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from router.agents.service import Permission
from router.identity.contacts import ChannelContact
from router.models import (
    MAX_TEXT_LENGTH,
    Agent,
    Attachment,
    AuditEntry,
    ChannelIdentity,
    ClaimMatch,
    ConversationView,
    Customer,
    IdentityClaim,
    MergeRecord,
    Message,
    Verification,
)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Query(BaseModel):
    # unknown query parameters are ignored: caches and proxies add their own
    model_config = ConfigDict(extra="ignore")


StatusFilter = Literal["open", "all", "bot", "queued", "assigned", "resolved"]


class LoginBody(Body):
    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class AttachmentIn(Body):
    """A file the platform fetches itself from its public URL."""

    url: Annotated[str, Field(max_length=2048, pattern=r"^https?://[^\s]+$",
                              description="an http(s) URL the platform can fetch")]
    kind: Literal["image", "document", "audio", "video"] = "document"
    name: Annotated[str | None, Field(max_length=256)] = None
    mime_type: Annotated[str | None, Field(max_length=128)] = None

    def attachment(self) -> Attachment:
        return Attachment(kind=self.kind, url=self.url, name=self.name, mime_type=self.mime_type)


class ReplyBody(Body):
    # sent with the text where the channel can (its caption), as links where it cannot;
    # declared first so that ``text`` is checked knowing whether there are any
    attachments: Annotated[list[AttachmentIn], Field(max_length=10)] = Field(default_factory=list)
    # files uploaded with POST /api/files, by id (router.files)
    files: Annotated[list[Annotated[str, Field(pattern=r"^file_[0-9a-f]{20}$")]], Field(max_length=10)] = Field(
        default_factory=list)
    text: Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_TEXT_LENGTH),
                    Field(validate_default=True)] = ""
    channel: Annotated[str | None, Field(
        min_length=1, max_length=64,
        description="one of the customer's linked channels; default: the channel they wrote from last",
    )] = None

    @field_validator("text")
    @classmethod
    def _text_or_files(cls, value: str, info: ValidationInfo) -> str:
        if not value and not info.data.get("attachments") and not info.data.get("files"):
            raise ValueError("a reply needs text or an attachment")
        if "\x00" in value:  # as a note refuses it: stored as written on SQLite, as U+FFFD on PostgreSQL
            raise ValueError("a reply cannot contain a NUL character")
        return value


class TemplateBody(Body):
    channel: Annotated[str | None, Field(
        min_length=1, max_length=64, description="default: the channel the customer wrote from last",
    )] = None


class AssignBody(Body):
    agent_id: str | None = None


class ResolveBody(Body):
    seen_message_id: str | None = Field(
        None, description="the last message the agent saw: the resolve is refused (409 unanswered_message) when "
                          "the customer wrote after it; without it, the conversation is resolved as it is")


class MeBody(Body):
    """The agent's own settings; a field left out stays as it is."""

    # null: follow the browser's language
    language: Literal["ru", "en"] | None = None


class AgentOut(BaseModel):
    agent: Agent


class MeOut(BaseModel):
    agent: Agent
    # what the agent's role may do (router.agents.service.GRANTS): the console shows and hides by it
    permissions: list[Permission]


class AgentList(BaseModel):
    agents: list[Agent]


class ConversationOut(BaseModel):
    conversation: ConversationView


class ConversationList(BaseModel):
    conversations: list[ConversationView]
    # the cursor of the next page; None when this one was the last
    next: str | None = None


class ConversationDetail(BaseModel):
    conversation: ConversationView
    customer: Customer


class MessageOut(BaseModel):
    message: Message


class MessageList(BaseModel):
    messages: list[Message]


class LastContact(ChannelContact):
    """The customer's last contact on a channel, named for people."""

    # the channel's name per language ("WhatsApp", "site chat"); the channel itself when none is configured
    label: dict[str, str]
    # the title of the intent the bot answered, per language
    topic: dict[str, str] | None = None


class CustomerDetail(BaseModel):
    customer: Customer
    identities: list[ChannelIdentity]
    conversations: list[ConversationView]
    # unverified phones/emails the customer gave, with where and when
    claims: list[IdentityClaim] = Field(default_factory=list)
    # merges the customer took part in, newest first (undo the newest first)
    merges: list[MergeRecord] = Field(default_factory=list)
    # channels they wrote from, most recent first: where a reply can go
    channels: list[str] = Field(default_factory=list)
    # their last contact on each channel, most recent first
    last_contacts: list[LastContact] = Field(default_factory=list)
    # claims that match another customer's proven key, this customer being the
    # claimant or the holder (agents only: a customer never sees them)
    matches: list[ClaimMatch] = Field(default_factory=list)


Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class MergeBody(Body):
    other_id: Annotated[str, Field(min_length=1, max_length=64, description="the customer folded into this one")]
    reason: Reason


class UnmergeBody(Body):
    reason: Reason


class MergeOut(BaseModel):
    merge: MergeRecord


class AuditList(BaseModel):
    entries: list[AuditEntry]


class VerificationOut(BaseModel):
    verification: Verification


class DismissBody(Body):
    reason: Reason = "not worth acting on"


class DismissOut(BaseModel):
    # the hints the dismissal hid: one per customer holding the claimed key
    dismissed: list[ClaimMatch]


class CustomerUpsertOut(BaseModel):
    customer: Customer
    created: bool


class ConversationQuery(Query):
    status: StatusFilter = Field("open", description="open = every status but resolved; all = every status")
    limit: int = Field(200, ge=1, le=1000, description="at most this many, most recently active first")
    assignee: Literal["me"] | None = Field(None, description="me = only the conversations assigned to me")
    cursor: str | None = Field(None, max_length=200, description="the previous page's `next`")


class MessagesQuery(Query):
    limit: int = Field(1000, ge=1, le=1000, description="the latest this many, oldest first")
