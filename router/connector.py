"""The contract between the core and a platform connector.

A connector turns platform payloads into ``InboundMessage`` and hands them to
``ConnectorHost.on_message``; it delivers ``OutboundMessage`` in ``send``. It
never imports the store, the rules or the router: everything it needs from the
core comes through ``ConnectorHost``.

The contract is the core's (the outbox, ingest and the console speak it);
``connectors/`` holds its implementations, one module per platform, which
only the composition root (``router/server/``) instantiates.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Generic, Protocol, Self, TypeAlias, TypeVar, get_args, get_origin

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from router import language, texts
from router.cluster.contract import AlwaysLead, Leadership, LocalPace, SendPace

# the delivery error tree a send raises, part of this contract: the outbox decides from the type
from router.delivery_errors import Cause as Cause  # noqa: PLC0414
from router.delivery_errors import DeliveryError as DeliveryError  # noqa: PLC0414
from router.delivery_errors import PermanentError as PermanentError  # noqa: PLC0414
from router.delivery_errors import RateLimited as RateLimited  # noqa: PLC0414
from router.delivery_errors import RecipientAway as RecipientAway  # noqa: PLC0414
from router.delivery_errors import TransientError as TransientError  # noqa: PLC0414
from router.delivery_errors import retry_after as retry_after  # noqa: PLC0414
from router.delivery_errors import with_cause as with_cause  # noqa: PLC0414
from router.fetch import GuardedFetcher
from router.models import Attachment, Delivery, IdentityRef, InboundMessage, Message, OutboundMessage
from router.redaction import textless_traceback

log = logging.getLogger(__name__)

# the types of a connector's option people read in their language (a greeting)
Language: TypeAlias = texts.Language
Localized: TypeAlias = texts.Localized
LabelText = dict[Language, str]
# a text given in both languages, and which of them a text of the service's is in (the subject of
# a mail that answers none: in the language of its words)
localized = texts.localized
ru_en = texts.ru_en
written_language = language.written_language


@dataclass(frozen=True, slots=True)
class ChannelLabel:
    """How a channel is named to people, per language: ``name`` on its own
    ("WhatsApp", «чат на сайте»), ``where`` after "you wrote to us"
    («в чате на сайте», "in the site chat": Russian declines it)."""

    name: LabelText
    where: LabelText


@dataclass(frozen=True, slots=True)
class Availability:
    """Whether people answer now, for a chat's status line: "online" must not
    be read as "someone is there" after hours. ``opens_at`` is when the
    office opens next while it is closed (None: not closed, or never opens)."""

    people_now: bool
    opens_at: datetime | None = None


class LabelOption(BaseModel):
    """A connector section's ``label``: both forms, in at least one language."""

    model_config = ConfigDict(extra="forbid")

    name: LabelText = Field(min_length=1)
    where: LabelText = Field(min_length=1)


class ConnectorOptions(BaseModel):
    """Base of every connector's config section. Unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")

    api_base: str | None = None
    # how customers and agents see the channel named (default: the connector type's own)
    label: LabelOption | None = None

    def disabled_reason(self) -> str | None:
        """Why the connector cannot run yet (a secret's environment variable is
        not set), or None. Such a connector is switched off, not an error, so a
        fresh install starts with whatever is configured."""
        return None

    def start_error(self) -> str | None:
        """Why the connector, configured to run (``disabled_reason`` is None),
        must not start: a webhook that could not authenticate its callers.
        The service then refuses to start and says so."""
        return None

    def secret_envs(self) -> list[str]:
        """The environment variables holding this connector's secrets (tokens,
        webhook secrets, passwords): their values are redacted from every log
        line and error."""
        return []


@dataclass(frozen=True, slots=True)
class Accepted:
    """The router's answer to ``on_message``: the message is durably stored."""

    message_id: str
    conversation_id: str | None
    duplicate: bool
    created_at: datetime


# --- the host's error tree: what ``ConnectorHost``'s calls may raise. A
# connector catches ``HostError`` (or one of its two kinds) and nothing
# broader: whatever went wrong inside the core reaches it as one of these ---


