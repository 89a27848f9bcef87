"""VK: a community's messages through the VK API, with vk-api as the client.

Inbound by the Callback API (``POST /webhooks/vk/{connector}``: the
``confirmation`` event is answered with the configured code, every other
event must carry the configured ``secret`` and is answered with the text
``ok``) or by Bots Long Poll where the service has no public address.

Only a user's dialogue with the community is a customer conversation: the
user id is both their identity and the ``peer_id`` a reply goes to.

How a VK message becomes an ``InboundMessage``:

- ``external_id`` is ``<peer_id>:<conversation_message_id>``; VK redelivers an
  event it got no ``ok`` for with the same message, so a retry is stored once;
  an edit (``message_edit``) is ``<peer_id>:<cmid>:edit:<update_time>``, flagged
  ``extras["edit_of"]`` and ``extras["edited_at"]`` as for Telegram;
- photos, documents, audio messages, stickers and a shared place become
  ``Attachment``s (URLs and VK ids in ``extras``); a message without words gets
  a bracketed description (``[sticker]``);
- the sender's name comes from ``users.get``, batched and cached, and never
  holds a message back for long: without it the message is stored nameless.

vk-api is synchronous, so every call runs in a worker thread, paced for a
community token (20 requests a second) by vk-api's own lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import hmac
import logging
import os
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any, ClassVar, Literal, TypeVar
from urllib.parse import urlsplit

import aiohttp
import requests
import vk_api
from aiohttp import web
from jconfig.memory import MemoryConfig
from pydantic import Field

from connectors.vk_errors import RATE_CODES, delivery_error
from connectors.vk_inbound import (
    IDENTITY_KIND,
    MAX_QUOTES,
    customer_message,
    quoted_senders,
    to_inbound,
    typing_user,
)
from connectors.vk_names import Names
from connectors.vk_upload import one_piece, upload_document, upload_photo
from connectors.webhook import log_refusal, parse_json, read_body_with_secret
from router.connector import (
    WEBHOOK_PATIENCE,
    Cause,
    ChannelLabel,
    Connector,
    ConnectorHost,
    ConnectorOptions,
    FileUnavailable,
    HostBusy,
    HostFailed,
    HostUnavailable,
    PermanentError,
    RateLimited,
    SendProgress,
    SendResult,
    TransientError,
    split_text,
)
from router.fetch import FetchRefused
from router.models import Attachment, IdentityRef, OutboundMessage

log = logging.getLogger(__name__)

PRODUCTION_API = "https://api.vk.ru"
API_VERSION = "5.199"
# VK's limit for a community token is 20 requests a second
COMMUNITY_RPS = 20
REQUEST_TIMEOUT = 20.0
# an upload: as requests' timeout, to connect and between two reads (a large file may take longer in all)
UPLOAD_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=REQUEST_TIMEOUT, sock_read=REQUEST_TIMEOUT)
MAX_MESSAGE_LENGTH = 4096
POLL_RETRY_SECONDS = 5.0
MAX_LIMIT_WAIT = 10.0  # a send that would wait longer for the cluster's pace goes back to the outbox
# vk-api paces calls under one lock, so more threads would only wait there;
# our own pool keeps them from taking the loop's default executor
WORKER_THREADS = 4
# users.get goes through a client and a thread of its own, paced to at most this share of
# requests_per_second (taken off the sends'): behind the sends' queue (the outbox hands over
# up to outbox.batch at once, 20 a second) a sender's name took longer than NAME_WAIT, and a
# burst of replies left every VK customer writing meanwhile nameless in the console
NAMES_PER_SECOND = 1.0

T = TypeVar("T")


def busy_response(exc: HostBusy) -> web.Response:
    """Over the lag bound: 503 (any answer but "ok" makes the Callback API deliver again) with
    Retry-After as a date, as the vksdk SDK reads it: VK's own docs say nothing of it, a hint at best."""
    when = datetime.now(UTC) + timedelta(seconds=exc.retry_after)
    return web.Response(status=503, text="overloaded", headers={"Retry-After": format_datetime(when, usegmt=True)})


