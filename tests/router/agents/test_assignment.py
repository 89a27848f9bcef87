"""Assignment with agents managed in the console, against the real store: a
console profile makes an agent assignable (or moves them), a deactivated
agent's conversations go to the others and nothing reaches them again."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.agents.admin import AgentAdmin
from router.agents.service import RoutingProfile, StoredProfile
from router.bus import EventBus
from router.models import Agent, ConversationStatus, Presence, Role
from router.routing.assignment import Assigner, Policy, TransferRefused
from router.store.base import Store
from router.store.sqlite import SQLiteStore
from tests.router.routing.test_assignment import Clock, clock, member, online, owner, queue, store, teams

__all__ = ["clock", "store"]  # the fixtures, shared with the routing tests


async def test_a_console_profile_makes_an_agent_the_file_does_not_name_assignable(store: Store, clock: Clock) -> None:
    conv = await queue(store, clock, team="senior")
    [zed] = await online(store, clock, "zed")
    assigner = Assigner(store, EventBus(), Policy(teams(member("ann"))), clock)
    await assigner.assign_round()
    assert await owner(store, conv) is None
    await store.set_agent_profile(zed.id, RoutingProfile(teams=["senior"], capacity={"chat": 1}), clock(), None)
    await assigner.assign_round()
    assert await owner(store, conv) == zed.id


async def test_a_console_profile_replaces_the_files_entry_and_removing_it_restores_it(store: Store,
                                                                                      clock: Clock) -> None:
    [ann] = await online(store, clock, "ann")
    assigner = Assigner(store, EventBus(), Policy(teams(member("ann", team="support"))), clock)
    await store.set_agent_profile(ann.id, RoutingProfile(teams=["senior"]), clock(), None)
    support = await queue(store, clock, team="support")
    await assigner.assign_round()
    assert await owner(store, support) is None  # the console moved her to senior
    await store.clear_agent_profile(ann.id)
    await assigner.assign_round()
    assert await owner(store, support) == ann.id


async def _admin(store: Store) -> Agent:
    return await store.create_agent("boss", "Boss", Role.ADMIN, "x")


async def test_a_deactivated_agents_conversations_go_to_the_others_and_never_back(store: Store, clock: Clock) -> None:
    bus = EventBus()
    ann, bea = await online(store, clock, "ann", "bea")
    await store.set_presence(bea.id, Presence.AWAY, clock())
    assigner = Assigner(store, bus, Policy(teams(member("ann"), member("bea"))), clock)
    convs = [await queue(store, clock) for _ in range(2)]
    await assigner.assign_round()
    assert [await owner(store, c) for c in convs] == [ann.id, ann.id]
    await store.mark_opened(convs[0], ann.id, clock())

    async with bus.subscribe() as seen:
        done = await AgentAdmin(store, bus, clock).deactivate(await _admin(store), ann.id)
        published = [seen.queue.get_nowait() for _ in range(seen.queue.qsize())]
    assert sorted(c.id for c in done.requeued) == sorted(convs)
    kinds = [e.type for e in published if e is not None]
    assert kinds.count("conversation.updated") == 2 and "agent.updated" in kinds and "agent.presence" in kinds

    await assigner.set_presence(bea, Presence.ONLINE)
    await assigner.assign_round()
    assert [await owner(store, c) for c in convs] == [bea.id, bea.id]
    # neither a round nor a transfer gives her anything again
    await assigner.set_presence(bea, Presence.OFFLINE)
    third = await queue(store, clock)
    await assigner.assign_round()
    assert await owner(store, third) is None
    with pytest.raises(TransferRefused):
        await assigner.transfer_to_agent(third, await store.get_agent(ann.id))
    assert (await store.get_conversation(third)).status is ConversationStatus.QUEUED


class CountingStore(SQLiteStore):
    """The real SQLite store, counting its reads of the console profiles."""

    profile_reads = 0

    async def agent_profiles(self) -> dict[str, StoredProfile]:
        self.profile_reads += 1
        return await super().agent_profiles()


async def test_a_round_with_nobody_online_reads_no_profiles(tmp_path: Path, clock: Clock) -> None:
    async with CountingStore(tmp_path / "count.db") as counted:
        ann = await counted.create_agent("ann", "Ann", Role.AGENT, "x")
        conv = await queue(counted, clock)
        assigner = Assigner(counted, EventBus(), Policy(teams(member("ann"))), clock)
        assert await assigner.assign_round() == []
        assert counted.profile_reads == 0  # one round per new conversation: nothing read for nobody
        await counted.set_presence(ann.id, Presence.ONLINE, clock())
        assert [c.id for c in await assigner.assign_round()] == [conv]
        assert counted.profile_reads == 1
