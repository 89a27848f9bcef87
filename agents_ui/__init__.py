"""The agents' and admins' web console: HTTP API, websocket, static assets."""

from aiohttp import web


def setup_console(app: web.Application) -> None:
    """Mount the console (filled in by the console module)."""
