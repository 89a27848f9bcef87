"""Who is at the console: password hashing, session cookies, login throttling
and the first admin account."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from router.appkeys import SETTINGS, STORE
from router.models import Agent, Role, utcnow

log = logging.getLogger(__name__)

COOKIE = "omnirouter_session"
ADMIN_ENV = "OMNIROUTER_ADMIN_PASSWORD"
_hasher = PasswordHasher()
# verified against when the username is unknown, so both cases cost the same
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


async def hash_password(password: str) -> str:
    # argon2 is deliberately slow: keep it off the event loop
    return await asyncio.to_thread(_hasher.hash, password)


def _verify(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(stored_hash: str | None, password: str) -> bool:
    ok = await asyncio.to_thread(_verify, stored_hash or _DUMMY_HASH, password)
    return ok and stored_hash is not None


def token_hash(token: str) -> str:
    """Only a hash of the cookie is stored: a leaked database opens no session."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class _Failures:
    count: int
    locked_until: float


class LoginThrottle:
    """Locks a (username, address) out for a while after repeated failures."""

    def __init__(self, attempts: int, lockout: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.attempts = attempts
        self.lockout = lockout
        self.clock = clock
        self._failures: dict[tuple[str, str], _Failures] = {}

    def retry_after(self, key: tuple[str, str]) -> float | None:
        entry = self._failures.get(key)
        if entry is None or entry.count < self.attempts:
            return None
        remaining = entry.locked_until - self.clock()
        if remaining <= 0:
            del self._failures[key]
            return None
        return remaining

    def failed(self, key: tuple[str, str]) -> None:
        entry = self._failures.setdefault(key, _Failures(0, 0.0))
        entry.count += 1
        entry.locked_until = self.clock() + self.lockout
        if len(self._failures) > 100_000:  # bound memory under a spraying attack
            self._failures.pop(next(iter(self._failures)))

    def succeeded(self, key: tuple[str, str]) -> None:
        self._failures.pop(key, None)


THROTTLE = web.AppKey("login_throttle", LoginThrottle)
AGENT = web.RequestKey("agent", Agent)


async def start_session(request: web.Request, response: web.StreamResponse, agent: Agent) -> None:
    hours = request.app[SETTINGS].console.session_hours
    token = secrets.token_urlsafe(32)
    await request.app[STORE].create_session(token_hash(token), agent.id, utcnow() + timedelta(hours=hours))
    response.set_cookie(
        COOKIE, token, max_age=int(hours * 3600), httponly=True, samesite="Strict", secure=request.secure, path="/"
    )


async def session_agent(request: web.Request) -> Agent | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    return await request.app[STORE].session_agent(token_hash(token), utcnow())


async def end_session(request: web.Request, response: web.StreamResponse) -> None:
    token = request.cookies.get(COOKIE)
    if token:
        await request.app[STORE].delete_session(token_hash(token))
    response.del_cookie(COOKIE, path="/")


async def seed_admin(app: web.Application) -> AsyncIterator[None]:
    """First start: create ``admin`` with the password from the environment,
    or a generated one shown once on the terminal."""
    store = app[STORE]
    if await store.agent_credentials("admin") is None:
        password = os.environ.get(ADMIN_ENV)
        generated = not password
        password = password or secrets.token_urlsafe(12)
        await store.create_agent("admin", "Administrator", Role.ADMIN, await hash_password(password))
        if generated:
            log.warning("created the admin account with a generated password (shown once on stderr)")
            print(
                f"\n  omnirouter: created the console account 'admin' with password: {password}\n"
                f"  It is shown only this once. Set {ADMIN_ENV} before the first start to choose it.\n",
                file=sys.stderr,
                flush=True,
            )
        else:
            log.info("created the admin account from %s", ADMIN_ENV)
    yield
