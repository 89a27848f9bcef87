"""The accounts' part of the store contract (router/accounts/store.py), on
every backend of tests/router/store/test_contract.py, plus the dict-backed
one the service's tests use: a backend is proven by the same suite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from router.accounts.store import AccountStore
from router.models import Role
from router.store.errors import ConflictError, NotFound
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
    await store.delete_session("tok")
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
