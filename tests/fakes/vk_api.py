"""A local VK API server that speaks the real wire format.

``/method/<name>`` with ``access_token`` and ``v`` among the parameters,
answered ``{"response": ...}`` or, with HTTP 200 as VK does,
``{"error": {"error_code": ..., "error_msg": ..., "request_params": [...]}}``
(https://dev.vk.com/ru/api/api-requests). Also the Bots Long Poll server and
the upload servers for photos and documents. Records every call; can be told
to fail, throttle or stall.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.local import LocalServer

GROUP_ID = 218000001


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


@dataclass
class Failure:
    status: int
    body: dict[str, Any] | str


class FakeVk(LocalServer):
    max_body = 50 * 1024**2

    def __init__(self, token: str, group_id: int = GROUP_ID) -> None:
        super().__init__()
        self.token = token
        self.group_id = group_id
        self.calls: list[Call] = []
        self.uploads: list[tuple[str, str, bytes]] = []  # (kind, filename, bytes)
        # how each upload's body came: "chunked" (streamed) or its Content-Length
        self.upload_framing: list[str] = []
        self.failures: deque[tuple[str | None, Failure]] = deque()
        self.delay = 0.0
        # while set to an unset event, every call waits for it: a slow API, with no guess of how slow
        self.hold: asyncio.Event | None = None
        # method -> until when its calls get no answer (one method slow, the others not)
        self.held: dict[str, asyncio.Event] = {}
        self.files: dict[str, bytes] = {}
        self.names: dict[int, tuple[str, str]] = {}
        self._events: list[dict[str, Any]] = []
        # VK keeps a community's events for a while, for any key: an a_check from an older ts
        # (a poller that resumes) gets them all; from before the oldest kept, "failed": 1
        self._kept_from = 1
        # long poll requests waiting for an event now: one pushed meanwhile reaches the poller
        # (VK gives a long poll only the events after the ts its client got, as this fake does)
        self.waiting_polls = 0
        self._new_events = asyncio.Event()
        self._sent: dict[tuple[int, int], int] = {}
        self._fail_at: dict[tuple[str, int], dict[str, Any]] = {}
        self.longpoll_key = "5c2ab0d6e5d4a1b7f0"
        # bodies the next long poll requests get instead of an answer: a proxy's page, a broken answer
        self.longpoll_garbage: deque[str] = deque()
        self._ids = itertools.count(500)

    # -- lifecycle -----------------------------------------------------------
    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/method/{method}", self._method)
        app.router.add_get("/longpoll", self._longpoll)
        app.router.add_post("/upload/{kind}", self._upload)
        app.router.add_get("/files/{name}", self._file)

    # -- scripting ---------------------------------------------------------------
    def fail_next(self, code: int, message: str, *, method: str | None = None, times: int = 1) -> None:
        body = {"error": {"error_code": code, "error_msg": message, "request_params": []}}
        for _ in range(times):
            self.failures.append((method, Failure(200, body)))

    def fail_call(self, method: str, number: int, code: int, message: str) -> None:
        """Fail the ``number``-th call (from 1) of ``method`` with an API error."""
        self._fail_at[(method, number)] = {"error": {"error_code": code, "error_msg": message, "request_params": []}}

    def outage(self, times: int, status: int = 502) -> None:
        for _ in range(times):
            self.failures.append((None, Failure(status, "<html><body>502 Bad Gateway</body></html>")))

    def push_event(self, event: dict[str, Any]) -> None:
        self._events.append(event)
        self._new_events.set()

    def forget_events(self) -> None:
        """As VK does with events older than it keeps: an a_check from a ts
        before now answers ``failed: 1`` and the ts to go on from."""
        self._kept_from = len(self._events) + 1

    def sent(self, method: str | None = None) -> list[Call]:
        return [c for c in self.calls if method is None or c.method == method]

    # -- the API -------------------------------------------------------------------
    async def _method(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        params.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
        self.calls.append(Call(method, params))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.hold is not None:
            await self.hold.wait()
        if method in self.held:
            await self.held[method].wait()
        if params.get("access_token") != self.token or "v" not in params:
            return _error(5, "User authorization failed: invalid access_token (4).", params)
        if self.failures and self.failures[0][0] in (None, method):
            failure = self.failures.popleft()[1]
            if isinstance(failure.body, str):
                return web.Response(status=failure.status, text=failure.body, content_type="text/html")
            return web.json_response(failure.body, status=failure.status)
        scripted = self._fail_at.pop((method, len(self.sent(method))), None)
        if scripted is not None:
            return web.json_response(scripted)
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return _error(3, "Unknown method passed.", params)
        answer = handler(params)
        return answer if isinstance(answer, web.Response) else web.json_response({"response": answer})

    def _messages_send(self, params: dict[str, Any]) -> Any:
        key = (int(params["peer_id"]), int(params["random_id"]))
        # VK sends a repeated random_id once and answers with the same id
        if key not in self._sent:
            self._sent[key] = next(self._ids)
        return self._sent[key]

    def _messages_setActivity(self, params: dict[str, Any]) -> Any:
        # https://dev.vk.com/ru/method/messages.setActivity: 1 on success
        assert params["type"] in ("typing", "audiomessage", "photo", "video", "file", "videomessage")
        int(params["peer_id"])
        return 1

    def delivered(self) -> list[Call]:
        """messages.send calls VK would have shown the user (one per random_id)."""
        seen: set[tuple[str, str]] = set()
        unique = []
        for call in self.sent("messages.send"):
            key = (call.params["peer_id"], call.params["random_id"])
            if key not in seen:
                seen.add(key)
                unique.append(call)
        return unique

    def _users_get(self, params: dict[str, Any]) -> Any:
        ids = [int(i) for i in str(params.get("user_ids", "")).split(",") if i]
        return [{"id": i, "first_name": self.names.get(i, ("Ivan", "Petrov"))[0],
                 "last_name": self.names.get(i, ("Ivan", "Petrov"))[1],
                 "can_access_closed": True, "is_closed": False} for i in ids]

    def _groups_getLongPollServer(self, params: dict[str, Any]) -> Any:
        return {"key": self.longpoll_key, "server": f"{self.base_url}/longpoll", "ts": str(len(self._events) + 1)}

    def expire_longpoll_key(self) -> None:
        """As VK does every few hours: the next a_check answers failed 2."""
        self.longpoll_key = f"{self.longpoll_key}-renewed"

    def _photos_getMessagesUploadServer(self, params: dict[str, Any]) -> Any:
        return {"upload_url": f"{self.base_url}/upload/photo", "album_id": -64, "group_id": self.group_id}

    def _photos_saveMessagesPhoto(self, params: dict[str, Any]) -> Any:
        assert params["hash"] == "9a8b7c" and params["server"] == "838424"
        return [{"album_id": -64, "date": int(time.time()), "id": next(self._ids), "owner_id": -self.group_id,
                 "access_key": "e4f2a1b0c9", "sizes": [], "text": "", "has_tags": False}]

    def _docs_getMessagesUploadServer(self, params: dict[str, Any]) -> Any:
        return {"upload_url": f"{self.base_url}/upload/doc"}

    def _docs_save(self, params: dict[str, Any]) -> Any:
        if not params.get("file"):  # what the upload server refused (vk-api passes its answer on)
            return _error(100, "One of the parameters specified was missing or invalid: file is undefined", params)
        doc_id = next(self._ids)
        return {"type": "doc", "doc": {"id": doc_id, "owner_id": -self.group_id, "title": params.get("title"),
                                       "size": 1, "ext": "pdf", "date": int(time.time()), "type": 1,
                                       "url": f"https://vk.ru/doc-{self.group_id}_{doc_id}"}}

    async def _upload(self, request: web.Request) -> web.Response:
        kind = request.match_info["kind"]
        chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
        self.upload_framing.append("chunked" if chunked else f"length {request.content_length}")
        # the fields VK's upload servers read: "photo" (or file0..file4, as vk-api sends) for
        # photos.getMessagesUploadServer's, "file" for docs.getMessagesUploadServer's
        wanted = {"photo", *(f"file{i}" for i in range(5))} if kind == "photo" else {"file"}
        found = False
        for name, value in (await request.post()).items():
            if kind == "doc" and isinstance(value, web.FileField) and value.filename.rsplit(".", 1)[-1].lower() in (
                    "mp3", "exe", "bat", "cmd", "msi", "apk"):
                # VK's documents are "any format but MP3 and executables"
                return web.json_response({"error": "ERR_UPLOAD_BAD_FILE_TYPE: file type is not allowed"})
            if isinstance(value, web.FileField) and name in wanted:
                self.uploads.append((kind, value.filename, value.file.read()))
                found = True
        if not found:  # as VK's upload server answers a request without the file
            return web.json_response({"error": "ERR_UPLOAD_FILE_NOT_UPLOADED: file not uploaded"})
        if kind == "photo":
            photo = json.dumps([{"photo": "c6f3b8e1a2", "sizes": [], "kid": "0b2e"}])
            return web.json_response({"server": 838424, "photo": photo, "hash": "9a8b7c"})
        return web.json_response({"file": "218000001|0|0|838424|c6f3b8e1a2|pdf|1|invoice.pdf|doc"})

    async def _file(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self.files:
            raise web.HTTPNotFound()
        return web.Response(body=self.files[name])

    # -- Bots Long Poll ----------------------------------------------------------------
    async def _longpoll(self, request: web.Request) -> web.Response:
        q = request.query
        self.calls.append(Call("longpoll", dict(q)))
        if self.longpoll_garbage:
            return web.Response(text=self.longpoll_garbage.popleft(), content_type="application/json")
        if q.get("act") != "a_check" or q.get("key") != self.longpoll_key:
            return web.json_response({"failed": 2})
        ts = int(q.get("ts", "1"))
        if ts < self._kept_from:  # "the event history is out of date or partly lost": go on from this ts
            return web.json_response({"failed": 1, "ts": str(len(self._events) + 1)})
        if len(self._events) < ts:
            self._new_events.clear()
            self.waiting_polls += 1
            try:
                async with asyncio.timeout(float(q.get("wait", "25"))):
                    await self._new_events.wait()
            except TimeoutError:
                return web.json_response({"ts": str(ts), "updates": []})
            finally:
                self.waiting_polls -= 1
        # event n (from 1) has ts n: a ts confirms every event before it
        return web.json_response({"ts": str(len(self._events) + 1), "updates": self._events[ts - 1:]})


def _error(code: int, message: str, params: dict[str, Any]) -> web.Response:
    request_params = [{"key": k, "value": str(v)} for k, v in params.items() if k != "access_token"]
    return web.json_response({"error": {"error_code": code, "error_msg": message, "request_params": request_params}})
