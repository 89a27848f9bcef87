"""Who is at a console: each console session's ``seen_at``
(``router.accounts.store.seen_sessions``), which the assigner reads to tell an
agent at work from one who closed the console without logging out
(``router.routing.assignment``: ``absent_after``, ``console.absent_minutes``).

A session is seen when a console socket opens with it, every ``SEEN_EVERY``
while one is open (``agents_api``'s sweep of this node's sockets), and at a
request of its, at most once in ``SEEN_EVERY`` (a client of the API without
the live socket is somebody at work too): a write a minute for a console,
never one per request."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection

from aiohttp import web

from router.accounts.store import AccountStore
from router.appkeys import ASSIGNER, STORE
from router.store.errors import StoreError

log = logging.getLogger(__name__)

# seconds between two marks of a session seen; console.absent_minutes is at least twice this
SEEN_EVERY = 60.0
# sessions whose last mark is remembered on this node, at most (the oldest forgotten first: one
# more write for such a session, never a missed one)
KEPT = 10_000


class Attendance:
    """When this node last marked each session seen, so a busy console's
    requests write once in ``every`` seconds."""

    def __init__(self, every: float = SEEN_EVERY, clock: Callable[[], float] = time.monotonic) -> None:
        self.every = every
        self._clock = clock
        self._marked: dict[str, float] = {}

    def due(self, token_hash: str) -> bool:
        """Whether the session is to be marked now (and, if so, noted as marked)."""
        now = self._clock()
        last = self._marked.get(token_hash)
        if last is not None and now - last < self.every:
            return False
        self._note(token_hash, now)
        return True

    def noted(self, token_hashes: Collection[str]) -> None:
        now = self._clock()
        for token_hash in token_hashes:
            self._note(token_hash, now)

    def _note(self, token_hash: str, now: float) -> None:
        self._marked.pop(token_hash, None)  # to the end: the dict's order is the marks' order
        self._marked[token_hash] = now
        while len(self._marked) > KEPT:
            del self._marked[next(iter(self._marked))]


ATTENDANCE = web.AppKey("console_attendance", Attendance)


async def mark_seen(app: web.Application, token_hashes: Collection[str]) -> None:
    """These sessions are at a console now (by the assigner's clock, which
    judges absence). A store that does not answer costs a mark, not the
    request: the next one marks it."""
    if not token_hashes:
        return
    store: AccountStore = app[STORE]
    app[ATTENDANCE].noted(token_hashes)
    try:
        await store.seen_sessions(token_hashes, app[ASSIGNER].clock())
    except StoreError as exc:
        log.debug("console sessions not marked seen: %s", exc)


async def seen_at_request(app: web.Application, token_hash: str | None) -> None:
    """A request (or a socket opened) with this session: marked if not marked within ``SEEN_EVERY``."""
    if token_hash and app[ATTENDANCE].due(token_hash):
        await mark_seen(app, [token_hash])
