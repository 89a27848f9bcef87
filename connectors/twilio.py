"""WhatsApp and SMS through Twilio Programmable Messaging.

One class for both: the config section's ``flavour`` says which channel a
connector is (``whatsapp`` or ``sms``) and ``from_number`` /
``messaging_service_sid`` which sender it speaks as, so a deployment runs one
section per sender.

Inbound: ``POST /webhooks/twilio/{connector}``, form-encoded as Twilio sends
it, checked with twilio's ``RequestValidator`` against the *public* URL
(``public_url`` of the section, else ``server.public_url``: behind a proxy the
address we see is not the one Twilio signed). A bad or missing signature, or
another account's ``AccountSid``, is a 403 and stores nothing. The answer, an
empty TwiML ``<Response/>``, is sent only after the message is stored; a
redelivery (same ``MessageSid``) is stored once.

Delivery receipts: ``POST /webhooks/twilio/{connector}/status`` (signed the
same way) with ``MessageStatus`` and ``ErrorCode`` moves the outbound message
to sent / delivered / read / failed through ``ConnectorHost.on_delivery_status``.

Outbound: twilio's async client (``messages.create_async``), never blocking
the loop; ``api_base`` points it at another host (the local fake in tests).
Twilio's answers map onto the delivery error tree: 429 is ``RateLimited``
(``Retry-After`` honoured), 5xx and network trouble ``TransientError``, other
4xx (invalid number, unsubscribed, outside the WhatsApp window) a
``PermanentError`` with Twilio's code and a readable reason. Sends are paced
per sender (Twilio queues or fails what goes beyond a sender's throughput).

WhatsApp's customer-service window: the section's ``reply_window`` (24 hours
for WhatsApp) and ``window_template`` (an approved Content API template) are
told to the core through ``Connector.reply_window``, so a free-text reply
after the window is refused before it is sent, and the template offered.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import re
import time
from datetime import timedelta
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse

from connectors.twilio_errors import delivery_error, failure_reason
from connectors.twilio_form import Signatures, read_form
from connectors.twilio_inbound import MAX_MEDIA, MESSAGE_SID, WHATSAPP_PREFIX, BadPayload, to_inbound
from connectors.twilio_media import fetch_media as fetch_twilio_media
from connectors.webhook import log_refusal
from router.connector import (
    Cause,
    ChannelLabel,
    Connector,
    ConnectorHost,
    ConnectorOptions,
    DeliveryError,
    FileUnavailable,
    HostBusy,
    MediaFile,
    MediaUnavailable,
    PermanentError,
    RateLimited,
    ReplyWindow,
    SendProgress,
    SendResult,
    TransientError,
    retry_after,
    split_text,
    written_language,
)
from router.models import Attachment, Delivery, OutboundMessage, TemplateRequest

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Signature"
# Twilio's limit for one message's Body; longer text goes as several messages
MAX_BODY_LENGTH = 1600
# a send that would wait longer than this for the sender's pace is handed
# back to the outbox as RateLimited instead of holding its send timeout
MAX_LIMIT_WAIT = 10.0
HTTP_TIMEOUT = 20.0
# seconds an inbound message waits for room while the pipeline is over its lag bound, at
# most: the hold and then the pipeline's time (up to about twice the bound: the pressure's
# HEADROOM) must end within the 15 s Twilio waits for an answer (its webhooks' default read
# timeout), with a margin for the network
HOLD_SECONDS = 10.0
TWILIO_TIMEOUT = 15.0
HOLD_MARGIN = 1.0


def hold_seconds(lag_bound: float) -> float:
    """How long an inbound message may wait for room under ``server.lag_bound``."""
    return max(0.0, min(HOLD_SECONDS, TWILIO_TIMEOUT - 2 * lag_bound - HOLD_MARGIN))
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
_SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")
_CONTENT_SID = re.compile(r"^HX[0-9a-fA-F]{32}$")

# Twilio's MessageStatus values and the delivery state each means here;
# queued / accepted / scheduled / sending say nothing the outbox did not
STATUSES: dict[str, Delivery | None] = {
    "accepted": None, "scheduled": None, "queued": None, "sending": None,
    "sent": Delivery.SENT, "delivered": Delivery.DELIVERED, "read": Delivery.READ,
    "undelivered": Delivery.FAILED, "failed": Delivery.FAILED, "canceled": Delivery.FAILED,
    "receiving": None, "received": None, "partially_delivered": Delivery.DELIVERED,
}

class WindowTemplate(BaseModel):
    """A Content API template approved by WhatsApp, sent to re-open the window."""

    model_config = ConfigDict(extra="forbid")

    content_sid: str
    # shown to the agent and stored as the message's text (what the customer sees, roughly)
    text: str = Field(min_length=1, max_length=MAX_BODY_LENGTH)
    # template variables ({"1": "{customer_name}"}); {customer_name} and {agent_name} are filled in
    variables: dict[str, str] = Field(default_factory=dict)

    @field_validator("content_sid")
    @classmethod
    def _sid(cls, value: str) -> str:
        if not _CONTENT_SID.match(value):
            raise ValueError("content_sid is a Content API SID: HX followed by 32 hex digits")
        return value


class TwilioOptions(ConnectorOptions):
    flavour: Literal["whatsapp", "sms"]
    account_sid_env: str = "OMNIROUTER_TWILIO_ACCOUNT_SID"
    auth_token_env: str = "OMNIROUTER_TWILIO_AUTH_TOKEN"
    # the sender: a number in E.164 form, or a Messaging Service (its pool of senders)
    from_number: str | None = None
    messaging_service_sid: str | None = None
    # the public base URL Twilio calls (and signs); default: server.public_url
    public_url: str | None = None
    # ask for delivery receipts (needs a public URL Twilio can reach)
    status_callbacks: bool = True
    # per-sender pace; default: WhatsApp's 80 a second, a long code's 1 SMS a second
    messages_per_second: float | None = Field(None, gt=0)
    # how long after the customer's last message a free-text reply may go;
    # default: 24 hours for WhatsApp, none for SMS
    reply_window_hours: float | None = Field(None, gt=0)
    window_template: WindowTemplate | None = None

    @field_validator("api_base", "public_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL such as https://support.example.com")
        return value.rstrip("/") if value else value

    @field_validator("from_number", mode="before")
    @classmethod
    def _number_as_yaml_reads_it(cls, value: object) -> object:
        # YAML reads an unquoted +14155238886 as the integer 14155238886
        return f"+{value}" if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("from_number")
    @classmethod
    def _from(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.removeprefix(WHATSAPP_PREFIX).strip()
        if not _E164.match(value):
            raise ValueError("from_number is a phone number in E.164 form, such as +14155238886")
        return value

    @field_validator("messaging_service_sid")
    @classmethod
    def _service(cls, value: str | None) -> str | None:
        if value is not None and not _SERVICE_SID.match(value):
            raise ValueError("messaging_service_sid is MG followed by 32 hex digits")
        return value

    @model_validator(mode="after")
    def _one_sender(self) -> TwilioOptions:
        if (self.from_number is None) == (self.messaging_service_sid is None):
            raise ValueError("give the sender: either from_number or messaging_service_sid")
        if self.window_template is not None and self.window() is None:
            raise ValueError("window_template needs a reply window (reply_window_hours)")
        return self

    def window(self) -> timedelta | None:
        hours = self.reply_window_hours or (24.0 if self.flavour == "whatsapp" else None)
        return None if hours is None else timedelta(hours=hours)

    def pace(self) -> float:
        return self.messages_per_second or (80.0 if self.flavour == "whatsapp" else 1.0)

    def disabled_reason(self) -> str | None:
        sid = os.environ.get(self.account_sid_env, "")
        if not sid:
            return f"set {self.account_sid_env} to the Twilio account SID (AC...)"
        if not _ACCOUNT_SID.match(sid):
            return f"{self.account_sid_env} is not an account SID (AC followed by 32 hex digits)"
        return None

    def start_error(self) -> str | None:
        # the auth token signs Twilio's webhooks: without it nobody's request could be checked
        if not os.environ.get(self.auth_token_env):
            return f"set {self.auth_token_env} to the Twilio account's auth token (it signs Twilio's webhooks)"
        return None

    def secret_envs(self) -> list[str]:
        return [self.auth_token_env]


# -- the HTTP client -------------------------------------------------------------------------


class _HttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]  # twilio ships no types
    """twilio's aiohttp client, pointed at ``api_base`` when one is set, with
    a timeout, and a 429 raised with its ``Retry-After`` (twilio's exception
    drops the headers)."""

    def __init__(self, api_base: str | None) -> None:
        super().__init__(timeout=HTTP_TIMEOUT)
        self._base = urlsplit(api_base) if api_base else None

    # twilio's interface, timeout included
    async def request(
        self, method: str, url: str, params: dict[str, object] | None = None,
        data: dict[str, object] | None = None, headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None, timeout: float | None = None,  # noqa: ASYNC109
        allow_redirects: bool = False,
    ) -> TwilioResponse:
        if self._base is not None:
            parts = urlsplit(url)
            prefix = self._base.path.rstrip("/")
            url = urlunsplit((self._base.scheme, self._base.netloc, prefix + parts.path, parts.query, ""))
        if auth is not None:
            # aiohttp deprecates its BasicAuth, which twilio would build from ``auth``
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            headers = {**(headers or {}), "Authorization": f"Basic {token}"}
        response: TwilioResponse = await super().request(
            method, url, params=params, data=data, headers=headers, auth=None,
            timeout=timeout or HTTP_TIMEOUT, allow_redirects=allow_redirects,
        )
        if response.status_code == 429:
            raise RateLimited(retry_after(response.headers.get("Retry-After")), "twilio: too many requests")
        return response


# the answer to every inbound message, rendered once (an ElementTree per message was ~9 µs of each webhook)
_EMPTY_TWIML = str(MessagingResponse())


def empty_twiml() -> web.Response:
    return web.Response(text=_EMPTY_TWIML, content_type="text/xml")


# -- outbound --------------------------------------------------------------------------------


# WhatsApp's media limits (Twilio's "Accepted content types for media"): 5 MB an image, 16 MB other media
IMAGE_LIMIT = 5 * 1000**2
MEDIA_LIMIT = 16 * 1000**2


def _media_limit(a: Attachment) -> int:
    return IMAGE_LIMIT if (a.mime_type or "").startswith("image/") else MEDIA_LIMIT


def _media_url(a: Attachment) -> str | None:
    return a.url if a.url and a.url.startswith(("http://", "https://")) else None


# a file without a name, in the words of the message it goes with (the customer reads it)
_FILE_WORDS = {"image": ("фото", "image"), "video": ("видео", "video"), "audio": ("аудио", "audio"),
               "sticker": ("стикер", "sticker")}


def _fallback_text(message: OutboundMessage) -> str:
    """What the channel cannot show goes as words: a location, a file without a URL."""
    lines = [message.text] if message.text else []
    russian = (written_language(message.text) or "ru") == "ru"
    for a in message.attachments:
        if _media_url(a) is not None:
            continue
        if a.kind == "location" and "latitude" in a.extras:
            lat, lon = a.extras["latitude"], a.extras["longitude"]
            lines.append(f"📍 {a.extras.get('label') or a.extras.get('address') or ''} "
                         f"https://maps.google.com/?q={lat},{lon}".replace("  ", " "))
        else:
            words = _FILE_WORDS.get(a.kind, ("файл", "file"))
            lines.append(f"[{a.name or words[0 if russian else 1]}]")
    return "\n".join(lines)


# how customers and agents see each flavour named; the section's ``label`` overrides it
_LABELS: dict[str, ChannelLabel] = {
    "whatsapp": ChannelLabel(name={"ru": "WhatsApp", "en": "WhatsApp"},
                             where={"ru": "в WhatsApp", "en": "on WhatsApp"}),
    "sms": ChannelLabel(name={"ru": "SMS", "en": "SMS"}, where={"ru": "по SMS", "en": "by SMS"}),
}


class TwilioConnector(Connector[TwilioOptions]):
    type_name: ClassVar[str] = "twilio"

    def __init__(self, name: str, options: TwilioOptions, host: ConnectorHost) -> None:
        super().__init__(name, options, host)
        self.account_sid = os.environ.get(options.account_sid_env, "")
        self._signatures = Signatures(os.environ.get(options.auth_token_env, ""))
        self._http: _HttpClient | None = None
        self._client: Client | None = None
        self._waiting = 0
        self._turns_until = 0.0  # time.monotonic() of the last turn promised to a send sent back

    @property
    def webhook_path(self) -> str:
        return f"/webhooks/twilio/{self.name}"

    def base_url(self) -> str | None:
        base = self.options.public_url or self.public_url
        return base.rstrip("/") if base else None

    def default_label(self) -> ChannelLabel:
        return _LABELS[self.options.flavour]

    def reply_window(self) -> ReplyWindow | None:
        length = self.options.window()
        if length is None:
            return None
        template = self.options.window_template
        return ReplyWindow(length=length, template_text=template.text if template else None)

    # -- lifecycle ---------------------------------------------------------------------------
    async def __aenter__(self) -> TwilioConnector:
        self._http = _HttpClient(self.options.api_base)
        self._client = Client(self.account_sid, self._signatures.token, http_client=self._http)
        if self.base_url() is None:
            log.warning("twilio %s: no public_url or server.public_url: signatures are checked against the "
                        "address requests arrive at, which fails behind a proxy; no delivery receipts", self.name)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._http is not None:
            await self._http.close()
        self._http = self._client = None

    async def fetch_media(self, attachment: Attachment) -> MediaFile:
        url = attachment.extras.get("media_url")
        if not isinstance(url, str):
            raise MediaUnavailable("this attachment has no Twilio media URL")
        return await fetch_twilio_media(url, self.account_sid, self._signatures.token, self.options.api_base)

    # -- webhooks ---------------------------------------------------------------------------------
    def setup_routes(self, app: web.Application) -> None:
        app.router.add_post(self.webhook_path, self._inbound)
        app.router.add_post(self.webhook_path + "/status", self._status)

    async def _signed_form(self, request: web.Request) -> dict[str, str]:
        """The form, once it is proven to come from Twilio for our account; 403 otherwise."""
        base = self.base_url()
        url = base + request.path_qs if base else str(request.url)
        signature = request.headers.get(SIGNATURE_HEADER, "")
        # without a signature, refused before a byte of the body is read; a body not in UTF-8 (or ASCII), too
        pairs = await read_form(request) if signature else None
        if pairs is None or not self._signatures.valid(url, pairs, signature):
            log_refusal(log, f"twilio {self.name}: signature", "twilio %s: request with a missing or wrong %s "
                        "from %s refused (signed for %s?)", self.name, SIGNATURE_HEADER, request.remote, url)
            raise web.HTTPForbidden(text="invalid signature")
        fields = dict(pairs)  # a repeated name: its last value, as a MultiDict's items made it before
        if fields.get("AccountSid") != self.account_sid:
            log.warning("twilio %s: signed request for another account %r refused", self.name,
                        fields.get("AccountSid"))
            raise web.HTTPForbidden(text="wrong account")
        return fields

    async def _inbound(self, request: web.Request) -> web.Response:
        form = await self._signed_form(request)
        try:
            inbound = to_inbound(self.name, self.options.flavour, form)
        except BadPayload as exc:  # our words, about ids and addresses
            log.warning("twilio %s: malformed message refused: %s", self.name, exc)
            raise web.HTTPBadRequest(text=f"malformed message: {exc}") from None
        except ValidationError as exc:
            # which fields, never their values: a validation error quotes the customer's words
            fields = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors(include_input=False))
            log.warning("twilio %s: malformed message refused: %s", self.name, fields)
            raise web.HTTPBadRequest(text=f"malformed message: {fields}") from None
        try:
            await self.host.admission(self.name, hold := hold_seconds(self.host.lag_bound))
        except HostBusy:
            # Twilio calls a refused message's fallback URL and never delivers it again: held, then taken all the same
            log.info("twilio %s: the pipeline is still over its lag bound after %g s, taking %s anyway", self.name,
                     hold, inbound.external_id)
        accepted = await self.host.on_message(inbound)
        log.debug("twilio %s: %s is message %s%s", self.name, inbound.external_id, accepted.message_id,
                  " (duplicate)" if accepted.duplicate else "")
        return empty_twiml()

    async def _status(self, request: web.Request) -> web.Response:
        form = await self._signed_form(request)
        sid = form.get("MessageSid") or form.get("SmsSid") or ""
        status = form.get("MessageStatus") or form.get("SmsStatus") or ""
        if not MESSAGE_SID.match(sid) or status not in STATUSES:
            log.warning("twilio %s: malformed status callback refused: %r %r", self.name, sid, status)
            raise web.HTTPBadRequest(text="MessageSid and a known MessageStatus are required")
        state = STATUSES[status]
        if state is not None:
            error = None
            if state is Delivery.FAILED:
                error = failure_reason(form.get("ErrorCode") or None, form.get("ErrorMessage") or status)
            await self.host.on_delivery_status(self.name, sid, state, error)
        return web.Response(status=204)

    # -- delivery ----------------------------------------------------------------------------------
    def _address(self, number: str) -> str:
        return WHATSAPP_PREFIX + number if self.options.flavour == "whatsapp" else number

    def _sender(self) -> dict[str, Any]:
        if self.options.messaging_service_sid:
            return {"messaging_service_sid": self.options.messaging_service_sid}
        assert self.options.from_number is not None
        return {"from_": self._address(self.options.from_number)}

    def _callback(self) -> dict[str, Any]:
        base = self.base_url()
        if not self.options.status_callbacks or base is None:
            return {}
        return {"status_callback": f"{base}{self.webhook_path}/status"}

    def _requests(self, message: OutboundMessage) -> list[dict[str, Any]]:
        """The Messages.json calls for one message, in order."""
        if message.template is not None:
            return [self._template(message.template)]
        media = [u for a in message.attachments if (u := _media_url(a)) is not None][:MAX_MEDIA]
        parts = split_text(_fallback_text(message), MAX_BODY_LENGTH)
        calls: list[dict[str, Any]] = [{"body": p} for p in parts if p]
        # WhatsApp carries one media a message (Twilio ignores the others): each further one goes alone
        per_message = 1 if self.options.flavour == "whatsapp" else MAX_MEDIA
        first, rest = media[:per_message], media[per_message:]
        if first:
            # the pictures go with the last part (Twilio sends Body as their caption)
            if calls:
                calls[-1]["media_url"] = first
            else:
                calls.append({"media_url": first})
        calls.extend({"media_url": [url]} for url in rest)
        return calls or [{"body": ""}]

    def _template(self, wanted: TemplateRequest) -> dict[str, Any]:
        template = self.options.window_template
        if template is None:
            raise PermanentError(f"twilio: connector {self.name} has no window_template configured")
        values = {"customer_name": wanted.customer_name, "agent_name": wanted.agent_name}
        variables = {k: v.format_map(values) for k, v in template.variables.items()}
        request: dict[str, Any] = {"content_sid": template.content_sid}
        if variables:
            request["content_variables"] = json.dumps(variables, ensure_ascii=False)
        return request

    async def send(self, message: OutboundMessage, progress: SendProgress | None = None) -> SendResult:
        if self._client is None:
            raise TransientError(f"twilio: connector {self.name} is not running")
        recipient = message.recipient.removeprefix(WHATSAPP_PREFIX)
        if not _E164.match(recipient):
            raise PermanentError(f"twilio: {message.recipient!r} is not a phone number in E.164 form",
                                 Cause.NO_RECIPIENT)
        # a long text goes in parts; a retry resumes after those the outbox knows went out
        progress = progress or SendProgress()
        requests = self._requests(await self._linked(message))
        for step, request in enumerate(requests):
            if step < progress.done:
                continue
            await self._slot()
            try:
                created = await self._client.messages.create_async(
                    to=self._address(recipient), **self._sender(), **self._callback(), **request)
            except DeliveryError:  # RateLimited from the HTTP client
                raise
            except TwilioRestException as exc:
                raise delivery_error(exc) from exc
            except (aiohttp.ClientError, TimeoutError, TwilioException) as exc:
                # our words: the HTTP client's text carries the URL it called
                raise TransientError(f"twilio: the API could not be reached ({type(exc).__name__})") from exc
            log.debug("twilio %s: message %s part %d is %s", self.name, message.message_id, step, created.sid)
            await progress.part_sent(created.sid or None, last=step == len(requests) - 1)
        return SendResult(external_id=progress.external_id)

    async def _linked(self, message: OutboundMessage) -> OutboundMessage:
        """Files of our own storage as MediaUrls Twilio fetches: signed links to
        this service that expire (no login needed for them, and nothing else).
        SMS carries no files outside the US and Canada (MMS): there the link
        goes in the text instead."""
        base = self.base_url()
        if base is None or not any(a.file for a in message.attachments):
            return message
        linked, links = [], []
        for attachment in message.attachments:
            if attachment.file is None:
                linked.append(attachment)
                continue
            try:
                url = base + await self.files.link(attachment)
            except FileUnavailable as exc:
                raise (TransientError if exc.transient else PermanentError)(f"twilio: {exc}") from exc
            if self.options.flavour == "sms" or (attachment.size or 0) > _media_limit(attachment):
                # SMS carries no files; WhatsApp refuses media over its limit: the link goes in the text
                links.append(f"{attachment.name or attachment.kind}: {url}")
            else:
                linked.append(attachment.model_copy(update={"url": url}))
        text = "\n".join([message.text, *links]) if message.text else "\n".join(links)
        return message.model_copy(update={"attachments": linked, "text": text})

    async def _slot(self) -> None:
        """Wait for the sender's next slot. When more sends wait than the pace
        lets through within MAX_LIMIT_WAIT, the newcomer goes back to the
        outbox at once, told when its turn would come, so a burst (a notice
        to many customers) spreads out instead of timing out together."""
        pace = self.options.pace()
        if self._waiting >= pace * MAX_LIMIT_WAIT:
            # each one sent back gets its own later turn, after those waiting and those sent back before it
            now = time.monotonic()
            self._turns_until = max(self._turns_until, now + self._waiting / pace) + 1 / pace
            raise RateLimited(round(self._turns_until - now, 3), f"twilio: sender pace of {pace:g}/s")
        self._waiting += 1
        try:
            async with asyncio.timeout(MAX_LIMIT_WAIT + 1 / pace):
                await self.pace.slot(f"twilio:{self.name}", pace, 1, MAX_LIMIT_WAIT + 1 / pace)
        except TimeoutError:
            raise RateLimited(1 / pace, f"twilio: sender pace of {pace:g}/s") from None
        finally:
            self._waiting -= 1
