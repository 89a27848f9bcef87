"""A local Telegram Bot API server that speaks the real wire format.

``POST /bot<token>/<method>`` with JSON, urlencoded or multipart parameters,
answered ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": ...,
"description": ..., "parameters": {"retry_after": ...}}`` as the Bot API does
(https://core.telegram.org/bots/api#making-requests). It records every call,
queues updates for ``getUpdates`` and can be told to fail, throttle or stall.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.local import LocalServer

# https://core.telegram.org/bots/api#sendchataction
CHAT_ACTIONS = frozenset({"typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
                          "upload_document", "choose_sticker", "find_location", "record_video_note",
                          "upload_video_note"})


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)
    # the multipart parts' file names, by field
    filenames: dict[str, str] = field(default_factory=dict)

    def upload(self, field_name: str) -> tuple[str, bytes] | None:
        """The file uploaded as ``field_name`` ("photo", "document"), as the Bot API
        reads it: the part of that name, or the part an ``attach://<name>`` value names."""
        value = self.params.get(field_name)
        part = value.removeprefix("attach://") if isinstance(value, str) and value.startswith("attach://") else None
        for key in (field_name, part):
            if key is not None and key in self.files:
                return self.filenames.get(key, key), self.files[key]
        return None


@dataclass
class Failure:
    status: int
    body: dict[str, Any] | str


def _decode(value: str) -> Any:
    """Form fields carry JSON for arrays and objects (aiogram sends them so)."""
    if value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