class HostError(Exception):
    """The host could not do what a connector asked (store a message, read a
    history, record a receipt): nothing of the call was stored, so the
    platform must not be told "received". ``reason`` says why, in words fit
    for a log line (never the customer's text)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class HostUnavailable(HostError):
    """An outage (its store is down: a full disk, read-only files), logged
    once by the core as it starts and as it ends. A webhook lets it propagate
    (the server answers 503 and the platform delivers again); a connector
    that pulls messages tries again later."""


# seconds a webhook waits for room over the lag bound before its 503: short (the platform waits), but it
# queues and takes turns with the patient senders (pressure.py HURRIED), never finding room without
WEBHOOK_PATIENCE = 2.0


class HostBusy(HostUnavailable):
    """The pipeline is over its lag bound (``server.lag_bound``): the message
    was not taken, so that those already taken reach the agents in time.
    ``retry_after`` is how many seconds the sender is asked to wait. A webhook
    lets it propagate (the server answers 503 with Retry-After, and the
    platform delivers again); a connector that can wait instead (a poller,
    the site chat) waits in ``ConnectorHost.admission``."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"overloaded: the pipeline is over its lag bound, retry in {retry_after} s")
        self.retry_after = retry_after


class HostFailed(HostError):
    """This call failed for another reason (the store refused the write, a
    bug in the core), already logged by the host with its traceback. The
    same as an outage to the platform: a webhook lets it propagate (the
    server answers 500, and the platform delivers again), a poller leaves
    the message unconfirmed and tries again later, the site chat answers an
    error frame. A connector logs it without a traceback."""


class ConnectorHost(Protocol):
    """What the core offers a connector."""

    async def on_message(self, message: InboundMessage) -> Accepted:
        """Store and route ``message``. ``HostUnavailable`` when it could not
        be stored now (an outage), ``HostFailed`` when it could not be stored
        for another reason; never any other exception."""
        ...

    @property
    def lag_bound(self) -> float: ...  # server.lag_bound: about how long an admitted message takes through

    async def admission(self, channel: str, patience: float | None) -> None:
        """Room for a message in the pipeline: returns at once while it is
        under its lag bound, else waits for room up to ``patience`` seconds
        (None: as long as it takes) and raises ``HostBusy`` if there is still
        none. Called right before ``on_message``, with nothing awaited
        between, so the message is counted before anyone else is let in. A
        webhook passes ``WEBHOOK_PATIENCE`` (then the platform retries), a poller None (it simply
        takes no more meanwhile), the site chat a while (its ack waits)."""
        ...

    async def history(self, sender: IdentityRef, limit: int) -> list[Message]:
        """What the customer writing as ``sender`` may see; raises only ``HostError``."""
        ...

    async def on_delivery_status(
        self, channel: str, external_id: str, state: Delivery, error: str | None = None
    ) -> None:
        """A platform's receipt for a message sent as ``external_id``
        (``SendResult.external_id``): delivered, read, or failed with the
        reason the agent is shown. Late or repeated receipts are harmless.
        Raises only ``HostError``: the platform should report it again."""
        ...

    async def secret(self, name: str) -> bytes:
        """A stable per-installation secret (for signing tokens); raises only ``HostError``."""
        ...

    async def cursor(self, key: str) -> str | None:
        """Where a poller's reading of a platform's feed got to (a long poll's
        ``ts``), as it last saved it with ``save_cursor``; None before then.
        Kept in the store, which every node shares: whoever polls next (the
        node that takes over, this one after a restart) resumes there, and
        what the platform queued meanwhile is read, not skipped. Raises only
        ``HostError``: the poller must not start from the platform's "now"."""
        ...

    async def save_cursor(self, key: str, value: str) -> None:
        """Keep ``value`` as ``key``'s position: saved once every item
        before it was stored (``on_message`` returned), never ahead of one.
        Raises only ``HostError``; the position is saved again later."""
        ...

    async def availability(self, customer: IdentityRef | None = None) -> Availability:
        """Whether people answer the customers now, else when they will: for
        ``customer`` (who writes as this identity), the team their open
        conversation is routed to, the one that will answer them; before it
        is routed (or without ``customer``), the default route's. Raises only
        ``HostError``."""
        ...

    async def reached(self, channel: str, recipient: str, message_ids: list[str]) -> None:
        """These messages to ``recipient`` are in front of them now (the site
        chat pushed one to a socket, or a returning visitor's history shows
        them): each still waiting (``RecipientAway``) or pending is marked
        sent. Raises only ``HostError``: it stays waiting, and the next
        return marks it."""
        ...


