"""Who is at the console: password hashing, session cookies, login throttling
and the first admin account."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import os
import secrets
import sys
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from router.appkeys import SETTINGS, STORE
from router.models import Agent, Role, utcnow
from router.store import ConflictError, Store, StoreError

log = logging.getLogger(__name__)

COOKIE = "omnirouter_session"
ADMIN_ENV = "OMNIROUTER_ADMIN_PASSWORD"
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the username is unknown, so both cases cost the
    same; made on the first such login, not at import (argon2 is slow on
    purpose: 0.1-0.5 s that every start would pay)."""
    return _hasher.hash(secrets.token_urlsafe(16))


async def hash_password(password: str) -> str:
    # argon2 is deliberately slow: keep it off the event loop
    return await asyncio.to_thread(_hasher.hash, password)


def _verify(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(stored_hash: str | None, password: str) -> bool:
    ok = await asyncio.to_thread(lambda: _verify(stored_hash or _dummy_hash(), password))
    return ok and stored_hash is not None


async def check_login(store: Store, username: str, password: str) -> Agent | None:
    """The agent if the password is right; upgrades a hash made with weaker
    argon2 parameters than today's while the password is at hand."""
    creds = await store.agent_credentials(username)
    if not await verify_password(creds[1] if creds else None, password) or creds is None:
        return None
    agent, stored_hash = creds
    if _hasher.check_needs_rehash(stored_hash):
        await store.set_password_hash(agent.id, await hash_password(password))
        log.info("re-hashed the password of %s with the current argon2 parameters", agent.username)
    return agent


def token_hash(token: str) -> str:
    """Only a hash of the cookie is stored: a leaked database opens no session."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class _Record:
    failures: deque[float]
    locked_until: float = 0.0


class LoginThrottle:
    """After ``attempts`` failed logins for a (username, address) within
    ``lockout`` seconds, that pair is refused for ``lockout`` seconds.

    In memory on purpose: one process serves the console, and a restart
    forgetting a lock-out costs an attacker a restart's worth of guesses.
    An attempt counts before its password is checked, so parallel guesses
    cannot slip past the limit while argon2 is busy; a success clears it.
    """

    MAX_KEYS = 100_000  # bounds memory under a password-spraying attack

    def __init__(self, attempts: int, lockout: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.attempts = attempts
        self.lockout = lockout
        self.clock = clock
        self._records: dict[tuple[str, str], _Record] = {}

    def retry_after(self, key: tuple[str, str]) -> float | None:
        """Seconds until ``key`` may try again, or None when it may now."""
        record = self._records.get(key)
        if record is None or not record.locked_until:
            return None
        remaining = record.locked_until - self.clock()
        if remaining > 0:
            return remaining
        del self._records[key]  # served its time: a clean slate
        return None

    def attempt(self, key: tuple[str, str]) -> None:
        now = self.clock()
        record = self._records.pop(key, None) or _Record(deque(maxlen=self.attempts))
        while record.failures and record.failures[0] <= now - self.lockout:
            record.failures.popleft()
        record.failures.append(now)
        if len(record.failures) >= self.attempts:
            record.locked_until = now + self.lockout
        self._records[key] = record  # re-inserted last: the dict's order is least recently tried first
        if len(self._records) > self.MAX_KEYS:
            self._records.pop(next(iter(self._records)))

    def succeeded(self, key: tuple[str, str]) -> None:
        self._records.pop(key, None)


THROTTLE = web.AppKey("login_throttle", LoginThrottle)
AGENT = web.RequestKey("agent", Agent)


def served_over_https(request: web.Request) -> bool:
    """Behind a proxy that ends TLS the request itself is plain http: the
    configured public address says how browsers really reach us."""
    public_url = request.app[SETTINGS].server.public_url or ""
    return request.secure or public_url.startswith("https://")


async def start_session(request: web.Request, response: web.StreamResponse, agent: Agent) -> None:
    hours = request.app[SETTINGS].console.session_hours
    token = secrets.token_urlsafe(32)
    await request.app[STORE].create_session(token_hash(token), agent.id, utcnow() + timedelta(hours=hours))
    response.set_cookie(
        COOKIE, token, max_age=int(hours * 3600), httponly=True, samesite="Strict",
        secure=served_over_https(request), path="/",
    )


def request_token_hash(request: web.Request) -> str | None:
    token = request.cookies.get(COOKIE)
    return token_hash(token) if token else None


async def session_agent(request: web.Request) -> Agent | None:
    hashed = request_token_hash(request)
    if hashed is None:
        return None
    return await request.app[STORE].session_agent(hashed, utcnow())


async def end_session(request: web.Request, response: web.StreamResponse) -> str | None:
    """Forget the session; returns its token hash (None if there was none)."""
    hashed = request_token_hash(request)
    if hashed is not None:
        await request.app[STORE].delete_session(hashed)
    response.del_cookie(COOKIE, path="/")
    return hashed


def _announce(password: str) -> None:
    """The one place the generated password ever appears: the terminal of
    whoever started the service (never the log, which may be shipped away)."""
    lines = [
        "omnirouter created the console account 'admin'.",
        f"Its password: {password}",
        "It is shown only this once: sign in and keep it somewhere safe.",
        f"(Set {ADMIN_ENV} before the first start to choose it yourself.)",
    ]
    width = max(len(line) for line in lines)
    rule = "+" + "-" * (width + 2) + "+"
    boxed = [rule, *(f"| {line.ljust(width)} |" for line in lines), rule]
    print("\n" + "\n".join(boxed) + "\n", file=sys.stderr, flush=True)


async def _create_admin(store: Store) -> None:
    password = os.environ.get(ADMIN_ENV)
    generated = not password
    password = password or secrets.token_urlsafe(12)
    try:
        await store.create_agent("admin", "Administrator", Role.ADMIN, await hash_password(password))
    except ConflictError:
        return  # another process sharing the store seeded it first
    if generated:
        _announce(password)
        log.warning("created the admin account with a generated password, shown once on stderr")
    else:
        log.info("created the admin account with the password from %s", ADMIN_ENV)


class AdminSeed:
    """The first start's creation of ``admin``. Hashing its password (argon2,
    slow on purpose: 0.3-1 s on 2 cores) runs beside the start instead of
    before the port answers; a login waits for it, so the account is there
    by the time anyone can use it."""

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None
        self._store: Store | None = None

    def start(self, store: Store) -> None:
        self._store = store
        self._task = asyncio.create_task(self._seed(store), name="seed-admin")

    async def _seed(self, store: Store) -> None:
        if await store.agent_credentials("admin") is None:
            await _create_admin(store)

    async def wait(self) -> None:
        """Returns once ``admin`` exists (at once on every later start);
        raises what the seeding met, a store outage say."""
        if self._task is None or self._store is None:
            return
        if self._task.done() and self._task.exception() is not None:
            self.start(self._store)  # it met an outage at the start: try again now, not never
        await asyncio.shield(self._task)

    async def stop(self) -> None:
        """A seeding under way is finished, not dropped: a stop right after
        the start still creates the account and shows its password (the
        store closes after this)."""
        if self._task is not None:
            with contextlib.suppress(StoreError):  # the store logs its outage; the next start seeds
                await self._task


ADMIN_SEED = web.AppKey("admin_seed", AdminSeed)


async def seed_admin(app: web.Application) -> AsyncIterator[None]:
    """First start: create ``admin`` (runs after the store is open)."""
    app[ADMIN_SEED].start(app[STORE])
    yield
    await app[ADMIN_SEED].stop()
