"""The merger an app would wire beside a router built by a test."""

from __future__ import annotations

from router.core import Router
from router.identity.merging import Merger


def merger(router: Router) -> Merger:
    # the router's clock, read when used: tests swap it after building the router
    desk = router.bot_desk
    return Merger(router.store, router.bus, router.identity, lambda: router.clock(),  # noqa: PLW0108
                  bot_turn=desk.schedule if desk is not None else None)