class Peers(Protocol):
    """The other nodes of a cluster (``router.cluster``), for a connector whose
    clients hold a connection to one node: the site chat's sockets. What one
    node ``broadcast``s on a topic reaches every other node's handlers of it,
    once each, in order; never the console."""

    clustered: bool

    def broadcast(self, topic: str, data: dict[str, Any]) -> None: ...

    def signal(self, topic: str, data: dict[str, Any]) -> None:
        """As ``broadcast``, for what is stale in seconds (someone typing):
        cheaper, never stored, and lost for a node that is away meanwhile."""
        ...

    def on(self, topic: str, handler: Callable[[dict[str, Any]], Awaitable[None]]) -> None: ...


class CustomerSignals(Protocol):
    """What a connector tells the core of its customers besides messages
    (``router.signals``): live and best-effort, never stored. Neither call
    raises: what cannot be done now is logged at debug and dropped."""

    async def customer_typing(self, channel: str, sender: IdentityRef) -> None:
        """``sender`` is typing now (agents see it for a few seconds)."""
        ...

    async def seen_message(self, channel: str, sender: IdentityRef) -> str | None:
        """The id of ``sender``'s last message once an agent has read it, else None."""
        ...


class NoSignals:
    """A connector on its own (tests, tools): nobody is told."""

    async def customer_typing(self, channel: str, sender: IdentityRef) -> None:
        return None

    async def seen_message(self, channel: str, sender: IdentityRef) -> str | None:
        return None


