"""The agents' and admins' web console: HTTP API, websocket, static assets."""

from __future__ import annotations

import weakref
from pathlib import Path

from aiohttp import hdrs, web

# imported for their @endpoint declarations, which mount() turns into routes
from agents_ui import (
    agents_api,
    api,
    canned_api,
    claims_api,
    contacts_api,
    csat_api,
    files_api,
    live,
    notes_api,
    reports_api,
    routing_api,
    search_api,
    signals_api,
    spec,
    wallboard_api,
    webhooks_api,
)
from agents_ui.attendance import ATTENDANCE, Attendance
from agents_ui.endpoints import mount
from agents_ui.sessions import (
    ADDRESS_ATTEMPTS,
    ADDRESS_THROTTLE,
    ADMIN_SEED,
    LOGIN_ATTEMPTS,
    PASSWORD_CHECKS,
    THROTTLE,
    LocalLoginAttempts,
    LoginThrottle,
    PasswordChecks,
    seed_admin,
)
from router.accounts.service import AdminSeed
from router.appkeys import SETTINGS

__all__ = [
    "agents_api", "api", "canned_api", "claims_api", "contacts_api", "csat_api", "files_api", "live", "notes_api",
    "reports_api", "routing_api", "search_api", "setup_console", "signals_api", "spec", "wallboard_api",
    "webhooks_api",
]

STATIC = Path(__file__).parent / "static"
# one file per language a person can read the console in
CATALOGUES = Path(__file__).parent / "i18n"
LANGUAGES = ("ru", "en")
_CONSOLE_PATHS = ("/api/", "/console/")
# the page runs only our own files: no inline script, no framing, no foreign hosts
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-cache",
}


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "console.html", headers=_PAGE_HEADERS)


async def catalogue(request: web.Request) -> web.FileResponse:
    """The console's strings in one language (``i18n/<lang>.json``)."""
    lang = request.match_info["lang"]
    if lang not in LANGUAGES:
        raise web.HTTPNotFound(text=f"no catalogue for {lang!r}: {', '.join(LANGUAGES)}")
    return web.FileResponse(CATALOGUES / f"{lang}.json", headers={hdrs.CONTENT_TYPE: "application/json; charset=utf-8"})


async def _console_headers(request: web.Request, response: web.StreamResponse) -> None:
    if not request.path.startswith(_CONSOLE_PATHS):
        return
    # a browser must not guess a script out of an API answer or an asset
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    # revalidate (a cheap 304) so an upgrade's new script is never mixed with an old page
    response.headers.setdefault("Cache-Control", "no-cache")


def setup_console(app: web.Application) -> None:
    """Called by ``create_app`` after the store's lifecycle is registered, so
    seeding the admin account runs on an open store."""
    console = app[SETTINGS].console
    app[ADMIN_SEED] = AdminSeed()
    app[THROTTLE] = LoginThrottle(console.login_attempts, console.login_lockout_seconds)
    app[ADDRESS_THROTTLE] = LoginThrottle(console.login_attempts_per_address, console.login_lockout_seconds)
    app[PASSWORD_CHECKS] = PasswordChecks()
    if LOGIN_ATTEMPTS not in app:  # a cluster's are counted in its database
        app[LOGIN_ATTEMPTS] = LocalLoginAttempts(app[THROTTLE])
        app[ADDRESS_ATTEMPTS] = LocalLoginAttempts(app[ADDRESS_THROTTLE])
    app[live.SOCKETS] = weakref.WeakSet[web.WebSocketResponse]()
    app[ATTENDANCE] = Attendance()
    app.on_response_prepare.append(_console_headers)
    app.router.add_get("/", index)
    # before the static files, whose /console/ prefix would take the path
    app.router.add_get("/console/i18n/{lang}.json", catalogue)
    app.router.add_static("/console/", STATIC, append_version=True)
    mount(app)
    app.cleanup_ctx.extend([seed_admin, agents_api.socket_closer])
    app.on_shutdown.append(live.close_sockets)
