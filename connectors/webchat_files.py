"""Files in the site chat: a visitor sends one from the widget, and files
from agents reach the widget as links it shows (an image inline).

``POST /chat/files`` takes ``multipart/form-data`` with, in this order, the
fields ``visitor_id`` (the visitor's signed token: only its owner can send as
them; the message's sender is its public part), ``client_id`` (the widget's id for the message: a retried upload is one
message) and ``file``. The file is streamed to the router's storage
(``Connector.files``), checked there (size, type sniffed from the bytes), and
becomes the visitor's message. Answers ``201 {"id", "message"}`` or
``{"error": {"code", "message", ...}}`` with a 4xx/5xx; nothing is stored on an
error. Files in frames are ``{"name", "url", "type", "size", "image"}``; the URL
is a signed link that needs no login, relative to the chat's server."""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, MultipartReader, hdrs, web
from aiohttp.http_exceptions import HttpProcessingError

from connectors.chat_limits import ByteBudget, address_key
from connectors.webchat_frames import MAX_CLIENT_ID_LENGTH, UNAVAILABLE_RETRY_AFTER, message_frame
from connectors.webchat_tokens import public_part, visitor_tag
from router.connector import FileAccess, FileRefused, FileUnavailable, HostBusy, HostError
from router.models import Attachment, Author, IdentityRef, InboundMessage, Message

if TYPE_CHECKING:
    from connectors.webchat import WebChatConnector

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
# seconds a file's message waits for room while the pipeline is over its lag bound, as a
# typed one's ack does (webchat.ACK_PATIENCE); then 503 "busy" with Retry-After
HOLD_SECONDS = 30.0
_MAX_FIELD = 256


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


async def frame_files(files: FileAccess, attachments: Iterable[Attachment]) -> list[dict[str, Any]]:
    """The stored files of a message as the widget shows them; a file that
    cannot be linked now is left out (the text still goes)."""
    shown = []
    for a in attachments:
        if a.file is None:
            continue
        try:
            url = await files.link(a)
        except FileUnavailable as exc:
            log.warning("webchat: file %s not linked: %s", a.file, exc)
            continue
        shown.append({"name": a.name or "file", "url": url, "type": a.mime_type or "", "size": a.size or 0,
                      "image": a.kind == "image"})
    return shown


async def history_files(files: FileAccess, history: list[Message]) -> dict[str, list[dict[str, Any]]]:
    return {m.id: found for m in history if m.attachments and (found := await frame_files(files, m.attachments))}


async def _field(part: BodyPartReader, name: str) -> str:
    value = b""
    while chunk := await part.read_chunk(_MAX_FIELD + 1):
        value += chunk
        if len(value) > _MAX_FIELD:
            raise _Refused(422, "invalid", f"{name} is too long")
    return value.decode("utf-8", errors="replace").strip()


async def _chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(CHUNK):
        yield chunk
    if not part.at_eof():  # aiohttp ends a part at the body's end as at its boundary: a cut upload
        raise _Refused(400, "bad_multipart", "the body ended inside the file, before its closing boundary: "
                       "the upload was cut short and nothing is kept")