class LonePeers:
    """One node: nobody else to tell."""

    clustered = False

    def broadcast(self, topic: str, data: dict[str, Any]) -> None:
        return None

    def signal(self, topic: str, data: dict[str, Any]) -> None:
        return None

    def on(self, topic: str, handler: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        return None


@dataclass(frozen=True, slots=True)
class SendResult:
    external_id: str | None = None


RecordProgress = Callable[[int, str | None], Awaitable[None]]


class SendProgress:
    """How far a message that goes out in several platform calls (a long
    text in parts, a text and its files) got. The outbox keeps it durably, so
    a retry, even after a restart, resumes after the parts already delivered
    and none reaches the customer twice (no platform API here takes an
    idempotency key for it).

    A connector skips the first ``done`` calls of its plan (which must come
    out the same for the same message) and reports each call that succeeded
    with ``part_sent`` before it makes the next one. ``external_id`` is the
    platform's id of the latest part delivered, kept for the send's result."""

    def __init__(self, done: int = 0, external_id: str | None = None, record: RecordProgress | None = None) -> None:
        self.done = done
        self.external_id = external_id
        self._record = record

    async def part_sent(self, external_id: str | None, *, last: bool) -> None:
        """One more part delivered. Stored before the next part goes; not for
        the last one, whose success the send's result records anyway."""
        self.done += 1
        if external_id is not None:
            self.external_id = external_id
        if not last and self._record is not None:
            await self._record(self.done, self.external_id)


def split_text(text: str, limit: int) -> list[str]:
    """A text over a platform's length limit as several messages, each cut at
    a line break where one falls in the second half of the limit."""
    parts: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        cut = cut + 1 if cut > limit // 2 else limit
        parts.append(text[:cut])
        text = text[cut:]
    if text or not parts:
        parts.append(text)
    return parts


# what the console relays of one file: platforms cap bot downloads near this anyway
MAX_MEDIA_BYTES = 20 * 1024 * 1024


class MediaUnavailable(Exception):
    """A customer's file cannot be fetched (the channel keeps none, the
    platform refused, it is too large); the message says why, in our words."""


@dataclass(frozen=True, slots=True)
class MediaFile:
    body: bytes
    content_type: str


class NothingToFetch(MediaUnavailable):
    """The channel keeps no customer's files behind its credentials: there is nothing of it to relay
    (no platform failed; the console's relay answers 404, not 502)."""


class FileUnavailable(MediaUnavailable):
    """A file of the router's own storage (``Attachment.file``) that cannot be
    read: gone (``transient`` False: dead-letter), or the storage is down
    (True: the outbox tries again later)."""

    def __init__(self, reason: str, transient: bool = False) -> None:
        super().__init__(reason)
        self.transient = transient


class FileRefused(Exception):
    """An upload the router does not keep (too large, a type not allowed, bytes
    that are not what their name says): nothing of it is stored. ``status``
    and ``code`` are the HTTP answer's; ``details`` the values its message names."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}


class FileAccess(Protocol):
    """The router's file storage, as a connector sees it (``Connector.files``):
    it saves what a customer uploads, reads what an agent attached, and links
    to a file for a platform that fetches it itself (Twilio's MediaUrl)."""

    @property
    def max_bytes(self) -> int:
        """The size limit of an upload, for a client to check before it sends a byte."""
        ...

    async def save(self, chunks: AsyncIterator[bytes], name: str, declared_type: str | None,
                   uploaded_by: str) -> Attachment:
        """Keep an upload; ``FileRefused`` (nothing kept) or ``FileUnavailable``."""
        ...

    async def read(self, attachment: Attachment) -> MediaFile:
        """A stored file's bytes and sniffed type; ``FileUnavailable``."""
        ...

    async def link(self, attachment: Attachment) -> str:
        """A path (``/api/files/<id>/signed?expires=…&sig=…``) that fetches the file
        without a login until it expires; prefix it with the public URL."""
        ...

    async def stream(self, attachment: Attachment) -> tuple[int, AsyncIterator[bytes]]:
        """A stored file's size and its bytes in pieces, never whole in memory;
        ``FileUnavailable`` here, before the first piece is handed out."""
        ...

    async def discard(self, attachment: Attachment) -> None:
        """Delete a file just saved that no message will refer to (its message
        was not stored, or was a retry's duplicate); never raises."""
        ...


class NoFiles:
    """A connector outside an app (tests of a connector alone): no storage."""

    @property
    def max_bytes(self) -> int:
        return 0

    async def save(self, chunks: AsyncIterator[bytes], name: str, declared_type: str | None,
                   uploaded_by: str) -> Attachment:
        raise FileUnavailable("no file storage is configured", transient=True)

    async def read(self, attachment: Attachment) -> MediaFile:
        raise FileUnavailable("no file storage is configured", transient=True)

    async def link(self, attachment: Attachment) -> str:
        raise FileUnavailable("no file storage is configured", transient=True)

    async def stream(self, attachment: Attachment) -> tuple[int, AsyncIterator[bytes]]:
        raise FileUnavailable("no file storage is configured", transient=True)

    async def discard(self, attachment: Attachment) -> None:
        return None


@dataclass(frozen=True, slots=True)
class ReplyWindow:
    """A channel where a free-text reply may go only for a while after the
    customer's last message (WhatsApp's 24-hour customer-service window).
    After it, only a pre-approved template may be sent (``template_text`` is
    what it says, None when none is configured)."""

    length: timedelta
    template_text: str | None = None


RouteRegistrar = Callable[[web.Application], None]

OptionsT = TypeVar("OptionsT", bound=ConnectorOptions)


class Connector(ABC, Generic[OptionsT]):
    """One platform account (a bot, a community, a number, a mailbox).

    A connector names its options model once, as the type argument
    (``class TelegramConnector(Connector[TelegramOptions])``): its config
    section is parsed with that model and ``self.options`` is typed as it.

    Lifecycle: ``async with connector:`` starts pollers or webhooks and stops
    them on exit; ``setup_routes`` is called before the app starts so webhook
    connectors can mount their handlers.
    """

    type_name: ClassVar[str]
    # set from the type argument by __init_subclass__: the two cannot disagree
    options_model: ClassVar[type[ConnectorOptions]] = ConnectorOptions
    # the address platforms reach this service at (server.public_url), for
    # connectors that register their webhook URL with the platform
    public_url: str | None = None
    # every fetch of a URL a user gave (an agent's file) goes through it; the
    # app factory gives each connector one with the admin's allowlist and limits
    fetcher: GuardedFetcher = GuardedFetcher()
    # the router's file storage (agents' attachments, visitors' uploads); the app factory gives it
    files: FileAccess = NoFiles()
    # runs a poller once per cluster (``leadership.run(key, job)``); the app factory gives
    # each connector the node's, and a connector on its own (one node) always leads
    leadership: Leadership = AlwaysLead()
    # the other nodes of a cluster; the app factory gives each connector the node's
    peers: Peers = LonePeers()
    # sends ``OutboundMessage.ask_phone`` as a button whose answer the platform
    # proves is the customer's own number (``InboundMessage.proven_phone``)
    asks_phone: ClassVar[bool] = False
    # live signals (router.signals): the channel can show its customer that an agent
    # types (``show_typing``) and that an agent has seen their message (``show_seen``)
    shows_typing: ClassVar[bool] = False
    shows_seen: ClassVar[bool] = False
    # where the connector reports its customers typing; the app factory gives each connector the node's
    signals: CustomerSignals = NoSignals()
    # sends ``OutboundMessage.rating`` as buttons whose press comes back as ``InboundMessage.rating``
    rates_with_buttons: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for base in getattr(cls, "__orig_bases__", ()):
            if get_origin(base) is Connector:
                (model,) = get_args(base)
                if isinstance(model, type) and issubclass(model, ConnectorOptions):
                    cls.options_model = model

    def __init__(self, name: str, options: OptionsT, host: ConnectorHost) -> None:
        if not isinstance(options, self.options_model):
            # said here, not as an AttributeError deep in a connector's own set-up
            raise TypeError(f"{type(self).__name__} {name!r} needs {self.options_model.__name__}, "
                            f"not {type(options).__name__} (parse its section with parse_options)")
        self.name = name
        self.options: OptionsT = options
        self.host = host
        # where the platform's send limits are counted: this process's memory, unless
        # the app factory gives every connector the cluster's (counted in the database)
        self.pace: SendPace = LocalPace()

    @classmethod
    def parse_options(cls, raw: dict[str, Any]) -> ConnectorOptions:
        return cls.options_model.model_validate(raw)

    def setup_routes(self, app: web.Application) -> None:
        """Mount this connector's HTTP handlers (webhooks, widgets)."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    def default_label(self) -> ChannelLabel:
        """The type's own name for the channel (``label`` of the section overrides it)."""
        return ChannelLabel(name={"ru": self.type_name, "en": self.type_name},
                            where={"ru": f"в {self.type_name}", "en": f"on {self.type_name}"})

    def own_fault(self, exc: Exception, doing: str, retry_in: float) -> None:
        """A fault of the connector's own (an update of a shape nobody
        foresaw), met by a loop that must outlive it: a poller that died would
        stop the channel without a word. Logged with its frames but not its
        words (they may quote a customer); the loop then retries, the platform's
        item still unconfirmed."""
        log.error("%s %s: %s hit a fault of its own, retrying in %gs\n%s", self.type_name, self.name, doing,
                  retry_in, textless_traceback(exc))

    def channel_label(self) -> ChannelLabel:
        given = self.options.label
        return self.default_label() if given is None else ChannelLabel(name=given.name, where=given.where)

    def reply_window(self) -> ReplyWindow | None:
        """The channel's reply window, if it has one. An outbound message with
        ``template`` set asks the connector to send its template."""
        return None

    async def close_clients(self) -> None:
        """Close live client connections on shutdown (websockets, long polls)."""

    async def show_typing(self, recipient: str) -> None:
        """An agent is typing to ``recipient`` (``shows_typing``). Ephemeral and
        best-effort: never through the outbox, never retried, and it never
        raises (a failure is logged at debug and dropped)."""
        return None

    async def show_seen(self, recipient: str, message_id: str) -> None:
        """An agent has seen ``recipient``'s message ``message_id`` (``shows_seen``);
        best-effort as ``show_typing``."""
        return None

    async def fetch_media(self, attachment: Attachment) -> MediaFile:
        """A customer's file that has no public URL (the platform keeps it
        behind the bot's credentials), for the console to relay to an agent.
        ``MediaUnavailable`` when this channel cannot (``NothingToFetch``: it keeps none)."""
        raise NothingToFetch(f"{self.type_name} keeps no files to fetch")

    @abstractmethod
    async def send(self, message: OutboundMessage, progress: SendProgress | None = None) -> SendResult:
        """Deliver one message or raise a ``DeliveryError`` subclass. A message
        sent in several calls resumes after ``progress.done`` of them and
        reports each one delivered (``SendProgress``); None: from the start,
        nothing kept."""


OnMessage = Callable[[InboundMessage], Awaitable[Accepted]]