class FakeTelegram(LocalServer):
    max_body = 50 * 1024**2

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token
        self.calls: list[Call] = []
        self.failures: deque[tuple[str | None, Failure]] = deque()
        # (method, which calls, how they fail) until ``heal``: a message the API keeps refusing
        self.standing: list[tuple[str, Callable[[dict[str, Any]], bool], Failure]] = []
        self.delay = 0.0
        # method -> until when its calls get no answer (a Bot API that accepts and then stalls)
        self.hold: dict[str, asyncio.Event] = {}
        self.webhook: dict[str, Any] = {}
        self._updates: list[dict[str, Any]] = []
        self._new_updates = asyncio.Event()
        self._message_ids = itertools.count(1000)
        # file_id -> (file_path, bytes): what getFile and the file download serve
        self.files: dict[str, tuple[str, bytes]] = {}
        # when set, the file server answers every download with this status (a failing CDN)
        self.file_status: int | None = None
        # the long poll now waiting, and how to end it: as the real API, a second
        # getUpdates ends the first with 409 (two bot instances polling)
        self._poll: tuple[web.Request, asyncio.Event] | None = None
        self.poll_conflicts = 0

    # -- lifecycle -----------------------------------------------------------
    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)

    # -- scripting -----------------------------------------------------------
    def fail_next(self, error_code: int, description: str, *, method: str | None = None,
                  retry_after: int | None = None, times: int = 1) -> None:
        body: dict[str, Any] = {"ok": False, "error_code": error_code, "description": description}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
        for _ in range(times):
            self.failures.append((method, Failure(error_code, body)))

    def fail_while(self, method: str, match: Callable[[dict[str, Any]], bool], error_code: int = 500,
                   description: str = "Internal Server Error") -> None:
        """Every call of ``method`` whose parameters ``match`` fails, until ``heal``."""
        body: dict[str, Any] = {"ok": False, "error_code": error_code, "description": description}
        self.standing.append((method, match, Failure(error_code, body)))

    def heal(self) -> None:
        self.standing.clear()

    def outage(self, times: int, status: int = 502) -> None:
        """A proxy in front of the API answering HTML, as nginx does."""
        for _ in range(times):
            self.failures.append((None, Failure(status, "<html><body>502 Bad Gateway</body></html>")))

    def push_update(self, update: dict[str, Any]) -> None:
        self._updates.append(update)
        self._new_updates.set()

    def add_file(self, file_id: str, file_path: str, body: bytes) -> None:
        """A file a customer sent, as the Bot API keeps it (``photos/file_0.jpg``)."""
        self.files[file_id] = (file_path, body)

    def sent(self, method: str | None = None) -> list[Call]:
        return [c for c in self.calls if method is None or c.method == method]

    # -- the API -----------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        params, files, names = await self._params(request)
        call = Call(method, params, files, filenames=names)
        self.calls.append(call)
        if self.delay:
            await asyncio.sleep(self.delay)
        if (held := self.hold.get(method)) is not None:
            await held.wait()
        failure = self._take_failure(method, params)
        if failure is not None:
            if isinstance(failure.body, str):
                return web.Response(status=failure.status, text=failure.body, content_type="text/html")
            return web.json_response(failure.body, status=failure.status)
        return await self._answer(request, call)

    def _take_failure(self, method: str, params: dict[str, Any]) -> Failure | None:
        for standing_method, match, failure in self.standing:
            if standing_method == method and match(params):
                return failure
        if self.failures and self.failures[0][0] in (None, method):
            return self.failures.popleft()[1]
        return None

    async def _params(self, request: web.Request) -> tuple[dict[str, Any], dict[str, bytes], dict[str, str]]:
        if request.content_type == "application/json":
            body = await request.json()
            return (body if isinstance(body, dict) else {}), {}, {}
        params: dict[str, Any] = dict(request.query)
        files: dict[str, bytes] = {}
        names: dict[str, str] = {}
        for key, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                files[key] = value.file.read()
                names[key] = value.filename
                params.setdefault(key, f"attach://{key}")
            else:
                params[key] = _decode(value if isinstance(value, str) else bytes(value).decode())
        return params, files, names

    async def _answer(self, request: web.Request, call: Call) -> web.Response:
        method, params = call.method, call.params
        handler = {
            "getMe": self._get_me,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "answerCallbackQuery": self._answer_callback_query,
            "editMessageReplyMarkup": self._edit_reply_markup,
        }.get(method)
        if method == "getFile":
            return self._get_file(params)
        if method == "getUpdates":
            return await self._overtaking_poll(request, params)
        if handler is not None:
            return _ok(await handler(params))
        if method == "sendChatAction":
            return self._chat_action(params)
        if method in ("sendMessage", "sendPhoto", "sendDocument"):
            if "reply_markup" in params and not _valid_markup(params["reply_markup"]):
                return web.json_response({"ok": False, "error_code": 400, "description":
                                          "Bad Request: can't parse reply keyboard markup JSON object"}, status=400)
            media = {"sendPhoto": "photo", "sendDocument": "document"}.get(method)
            if media is not None and not _media_given(call, media):
                return web.json_response({"ok": False, "error_code": 400, "description":
                                          f"Bad Request: there is no {media} in the request"}, status=400)
            return _ok(self._sent_message(call))
        return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)

    def _chat_action(self, params: dict[str, Any]) -> web.Response:
        # as the Bot API: True, or 400 for an action it does not know
        if params.get("action") not in CHAT_ACTIONS or "chat_id" not in params:
            return web.json_response({"ok": False, "error_code": 400, "description":
                                      "Bad Request: wrong parameter action in request"}, status=400)
        return _ok(True)

    def _get_file(self, params: dict[str, Any]) -> web.Response:
        # as the Bot API: a File object, or 400 for an id it does not know
        file_id = str(params.get("file_id", ""))
        if file_id not in self.files:
            return web.json_response({"ok": False, "error_code": 400, "description": "Bad Request: invalid file_id"},
                                     status=400)
        path, body = self.files[file_id]
        return _ok({"file_id": file_id, "file_unique_id": f"u-{file_id}", "file_size": len(body), "file_path": path})

    async def _download(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        self.calls.append(Call("download", {"path": request.match_info["path"]}, {}))
        if self.file_status is not None:
            return web.Response(status=self.file_status, text="<html><body>file server error</body></html>",
                                content_type="text/html")
        found = [body for path, body in self.files.values() if path == request.match_info["path"]]
        return web.Response(body=found[0]) if found else web.Response(status=404, text="Not Found")

    async def _get_me(self, params: dict[str, Any]) -> Any:
        bot_id = int(self.token.split(":", 1)[0])
        return {"id": bot_id, "is_bot": True, "first_name": "Shop", "username": "shop_bot"}

    async def _set_webhook(self, params: dict[str, Any]) -> Any:
        self.webhook = dict(params)
        return True

    async def _delete_webhook(self, params: dict[str, Any]) -> Any:
        self.webhook = {}
        return True

    async def _answer_callback_query(self, params: dict[str, Any]) -> Any:
        # as the Bot API: the query's id is required; True
        if not params.get("callback_query_id"):
            raise web.HTTPBadRequest(text=json.dumps({"ok": False, "error_code": 400, "description":
                                                      "Bad Request: query is too old or query ID is invalid"}),
                                     content_type="application/json")
        return True

    async def _edit_reply_markup(self, params: dict[str, Any]) -> Any:
        # the edited Message; a markup, when given, must be an inline keyboard
        markup = params.get("reply_markup")
        if markup is not None and not (isinstance(markup, dict) and _valid_markup(markup)):
            raise web.HTTPBadRequest(text=json.dumps({"ok": False, "error_code": 400, "description":
                                                      "Bad Request: can't parse inline keyboard markup"}),
                                     content_type="application/json")
        return self._sent_message(Call("editMessageReplyMarkup", {"chat_id": params["chat_id"]}))

    async def _overtaking_poll(self, request: web.Request, params: dict[str, Any]) -> web.Response:
        """A getUpdates that ends the one still waiting, whose client is still
        connected, with the real API's 409 (a client that hung up polls no more)."""
        waiting = self._poll
        if waiting is not None and waiting[0].transport is not None and not waiting[0].transport.is_closing():
            waiting[1].set()
        overtaken = asyncio.Event()
        self._poll = (request, overtaken)
        try:
            result = await self._get_updates(params, overtaken)
        finally:
            if self._poll is not None and self._poll[1] is overtaken:
                self._poll = None
        if overtaken.is_set():
            self.poll_conflicts += 1
            return web.json_response({"ok": False, "error_code": 409, "description": "Conflict: terminated by other "
                                      "getUpdates request; make sure that only one bot instance is running"},
                                     status=409)
        return _ok(result)

    async def _get_updates(self, params: dict[str, Any], overtaken: asyncio.Event) -> Any:
        if self.webhook.get("url"):
            # the real API refuses long polling while a webhook is set
            raise web.HTTPConflict(
                text=json.dumps({"ok": False, "error_code": 409, "description":
                                 "Conflict: can't use getUpdates method while webhook is active"}),
                content_type="application/json",
            )
        offset = int(params.get("offset") or 0)
        # an offset confirms every update before it: they are never sent again
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates:
            self._new_updates.clear()
            timeout = float(params.get("timeout") or 0)
            woken = asyncio.create_task(self._new_updates.wait())
            ended = asyncio.create_task(overtaken.wait())
            try:
                await asyncio.wait({woken, ended}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            finally:
                woken.cancel()
                ended.cancel()
            if not self._new_updates.is_set() or overtaken.is_set():
                return []
        limit = int(params.get("limit") or 100)
        return self._updates[:limit]

    def _sent_message(self, call: Call) -> dict[str, Any]:
        method, params = call.method, call.params
        chat_id = int(params["chat_id"])
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": "Customer"},
            "from": {"id": int(self.token.split(":", 1)[0]), "is_bot": True, "first_name": "Shop"},
        }
        if method == "sendMessage":
            message["text"] = params.get("text", "")
        elif "caption" in params:
            message["caption"] = params["caption"]
        uploaded = call.upload("photo" if method == "sendPhoto" else "document")
        size = len(uploaded[1]) if uploaded else 1
        file_id = f"AgAC{message['message_id']}"
        if method == "sendPhoto":  # as the Bot API answers: the photo's sizes, the largest last
            message["photo"] = [{"file_id": file_id, "file_unique_id": f"u{file_id}", "width": 90, "height": 90,
                                 "file_size": size}]
        elif method == "sendDocument":
            message["document"] = {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": size,
                                   **({"file_name": uploaded[0]} if uploaded else {})}
        return message


def _media_given(call: Call, media: str) -> bool:
    """A file_id or URL as text, or an upload (multipart, or attach:// to a part)."""
    value = call.params.get(media)
    if not isinstance(value, str) or not value:
        return False
    return not value.startswith("attach://") or call.upload(media) is not None


def _valid_markup(markup: Any) -> bool:
    """A reply_markup the Bot API accepts: a JSON object (recorded decoded, as
    sent); a reply keyboard is rows of buttons, each with its text."""
    if not isinstance(markup, dict):
        return False
    if "inline_keyboard" in markup:
        # an inline keyboard: each button has its text and exactly one action; callback_data is 1-64 bytes
        rows = markup["inline_keyboard"]
        return isinstance(rows, list) and all(isinstance(row, list) and all(_inline_button(b) for b in row)
                                              for row in rows)
    rows = markup.get("keyboard")
    if rows is None:
        return True
    return isinstance(rows, list) and all(
        isinstance(row, list) and all(isinstance(b, dict) and isinstance(b.get("text"), str) for b in row)
        for row in rows)


def _inline_button(button: Any) -> bool:
    if not isinstance(button, dict) or not isinstance(button.get("text"), str) or not button["text"]:
        return False
    actions = [k for k in ("url", "callback_data", "web_app", "login_url", "switch_inline_query", "pay")
               if k in button]
    data = button.get("callback_data")
    return len(actions) == 1 and (data is None or (isinstance(data, str) and 1 <= len(data.encode()) <= 64))


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})