class VisitorUploads:
    """The upload route of one site-chat connector."""

    def __init__(self, chat: WebChatConnector) -> None:
        self.chat = chat
        # bytes per hour, per visitor and per address: uploads cannot fill the disk
        self._visitor_bytes = ByteBudget(chat.options.file_bytes_per_hour, 3600)
        self._address_bytes = ByteBudget(chat.options.file_bytes_per_hour_per_address, 3600)

    def mount(self, app: web.Application) -> None:
        app.router.add_post("/chat/files", self.handle)
        app.router.add_get("/chat/files", self.limits)
        app.router.add_route("OPTIONS", "/chat/files", self.preflight)

    def _cors(self, request: web.Request) -> dict[str, str]:
        """A page of the site the widget is embedded in reads the answer."""
        origin = request.headers.get(hdrs.ORIGIN)
        # and its Retry-After, which a page of another origin reads only when told it may
        return {"Access-Control-Allow-Origin": origin, "Access-Control-Expose-Headers": "Retry-After",
                "Vary": "Origin"} if origin else {}

    async def preflight(self, request: web.Request) -> web.Response:
        if not self.chat._origin_allowed(request):
            raise web.HTTPForbidden(text="origin not allowed")
        return web.Response(status=204, headers={**self._cors(request), "Access-Control-Allow-Methods": "POST",
                                                 "Access-Control-Max-Age": "600"})

    async def limits(self, request: web.Request) -> web.Response:
        """What the widget checks before it sends a byte."""
        return web.json_response({"max_bytes": self.chat.files.max_bytes}, headers=self._cors(request))

    async def handle(self, request: web.Request) -> web.Response:
        try:
            return await self._handle(request)
        except _Refused as exc:
            log.info("webchat: a visitor's file refused (code %s)", exc.code)
            body = {"error": {"code": exc.code, "message": exc.message, **exc.details}}
            headers = self._cors(request)
            if exc.status == 503 and "retry_after" in exc.details:
                headers["Retry-After"] = str(exc.details["retry_after"])
            return web.json_response(body, status=exc.status, headers=headers)

    async def _handle(self, request: web.Request) -> web.Response:
        chat = self.chat
        if not chat._origin_allowed(request):
            raise _Refused(403, "forbidden_origin", "this site may not use the chat")
        if request.content_type != "multipart/form-data":
            raise _Refused(415, "unsupported_media_type", "send multipart/form-data: visitor_id, client_id, file")
        try:
            reader = await request.multipart()
        except ValueError as exc:  # no boundary in its Content-Type
            raise _Refused(400, "bad_multipart", f"the multipart body could not be read: {exc}") from None
        fields: dict[str, str] = {}
        part = await self._next(reader)
        while part is not None and part.name in ("visitor_id", "client_id"):
            fields[str(part.name)] = await _field(part, str(part.name))
            part = await self._next(reader)
        token, client_id = fields.get("visitor_id", ""), fields.get("client_id", "")
        if not (await chat._visitor_tokens()).verify(token):
            raise _Refused(403, "unknown_visitor", "say hello on the chat's socket first: the visitor id is unknown")
        visitor_id = public_part(token)  # the token proved them; they are named by its public part from here
        if not client_id or len(client_id) > MAX_CLIENT_ID_LENGTH:
            raise _Refused(422, "invalid", f"client_id: 1 to {MAX_CLIENT_ID_LENGTH} characters")
        if part is None or part.name != "file":
            raise _Refused(422, "invalid", "file: the body has no field 'file' after visitor_id and client_id")
        self._count(request, visitor_id)
        budgets = ((self._visitor_bytes, visitor_id), (self._address_bytes, address_key(request.remote)))
        charged: int | None = None
        try:
            for budget, key in budgets:
                if budget.full(key):
                    retry = max(1, math.ceil(budget.retry_after(key)))
                    raise _Refused(429, "files_over_budget",
                                   f"too many files sent this hour; send it again in {retry} s",
                                   retry_after=retry, minutes=math.ceil(retry / 60))
            attachment = await self._save(part, visitor_id)
            charged = attachment.size or 0
            for budget, key in budgets:
                budget.charge(key, charged)
            return await self._post(request, visitor_id, client_id, attachment)
        except _Refused as exc:
            if exc.status == 503:  # the service's refusal (busy, an outage): the widget sends it again
                self._uncount(request, visitor_id, charged)
            raise

    def _uncount(self, request: web.Request, visitor_id: str, charged: int | None) -> None:
        """A file the service refused (not kept) counts against no limit and no budget."""
        address = address_key(request.remote)
        self.chat._limiter.give_back(visitor_id)
        self.chat._address_limiter.give_back(address)
        if charged is not None:
            self._visitor_bytes.refund(visitor_id, charged)
            self._address_bytes.refund(address, charged)

    async def _next(self, reader: MultipartReader) -> BodyPartReader | None:
        try:
            part = await reader.next()
        except (ValueError, AssertionError, HttpProcessingError) as exc:  # aiohttp's words for a broken body
            raise _Refused(400, "bad_multipart", f"the multipart body could not be read: {_said(exc)}") from None
        if part is not None and not isinstance(part, BodyPartReader):
            raise _Refused(400, "bad_multipart", "nested multipart bodies are not read")
        return part

    def _count(self, request: web.Request, visitor_id: str) -> None:
        """A file is a message: it counts against the same limits as one typed."""
        chat = self.chat
        checks = ((chat._limiter, visitor_id), (chat._address_limiter, address_key(request.remote)))
        for limiter, key in checks:
            if limiter.full(key):
                retry = max(1, math.ceil(limiter.retry_after(key)))
                raise _Refused(429, "rate_limited", f"too many messages; send it again in {retry} s", retry_after=retry)
        for limiter, key in checks:
            limiter.hit(key)

    async def _save(self, part: BodyPartReader, visitor_id: str) -> Attachment:
        name = part.filename or "file"
        try:
            return await self.chat.files.save(_chunks(part), name, part.headers.get(hdrs.CONTENT_TYPE),
                                              f"{self.chat.name}:customer")
        except FileRefused as exc:
            raise _Refused(exc.status, exc.code, exc.message, **exc.details) from None
        except FileUnavailable as exc:
            log.warning("webchat: a file of visitor %s could not be stored: %s", visitor_tag(visitor_id), exc)
            raise _Refused(503, "unavailable", f"the file could not be stored; send it again in "
                           f"{UNAVAILABLE_RETRY_AFTER} s", retry_after=UNAVAILABLE_RETRY_AFTER) from None

    async def _first_upload(self, visitor_id: str, message_id: str) -> list[Attachment]:
        """The files of the message a retried upload duplicates (none when it is out of reach)."""
        try:
            history = await self.chat.host.history(IdentityRef(kind="webchat", value=visitor_id), 100)
        except HostError as exc:
            log.warning("webchat: the first upload of a retry was not read: %s", exc.reason)
            return []
        return next((m.attachments for m in history if m.id == message_id), [])

    async def _post(self, request: web.Request, visitor_id: str, client_id: str,
                    attachment: Attachment) -> web.Response:
        chat = self.chat
        tab = next(iter(chat._visitors.get(visitor_id, ())), None)  # the name they gave, if a tab is open here
        inbound = InboundMessage(
            channel=chat.name, external_id=f"{visitor_id}:{client_id}",
            sender=IdentityRef(kind="webchat", value=visitor_id),
            sender_name=tab.sender_name if tab is not None else None,
            language=tab.given.get("language") if tab is not None else None,
            description=f"[{attachment.kind}: {attachment.name}]", attachments=[attachment],
        )
        try:  # over the lag bound: held as a typed message's ack is, then refused (the widget says when)
            await chat.host.admission(chat.name, HOLD_SECONDS)
        except HostBusy as exc:
            await chat.files.discard(attachment)
            raise _Refused(503, "busy", f"busy: send it again in {exc.retry_after} s",
                           retry_after=exc.retry_after) from None
        try:
            accepted = await chat.host.on_message(inbound)
        except HostError as exc:
            log.warning("webchat: storing a file message of visitor %s failed: %s", visitor_tag(visitor_id),
                        exc.reason)
            await chat.files.discard(attachment)  # no message refers to it: no orphan on the disk
            raise _Refused(503, "unavailable", f"the message could not be stored; send it again in "
                           f"{UNAVAILABLE_RETRY_AFTER} s", retry_after=UNAVAILABLE_RETRY_AFTER) from None
        shown = [attachment]
        if accepted.duplicate:  # a retry: the first upload's message keeps its file, this copy goes
            await chat.files.discard(attachment)
            shown = await self._first_upload(visitor_id, accepted.message_id)
        frame = message_frame(accepted.message_id, Author.CUSTOMER.value, "", accepted.created_at,
                              await frame_files(chat.files, shown))
        if not accepted.duplicate:  # the visitor's other tabs show it too
            await chat._deliver(visitor_id, frame)
            chat.peers.broadcast(f"webchat:{chat.name}", {"visitor": visitor_id, "frame": frame})
        await chat._routed(visitor_id, accepted.conversation_id, chat._visitors.get(visitor_id, ()))
        return web.json_response({"id": accepted.message_id, "message": frame}, status=201,
                                 headers=self._cors(request))


def _said(exc: Exception) -> str:
    """aiohttp's own words for a body it could not read (its HTTP errors' ``str`` holds a status line too)."""
    return exc.message if isinstance(exc, HttpProcessingError) else str(exc)
