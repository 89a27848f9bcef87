"""An integrator's webhook endpoint: a real aiohttp server on a free local
port that checks each delivery's ``Omnirouter-Signature`` as the README tells
integrators to, and keeps what it accepted, in the order it accepted it.

``answer`` sets what it replies (200; 503 while "down" but listening; a 302
to ``redirect_to``); ``stop``/``start`` take it off the port entirely."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from router.webhooks.signing import EVENT_ID_HEADER, SIGNATURE_HEADER, BadSignature, verify
from tests.fakes.local import LocalServer


@dataclass(frozen=True)
class Received:
    event: dict[str, Any]
    event_id_header: str
    signed_at: int


class WebhookReceiver(LocalServer):
    def __init__(self) -> None:
        super().__init__()
        self.secrets: list[str] = []  # any of them may sign (a rotation)
        self.accepted: list[Received] = []
        self.refused: list[str] = []  # why each refused request was refused
        self.requests = 0
        self.answer = 200
        self.redirect_to = ""
        # events it answers 503 for (an integration failing on some), counted in ``failed``
        self.fail: Callable[[dict[str, Any]], bool] | None = None
        self.failed = 0
        self.changed = asyncio.Condition()
        self._port: int | None = None

    async def start(self) -> str:
        """On the port of its first start every time: a receiver back from an outage is at the same URL."""
        app = web.Application()
        self.routes(app)
        self._server = TestServer(app, host="127.0.0.1", port=self._port)
        await self._server.start_server()
        self._port = self._server.port
        return self.base_url

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/hook", self._hook)

    async def _hook(self, request: web.Request) -> web.Response:
        self.requests += 1
        body = await request.read()
        if self.answer in (301, 302, 307, 308):
            raise web.HTTPFound(self.redirect_to) if self.answer == 302 else web.HTTPTemporaryRedirect(
                self.redirect_to)
        if self.answer != 200:
            return web.Response(status=self.answer, text="down for maintenance")
        signed_at = None
        for secret in self.secrets:
            try:
                signed_at = verify(secret, request.headers.get(SIGNATURE_HEADER, ""), body)
                break
            except BadSignature:
                continue
        if signed_at is None:
            self.refused.append("bad signature")
            return web.Response(status=400, text="bad signature")
        event = json.loads(body)
        if self.fail is not None and self.fail(event):
            self.failed += 1
            return web.Response(status=503, text="cannot take this one now")
        async with self.changed:
            self.accepted.append(Received(event, request.headers.get(EVENT_ID_HEADER, ""), signed_at))
            self.changed.notify_all()
        return web.Response(status=204)

    async def wait_for(self, count: int, seconds: float) -> list[Received]:
        """Once ``count`` deliveries were accepted (``seconds``: a hang detector)."""
        async with asyncio.timeout(seconds), self.changed:
            await self.changed.wait_for(lambda: len(self.accepted) >= count)
        return list(self.accepted)

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        return [r.event for r in self.accepted if kind is None or r.event["type"] == kind]
