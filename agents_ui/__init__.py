"""The agents' and admins' web console: HTTP API, websocket, static assets."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from agents_ui import api as _api  # registers the endpoints
from agents_ui.endpoints import mount
from agents_ui.live import SOCKETS, close_sockets, console_ws
from agents_ui.sessions import THROTTLE, LoginThrottle, seed_admin
from agents_ui.spec import openapi
from router.appkeys import SETTINGS

STATIC = Path(__file__).parent / "static"
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}

__all__ = ["_api", "setup_console"]


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "console.html", headers=_SECURITY_HEADERS)


async def _no_sniff(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")


def setup_console(app: web.Application) -> None:
    console = app[SETTINGS].console
    app[THROTTLE] = LoginThrottle(console.login_attempts, console.login_lockout_seconds)
    app[SOCKETS] = set()
    app.on_response_prepare.append(_no_sniff)
    app.router.add_get("/", index)
    app.router.add_static("/console/", STATIC, append_version=True)
    app.router.add_get("/api/openapi.json", openapi)
    app.router.add_get("/api/ws", console_ws)
    mount(app)
    app.cleanup_ctx.append(seed_admin)
    app.on_shutdown.append(close_sockets)
