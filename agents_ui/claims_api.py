"""Claims that match someone, in the console API: the hints on a customer's
panel (``matches`` of ``GET /api/customers/{id}``) and their dismissal."""

from __future__ import annotations

import logging

from aiohttp import web

from agents_ui.endpoints import current_agent, endpoint
from agents_ui.schemas import DismissBody, DismissOut
from router.appkeys import BUS, ROUTER, STORE
from router.identity.claim_hints import ClaimHints
from router.identity.store import ClaimStore

log = logging.getLogger(__name__)


def _store(app: web.Application) -> ClaimStore:
    """Of the store, the identity slice's claims only."""
    return app[STORE]


def hints(request: web.Request) -> ClaimHints:
    router = request.app[ROUTER]
    return ClaimHints(_store(request.app), request.app[BUS], router.identity, router.clock)


@endpoint("POST", "/api/customers/{id}/claims/{claim}/dismiss",
          "Dismiss the hint that a customer's claimed phone/email matches another customer: it leaves both "
          "panels, and the audit log of both keeps who dismissed it and why (event claim.dismissed)",
          body=DismissBody, response=DismissOut,
          errors=((404, "no such customer, or the claim is not theirs"),
                  (409, "the claim is verified, dismissed already, or matches no other customer")))
async def dismiss_claim(request: web.Request, body: DismissBody) -> DismissOut:
    agent = current_agent(request)
    dismissed = await hints(request).dismiss(request.match_info["id"], request.match_info["claim"], agent.username,
                                             body.reason)
    return DismissOut(dismissed=dismissed)
