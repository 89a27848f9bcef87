"""A bare aiohttp webhook receiver: the reference bench.webhooks measures
each connector against (same library, same machine, same bodies). Each
route parses its body as the platform sends it (JSON for Telegram and VK,
a form for Twilio) and answers 200, nothing more: no signature, no store."""

from __future__ import annotations

import sys

from aiohttp import web


async def json_body(request: web.Request) -> web.Response:
    body = await request.json()
    if not isinstance(body, dict):
        return web.Response(status=400, text="not an object")
    return web.Response(text="ok")


async def form_body(request: web.Request) -> web.Response:
    form = await request.post()
    if "MessageSid" not in form:
        return web.Response(status=400, text="no MessageSid")
    return web.Response(text="<Response/>", content_type="text/xml")


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def main() -> None:
    app = web.Application()
    app.router.add_post("/webhooks/telegram/{connector}", json_body)
    app.router.add_post("/webhooks/vk/{connector}", json_body)
    app.router.add_post("/webhooks/twilio/{connector}", form_body)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)


if __name__ == "__main__":
    main()
