"""The live wallboard in the app's lifecycle: built over the store, the
assigner's routing picture and the router's clock, and run on every node for
that node's watchers (``router.wallboard.live``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from router.agents.service import Permission, may
from router.aio import cancel_and_wait
from router.appkeys import ASSIGNER, BUS, ROUTER, SETTINGS, STORE, WALLBOARD
from router.models import Role
from router.wallboard.live import LiveWallboard
from router.wallboard.service import BotAlert, Wallboard


def _still_may(agent: dict[str, object]) -> bool:
    """Whether an account as an ``agent.updated`` event shows it may still watch the board."""
    try:
        role = Role(str(agent.get("role")))
    except ValueError:
        return False
    return bool(agent.get("active", True)) and may(role, Permission.SUPERVISE)


def _bot_alert(app: web.Application) -> BotAlert:
    """Whether this node's bot is failing its answers now."""
    health = app[ROUTER].bot_health
    health.check()  # a window passed with no failure in it recovers, even with no turn since
    state = health.state
    return BotAlert(failing=state.failing, since=state.since, failed=state.failed, answered=state.answered)


def make_wallboard(app: web.Application) -> LiveWallboard:
    config = app[SETTINGS].wallboard
    # the router's clock and the assigner's policy, read when used: tests swap the one, a reload the other
    board = Wallboard(app[STORE], lambda: app[ASSIGNER].policy, config.valuable, lambda: app[ROUTER].clock(),  # noqa: PLW0108
                      lambda: _bot_alert(app))
    return LiveWallboard(board, app[BUS], config, _still_may)


async def wallboard_ctx(app: web.Application) -> AsyncIterator[None]:
    # built at start-up, as the assigner and the router it reads are there by then
    app[WALLBOARD] = make_wallboard(app)
    task = asyncio.create_task(app[WALLBOARD].run(), name="wallboard")
    yield
    await cancel_and_wait(task)
