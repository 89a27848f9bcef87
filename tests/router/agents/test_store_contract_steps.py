"""An admin's change made of two writes is one step of the store, on every
backend: a fault between the two (a trigger of the test's own making the
second write fail, as a disk or a connection would) leaves nothing of the
change. A deactivation done twice ends what is still the agent's; nothing is
assigned to a deactivated agent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from router.accounts.service import hash_password, set_password, verify_password
from router.agents.admin import AgentAdmin
from router.agents.service import RoutingProfile
from router.bus import EventBus
from router.conversations.states import AgentDeactivated
from router.models import ConversationStatus, Role
from router.routing.rules.schema import TeamsFile
from router.store.base import Store
from router.store.errors import StoreError
from router.store.pg_engine import PgConn
from router.store.postgres import PostgresStore
from router.store.rows import execute
from router.store.sqlite import SQLiteStore
from tests.router.routing.test_assignment import Clock, queue
from tests.router.store.test_contract import BACKENDS, T0

TEAMS = TeamsFile.model_validate({"teams": {"support": {}}, "skills": ["billing"]})


@pytest.fixture(params=sorted(BACKENDS))
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    async with BACKENDS[request.param](request, tmp_path)() as s:
        yield s


async def _pg_run(conn: PgConn, sql: str) -> None:
    await conn.execute(sql)


async def raw(store: Store, sqlite_sql: str, pg_sql: str) -> None:
    """SQL of the test's own, behind the store's back (a fault, a row from before a fix)."""
    if isinstance(store, PostgresStore):
        await store._pg.write(_pg_run, pg_sql)
    else:
        assert isinstance(store, SQLiteStore)
        await store._w.call(execute, sqlite_sql, ())


async def fail_writes_to(store: Store, table: str, event: str) -> None:
    await raw(
        store,
        f"CREATE TRIGGER fault_{table} BEFORE {event} ON {table} BEGIN SELECT RAISE(ABORT, 'injected fault'); END",
        "CREATE OR REPLACE FUNCTION injected_fault() RETURNS trigger LANGUAGE plpgsql AS"
        " $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$;"
        f" CREATE TRIGGER fault_{table} BEFORE {event} ON {table} FOR EACH ROW EXECUTE FUNCTION injected_fault()",
    )


async def test_an_agent_whose_profile_cannot_be_stored_is_not_created_and_can_be_added_again(store: Store) -> None:
    admin = await store.create_agent("admin", "Admin", Role.ADMIN, "h")
    actions = AgentAdmin(store, EventBus(), Clock())
    profile = RoutingProfile(teams=["support"], skills={"billing": 2}, capacity={"chat": 2})
    await fail_writes_to(store, "agent_routing", "INSERT")
    with pytest.raises(StoreError):
        await actions.create(admin, "ann", "Ann", Role.AGENT, None, profile, TEAMS)
    assert [a.username for a in await store.list_agents()] == ["admin"]  # no account without its profile
    await raw(store, "DROP TRIGGER fault_agent_routing", "DROP TRIGGER fault_agent_routing ON agent_routing")
    ann, made = await actions.create(admin, "ann", "Ann", Role.AGENT, None, profile, TEAMS)  # the retry works
    assert made is not None
    assert (await store.agent_profiles())[ann.id].profile == profile


async def test_a_password_whose_sessions_cannot_be_ended_is_not_changed(store: Store) -> None:
    ann = await store.create_agent("ann", "Ann", Role.AGENT, await hash_password("first password"))
    await store.create_session("s1", ann.id, T0 + timedelta(hours=1))
    await fail_writes_to(store, "sessions", "DELETE")
    with pytest.raises(StoreError):
        await set_password(store, "ann", "second password")
    creds = await store.agent_credentials("ann")
    assert creds is not None and await verify_password(creds[1], "first password")  # the old one, with its session
    assert await store.session_agent("s1", T0) == ann


async def test_an_admin_setting_their_own_password_keeps_the_session_they_act_from(store: Store) -> None:
    admin = await store.create_agent("admin", "Admin", Role.ADMIN, "h")
    bob = await store.create_agent("bob", "Bob", Role.AGENT, "h")
    for token, agent in (("mine", admin), ("my-laptop", admin), ("bobs", bob)):
        await store.create_session(token, agent.id, T0 + timedelta(hours=1))
    actions = AgentAdmin(store, EventBus(), Clock())
    done = await actions.reset_password(admin, admin.id, None, actor_session="mine")
    assert done.generated is not None and done.sessions_ended == 1
    assert await store.session_agent("mine", T0) == admin
    assert await store.session_agent("my-laptop", T0) is None
    # another agent's password: the acting admin's session is no reason to keep any of theirs
    await store.create_session("bobs-2", bob.id, T0 + timedelta(hours=1))
    assert (await actions.reset_password(admin, bob.id, None, actor_session="mine")).sessions_ended == 2
    assert await store.session_agent("mine", T0) == admin


async def test_nothing_is_assigned_to_a_deactivated_agent(store: Store) -> None:
    clock = Clock()
    ann = await store.create_agent("ann", "Ann", Role.AGENT, "h")
    conv = await queue(store, clock)
    await store.deactivate_agent(ann.id, clock())
    with pytest.raises(AgentDeactivated):
        await store.set_conversation_state(conv, ConversationStatus.ASSIGNED, ann.id, clock(),
                                           expected={ConversationStatus.QUEUED})
    view = await store.get_conversation(conv)
    assert (view.status, view.agent_id) == (ConversationStatus.QUEUED, None)


async def test_a_second_deactivation_requeues_what_is_still_assigned_to_them(store: Store) -> None:
    clock = Clock()
    ann = await store.create_agent("ann", "Ann", Role.AGENT, "h")
    conv = await queue(store, clock)
    await store.deactivate_agent(ann.id, clock())
    # assigned behind the check's back, as a take in flight could before it was made under the agent's lock
    await raw(store, f"UPDATE conversations SET status = 'assigned', agent_id = '{ann.id}' WHERE id = '{conv}'",
              f"UPDATE conversations SET status = 'assigned', agent_id = '{ann.id}' WHERE id = '{conv}'")
    again = await store.deactivate_agent(ann.id, clock())
    assert [c.id for c in again.requeued] == [conv] and not again.agent.active
    view = await store.get_conversation(conv)
    assert (view.status, view.agent_id) == (ConversationStatus.QUEUED, None)
    assert (await store.deactivate_agent(ann.id, clock())).requeued == []
