"""Managing agents' part of the store contract (router/agents/store.py), on
every backend of tests/router/store/test_contract.py: what a deactivation
ends and what it keeps, the last admin, console profiles and settings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from router.agents.service import AgentsSettings, LastAdmin, RoutingProfile
from router.models import ConversationStatus, Presence, Role
from router.store.base import Store
from router.store.errors import ConflictError, NotFound
from tests.router.routing.test_assignment import Clock, queue
from tests.router.store.test_contract import BACKENDS, T0


@pytest.fixture(params=sorted(BACKENDS))
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    async with BACKENDS[request.param](request, tmp_path)() as s:
        yield s


async def test_an_account_is_active_until_deactivated_and_renamed_or_promoted_in_place(store: Store) -> None:
    ann = await store.create_agent("ann", "Ann", Role.AGENT, "h")
    assert ann.active
    renamed = await store.update_agent(ann.id, display_name="Anna Petrova")
    assert (renamed.display_name, renamed.role, renamed.username) == ("Anna Petrova", Role.AGENT, "ann")
    promoted = await store.update_agent(ann.id, role=Role.ADMIN)
    assert (promoted.display_name, promoted.role) == ("Anna Petrova", Role.ADMIN)
    assert await store.get_agent(ann.id) == promoted
    with pytest.raises(NotFound):
        await store.update_agent("agt_missing", display_name="X")


async def test_deactivation_ends_everything_live_and_keeps_the_history(store: Store) -> None:
    clock = Clock()
    ann = await store.create_agent("ann", "Ann", Role.AGENT, "h")
    bob = await store.create_agent("bob", "Bob", Role.AGENT, "h")
    for token, agent in (("a1", ann), ("a2", ann), ("b1", bob)):
        await store.create_session(token, agent.id, T0 + timedelta(hours=1))
    await store.set_presence(ann.id, Presence.ONLINE, clock())
    opened, offered, others = await queue(store, clock), await queue(store, clock), await queue(store, clock)
    for conv, agent in ((opened, ann), (offered, ann), (others, bob)):
        await store.offer(conv, agent.id, 5, clock())
    await store.mark_opened(opened, ann.id, clock())

    done = await store.deactivate_agent(ann.id, clock())

    assert not done.agent.active and done.sessions_ended == 2
    assert sorted(c.id for c in done.requeued) == sorted([opened, offered])
    assert all(c.status is ConversationStatus.QUEUED and c.agent_id is None for c in done.requeued)
    assert done.presence is not None and done.presence.presence is Presence.OFFLINE
    # no session of hers opens the console, nor can a new one be started by a session lookup
    assert await store.session_agent("a1", T0) is None and await store.session_agent("a2", T0) is None
    assert await store.session_agent("b1", T0) == bob  # only hers
    # her conversations wait in the queue for someone else, whole
    for conv in (opened, offered):
        view = await store.get_conversation(conv)
        assert (view.status, view.agent_id, view.team) == (ConversationStatus.QUEUED, None, "support")
        assert len(await store.list_messages(conv, 10)) == 1
    assert (await store.get_conversation(others)).agent_id == bob.id
    # the account stays, listed and found, inactive
    assert [(a.username, a.active) for a in await store.list_agents()] == [("ann", False), ("bob", True)]
    creds = await store.agent_credentials("ann")
    assert creds is not None and not creds[0].active
    # never offered again, never online again
    with pytest.raises(ConflictError):
        await store.offer(opened, ann.id, 5, clock())
    with pytest.raises(ConflictError):
        await store.set_presence(ann.id, Presence.ONLINE, clock())
    assert (await store.set_presence(ann.id, Presence.OFFLINE, clock())).presence is Presence.OFFLINE
    # a second deactivation changes nothing
    again = await store.deactivate_agent(ann.id, clock())
    assert (again.sessions_ended, again.requeued, again.agent.active) == (0, [], False)
    with pytest.raises(NotFound):
        await store.deactivate_agent("agt_missing", clock())


async def test_reactivation_lets_them_log_in_and_be_offered_again(store: Store) -> None:
    clock = Clock()
    ann = await store.create_agent("ann", "Ann", Role.AGENT, "h")
    await store.deactivate_agent(ann.id, clock())
    back = await store.reactivate_agent(ann.id)
    assert back.active and back.id == ann.id
    await store.create_session("t", ann.id, T0 + timedelta(hours=1))
    assert await store.session_agent("t", T0) == back
    conv = await queue(store, clock)
    assert (await store.offer(conv, ann.id, 1, clock())).agent_id == ann.id
    with pytest.raises(NotFound):
        await store.reactivate_agent("agt_missing")


async def test_the_last_active_admin_is_neither_deactivated_nor_demoted(store: Store) -> None:
    clock = Clock()
    admin = await store.create_agent("admin", "Admin", Role.ADMIN, "h")
    ann = await store.create_agent("ann", "Ann", Role.AGENT, "h")
    with pytest.raises(LastAdmin):
        await store.deactivate_agent(admin.id, clock())
    with pytest.raises(LastAdmin):
        await store.update_agent(admin.id, role=Role.AGENT)
    assert (await store.update_agent(admin.id, display_name="Chief")).role is Role.ADMIN  # a rename is fine
    await store.update_agent(ann.id, role=Role.ADMIN)
    await store.deactivate_agent(admin.id, clock())  # another admin is active now
    with pytest.raises(LastAdmin):
        await store.deactivate_agent(ann.id, clock())
    # an inactive admin does not count: ann is still the last active one
    with pytest.raises(LastAdmin):
        await store.update_agent(ann.id, role=Role.AGENT)
    assert [(a.username, a.role, a.active) for a in await store.list_agents()] == [
        ("admin", Role.ADMIN, False), ("ann", Role.ADMIN, True)]


@pytest.mark.parametrize("change", ["deactivate", "demote"])
async def test_two_admins_removing_each_other_at_once_leave_one(store: Store, change: str) -> None:
    """The count of admins is made under their rows' locks: both cannot pass
    it. Ten rounds, each between the only two active admins."""
    clock = Clock()
    survivor = None
    for round_ in range(10):
        pair = [await store.create_agent(f"{name}{round_}", name, Role.ADMIN, "h") for name in ("ann", "bob")]
        if survivor is not None:
            await store.deactivate_agent(survivor, clock())
        steps = [store.deactivate_agent(a.id, clock()) if change == "deactivate" else
                 store.update_agent(a.id, role=Role.AGENT) for a in pair]
        results = await asyncio.gather(*steps, return_exceptions=True)
        assert [isinstance(r, LastAdmin) for r in results].count(True) == 1, results
        admins = [a for a in await store.list_agents() if a.role is Role.ADMIN and a.active]
        assert len(admins) == 1
        survivor = admins[0].id


async def test_console_profiles_are_set_replaced_and_removed(store: Store) -> None:
    clock = Clock()
    ann = await store.create_agent("ann", "Ann", Role.AGENT, "h")
    assert await store.agent_profiles() == {}
    profile = RoutingProfile(teams=["support"], skills={"billing": 3}, capacity={"chat": 2})
    stored = await store.set_agent_profile(ann.id, profile, clock(), "agt_admin")
    found = await store.agent_profiles()
    assert list(found) == [ann.id]
    assert found[ann.id].profile == profile and found[ann.id].updated_by == "agt_admin"
    assert found[ann.id].updated_at == stored.updated_at
    other = RoutingProfile(teams=[], skills={}, capacity={"chat": 0})
    await store.set_agent_profile(ann.id, other, clock(), None)
    assert (await store.agent_profiles())[ann.id].profile == other
    with pytest.raises(NotFound):
        await store.set_agent_profile("agt_missing", profile, clock(), None)
    assert await store.clear_agent_profile(ann.id)
    assert not await store.clear_agent_profile(ann.id)
    assert await store.agent_profiles() == {}


async def test_settings_have_defaults_and_keep_what_was_set(store: Store) -> None:
    assert await store.agents_settings() == AgentsSettings(presence_at_login="ask")
    await store.set_agents_settings(AgentsSettings(presence_at_login="online"), T0, "agt_admin")
    assert (await store.agents_settings()).presence_at_login == "online"
    await store.set_agents_settings(AgentsSettings(presence_at_login="ask"), T0, "agt_admin")
    assert (await store.agents_settings()).presence_at_login == "ask"
