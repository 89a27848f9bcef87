"""A conversation its customer reopens walks its queue's escalation steps
again from the reopen: first the agent who resolved it (the ``last_agent``
step), others only as the steps open up, never at once because the
conversation is old."""

from __future__ import annotations

from router.core import Router
from router.models import Presence
from router.routing.assignment import Assigner
from tests.router.routing.rules.test_escalation import Clock, clock, online, owner, setup, write

__all__ = ["clock", "setup"]  # the fixtures, shared with test_escalation


async def test_a_reopened_conversation_waits_for_its_resolver_then_escalates(
    setup: tuple[Router, Assigner], clock: Clock
) -> None:
    router, assigner = setup
    ids = await online(router, clock, "bob")
    conv = await write(router, 1, "I want a refund")  # senior, billing ≥ 3: bob (2) at the relaxed step
    clock.advance(minutes=2, seconds=1)
    await assigner.assign_round()
    assert await owner(router, conv) == ids["bob"]
    bob = await router.store.get_agent(ids["bob"])
    await router.conversations.resolve(conv, bob)
    await router.store.set_presence(bob.id, Presence.OFFLINE, clock())
    ids |= await online(router, clock, "carl")  # anyone, at the last step (5 min)

    clock.advance(hours=1)  # within the day's window: the same case
    assert await write(router, 2, "the refund has not come") == conv
    await assigner.assign_round()
    assert await owner(router, conv) is None  # the first step again: only bob, who is away
    await router.store.set_presence(bob.id, Presence.ONLINE, clock())
    await assigner.assign_round()
    assert await owner(router, conv) == bob.id  # back to the agent who resolved it


async def test_a_reopened_conversation_reaches_anyone_only_when_its_steps_say(
    setup: tuple[Router, Assigner], clock: Clock
) -> None:
    router, assigner = setup
    ids = await online(router, clock, "bob")
    conv = await write(router, 1, "I want a refund")
    clock.advance(minutes=2, seconds=1)
    await assigner.assign_round()
    bob = await router.store.get_agent(ids["bob"])
    await router.conversations.resolve(conv, bob)
    await router.store.set_presence(bob.id, Presence.OFFLINE, clock())
    ids |= await online(router, clock, "carl")
    clock.advance(hours=1)
    assert await write(router, 2, "the refund has not come") == conv
    clock.advance(minutes=4)
    await assigner.assign_round()
    assert await owner(router, conv) is None
    clock.advance(minutes=1, seconds=1)  # 5 minutes since the reopen: the last step, anyone
    await assigner.assign_round()
    assert await owner(router, conv) == ids["carl"]
