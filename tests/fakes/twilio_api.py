"""A local Twilio REST API that speaks the real wire format.

``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``, form-encoded, with
HTTP basic auth (account SID, auth token), answered ``201`` with a Message
resource as https://www.twilio.com/docs/messaging/api/message-resource shows
it, or with Twilio's error JSON ``{"code", "message", "more_info", "status"}``
(https://www.twilio.com/docs/usage/twilios-response). It records every call,
can be told to fail, throttle (429 with ``Retry-After``), go down or stall,
and can play Twilio's part in delivery receipts: a signed status callback to
the ``StatusCallback`` URL a message was created with.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from multidict import MultiDict
from twilio.request_validator import RequestValidator

from tests.fakes.local import LocalServer

API_VERSION = "2010-04-01"


def sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """X-Twilio-Signature as Twilio computes it (the validator's own algorithm)."""
    return str(RequestValidator(auth_token).compute_signature(url, params))


@dataclass
class Call:
    account_sid: str
    params: MultiDict[str]
    at: float = field(default_factory=time.monotonic)
    wall: float = field(default_factory=time.time)  # to hold against an HTTP date the fake gave
    sid: str | None = None

    def get(self, name: str) -> str | None:
        return self.params.get(name)

    def all(self, name: str) -> list[str]:
        return self.params.getall(name, [])


@dataclass
class Failure:
    status: int
    body: dict[str, Any] | str
    headers: dict[str, str] = field(default_factory=dict)


class FakeTwilio(LocalServer):
    def __init__(self, account_sid: str, auth_token: str) -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.calls: list[Call] = []
        self.failures: deque[Failure] = deque()
        # (which calls, how they fail) until ``heal``: a message the API keeps refusing
        self.standing: list[tuple[Callable[[MultiDict[str]], bool], Failure]] = []
        self.delay = 0.0
        # Media SID -> (content type, bytes); the headers of each request to the file store
        self.media: dict[str, tuple[str, bytes]] = {}
        self.file_requests: list[dict[str, str]] = []
        # while set to an unset event, every send waits for it: a slow API, with no guess of how slow
        self.hold: asyncio.Event | None = None

    # -- lifecycle -----------------------------------------------------------
    def routes(self, app: web.Application) -> None:
        app.router.add_post(f"/{API_VERSION}/Accounts/{{account}}/Messages.json", self._create)
        app.router.add_get(f"/{API_VERSION}/Accounts/{{account}}/Messages/{{message}}/Media/{{media}}", self._media)
        app.router.add_get("/files/{media}", self._file)

    # -- media, as an account that enforces HTTP auth on media URLs keeps them ----------
    def add_media(self, media_sid: str, content_type: str, body: bytes) -> None:
        self.media[media_sid] = (content_type, body)

    async def _media(self, request: web.Request) -> web.Response:
        """Twilio's media URL: the account's credentials, then a redirect to a signed link of its file store."""
        if not self._authorized(request, request.match_info["account"]):
            return _error(401, 20003, "Authenticate")
        media = request.match_info["media"]
        if media not in self.media:
            return _error(404, 20404, "The requested resource was not found")
        raise web.HTTPTemporaryRedirect(f"/files/{media}?Signature=signed-by-the-store")

    async def _file(self, request: web.Request) -> web.Response:
        self.file_requests.append(dict(request.headers))
        content_type, body = self.media[request.match_info["media"]]
        return web.Response(body=body, content_type=content_type)

    # -- scripting -------------------------------------------------------------
    def fail_next(self, status: int, code: int, message: str, *, times: int = 1,
                  retry_after: int | str | None = None) -> None:
        body = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status}
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        for _ in range(times):
            self.failures.append(Failure(status, body, headers))

    def fail_while(self, match: Callable[[MultiDict[str]], bool], status: int = 500, code: int = 20500,
                   message: str = "Internal Server Error") -> None:
        """Every create whose parameters ``match`` fails, until ``heal``."""
        body = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status}
        self.standing.append((match, Failure(status, body)))

    def heal(self) -> None:
        self.standing.clear()

    def outage(self, times: int, status: int = 503) -> None:
        """A load balancer in front of the API answering HTML."""
        for _ in range(times):
            self.failures.append(Failure(status, "<html><body>503 Service Unavailable</body></html>"))

    def sent(self) -> list[Call]:
        return [c for c in self.calls if c.sid is not None]

    async def report(self, call: Call, status: str, *, error_code: int | None = None,
                     deliver_to: str, tamper: bool = False) -> int:
        """Twilio's status callback for ``call``: signed for the StatusCallback
        URL the message was created with, posted to ``deliver_to`` (the test
        server) with that URL's path, as a proxy in front of the service would."""
        callback = call.get("StatusCallback")
        assert callback, "the message was created without a StatusCallback"
        assert call.sid is not None
        params = {
            "MessageSid": call.sid, "SmsSid": call.sid, "AccountSid": self.account_sid,
            "From": call.get("From") or "", "To": call.get("To") or "", "MessageStatus": status,
            "SmsStatus": status, "ApiVersion": API_VERSION,
        }
        if call.get("MessagingServiceSid"):
            params["MessagingServiceSid"] = call.get("MessagingServiceSid") or ""
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        if (call.get("To") or "").startswith("whatsapp:"):
            params["ChannelPrefix"] = "whatsapp"
        sign = signature(self.auth_token, callback, params)
        if tamper:
            params["MessageStatus"] = "delivered"
        parts = urlsplit(callback)
        async with aiohttp.ClientSession() as http, http.post(
            deliver_to.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else ""),
            data=params, headers={"X-Twilio-Signature": sign},
        ) as resp:
            await resp.read()
            return resp.status

    async def fetch_media(self, call: Call, *, deliver_to: str) -> list[tuple[int, str, bytes]]:
        """What Twilio does with a message's MediaUrls once it took it: a GET of
        each, without credentials (status, content type, bytes), through
        ``deliver_to`` (the test server) with the URL's path and query, as a
        proxy in front of the service would pass it."""
        fetched = []
        async with aiohttp.ClientSession() as http:
            for url in call.all("MediaUrl"):
                parts = urlsplit(url)
                target = deliver_to.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")
                # Twilio asks a HEAD first, and refuses media whose Content-Type is no media type it takes
                async with http.head(target, headers={"User-Agent": "TwilioProxy/1.1"}) as head:
                    if head.status != 200 or head.headers.get("Content-Type", "") == "application/octet-stream":
                        fetched.append((head.status, head.headers.get("Content-Type", ""), b""))
                        continue
                async with http.get(target, headers={"User-Agent": "TwilioProxy/1.1"}) as resp:
                    fetched.append((resp.status, resp.headers.get("Content-Type", ""), await resp.read()))
        return fetched

    # -- the API -----------------------------------------------------------------
    def _authorized(self, request: web.Request, account: str) -> bool:
        header = request.headers.get("Authorization", "")
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return account == self.account_sid and header == f"Basic {expected}"

    async def _create(self, request: web.Request) -> web.Response:
        account = request.match_info["account"]
        params: MultiDict[str] = MultiDict(
            (k, v) for k, v in (await request.post()).items() if isinstance(v, str))
        call = Call(account, params)
        self.calls.append(call)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.hold is not None:
            await self.hold.wait()
        if not self._authorized(request, account):
            return _error(401, 20003, "Authenticate")
        standing = next((f for match, f in self.standing if match(params)), None)
        if standing is not None or self.failures:
            failure = standing or self.failures.popleft()
            if isinstance(failure.body, str):
                return web.Response(status=failure.status, text=failure.body, content_type="text/html")
            return web.json_response(failure.body, status=failure.status, headers=failure.headers)
        if problem := _invalid(params):
            return problem
        call.sid = sid("MM" if params.get("MediaUrl") else "SM")
        return web.json_response(self._resource(account, call.sid, params), status=201)

    def _resource(self, account: str, message_sid: str, params: MultiDict[str]) -> dict[str, Any]:
        now = formatdate(usegmt=True)
        uri = f"/{API_VERSION}/Accounts/{account}/Messages/{message_sid}"
        service = params.get("MessagingServiceSid")
        return {
            "account_sid": account,
            "api_version": API_VERSION,
            "body": params.get("Body", ""),
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            # a Messaging Service picks the sender itself
            "from": params.get("From") or ("+14155550100" if service else None),
            "messaging_service_sid": service,
            "num_media": str(len(params.getall("MediaUrl", []))),
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": message_sid,
            "status": "accepted" if service else "queued",
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": params.get("To"),
            "uri": f"{uri}.json",
        }


def _invalid(params: MultiDict[str]) -> web.Response | None:
    """Twilio's own checks of a create request, with its codes."""
    to = params.get("To", "")
    if not to:
        return _error(400, 21604, "A 'To' phone number is required.")
    if not params.get("From") and not params.get("MessagingServiceSid"):
        return _error(400, 21603, "A 'From' phone number is required.")
    if not (params.get("Body") or params.get("MediaUrl") or params.get("ContentSid")):
        return _error(400, 21602, "Message body is required.")
    if len(params.get("Body", "")) > 1600:
        return _error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
    from_ = params.get("From", "")
    if from_ and to.startswith("whatsapp:") != from_.startswith("whatsapp:"):
        return _error(400, 21910, "Invalid From and To pair. From and To should be of the same channel")
    if not to.removeprefix("whatsapp:").startswith("+"):
        return _error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
    return None


def _error(status: int, code: int, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message,
                              "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status},
                             status=status)
