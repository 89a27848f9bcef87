"""The accounts' part of the store contract (router/accounts/store.py), on
every backend of tests/router/store/test_contract.py, plus the dict-backed
one the service's tests use: a backend is proven by the same suite."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from router.accounts.store import AccountStore, SessionEnd
from router.models import Role
from router.store.errors import ConflictError, NotFound
from router.store.postgres import PostgresStore
from tests.router.accounts.memory import MemoryAccounts
from tests.router.store.test_contract import BACKENDS, T0


@pytest.fixture(params=[*sorted(BACKENDS), "memory"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AccountStore]:
    if request.param == "memory":
        yield MemoryAccounts()
        return
    async with BACKENDS[request.param](request, tmp_path)() as s:
        yield s


async def test_a_write_that_breaks_a_rule_of_the_schema_is_the_stores_conflict(store: AccountStore) -> None:
    """No driver's error crosses the contract: a token stored twice, or a
    session of an agent that does not exist, is the store's ConflictError
    (it was the driver's IntegrityError), and nothing of it is stored."""
    agent = await store.create_agent("ann", "Ann", Role.AGENT, "hash")
    await store.create_session("t1", agent.id, T0 + timedelta(hours=1))
    with pytest.raises(ConflictError):
        await store.create_session("t1", agent.id, T0 + timedelta(hours=2))
    with pytest.raises(ConflictError):
        await store.create_session("t2", "agt_missing", T0 + timedelta(hours=1))
    first = await store.session_agent("t1", T0)
    assert first is not None and first.id == agent.id
    assert await store.session_agent("t1", T0 + timedelta(minutes=90)) is None  # the first one's expiry, kept
    assert await store.session_agent("t2", T0) is None


async def test_agents_and_sessions(store: AccountStore) -> None:
    ann = await store.create_agent("ann", "Ann", Role.ADMIN, "h1")
    with pytest.raises(ConflictError):
        await store.create_agent("ann", "Other Ann", Role.AGENT, "h2")
    creds = await store.agent_credentials("ann")
    assert creds is not None and creds == (ann, "h1")
    await store.set_password_hash(ann.id, "h3")
    assert (await store.agent_credentials("ann")) == (ann, "h3")
    assert await store.agent_credentials("bob") is None
    await store.create_session("tok", ann.id, T0 + timedelta(hours=1))
    assert await store.session_agent("tok", T0) == ann
    assert await store.session_agent("tok", T0 + timedelta(hours=2)) is None  # expired
    await store.end_session("tok", T0)
    assert await store.session_agent("tok", T0) is None
    assert [a.username for a in await store.list_agents()] == ["ann"]


async def test_an_agent_by_id_and_the_end_of_every_session_of_one(store: AccountStore) -> None:
    """A password reset ends the sessions of that agent only, and says how many."""
    ann = await store.create_agent("ann", "Ann", Role.AGENT, "h")
    bob = await store.create_agent("bob", "Bob", Role.AGENT, "h")
    assert await store.get_agent(ann.id) == ann
    with pytest.raises(NotFound):
        await store.get_agent("agt_missing")
    for token, agent in (("a1", ann), ("a2", ann), ("b1", bob)):
        await store.create_session(token, agent.id, T0 + timedelta(hours=1))
    assert await store.delete_agent_sessions(ann.id) == 2
    assert await store.session_agent("a1", T0) is None and await store.session_agent("a2", T0) is None
    assert await store.session_agent("b1", T0) == bob
    assert await store.delete_agent_sessions(ann.id) == 0


async def test_an_agents_language_is_kept_and_read_back_everywhere(store: AccountStore) -> None:
    agent = await store.create_agent("ann", "Ann", Role.AGENT, "hash")
    assert agent.language is None
    await store.set_agent_language(agent.id, "ru")
    assert (await store.get_agent(agent.id)).language == "ru"
    credentials = await store.agent_credentials("ann")
    assert credentials is not None and credentials[0].language == "ru"
    assert [a.language for a in await store.list_agents()] == ["ru"]
    await store.set_agent_language(agent.id, None)
    assert (await store.get_agent(agent.id)).language is None
    with pytest.raises(NotFound):
        await store.set_agent_language("agt_missing", "en")


async def test_ending_a_session_says_whose_it_was_and_how_many_of_theirs_are_still_alive(store: AccountStore) -> None:
    """What a logout needs to know whether the agent is still at a console
    somewhere: an expired session is no longer there, nor is a colleague's."""
    ann = await store.create_agent("ann", "Ann", Role.AGENT, "h")
    bob = await store.create_agent("bob", "Bob", Role.AGENT, "h")
    for token, agent, expires in (("a1", ann, T0 + timedelta(hours=1)), ("a2", ann, T0 + timedelta(hours=1)),
                                  ("a-old", ann, T0 - timedelta(minutes=1)), ("b1", bob, T0 + timedelta(hours=1))):
        await store.create_session(token, agent.id, expires)
    assert await store.end_session("a1", T0) == SessionEnd(ann.id, 1)
    assert await store.session_agent("a1", T0) is None
    assert await store.end_session("a1", T0) is None  # ended already: it tells of nobody
    assert await store.end_session("nope", T0) is None
    assert await store.end_session("a2", T0) == SessionEnd(ann.id, 0)
    assert await store.session_agent("b1", T0) == bob


async def test_an_agents_last_two_sessions_ended_at_once_from_two_nodes_leave_one_of_them_last(
        store: AccountStore) -> None:
    """Two browsers logged out in the same instant, through two nodes: one of
    the two ends must see the other's, or neither logout takes the agent
    offline (the lock of the agent's row, ``AccountStore.end_session``)."""
    async with contextlib.AsyncExitStack() as stack:
        # SQLite and the dicts are one node (one writer): there the race passes by construction
        other: AccountStore = (await stack.enter_async_context(PostgresStore(store.dsn))
                               if isinstance(store, PostgresStore) else store)
        ann = await store.create_agent("ann", "Ann", Role.AGENT, "h")
        for round_ in range(20):
            first, second = f"r{round_}-desk", f"r{round_}-laptop"
            for token in (first, second):
                await store.create_session(token, ann.id, T0 + timedelta(hours=1))
            ends = await asyncio.gather(store.end_session(first, T0), other.end_session(second, T0))
            assert sorted(end.sessions_left for end in ends if end is not None) == [0, 1], round_
