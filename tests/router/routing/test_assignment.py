"""Assignment against the real store: order, skills, capacity, presence, offers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

import pytest

from router.bus import EventBus
from router.models import Agent, ConversationStatus, IdentityRef, InboundMessage, Presence, Role, RouteDecision
from router.routing.assignment import Assigner, Policy
from router.routing.rules.schema import AgentConfig, TeamConfig, TeamsFile
from router.store.base import Store
from router.store.errors import ConflictError
from router.store.postgres import PostgresStore
from router.store.sqlite import SQLiteStore
from tests.conftest import TEST_STORE

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
_ids = count()


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float = 1) -> None:
        self.now += timedelta(seconds=seconds)


def teams(*agents: AgentConfig) -> TeamsFile:
    return TeamsFile(skills=["billing", "tech"], teams={"support": TeamConfig(), "senior": TeamConfig()},
                     agents=list(agents))


def member(username: str, team: str = "support", chat: int = 3, email: int = 5, **skills: int) -> AgentConfig:
    return AgentConfig(username=username, teams=[team], skills=skills, capacity={"chat": chat, "email": email})


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    # OMNIROUTER_TEST_STORE=postgres: the assigners race on a real PostgreSQL (tests/conftest.py)
    backend = PostgresStore(request.getfixturevalue("pg_database")) if TEST_STORE == "postgres" else None
    async with backend or SQLiteStore(tmp_path / "assign.db") as s:
        yield s


async def queue(store: Store, clock: Clock, priority: int = 0, team: str = "support", kind: str = "chat",
                preferred: str | None = None, **skills: int) -> str:
    n = next(_ids)
    msg = InboundMessage(channel="webchat", external_id=f"m{n}", sender=IdentityRef(kind="webchat", value=f"c{n}"))
    stored, _ = await store.insert_inbound(msg, clock())
    assert stored.sender is not None
    customer = await store.resolve_identity(stored.sender, None, clock())
    route = RouteDecision(status=ConversationStatus.QUEUED, team=team, priority=priority, reason="test",
                          skills=skills, channel_kind=kind, preferred_agent_id=preferred)
    view, _ = await store.attach_to_conversation(stored.id, customer.id, "webchat", route, clock())
    clock.tick()
    return view.id


async def online(store: Store, clock: Clock, *usernames: str) -> list[Agent]:
    agents = []
    for name in usernames:
        agent = await store.create_agent(name, name.title(), Role.AGENT, "x")
        await store.set_presence(agent.id, Presence.ONLINE, clock())
        clock.tick()
        agents.append(agent)
    return agents


async def owner(store: Store, conversation_id: str) -> str | None:
    conv = await store.get_conversation(conversation_id)
    return conv.agent_id if conv.status is ConversationStatus.ASSIGNED else None


async def test_highest_priority_first_then_oldest(store: Store, clock: Clock) -> None:
    old_low = await queue(store, clock, priority=10)
    high = await queue(store, clock, priority=80)
    new_low = await queue(store, clock, priority=10)
    [ann] = await online(store, clock, "ann")
    assigner = Assigner(store, EventBus(), Policy(teams(member("ann", chat=2))), clock)
    await assigner.assign_round()
    assert [await owner(store, c) for c in (high, old_low, new_low)] == [ann.id, ann.id, None]


async def test_skills_and_teams_decide_who_may_take_it(store: Store, clock: Clock) -> None:
    billing = await queue(store, clock, billing=3)
    senior = await queue(store, clock, team="senior")
    _, bea = await online(store, clock, "ann", "bea")
    config = teams(member("ann", billing=2), member("bea", billing=3))
    await Assigner(store, EventBus(), Policy(config), clock).assign_round()
    assert await owner(store, billing) == bea.id
    assert await owner(store, senior) is None  # nobody of team senior is online


async def test_the_customers_last_agent_first_else_the_longest_idle(store: Store, clock: Clock) -> None:
    ann, bea = await online(store, clock, "ann", "bea")  # ann has been idle longer
    assigner = Assigner(store, EventBus(), Policy(teams(member("ann"), member("bea"))), clock)
    returning = await queue(store, clock, preferred=bea.id)
    await assigner.assign_round()
    assert await owner(store, returning) == bea.id
    first = await queue(store, clock)
    await assigner.assign_round()
    second = await queue(store, clock)
    await assigner.assign_round()
    # ann was idle longest; after her offer bea (idle since her last one) is next
    assert [await owner(store, first), await owner(store, second)] == [ann.id, bea.id]


async def test_capacity_is_per_channel_kind(store: Store, clock: Clock) -> None:
    chats = [await queue(store, clock) for _ in range(3)]
    mail = await queue(store, clock, kind="email")
    [ann] = await online(store, clock, "ann")
    await Assigner(store, EventBus(), Policy(teams(member("ann", chat=1, email=1))), clock).assign_round()
    assert [await owner(store, c) for c in chats] == [ann.id, None, None]
    assert await owner(store, mail) == ann.id
    assert await store.agent_loads() == {ann.id: {"chat": 1, "email": 1}}


async def test_away_and_unlisted_agents_get_nothing(store: Store, clock: Clock) -> None:
    conv = await queue(store, clock)
    ann, _ = await online(store, clock, "ann", "zed")  # zed has an account but is not in teams.yaml
    await store.set_presence(ann.id, Presence.AWAY, clock())
    assigner = Assigner(store, EventBus(), Policy(teams(member("ann"))), clock)
    await assigner.assign_round()
    assert await owner(store, conv) is None
    await assigner.set_presence(ann, Presence.ONLINE)
    await assigner.assign_round()
    assert await owner(store, conv) == ann.id


async def test_going_offline_gives_back_unopened_offers(store: Store, clock: Clock) -> None:
    opened, unopened = await queue(store, clock), await queue(store, clock)
    [ann] = await online(store, clock, "ann")
    assigner = Assigner(store, EventBus(), Policy(teams(member("ann"))), clock)
    await assigner.assign_round()
    await store.mark_opened(opened, ann.id, clock())
    await assigner.set_presence(ann, Presence.OFFLINE)
    assert await owner(store, opened) == ann.id
    assert (await store.get_conversation(unopened)).status is ConversationStatus.QUEUED
    await assigner.assign_round()
    assert await owner(store, unopened) is None  # she is offline: nobody else to offer it to


async def test_an_offer_not_opened_in_time_goes_back(store: Store, clock: Clock) -> None:
    conv = await queue(store, clock)
    ann, bea = await online(store, clock, "ann", "bea")
    assigner = Assigner(store, EventBus(), Policy(teams(member("ann", chat=1), member("bea", chat=1))), clock,
                        offer_timeout=timedelta(minutes=2))
    await assigner.assign_round()
    assert await owner(store, conv) == ann.id
    clock.tick(119)
    await assigner.assign_round()
    assert await owner(store, conv) == ann.id
    clock.tick(2)
    await assigner.assign_round()  # back to the queue, and offered again: bea has been idle longer now
    assert await owner(store, conv) == bea.id


async def test_no_agent_ever_exceeds_capacity_under_concurrent_assignment(store: Store, clock: Clock) -> None:
    convs = [await queue(store, clock) for _ in range(300)]
    agents = await online(store, clock, *(f"agent{i}" for i in range(10)))
    config = teams(*(member(a.username, chat=3) for a in agents))
    assigners = [Assigner(store, EventBus(), Policy(config), clock) for _ in range(5)]
    # five assigners race on the same queue, and people transfer by hand at the same time
    manual = [store.offer(c, agents[i % 3].id, 3, clock()) for i, c in enumerate(convs[-60:])]
    results = await asyncio.gather(*(a.assign_round() for a in assigners), *manual, return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert all(isinstance(e, ConflictError) for e in errors), errors  # only "full" or "taken meanwhile"
    loads = await store.agent_loads()
    assert all(load["chat"] <= 3 for load in loads.values()), loads
    assert sum(load["chat"] for load in loads.values()) == 30  # and everyone is full: nothing is lost


async def test_transfers(store: Store, clock: Clock) -> None:
    conv = await queue(store, clock)
    ann, bea = await online(store, clock, "ann", "bea")
    config = teams(member("ann", chat=1), member("bea", "senior", chat=1))
    assigner = Assigner(store, EventBus(), Policy(config), clock)
    await assigner.assign_round()
    assert await owner(store, conv) == ann.id
    moved = await assigner.transfer_to_team(conv, "senior", ann)
    assert (moved.status, moved.team, moved.agent_id) == (ConversationStatus.QUEUED, "senior", None)
    await assigner.assign_round()
    assert await owner(store, conv) == bea.id
    other = await queue(store, clock, team="senior")
    with pytest.raises(ConflictError):  # bea is full
        await assigner.transfer_to_agent(other, bea)
    assert (await store.get_conversation(other)).status is ConversationStatus.QUEUED  # unchanged
    assert (await assigner.transfer_to_agent(conv, ann)).agent_id == ann.id