class VkOptions(ConnectorOptions):
    token_env: str = "OMNIROUTER_VK_TOKEN"
    secret_env: str = "OMNIROUTER_VK_SECRET"
    mode: Literal["callback", "longpoll"] = "callback"
    # the community's id: the long poll needs it, the Callback API checks it
    group_id: int | None = Field(None, gt=0)
    # the string VK shows under Callback API → "String to be returned"
    confirmation_code: str | None = None
    api_version: str = API_VERSION
    requests_per_second: float = Field(COMMUNITY_RPS, gt=0)
    longpoll_wait: int = Field(25, ge=1, le=90)

    def disabled_reason(self) -> str | None:
        if not os.environ.get(self.token_env):
            return f"set {self.token_env} to a community token with the messages right"
        return None

    def start_error(self) -> str | None:
        # a Callback API without its secret key would take anyone's word for a customer's message
        if self.mode == "callback" and not os.environ.get(self.secret_env):
            return (f"mode callback needs the Callback API secret key: set {self.secret_env} "
                    "(or use mode: longpoll)")
        if self.mode == "callback" and not self.confirmation_code:
            return "mode callback needs confirmation_code, the string VK's Callback API settings show"
        if self.mode == "longpoll" and self.group_id is None:
            return "mode longpoll needs group_id, the community's id"
        return None

    def secret_envs(self) -> list[str]:
        return [self.token_env, self.secret_env]


# -- the client --------------------------------------------------------------------


class _ApiSession(requests.Session):
    """Sends vk-api's calls to ``api_base`` (vk-api hardcodes api.vk.ru), and
    never waits forever: a hung request would hold a worker thread."""

    def __init__(self, api_base: str | None) -> None:
        super().__init__()
        self.api_base = api_base.rstrip("/") if api_base else None

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        url = url.decode() if isinstance(url, bytes) else url
        if self.api_base and url.startswith(PRODUCTION_API):
            url = self.api_base + url[len(PRODUCTION_API):]
        kwargs.setdefault("timeout", REQUEST_TIMEOUT)
        return super().request(method, url, *args, **kwargs)


class _VkApi(vk_api.VkApi):  # type: ignore[misc]  # vk-api has no type information
    """vk-api with community-token pacing, and 'too many requests' handed
    back to the outbox instead of vk-api's sleep-and-retry in our thread."""

    def __init__(self, token: str, options: VkOptions, per_second: float) -> None:
        super().__init__(token=token, api_version=options.api_version,
                         session=_ApiSession(options.api_base), config=MemoryConfig)
        self.RPS_DELAY = 1.0 / per_second

    def too_many_rps_handler(self, error: vk_api.ApiError) -> None:
        raise error


VK_PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/gif"})


def random_id(message_id: str, part: int = 0) -> int:
    """The same positive int32 for every try of one message (or one part of
    it): VK drops a repeated random_id, so a retry after a lost answer, or of
    a long message cut short, sends nothing twice."""
    key = message_id if part == 0 else f"{message_id}:{part}"
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") & 0x7FFFFFFF


class MalformedAnswer(Exception):
    """VK's long poll answered something that is not what its documentation
    says: the poll is tried again, as after a network failure."""


@dataclass
class _Position:
    """Where a long poll is: ``ts`` is the next a_check's (every event before
    it is stored), ``saved`` the one the host keeps, ``server`` (with its key)
    from ``groups.getLongPollServer``; ``loaded`` once the host was asked."""

    loaded: bool = False
    ts: str | None = None
    saved: str | None = None
    server: dict[str, Any] | None = None


def _long_poll_server(answer: Any) -> dict[str, Any]:
    """``groups.getLongPollServer``'s answer, checked: the three fields a poll needs."""
    if not isinstance(answer, dict) or not all(k in answer for k in ("server", "key", "ts")):
        raise MalformedAnswer("groups.getLongPollServer answered without server, key and ts")
    return answer


# -- the connector ---------------------------------------------------------------------------


