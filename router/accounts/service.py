"""The rules of console accounts, apart from HTTP: argon2 password hashing
(and re-hashing), session tokens (only their hash is stored), a password set
from the terminal, and the first admin account."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import os
import secrets
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from router.accounts.store import AccountStore, SessionEnd
from router.agents.service import WeakPassword, password_weakness
from router.models import Agent, Role
from router.store.errors import ConflictError, NotFound, StoreError

log = logging.getLogger(__name__)

ADMIN_ENV = "OMNIROUTER_ADMIN_PASSWORD"
_hasher = PasswordHasher()
T = TypeVar("T")


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the username is unknown, so both cases cost the
    same; made on the first such login, not at import (argon2 is slow on
    purpose: 0.1-0.5 s that every start would pay)."""
    return _hasher.hash(secrets.token_urlsafe(16))


# argon2 is slow on purpose (0.1-0.5 s a check) and lets go of the interpreter's lock:
# its own threads, as many as a small machine's cores. In asyncio's default pool, a
# flood of logins with made-up names queued before every file read and store write
# (a visitor's upload took 22 s); here it queues before other logins alone
_ARGON2 = ThreadPoolExecutor(max_workers=2, thread_name_prefix="argon2")


async def _in_argon2_pool(fn: Callable[[], T]) -> T:
    return await asyncio.get_running_loop().run_in_executor(_ARGON2, fn)


async def hash_password(password: str) -> str:
    return await _in_argon2_pool(lambda: _hasher.hash(password))


def _verify(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(stored_hash: str | None, password: str) -> bool:
    ok = await _in_argon2_pool(lambda: _verify(stored_hash or _dummy_hash(), password))
    return ok and stored_hash is not None


async def check_login(store: AccountStore, username: str, password: str) -> Agent | None:
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


class UnknownAccount(NotFound):
    """No account has the username; ``known`` lists the ones there are."""

    def __init__(self, username: str, known: list[str]) -> None:
        super().__init__(f"agent {username}")
        self.username = username
        self.known = known


async def set_password(store: AccountStore, username: str, password: str) -> int:
    """A new password for ``username``; the console sessions it had end (how
    many). ``UnknownAccount`` changes nothing."""
    creds = await store.agent_credentials(username)
    if creds is None:
        raise UnknownAccount(username, [a.username for a in await store.list_agents()])
    agent = creds[0]
    # the console's own rule: the command line set what the console refuses ('11111111', the username)
    if (why := password_weakness(password, agent.username, agent.display_name)) is not None:
        raise WeakPassword(why)
    # one transaction: never the new password with the old sessions alive
    return await store.replace_password(agent.id, await hash_password(password))


def _announce(password: str, refused: str | None = None) -> None:
    """The one place the generated password ever appears: the terminal of
    whoever started the service (never the log, which may be shipped away)."""
    lines = [
        "omnirouter created the console account 'admin'.",
        f"Its password: {password}",
        "It is shown only this once: sign in and keep it somewhere safe.",
        f"(Set {ADMIN_ENV} before the first start to choose it yourself.)",
    ]
    if refused is not None:
        lines[1:1] = [f"{ADMIN_ENV} was not used: {refused}."]
    width = max(len(line) for line in lines)
    rule = "+" + "-" * (width + 2) + "+"
    boxed = [rule, *(f"| {line.ljust(width)} |" for line in lines), rule]
    print("\n" + "\n".join(boxed) + "\n", file=sys.stderr, flush=True)


async def _create_admin(store: AccountStore) -> None:
    chosen = os.environ.get(ADMIN_ENV)
    refused = password_weakness(chosen, "admin", "Administrator") if chosen else None
    generated = not chosen or refused is not None
    password = chosen if chosen and refused is None else secrets.token_urlsafe(12)
    try:
        await store.create_agent("admin", "Administrator", Role.ADMIN, await hash_password(password))
    except ConflictError:
        return  # another process sharing the store seeded it first
    if generated:
        _announce(password, refused)
        if refused is not None:  # the reason, never the password
            log.warning("%s was not used for the admin account (%s): a generated password was, shown once on "
                        "stderr", ADMIN_ENV, refused)
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
        self._store: AccountStore | None = None

    def start(self, store: AccountStore) -> None:
        self._store = store
        self._task = asyncio.create_task(self._seed(store), name="seed-admin")

    async def _seed(self, store: AccountStore) -> None:
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


async def open_session(store: AccountStore, agent_id: str, lifetime: timedelta, now: datetime) -> str:
    """A new console session of ``agent_id`` lasting ``lifetime``: its token,
    for the cookie; the store keeps only the token's hash."""
    token = secrets.token_urlsafe(32)
    await store.create_session(token_hash(token), agent_id, now + lifetime, seen_at=now)
    return token


async def session_agent(store: AccountStore, token: str, now: datetime) -> Agent | None:
    """Whose session ``token`` is, None once it has expired or ended."""
    return await store.session_agent(token_hash(token), now)


async def end_session(store: AccountStore, token: str, now: datetime) -> tuple[str, SessionEnd | None]:
    """End the session of ``token``: its hash (what live connections know it
    by), and whose it was with how many of theirs are left (None: it had
    ended already), so a logout knows whether it was the agent's last."""
    hashed = token_hash(token)
    return hashed, await store.end_session(hashed, now)
