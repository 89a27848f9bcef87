"""A local bot speaking Rasa's REST channel, as Rasa documents it
(https://rasa.com/docs/rasa/connectors/your-own-website#rest-channels):

    POST /webhooks/rest/webhook  {"sender": "...", "message": "..."}
    → 200 [{"recipient_id": "...", "text": "..."}, {"recipient_id": "...", "image": "..."}]

A message of the answer may also carry ``buttons`` (``[{"title": "...",
"payload": "/intent"}]``), ``attachment`` or ``custom``, as Rasa's
``CollectingOutputChannel`` puts them; a pressed button comes back as its
payload in ``message``.

It echoes ``You said: <message>`` (text alone: what the customer is sent of
an image is the image tests' own). A test can make it stall until released,
fail with an HTTP status, answer given messages (a list: each gets the
sender's ``recipient_id``) or a body that is no such list. Records every request.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from tests.fakes.local import LocalServer

PATH = "/webhooks/rest/webhook"


class FakeRasa(LocalServer):
    def __init__(self) -> None:
        super().__init__()
        self.requests: list[dict[str, Any]] = []
        # what the next answers are: None → the echo; an int → that HTTP status; str/bytes → that raw body;
        # a list → those messages (without their recipient_id: the sender's is added)
        self.script: list[int | str | bytes | list[dict[str, Any]] | None] = []
        self.stall = False
        self.release = asyncio.Event()
        self.started = asyncio.Event()  # set when a request arrives

    def routes(self, app: web.Application) -> None:
        app.router.add_post(PATH, self._webhook)

    async def close(self) -> None:
        self.release.set()  # a stalled answer must not hold the server open
        await super().close()

    @property
    def webhook_url(self) -> str:
        return self.url(PATH)

    async def _webhook(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return web.json_response({"error": "bad json"}, status=400)
        if not isinstance(body, dict) or "message" not in body:
            return web.json_response({"error": "missing message"}, status=400)
        self.requests.append(body)
        self.started.set()
        if self.stall:
            await self.release.wait()
        step = self.script.pop(0) if self.script else None
        if isinstance(step, int):
            return web.json_response({"error": "internal"}, status=step)
        if isinstance(step, str | bytes):
            return web.Response(body=step.encode() if isinstance(step, str) else step, content_type="application/json")
        sender = str(body.get("sender", "default"))
        if isinstance(step, list):
            return web.json_response([{"recipient_id": sender, **message} for message in step])
        return web.json_response([{"recipient_id": sender, "text": f"You said: {body['message']}"}])
