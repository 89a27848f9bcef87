"""Who is at the console over HTTP: session cookies, login throttling and
the first admin account's seeding in the app's lifecycle (the rules of
accounts are in ``router.accounts.service``)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta

from aiohttp import web

from router.accounts import service
from router.accounts.service import AdminSeed, token_hash
from router.accounts.store import AccountStore, SessionEnd
from router.accounts.throttle import Failures, LoginAttempts, LoginKey, count_attempt
from router.appkeys import SETTINGS, STORE
from router.models import Agent, utcnow

COOKIE = "omnirouter_session"


def _store(app: web.Application) -> AccountStore:
    """Of the store, sessions touch the agents' accounts only."""
    return app[STORE]


class LoginThrottle:
    """The login throttle's rule (``router.accounts.throttle``) with the
    attempts counted in this process's memory.

    In memory on one node (SQLite): one process serves the console, and a
    restart forgetting a lock-out costs an attacker a restart's worth of
    guesses. A cluster counts in its database instead (``LOGIN_ATTEMPTS``).
    """

    MAX_KEYS = 100_000  # bounds memory under a password-spraying attack

    def __init__(self, attempts: int, lockout: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.attempts = attempts
        self.lockout = lockout
        self.clock = clock
        self._records: dict[LoginKey, Failures] = {}

    def retry_after(self, key: LoginKey) -> float | None:
        """Seconds until ``key`` may try again, or None when it may now."""
        record = self._records.get(key)
        if record is None or record.locked_until is None:
            return None
        remaining = record.locked_until - self.clock()
        if remaining > 0:
            return remaining
        del self._records[key]  # served its time: a clean slate
        return None

    def attempt(self, key: LoginKey) -> None:
        record = self._records.pop(key, None) or Failures()
        self._records[key], _ = count_attempt(record, self.clock(), self.attempts, self.lockout)
        # re-inserted last: the dict's order is least recently tried first
        if len(self._records) > self.MAX_KEYS:
            self._records.pop(next(iter(self._records)))

    def succeeded(self, key: LoginKey) -> None:
        self._records.pop(key, None)


class LocalLoginAttempts:
    """``LoginAttempts`` in this process's memory: a ``LoginThrottle``."""

    def __init__(self, throttle: LoginThrottle) -> None:
        self.throttle = throttle

    async def attempt(self, key: LoginKey) -> float | None:
        wait = self.throttle.retry_after(key)
        if wait is None:
            self.throttle.attempt(key)
        return wait

    async def succeeded(self, key: LoginKey) -> None:
        self.throttle.succeeded(key)


class PasswordChecks:
    """The password checks in flight from each address, at most ``MAX_IN_FLIGHT``:
    argon2's threads are few on purpose, and 40 made-up names at once from one
    address had every colleague's login wait 5-9 s behind them."""

    MAX_IN_FLIGHT = 4

    def __init__(self) -> None:
        self._in_flight: dict[str, int] = {}

    @contextlib.contextmanager
    def checking(self, address: str) -> Iterator[bool]:
        """True while this check holds a place; False (nothing held) when the address has none left."""
        held = self._in_flight.get(address, 0)
        if held >= self.MAX_IN_FLIGHT:
            yield False
            return
        self._in_flight[address] = held + 1
        try:
            yield True
        finally:
            if (left := self._in_flight[address] - 1) > 0:
                self._in_flight[address] = left
            else:
                del self._in_flight[address]


THROTTLE = web.AppKey("login_throttle", LoginThrottle)
ADDRESS_THROTTLE = web.AppKey("login_address_throttle", LoginThrottle)
PASSWORD_CHECKS = web.AppKey("password_checks", PasswordChecks)
# where login attempts are counted: the memory throttle above on one node, the database
# in a cluster (set by the app factory before the console is set up)
LOGIN_ATTEMPTS = web.AppKey("login_attempts", LoginAttempts)
# an address's failures whatever the username, counted as LOGIN_ATTEMPTS is, under the key ("", address)
ADDRESS_ATTEMPTS = web.AppKey("login_address_attempts", LoginAttempts)
AGENT = web.RequestKey("agent", Agent)


def served_over_https(request: web.Request) -> bool:
    """Behind a proxy that ends TLS the request itself is plain http: the
    configured public address says how browsers really reach us."""
    public_url = request.app[SETTINGS].server.public_url or ""
    return request.secure or public_url.startswith("https://")


async def start_session(request: web.Request, response: web.StreamResponse, agent: Agent) -> None:
    hours = request.app[SETTINGS].console.session_hours
    token = await service.open_session(_store(request.app), agent.id, timedelta(hours=hours), utcnow())
    response.set_cookie(
        COOKIE, token, max_age=int(hours * 3600), httponly=True, samesite="Strict",
        secure=served_over_https(request), path="/",
    )


def request_token_hash(request: web.Request) -> str | None:
    token = request.cookies.get(COOKIE)
    return token_hash(token) if token else None


async def session_agent(request: web.Request) -> Agent | None:
    token = request.cookies.get(COOKIE)
    return await service.session_agent(_store(request.app), token, utcnow()) if token else None


async def end_session(request: web.Request, response: web.StreamResponse) -> tuple[str, SessionEnd | None] | None:
    """Forget the session: its token hash and what the store says of its end
    (``service.end_session``); None when the request had no cookie."""
    token = request.cookies.get(COOKIE)
    ended = await service.end_session(_store(request.app), token, utcnow()) if token else None
    response.del_cookie(COOKIE, path="/")
    return ended


ADMIN_SEED = web.AppKey("admin_seed", AdminSeed)


async def seed_admin(app: web.Application) -> AsyncIterator[None]:
    """First start: create ``admin`` (runs after the store is open)."""
    app[ADMIN_SEED].start(_store(app))
    yield
    await app[ADMIN_SEED].stop()