class VkConnector(Connector[VkOptions]):
    type_name: ClassVar[str] = "vk"
    # how customers and agents see the channel named; the section's ``label`` overrides it
    LABEL: ClassVar[ChannelLabel] = ChannelLabel(name={"ru": "ВКонтакте", "en": "VK"},
                                           where={"ru": "во ВКонтакте", "en": "on VK"})

    def default_label(self) -> ChannelLabel:
        return self.LABEL


    # messages.setActivity "typing"; and a user typing to the community (message_typing_state) is told
    shows_typing: ClassVar[bool] = True

    def __init__(self, name: str, options: VkOptions, host: ConnectorHost) -> None:
        super().__init__(name, options, host)
        self._secret = os.environ.get(options.secret_env, "")
        token = os.environ.get(options.token_env, "")
        names_rate = min(NAMES_PER_SECOND, options.requests_per_second / 4)
        self._rate = options.requests_per_second - names_rate  # the sends' and the other calls'
        self.vk = _VkApi(token, options, self._rate)
        self._names_vk = _VkApi(token, options, names_rate)
        self._names_thread = ThreadPoolExecutor(1, thread_name_prefix=f"vk-{name}-names")
        self._names = Names(self._names_call, names_rate)
        self._poller: asyncio.Task[None] | None = None
        self._threads = ThreadPoolExecutor(WORKER_THREADS, thread_name_prefix=f"vk-{name}")

    async def _in_thread(self, func: Callable[..., T], *args: Any) -> T:
        # vk-api blocks (requests, and time.sleep for pacing): never on the loop
        return await asyncio.get_running_loop().run_in_executor(self._threads, functools.partial(func, *args))

    async def _call(self, method: str, values: dict[str, Any]) -> Any:
        return await self._in_thread(self.vk.method, method, values)

    async def _names_call(self, method: str, values: dict[str, Any]) -> Any:
        call = functools.partial(self._names_vk.method, method, values)
        return await asyncio.get_running_loop().run_in_executor(self._names_thread, call)

    # -- lifecycle -----------------------------------------------------------------------
    async def __aenter__(self) -> VkConnector:
        if self.options.mode == "longpoll":
            # one long poll per community in the whole cluster
            self._poller = asyncio.create_task(self.leadership.run(f"vk:{self.name}", self._poll),
                                               name=f"vk-longpoll-{self.name}")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
        await self._names.close()
        await self._in_thread(self.vk.http.close)
        await asyncio.get_running_loop().run_in_executor(self._names_thread, self._names_vk.http.close)
        self._threads.shutdown(wait=False, cancel_futures=True)
        self._names_thread.shutdown(wait=False, cancel_futures=True)

    # -- Callback API ------------------------------------------------------------------
    def setup_routes(self, app: web.Application) -> None:
        # long poll: no webhook at all, so nobody can post an event past the poller
        if self.options.mode == "callback":
            app.router.add_post(f"/webhooks/vk/{self.name}", self._callback)

    async def _callback(self, request: web.Request) -> web.Response:
        # the secret is inside the body: bounded in size and depth, parsed,
        # and then the secret is checked before anything else is looked at
        event = await self._parse(request)
        given = event.get("secret")
        # VK sends the secret with the confirmation too, once one is set; a
        # confirmation without it only gets the (public) confirmation code
        optional = event["type"] == "confirmation" and given is None
        if not optional and not (self._secret and isinstance(given, str)
                                 and hmac.compare_digest(given.encode(), self._secret.encode())):
            log_refusal(log, f"vk {self.name}: secret", "vk %s: wrong secret from %s", self.name, request.remote)
            raise web.HTTPForbidden(text="wrong secret")
        if self.options.group_id is not None and event.get("group_id") != self.options.group_id:
            log_refusal(log, f"vk {self.name}: community", "vk %s: event for community %r refused, this is %d",
                        self.name, event.get("group_id"), self.options.group_id)
            raise web.HTTPForbidden(text="wrong community")
        if event["type"] == "confirmation":  # never refused: VK would not confirm the server
            log.info("vk %s: answering the Callback API confirmation", self.name)
            return web.Response(text=self.options.confirmation_code or "")
        try:
            await self._accept(event, WEBHOOK_PATIENCE)
        except HostBusy as exc:
            return busy_response(exc)
        # anything but "ok" makes VK deliver the event again
        return web.Response(text="ok")

    async def _parse(self, request: web.Request) -> dict[str, Any]:
        event = parse_json(await read_body_with_secret(request, self._secret))
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            log.warning("vk %s: malformed callback refused", self.name)
            raise web.HTTPBadRequest(text="malformed event")
        return event

    async def _accept(self, event: dict[str, Any], patience: float | None) -> None:
        if (user := typing_user(event)) is not None:  # nothing stored: agents see it for a few seconds
            await self.signals.customer_typing(self.name, IdentityRef(kind=IDENTITY_KIND, value=str(user)))
            return
        found = customer_message(event)
        if found is None:
            log.info("vk %s: event %s (%s) acknowledged and ignored: not a user's message to the community",
                     self.name, event.get("event_id"), event.get("type"))
            return
        message, edited = found
        # users.get takes users only: a community (a negative id) would fail the whole call
        quoted = sorted(s for s in quoted_senders(message) if s > 0 and s != message["from_id"])
        senders = [message["from_id"], *quoted][:MAX_QUOTES]
        got = ([await self._names.get(senders[0])] if len(senders) == 1  # most messages: no gather's tasks
               else await asyncio.gather(*map(self._names.get, senders)))
        names = dict(zip(senders, got, strict=True))
        try:
            inbound = to_inbound(self.name, message, edited, names[message["from_id"]], names)
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            # the exception's type only: a validation error quotes the customer's words
            log.warning("vk %s: event %s has a malformed message, ignored (%s)", self.name, event.get("event_id"),
                        type(exc).__name__)
            return
        # admitted after the names, right before it is taken in: a burst admitted while the pipeline
        # was empty then waited for its names and came in all at once, far over the bound
        await self.host.admission(self.name, patience)
        accepted = await self.host.on_message(inbound)
        log.debug("vk %s: event %s is message %s%s", self.name, event.get("event_id"), accepted.message_id,
                  " (duplicate)" if accepted.duplicate else "")

    # -- Bots Long Poll ----------------------------------------------------------------
    @property
    def _cursor_key(self) -> str:
        # the community's too: another community's ts means nothing here
        return f"vk-longpoll:{self.name}:{self.options.group_id}"

    async def _poll(self) -> None:
        # the long request itself goes through aiohttp: in a worker thread it
        # could not be cancelled and would hold shutdown for up to `wait` seconds
        log.info("vk %s: Bots Long Poll started", self.name)
        timeout = aiohttp.ClientTimeout(total=self.options.longpoll_wait + 15)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            at = _Position()
            while True:
                try:
                    await self._poll_step(http, at)
                except (vk_api.VkApiError, requests.RequestException, aiohttp.ClientError, TimeoutError,
                        MalformedAnswer) as exc:
                    # aiohttp's text would carry the long poll URL, and its query the poll's key
                    reason = type(exc).__name__ if isinstance(exc, aiohttp.ClientError) else exc
                    log.warning("vk %s: long poll failed, retrying in %gs: %s", self.name, POLL_RETRY_SECONDS, reason)
                    await asyncio.sleep(POLL_RETRY_SECONDS)
                except HostUnavailable:  # an outage the router logs once: ts is not advanced
                    log.debug("vk %s: the router is unavailable, retrying in %gs", self.name, POLL_RETRY_SECONDS)
                    await asyncio.sleep(POLL_RETRY_SECONDS)
                except HostFailed as exc:  # logged by the router with its traceback: ts is not advanced
                    log.warning("vk %s: storing a long poll event or the poll's position failed, retrying in %gs: %s",
                                self.name, POLL_RETRY_SECONDS, exc.reason)
                    await asyncio.sleep(POLL_RETRY_SECONDS)
                except Exception as exc:  # a fault of this connector's own: the poller outlives it
                    self.own_fault(exc, "the long poll", POLL_RETRY_SECONDS)
                    await asyncio.sleep(POLL_RETRY_SECONDS)

    async def _poll_step(self, http: aiohttp.ClientSession, at: _Position) -> None:
        """Where the last poller stopped (the host keeps it), a server when
        there is none, one a_check, and the position saved once its events are stored."""
        if not at.loaded:
            at.ts = at.saved = await self.host.cursor(self._cursor_key)
            at.loaded = True
            if at.ts is not None:
                log.info("vk %s: resuming the long poll after ts %s, where it last stopped", self.name, at.ts)
        if at.server is None:
            fresh = _long_poll_server(await self._call("groups.getLongPollServer", {"group_id": self.options.group_id}))
            # a new key, and VK's "now" only for a first start: what came meanwhile is read, not skipped
            at.server, at.ts = fresh, str(fresh["ts"]) if at.ts is None else at.ts
            await self._save(at)  # a first start's "now" too: a poller after this one resumes there
        await self._poll_once(http, at)
        await self._save(at)

    async def _save(self, at: _Position) -> None:
        if at.ts is not None and at.ts != at.saved:
            await self.host.save_cursor(self._cursor_key, at.ts)
            at.saved = at.ts

    async def _poll_once(self, http: aiohttp.ClientSession, at: _Position) -> None:
        """One a_check from ``at.ts``; moves ``at`` on past what it stored
        (``at.server`` None: get a new key)."""
        assert at.server is not None and at.ts is not None
        params = {"act": "a_check", "key": at.server["key"], "ts": at.ts, "wait": self.options.longpoll_wait}
        async with http.get(at.server["server"], params=params) as resp:
            try:
                answer = await resp.json(content_type=None)
            except ValueError:
                raise MalformedAnswer("a long poll answer that is not JSON") from None
        if not isinstance(answer, dict):
            raise MalformedAnswer("a long poll answer that is not an object")
        failed = answer.get("failed")
        if failed == 2:  # the key expired: a new one, read on from the same ts
            at.server = None
            return
        if failed == 3:  # VK lost the session: a new key and its ts, whatever came before it gone
            self._lost(at.ts, None, failed)
            at.server = at.ts = None
            return
        updates = answer.get("updates") or []
        if "ts" not in answer or not isinstance(updates, list):
            raise MalformedAnswer("a long poll answer without ts or with updates that are not a list")
        if failed == 1:  # VK no longer keeps the events after at.ts: go on from the ts given
            self._lost(at.ts, str(answer["ts"]), failed)
            at.ts = str(answer["ts"])
            return
        for event in updates:
            if isinstance(event, dict):  # over the lag bound: each event waits for room, as one polled alone
                await self._accept(event, None)
            else:
                log.warning("vk %s: a long poll item that is not an event skipped", self.name)
        at.ts = str(answer["ts"])

    def _lost(self, since: str, until: str | None, failed: int) -> None:
        """VK's events between two positions are gone: said once, with how many where VK's
        ts counts events, so the admin knows what to look for in the community's messages."""
        count = f"up to {int(until) - int(since)} " if until and since.isdigit() and until.isdigit() else ""
        log.warning("vk %s: VK no longer has the long poll's events after ts %s (failed %d): %scustomer messages "
                    "sent to the community since then may be missing here; read them in VK. Going on from %s",
                    self.name, since, failed, count, f"ts {until}" if until else "a new key's ts")

    # -- delivery ----------------------------------------------------------------------
    async def show_typing(self, recipient: str) -> None:
        """``messages.setActivity`` "typing" (VK shows it for about ten seconds).
        Best-effort: not counted in the cluster's send pace, never retried; a
        failure is logged at debug and dropped."""
        try:
            values: dict[str, Any] = {"peer_id": int(recipient), "type": "typing"}
            if self.options.group_id is not None:
                values["group_id"] = self.options.group_id
            await self._call("messages.setActivity", values)
        except ValueError:
            log.debug("vk %s: %r is not a peer id, no typing shown", self.name, recipient)
        except (vk_api.VkApiError, requests.RequestException) as exc:
            log.debug("vk %s: the typing activity was not shown (%s)", self.name, type(exc).__name__)

    async def send(self, message: OutboundMessage, progress: SendProgress | None = None) -> SendResult:
        try:
            peer_id = int(message.recipient)
        except ValueError:
            raise PermanentError(f"vk: {message.recipient!r} is not a peer id", Cause.NO_RECIPIENT) from None
        # VK drops a repeated random_id only for a while: a retry resumes
        # after the parts the outbox knows went out
        progress = progress or SendProgress()
        try:
            refs, links = await self._refs(peer_id, message.attachments)
            parts = split_text("\n".join(t for t in (message.text, *links) if t), MAX_MESSAGE_LENGTH)
            for index, part in enumerate(parts):
                if index < progress.done:
                    continue
                values: dict[str, Any] = {"peer_id": peer_id, "message": part, "dont_parse_links": 1,
                                          "random_id": random_id(message.message_id, index)}
                if refs and index == len(parts) - 1:
                    values["attachment"] = ",".join(refs)
                await self._cluster_slot()
                sent = await self._call("messages.send", values)
                await progress.part_sent(f"{peer_id}:{sent}", last=index == len(parts) - 1)
        except (vk_api.VkApiError, requests.RequestException, ValueError) as exc:
            raise delivery_error(exc) from exc
        return SendResult(external_id=progress.external_id)

    async def _cluster_slot(self) -> None:
        """vk-api paces this process's calls to ``requests_per_second``; in a
        cluster the community's sends are counted for every node as well."""
        if not self.pace.shared:
            return
        rate = self._rate
        try:
            await self.pace.slot(f"vk:{self.name}", rate, 1, MAX_LIMIT_WAIT)
        except TimeoutError:
            raise RateLimited(1.0, f"vk: the community's pace of {rate:g}/s") from None

    async def _refs(self, peer_id: int, attachments: list[Attachment]) -> tuple[list[str], list[str]]:
        """The attachments VK took, and a signed link in the text for each of
        our files it refused (VK takes no MP3 or program as a document)."""
        refs, links = [], []
        for attachment in attachments:
            try:
                refs.append(await self._attachment_ref(peer_id, attachment))
            except vk_api.ApiError as exc:
                if attachment.file is None or exc.code in RATE_CODES or self.public_url is None:
                    raise
                log.info("vk %s: VK refused file %s ([%s]): sent as a link", self.name, attachment.file, exc.code)
                try:
                    url = self.public_url.rstrip("/") + await self.files.link(attachment)
                except FileUnavailable as gone:
                    raise (TransientError if gone.transient else PermanentError)(f"vk: {gone}") from gone
                links.append(f"{attachment.name or attachment.kind}: {url}")
        return refs, links

    async def _attachment_ref(self, peer_id: int, attachment: Attachment) -> str:
        """``photo<owner>_<id>`` for messages.send: reused if VK already has
        it, else fetched (through the guard: the URL is an agent's) and
        uploaded the VK way."""
        known = attachment.extras.get("vk_attachment")
        if isinstance(known, str) and known:
            return known
        if attachment.file is not None:  # a file of our own storage: streamed from it, never whole in memory
            try:
                size, pieces = await self.files.stream(attachment)
            except FileUnavailable as exc:
                raise (TransientError if exc.transient else PermanentError)(f"vk: {exc}") from exc
            # VK's photos are JPEG, PNG and GIF only: a WebP goes as a document
            photo = attachment.kind == "image" and attachment.mime_type in VK_PHOTO_TYPES
            return await self._upload(peer_id, photo, attachment.name or "file", pieces, size)
        if not attachment.url or urlsplit(attachment.url).scheme not in ("http", "https"):
            raise PermanentError(f"vk: attachment {attachment.name or attachment.kind} has no URL to upload")
        try:
            fetched = await self.fetcher.fetch(attachment.url)
        except FetchRefused as exc:
            error = TransientError if exc.transient else PermanentError
            raise error(f"vk: the file {attachment.name or attachment.kind} was not fetched: {exc}") from None
        name = attachment.name or urlsplit(fetched.url).path.rsplit("/", 1)[-1] or "file"
        return await self._upload(peer_id, attachment.kind == "image", name, one_piece(fetched.body),
                                  len(fetched.body))

    async def _upload(self, peer_id: int, photo: bool, name: str, pieces: AsyncIterator[bytes], size: int) -> str:
        upload = upload_photo if photo else upload_document
        return await upload(self._call, peer_id, name, pieces, size, UPLOAD_TIMEOUT)
