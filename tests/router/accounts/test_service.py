"""The accounts' rules, without a database: against the dict-backed store
that passes the accounts' contract (memory.py). The HTTP side of the same
rules is in tests/agents_ui/test_auth.py and test_set_password.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher

from router.accounts import service
from router.accounts.store import SessionEnd
from router.models import Role
from tests.router.accounts.memory import MemoryAccounts
from tests.router.store.test_contract import T0


async def _agent(store: MemoryAccounts, username: str, password: str) -> str:
    created = await store.create_agent(username, username.title(), Role.AGENT, await service.hash_password(password))
    return created.id


async def test_a_login_needs_the_right_password_of_a_known_account() -> None:
    store = MemoryAccounts()
    ann = await _agent(store, "ann", "correct horse")
    found = await service.check_login(store, "ann", "correct horse")
    assert found is not None and found.id == ann
    assert await service.check_login(store, "ann", "wrong horse") is None
    assert await service.check_login(store, "nobody", "correct horse") is None


async def test_a_login_upgrades_a_hash_made_with_weaker_parameters() -> None:
    store = MemoryAccounts()
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("old-password")
    agent = await store.create_agent("old", "Old", Role.AGENT, weak)
    assert await service.check_login(store, "old", "old-password") is not None
    assert store.agents[agent.id][1] != weak
    assert await service.check_login(store, "old", "old-password") is not None  # the new hash verifies


async def test_only_the_hash_of_a_session_token_is_stored_and_it_lasts_its_lifetime() -> None:
    store = MemoryAccounts()
    ann = await _agent(store, "ann", "correct horse")
    token = await service.open_session(store, ann, timedelta(hours=8), T0)
    assert token not in store.sessions and list(store.sessions) == [service.token_hash(token)]
    seen = await service.session_agent(store, token, T0 + timedelta(hours=7, minutes=59))
    assert seen is not None and seen.id == ann
    assert await service.session_agent(store, token, T0 + timedelta(hours=8)) is None
    # ended after its expiry, it was her last: no session of hers is left alive
    assert await service.end_session(store, token, T0 + timedelta(hours=9)) == (
        service.token_hash(token), SessionEnd(ann, 0))
    assert await service.session_agent(store, token, T0) is None


async def test_a_new_password_ends_that_accounts_sessions_only() -> None:
    store = MemoryAccounts()
    ann, bob = await _agent(store, "ann", "first password"), await _agent(store, "bob", "bobs password")
    for agent in (ann, ann, bob):
        await service.open_session(store, agent, timedelta(hours=1), T0)
    assert await service.set_password(store, "ann", "second password") == 2
    assert await service.check_login(store, "ann", "first password") is None
    assert await service.check_login(store, "ann", "second password") is not None
    assert [owner for owner, _ in store.sessions.values()] == [bob]


async def test_a_new_password_for_an_unknown_account_names_the_known_ones_and_changes_nothing() -> None:
    store = MemoryAccounts()
    await _agent(store, "ann", "first password")
    before = dict(store.agents)
    with pytest.raises(service.UnknownAccount) as refused:
        await service.set_password(store, "amn", "second password")
    assert refused.value.known == ["ann"]
    assert store.agents == before


async def test_the_admin_seed_creates_admin_once_with_the_password_from_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(service.ADMIN_ENV, "chosen admin password")
    store = MemoryAccounts()
    for _ in range(2):  # a second start finds the account there
        seed = service.AdminSeed()
        seed.start(store)
        await seed.wait()
    assert [a.username for a in await store.list_agents()] == ["admin"]
    admin = await service.check_login(store, "admin", "chosen admin password")
    assert admin is not None and admin.role is Role.ADMIN


async def test_a_weak_password_in_the_environment_is_not_used_and_one_is_generated_instead(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    """OMNIROUTER_ADMIN_PASSWORD=admin seeded an admin account with a password the console refuses
    anyone else; the console's rule applies, and the reason is said (never the password)."""
    weak = "aaaaaaaa"
    monkeypatch.setenv(service.ADMIN_ENV, weak)
    store = MemoryAccounts()
    seed = service.AdminSeed()
    seed.start(store)
    await seed.wait()
    assert await service.check_login(store, "admin", weak) is None
    shown = capsys.readouterr().err
    assert f"{service.ADMIN_ENV} was not used: the password repeats too few characters" in shown
    generated = next(line.split("Its password: ")[1].split()[0] for line in shown.splitlines()
                     if "Its password" in line)
    assert await service.check_login(store, "admin", generated) is not None
    assert weak not in caplog.text and "repeats too few characters" in caplog.text
