"""Telegram: a bot through the Bot API, with aiogram 3 as the client.

Inbound by webhook (``POST /webhooks/telegram/{connector}``, authenticated by
the ``X-Telegram-Bot-Api-Secret-Token`` header) or by long polling
(``getUpdates``) where the service has no public address. On start the
connector sets or deletes the webhook to match ``mode``.

Only private chats are customer conversations: the customer's user id is both
their identity and the chat a reply goes to. Group updates are acknowledged
and logged.

How a Telegram message becomes an ``InboundMessage``:

- ``external_id`` is ``<chat_id>:<message_id>`` so a redelivered update is
  stored once; an edit is ``<chat_id>:<message_id>:edit:<edit_date>``, a new
  message flagged ``extras["edit_of"]`` (the original's external id) and
  ``extras["edited_at"]``, so it is neither deduped away nor a new conversation
  (a live location's moves are edits too: acknowledged, and not stored);
- photos, documents, voice, audio, video, stickers and locations become
  ``Attachment``s with the Telegram ``file_id`` in ``extras`` (file URLs carry
  the bot token, so none is stored); a message without words gets a short
  bracketed description as text (``[sticker 😀]``) so it reads as such;
- a contact the customer shares about *themselves* (the "share my phone"
  button, sent under ``OutboundMessage.ask_phone``) puts the number in
  ``InboundMessage.proven_phone``: Telegram vouches it is the sender's own, so it
  links at once; someone else's contact is kept in ``extras["shared_contact"]``
  and claims nothing.

Outbound text is sent with no ``parse_mode``: nothing an agent or a customer
writes is ever interpreted as Telegram markup.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import importlib
import itertools
import logging
import mimetypes
import os
import re
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import aiohttp
from aiohttp import web
from pydantic import Field, ValidationError, field_validator

from connectors.telegram_errors import delivery_error
from connectors.telegram_errors import reason as _reason
from connectors.telegram_inbound import (
    IDENTITY_KIND,
    NotAnUpdate,
    ReadUpdate,
    moves_a_location,
    read_inbound,
    read_update,
    update_kind,
)
from connectors.telegram_outbound import markup, media_source, topic_gone, topic_of
from connectors.telegram_rating import rating_of
from connectors.webhook import log_refusal, parse_json, read_body
from router.connector import (
    MAX_MEDIA_BYTES,
    WEBHOOK_PATIENCE,
    Cause,
    ChannelLabel,
    Connector,
    ConnectorHost,
    ConnectorOptions,
    FileUnavailable,
    HostFailed,
    HostUnavailable,
    MediaFile,
    MediaUnavailable,
    PermanentError,
    RateLimited,
    SendProgress,
    SendResult,
    TransientError,
    split_text,
)
from router.models import Attachment, OutboundMessage

if TYPE_CHECKING:  # at run time, _import_aiogram() imports them
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import PRODUCTION, TelegramAPIServer
    from aiogram.exceptions import (
        AiogramError,
        TelegramBadRequest,
        TelegramConflictError,
        TelegramForbiddenError,
        TelegramNotFound,
    )
    from aiogram.methods import GetUpdates
    from aiogram.types import (
        CallbackQuery,
        InputFile,
    )
    from aiogram.types import Message as TgMessage
    from aiogram.utils.token import TokenValidationError, validate_token

log = logging.getLogger(__name__)

__all__ = ["IDENTITY_KIND", "SECRET_HEADER", "TelegramConnector", "TelegramOptions"]
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]  # the last: rating buttons pressed
MAX_MESSAGE_LENGTH = 4096  # Bot API limit for sendMessage text
MAX_CAPTION_LENGTH = 1024
# sendPhoto takes photos up to 10 MB; a larger image goes as a document
MAX_PHOTO_BYTES = 10 * 1024**2
# a send that would wait longer than this for a rate-limit slot is handed
# back to the outbox as RateLimited instead of holding its send timeout
MAX_LIMIT_WAIT = 10.0
POLL_RETRY_SECONDS = 5.0
# how long the start waits for the Bot API's setWebhook / deleteWebhook; then it goes on without
START_PATIENCE = 5.0
REGISTER_RETRY_MAX = 300.0  # seconds at most between two tries of setting the webhook
_SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")

# aiogram's names this module uses, by module (as the TYPE_CHECKING imports above)
_AIOGRAM = {
    "aiogram": ("Bot",),
    "aiogram.client.session.aiohttp": ("AiohttpSession",),
    "aiogram.client.telegram": ("PRODUCTION", "TelegramAPIServer"),
    "aiogram.exceptions": (
        "AiogramError", "ClientDecodeError", "TelegramBadRequest", "TelegramConflictError", "TelegramForbiddenError",
        "TelegramMigrateToChat", "TelegramNetworkError", "TelegramNotFound", "TelegramRetryAfter",
        "TelegramServerError", "TelegramUnauthorizedError",
    ),
    "aiogram.methods": ("GetUpdates",),
    "aiogram.types": ("InputFile", "Update"),
    "aiogram.utils.token": ("TokenValidationError", "validate_token"),
}


def _import_aiogram() -> None:
    """aiogram builds hundreds of pydantic models when it is imported (a
    second and more of every start): only a Telegram connector that runs, or
    a token to check, pays for it. Its names become this module's globals,
    as the imports at the top of a module would make them."""
    if "Bot" in globals():
        return
    for module, names in _AIOGRAM.items():
        imported = importlib.import_module(module)
        globals().update({name: getattr(imported, name) for name in names})
    globals()["TgMessage"] = importlib.import_module("aiogram.types").Message


class TelegramOptions(ConnectorOptions):
    token_env: str = "OMNIROUTER_TELEGRAM_TOKEN"
    secret_token_env: str = "OMNIROUTER_TELEGRAM_SECRET"
    mode: Literal["webhook", "polling"] = "webhook"
    # the full webhook URL; by default server.public_url + /webhooks/telegram/<name>
    webhook_url: str | None = None
    polling_timeout: int = Field(25, ge=0, le=50)
    # Telegram's documented limits: about 1 message a second to one chat, 30 a second overall
    per_chat_per_second: float = Field(1.0, gt=0)
    per_bot_per_second: float = Field(30.0, gt=0)

    @field_validator("api_base")
    @classmethod
    def _api_base(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("api_base must be an http(s) URL such as http://localhost:8081")
        return value

    def disabled_reason(self) -> str | None:
        token = os.environ.get(self.token_env)
        if not token:
            return f"set {self.token_env} to the bot's token from @BotFather"
        _import_aiogram()
        try:
            validate_token(token)
        except TokenValidationError:
            return f"{self.token_env} is not a bot token (it looks like 123456789:AA...)"
        return None

    def start_error(self) -> str | None:
        # a webhook without a secret would take anyone's word for a customer's message
        if self.mode == "webhook" and not _SECRET_TOKEN.match(os.environ.get(self.secret_token_env, "")):
            return (f"mode webhook needs a secret: set {self.secret_token_env} to a random string of 1-256 "
                    "of A-Z, a-z, 0-9, _ and - (or use mode: polling)")
        return None

    def secret_envs(self) -> list[str]:
        return [self.token_env, self.secret_token_env]


# -- outbound ------------------------------------------------------------------------------


class _Limits:
    """Telegram's per-chat and per-bot message limits, as leaky buckets
    counted by the connector's ``pace``: in this process's memory, or in a
    cluster's database, where one bot's 30 a second are shared by every node."""

    def __init__(self, connector: Connector[Any], per_chat: float, per_bot: float) -> None:
        self._connector = connector  # its pace is given by the app factory after it is made
        self._name = connector.name
        self._per_chat = per_chat
        self._per_bot = per_bot

    async def slot(self, chat_id: int) -> None:
        pace = self._connector.pace
        try:
            async with asyncio.timeout(MAX_LIMIT_WAIT):
                await pace.slot(f"telegram:{self._name}:chat:{chat_id}", self._per_chat, 1, MAX_LIMIT_WAIT)
                await pace.slot(f"telegram:{self._name}", self._per_bot, max(1.0, self._per_bot), MAX_LIMIT_WAIT)
        except TimeoutError:
            raise RateLimited(1.0, "telegram: local rate limit") from None


class TelegramConnector(Connector[TelegramOptions]):
    type_name: ClassVar[str] = "telegram"
    # how customers and agents see the channel named; the section's ``label`` overrides it
    LABEL: ClassVar[ChannelLabel] = ChannelLabel(name={"ru": "Telegram", "en": "Telegram"},
                                           where={"ru": "в Telegram", "en": "on Telegram"})

    def default_label(self) -> ChannelLabel:
        return self.LABEL

    asks_phone: ClassVar[bool] = True  # the request-contact button; telegram_inbound proves its answer
    shows_typing: ClassVar[bool] = True  # sendChatAction "typing" (the Bot API tells bots nothing of users typing)
    rates_with_buttons: ClassVar[bool] = True  # an inline keyboard; telegram_rating reads the press

    def __init__(self, name: str, options: TelegramOptions, host: ConnectorHost) -> None:
        super().__init__(name, options, host)
        _import_aiogram()
        # in polling mode no secret is needed: there is no webhook route then
        self._secret = os.environ.get(options.secret_token_env, "") if options.mode == "webhook" else ""
        api = TelegramAPIServer.from_base(options.api_base) if options.api_base else PRODUCTION
        self.bot = Bot(os.environ.get(options.token_env, ""), session=AiohttpSession(api=api))
        self._limits = _Limits(self, options.per_chat_per_second, options.per_bot_per_second)
        self._poller: asyncio.Task[None] | None = None
        self._registrar: asyncio.Task[None] | None = None  # the webhook, set again after a failed start

    @property
    def webhook_path(self) -> str:
        return f"/webhooks/telegram/{self.name}"

    async def fetch_media(self, attachment: Attachment) -> MediaFile:
        """Telegram's file URLs carry the bot's token: the console relays the
        file instead of linking to it (getFile, then the download)."""
        file_id = attachment.extras.get("file_id")
        if not isinstance(file_id, str):
            raise MediaUnavailable("this attachment has no Telegram file")
        if (attachment.size or 0) > MAX_MEDIA_BYTES:
            raise MediaUnavailable(f"the file is larger than {MAX_MEDIA_BYTES // 2**20} MiB")
        # every reason below is in our words: the file's URL is /file/bot<token>/...,
        # and aiohttp's and aiogram's error texts carry it
        try:
            info = await self.bot.get_file(file_id)
            if not info.file_path:
                raise MediaUnavailable("Telegram gave no path for the file")
            body = (await self.bot.download_file(info.file_path, timeout=30)).read()  # type: ignore[union-attr]
        except (TelegramBadRequest, TelegramNotFound, TelegramForbiddenError) as exc:
            # the Bot API's own description of a JSON error ("Bad Request: invalid file_id")
            raise MediaUnavailable(f"Telegram refused the file: {exc.message}") from None
        except aiohttp.ClientResponseError as exc:
            raise MediaUnavailable(f"Telegram's file server answered HTTP {exc.status}") from None
        except (AiogramError, aiohttp.ClientError, TimeoutError) as exc:
            raise MediaUnavailable(f"Telegram could not be reached for the file ({type(exc).__name__})") from None
        guessed = mimetypes.guess_type(info.file_path)[0]
        return MediaFile(body, attachment.mime_type or guessed or "application/octet-stream")

    def webhook_url(self) -> str | None:
        if self.options.webhook_url:
            return self.options.webhook_url
        if self.public_url:
            return self.public_url.rstrip("/") + self.webhook_path
        return None

    # -- lifecycle -------------------------------------------------------------------
    async def __aenter__(self) -> TelegramConnector:
        if self.options.mode == "polling":
            await self._drop_webhook()
            # one getUpdates loop per bot in the whole cluster: a second one gets 409 Conflict
            self._poller = asyncio.create_task(self.leadership.run(f"telegram:{self.name}", self._poll),
                                               name=f"telegram-poll-{self.name}")
        elif not await self._register_webhook():
            # the start waits for the Bot API a few seconds at most: a stalled one held every
            # channel, the console and /healthz for aiogram's 60 s. It is tried again meanwhile
            self._registrar = asyncio.create_task(self._register_until_done(), name=f"telegram-webhook-{self.name}")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._registrar is not None:
            self._registrar.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._registrar
            self._registrar = None
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
        await self.bot.session.close()

    async def _register_webhook(self) -> bool:
        """Whether it is done (or not ours to do): False to try again later."""
        url = self.webhook_url()
        if url is None:
            log.warning("telegram %s: no server.public_url or webhook_url, so the webhook is not registered; "
                        "updates arrive only if it was set by hand", self.name)
            return True
        try:
            async with asyncio.timeout(START_PATIENCE):
                await self.bot.set_webhook(url, secret_token=self._secret, allowed_updates=ALLOWED_UPDATES)
        except (AiogramError, TimeoutError) as exc:
            # the service still starts: the other channels work, and this one is tried again
            log.error("telegram %s: setting the webhook to %s failed (tried again meanwhile): %s", self.name, url,
                      exc if str(exc) else f"no answer within {START_PATIENCE:g} s")
            return False
        log.info("telegram %s: webhook set to %s", self.name, url)
        return True

    async def _register_until_done(self) -> None:
        for attempt in itertools.count(1):
            await asyncio.sleep(min(REGISTER_RETRY_MAX, 2.0**attempt))
            if await self._register_webhook():
                return

    async def _drop_webhook(self) -> None:
        try:
            async with asyncio.timeout(START_PATIENCE):
                await self.bot.delete_webhook(drop_pending_updates=False)
        except (AiogramError, TimeoutError) as exc:
            log.error("telegram %s: deleting the webhook failed (polling will retry): %s", self.name, exc)

    # -- polling -----------------------------------------------------------------------
    async def _poll(self) -> None:
        log.info("telegram %s: long polling started", self.name)
        offset: int | None = None
        while True:
            try:
                updates = await self.bot(_raw_get_updates()(
                    offset=offset, timeout=self.options.polling_timeout, allowed_updates=ALLOWED_UPDATES,
                ), request_timeout=self.options.polling_timeout + 10)
                for raw in updates:
                    offset = await self._take(raw, offset)
            except TelegramConflictError:
                log.warning("telegram %s: a webhook is set, deleting it to poll", self.name)
                await self._drop_webhook()
                await asyncio.sleep(POLL_RETRY_SECONDS)
            except AiogramError as exc:
                log.warning("telegram %s: polling failed, retrying in %gs: %s", self.name, POLL_RETRY_SECONDS,
                            _reason(exc))
                await asyncio.sleep(POLL_RETRY_SECONDS)
            except HostUnavailable:  # an outage the router logs once: the update stays unconfirmed
                log.debug("telegram %s: the router is unavailable, retrying in %gs", self.name, POLL_RETRY_SECONDS)
                await asyncio.sleep(POLL_RETRY_SECONDS)
            except HostFailed as exc:  # logged by the router with its traceback: the update stays unconfirmed
                log.warning("telegram %s: storing an update failed, retrying in %gs: %s", self.name,
                            POLL_RETRY_SECONDS, exc.reason)
                await asyncio.sleep(POLL_RETRY_SECONDS)
            except Exception as exc:  # a fault of this connector's own: the poller outlives it
                self.own_fault(exc, "polling", POLL_RETRY_SECONDS)
                await asyncio.sleep(POLL_RETRY_SECONDS)

    async def _take(self, raw: Any, offset: int | None) -> int | None:
        """One polled update stored; the offset that confirms it (only once stored)."""
        try:
            read = read_update(raw, self.bot)
        except NotAnUpdate:
            # nothing to confirm it by: Telegram never sends one, so it is only skipped
            log.warning("telegram %s: a polled item without an update_id skipped", self.name)
            return offset
        await self.host.admission(self.name, None)  # over the lag bound: polls no faster than the pipeline takes
        await self._accept(read)
        return read.update_id + 1

    # -- webhook -------------------------------------------------------------------------
    def setup_routes(self, app: web.Application) -> None:
        # polling: no webhook at all, so nobody can post an update past the poller
        if self.options.mode == "webhook":
            app.router.add_post(self.webhook_path, self._webhook)

    async def _webhook(self, request: web.Request) -> web.Response:
        # the secret first: nothing of a stranger's body is read or parsed
        given = request.headers.get(SECRET_HEADER, "")
        if not self._secret or not hmac.compare_digest(given.encode(), self._secret.encode()):
            log_refusal(log, f"telegram {self.name}: secret", "telegram %s: webhook call with a missing or wrong "
                        "secret token from %s", self.name, request.remote)
            raise web.HTTPUnauthorized(text="wrong secret token")
        try:
            read = read_update(parse_json(await read_body(request)), self.bot)
        except NotAnUpdate:
            log.warning("telegram %s: malformed update refused: no integer update_id", self.name)
            raise web.HTTPBadRequest(text="malformed update: no integer update_id") from None
        # over the lag bound: HostBusy, a 503 with Retry-After, and Telegram delivers the update again
        await self.host.admission(self.name, WEBHOOK_PATIENCE)
        await self._accept(read)
        return web.Response(text="ok")

    async def _accept(self, read: ReadUpdate) -> None:
        """Store the customer's message of an update, read as far as it could
        be; anything else is acknowledged. Logs name updates, never their text."""
        if moves_a_location(read.raw):  # every few seconds while shared: DEBUG, not a line each at INFO
            log.debug("telegram %s: update %d moves a live location, not stored", self.name, read.update_id)
            return
        if read.unparsed:
            # the rest is stored with the raw update: a newer Bot API than aiogram's models
            log.warning("telegram %s: update %d read in part, kept raw; not understood: %s",
                        self.name, read.update_id, ", ".join(read.unparsed[:10]))
        if read.update is not None and read.update.callback_query is not None:
            await self._pressed(read.update_id, read.update.callback_query)
            return
        try:
            inbound = read_inbound(self.name, read)
        except ValidationError as exc:
            # acknowledged all the same: a redelivery could not fix it, and in
            # polling mode it would hold every update behind it. The fields, not their values
            fields = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors(include_input=False))
            log.error("telegram %s: update %d makes no valid message (%s), skipped", self.name, read.update_id, fields)
            return
        if inbound is None:
            kind = update_kind(read.update) if read.update is not None else "unreadable"
            log.info("telegram %s: update %d (%s) acknowledged and ignored: not a customer's private message",
                     self.name, read.update_id, kind)
            return
        accepted = await self.host.on_message(inbound)
        log.debug("telegram %s: update %d is message %s%s", self.name, read.update_id,
                  accepted.message_id, " (duplicate)" if accepted.duplicate else "")

    async def _pressed(self, update_id: int, query: CallbackQuery) -> None:
        """A button under one of our messages pressed: a rating is stored (a
        redelivery once), then the query is answered, so the customer's app
        stops waiting, and the keyboard taken away (one rating a survey)."""
        inbound = rating_of(self.name, query)
        if inbound is not None:
            accepted = await self.host.on_message(inbound)
            log.debug("telegram %s: a rating button is message %s%s", self.name, accepted.message_id,
                      " (duplicate)" if accepted.duplicate else "")
        else:
            log.info("telegram %s: update %d (callback_query) acknowledged and ignored: no rating of ours",
                     self.name, update_id)
        try:
            await self.bot.answer_callback_query(query.id)
            if inbound is not None:
                await self.bot.edit_message_reply_markup(chat_id=inbound.extras["chat_id"],
                                                         message_id=inbound.extras["message_id"], reply_markup=None)
        except AiogramError as exc:  # stored all the same: only the button's spinner or keyboard stays
            log.warning("telegram %s: answering a button press failed: %s", self.name, _reason(exc))

    # -- delivery ----------------------------------------------------------------------
    async def send(self, message: OutboundMessage, progress: SendProgress | None = None) -> SendResult:
        try:
            chat_id = int(message.recipient)
        except ValueError:
            raise PermanentError(f"telegram: {message.recipient!r} is not a chat id", Cause.NO_RECIPIENT) from None
        # the Bot API has no idempotency key: a message sent in parts (long
        # text, text + files) resumes after the parts the outbox knows went out
        progress = progress or SendProgress()
        calls = self._calls(chat_id, message)
        for step, call in enumerate(calls):
            if step < progress.done:
                continue
            await self._limits.slot(chat_id)
            try:
                sent = await call()
            except AiogramError as exc:
                raise delivery_error(exc) from exc
            await progress.part_sent(f"{chat_id}:{sent.message_id}", last=step == len(calls) - 1)
        return SendResult(external_id=progress.external_id)

    async def show_typing(self, recipient: str) -> None:
        """``sendChatAction`` "typing": Telegram shows it for about five seconds,
        or until the bot's next message. Best-effort: never paced as a message,
        never retried; a failure is logged at debug and dropped."""
        try:
            await self.bot.send_chat_action(int(recipient), "typing")
        except ValueError:
            log.debug("telegram %s: %r is not a chat id, no typing shown", self.name, recipient)
        except (AiogramError, aiohttp.ClientError, TimeoutError) as exc:
            log.debug("telegram %s: the typing action was not shown (%s)", self.name, type(exc).__name__)

    def _calls(self, chat_id: int, message: OutboundMessage) -> list[Callable[[], Awaitable[TgMessage]]]:
        """The Bot API calls for one message, in order, each made only after
        the previous one succeeded."""
        text = message.text
        media = [a for a in message.attachments if a.file is not None or media_source(a) is not None]
        # the phone button goes under a text of its own, its last part
        fits = (len(media) == 1 and len(text) <= MAX_CAPTION_LENGTH and message.ask_phone is None
                and message.rating is None)
        caption = text if fits else None
        sends: list[Callable[..., Awaitable[TgMessage]]] = []
        if caption is None:
            parts = split_text(text, MAX_MESSAGE_LENGTH) if text or not media else []
            for i, part in enumerate(parts):
                buttons = markup(message) if i == len(parts) - 1 else None
                sends.append(functools.partial(self.bot.send_message, chat_id, part, parse_mode=None,
                                               reply_markup=buttons))
        for attachment in media:
            sends.append(functools.partial(self._send_media, chat_id, attachment, caption))
            caption = None
        return [functools.partial(self._in_topic, send, topic_of(message)) for send in sends]

    async def _in_topic(self, send: Callable[..., Awaitable[TgMessage]], topic: int | None) -> TgMessage:
        """``send`` into the customer's topic; into the chat itself when Telegram no
        longer knows the topic: the answer reaches them all the same."""
        if topic is None:
            return await send()
        try:
            return await send(message_thread_id=topic)
        except TelegramBadRequest as exc:
            if not topic_gone(exc.message):
                raise
        log.info("telegram %s: a topic of a chat is gone, the reply goes to the chat itself", self.name)
        return await send()

    async def _send_media(self, chat_id: int, attachment: Attachment, caption: str | None,
                          message_thread_id: int | None = None) -> TgMessage:
        source: str | InputFile | None = media_source(attachment)
        photo = attachment.kind == "image"
        if attachment.file is not None:
            # a file of our own storage goes up as multipart (the Bot API's "photo"/"document" field)
            try:
                size, pieces = await self.files.stream(attachment)
            except FileUnavailable as exc:
                raise (TransientError if exc.transient else PermanentError)(f"telegram: {exc}") from exc
            # streamed from the storage to the Bot API, never whole in memory
            source = _streamed_file()(pieces, attachment.name or "file")
            photo = photo and size <= MAX_PHOTO_BYTES
        assert source is not None
        send = self.bot.send_photo if photo else self.bot.send_document
        return await send(chat_id, source, caption=caption or None, parse_mode=None,
                          message_thread_id=message_thread_id)


@functools.cache
def _streamed_file() -> Callable[[AsyncIterator[bytes], str], InputFile]:
    """An upload aiogram reads piece by piece from our file storage (its
    FSInputFile does the same from a path). Made on first use, as aiogram is."""
    _import_aiogram()

    class StreamedFile(InputFile):
        def __init__(self, pieces: AsyncIterator[bytes], filename: str) -> None:
            super().__init__(filename=filename)
            self._pieces = pieces

        async def read(self, bot: Bot) -> AsyncGenerator[bytes, None]:
            async for piece in self._pieces:
                yield piece

    return StreamedFile


@functools.cache
def _raw_get_updates() -> type[GetUpdates]:
    """getUpdates with each update left as JSON: aiogram validates a batch
    whole, so one update its models refuse failed every update with it, the
    offset never moved and the batch came again forever. Made on first use:
    aiogram is imported only when a Telegram connector runs."""
    _import_aiogram()

    class RawGetUpdates(GetUpdates):
        __returning__ = list[dict[str, Any]]

    return RawGetUpdates
