"""A customer who writes to an agent gone offline (a shift ended with its
conversations still assigned, a supervisor set the agent offline) is not left
waiting for them: once the agent has been offline a while, the conversation
goes back to its team's queue, that agent preferred when back. On every
backend of tests/router/store/test_contract.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from router.bus import EventBus
from router.core import Router
from router.metrics import Metrics
from router.models import Agent, ConversationStatus, IdentityRef, InboundMessage, Presence, Role
from router.routing.assignment import Assigner, Policy
from router.routing.rules import RulesRouting, load_rules
from router.store.base import Store
from router.store.errors import ConflictError
from tests.router.routing.rules.conftest import write_config
from tests.router.routing.rules.test_escalation import Clock

TEAMS = """\
teams: {support: {}}
agents:
  - {username: ann, teams: [support]}
  - {username: max, teams: [support]}
"""

RULES = """\
default: {queue: {team: support}}
rules: []
"""


@dataclass
class Desk:
    router: Router
    assigner: Assigner
    clock: Clock
    ann: Agent
    max: Agent


@pytest.fixture
async def desk(store: Store, tmp_path: Path) -> AsyncIterator[Desk]:
    clock, bus = Clock(), EventBus()
    routing = RulesRouting(load_rules(write_config(tmp_path / "config", RULES, TEAMS)), clock)
    router = Router(store, bus, routing, Metrics(), clock=clock)
    assigner = Assigner(store, bus, Policy(routing.ruleset.teams, routing.ruleset), clock)
    ann = await store.create_agent("ann", "Ann", Role.AGENT, "x")
    max_ = await store.create_agent("max", "Max", Role.AGENT, "x")
    yield Desk(router, assigner, clock, ann, max_)


async def _write(desk: Desk, n: int, text: str) -> str:
    msg = InboundMessage(channel="webchat", external_id=f"m{n}", sender=IdentityRef(kind="webchat", value="v1"),
                         text=text)
    conversation_id = (await desk.router.on_message(msg)).conversation_id
    assert conversation_id is not None
    return conversation_id


async def _anns(desk: Desk) -> str:
    """A conversation Ann took and answered, then Ann offline (her shift ended)."""
    await desk.assigner.set_presence(desk.ann, Presence.ONLINE)
    conv = await _write(desk, 1, "my parcel is late")
    [offered] = await desk.assigner.assign_round()
    assert (offered.id, offered.agent_id) == (conv, desk.ann.id)
    await desk.router.store.mark_opened(conv, desk.ann.id, desk.clock())  # she opened it in her console
    await desk.router.conversations.reply(conv, desk.ann, "Looking into it.")
    await desk.assigner.set_presence(desk.ann, Presence.OFFLINE)
    return conv


async def test_a_customer_writing_to_an_agent_gone_offline_goes_back_to_the_queue(desk: Desk) -> None:
    conv = await _anns(desk)
    desk.clock.advance(minutes=5)
    assert await _write(desk, 2, "any news?") == conv
    await desk.assigner.set_presence(desk.max, Presence.ONLINE)
    [offered] = await desk.assigner.assign_round()
    # back in the queue and offered to the colleague who is there, in the same round
    assert (offered.id, offered.agent_id) == (conv, desk.max.id)
    assert offered.preferred_agent_id == desk.ann.id


async def test_a_short_absence_keeps_the_conversation(desk: Desk) -> None:
    conv = await _anns(desk)
    desk.clock.advance(seconds=1)
    assert await _write(desk, 2, "any news?") == conv
    desk.clock.advance(seconds=60)  # a page reloaded, a laptop's lid closed for a minute
    await desk.assigner.assign_round()
    view = await desk.router.store.get_conversation(conv)
    assert (view.status, view.agent_id) == (ConversationStatus.ASSIGNED, desk.ann.id)
    desk.clock.advance(seconds=90)
    await desk.assigner.assign_round()
    view = await desk.router.store.get_conversation(conv)
    assert (view.status, view.agent_id, view.preferred_agent_id) == (ConversationStatus.QUEUED, None, desk.ann.id)


async def test_nobody_waiting_keeps_the_conversation_with_its_agent(desk: Desk) -> None:
    conv = await _anns(desk)  # Ann answered last: the customer waits for nobody
    desk.clock.advance(minutes=10)
    await desk.assigner.assign_round()
    view = await desk.router.store.get_conversation(conv)
    assert (view.status, view.agent_id) == (ConversationStatus.ASSIGNED, desk.ann.id)


async def test_an_agent_away_keeps_the_conversation(desk: Desk) -> None:
    conv = await _anns(desk)
    await desk.assigner.set_presence(desk.ann, Presence.AWAY)  # a break, not the end of a shift
    desk.clock.advance(seconds=1)
    assert await _write(desk, 2, "any news?") == conv
    desk.clock.advance(minutes=10)
    await desk.assigner.assign_round()
    view = await desk.router.store.get_conversation(conv)
    assert (view.status, view.agent_id) == (ConversationStatus.ASSIGNED, desk.ann.id)


async def test_an_agent_signed_in_while_offline_keeps_the_conversation(desk: Desk) -> None:
    """Offline is "offer me nothing new": an agent signed in (choosing "Not now" at sign-in, working
    by hand) still answers what they took. Only one signed in nowhere (logged out, or their
    session expired) is waited for by nobody."""
    conv = await _anns(desk)
    await desk.router.store.create_session("ann-browser", desk.ann.id, desk.clock() + timedelta(hours=12))
    desk.clock.advance(seconds=1)
    assert await _write(desk, 2, "any news?") == conv
    desk.clock.advance(minutes=10)
    await desk.assigner.assign_round()
    view = await desk.router.store.get_conversation(conv)
    assert (view.status, view.agent_id) == (ConversationStatus.ASSIGNED, desk.ann.id)
    desk.clock.advance(hours=12)  # the session expired: nobody is there
    await desk.assigner.assign_round()
    view = await desk.router.store.get_conversation(conv)
    assert (view.status, view.preferred_agent_id) == (ConversationStatus.QUEUED, desk.ann.id)


# -- a console closed without a logout (console.absent_minutes) -------------------------------


async def _at_a_console(desk: Desk) -> None:
    """Ann signed in (her session seen now), absence judged after 5 minutes at no console."""
    desk.assigner.absent_after = timedelta(minutes=5)
    await desk.router.store.create_session("ann-browser", desk.ann.id, desk.clock() + timedelta(hours=12),
                                           seen_at=desk.clock())


async def _presence(desk: Desk) -> Presence:
    return next((p.presence for p in await desk.router.store.list_presence() if p.agent_id == desk.ann.id),
                Presence.OFFLINE)


async def test_an_agent_whose_console_closed_goes_offline_once_the_bound_has_passed(desk: Desk) -> None:
    await _at_a_console(desk)
    await desk.assigner.set_presence(desk.ann, Presence.ONLINE)
    desk.clock.advance(minutes=4, seconds=59)
    await desk.assigner.assign_round()
    assert await _presence(desk) is Presence.ONLINE
    desk.clock.advance(seconds=6)  # the next look, 5 s on (OFFLINE_CHECK)
    await desk.assigner.assign_round()
    assert await _presence(desk) is Presence.OFFLINE


async def test_an_open_console_keeps_the_agent_online(desk: Desk) -> None:
    await _at_a_console(desk)
    await desk.assigner.set_presence(desk.ann, Presence.AWAY)
    for _ in range(10):  # the console's socket marks its session every minute
        desk.clock.advance(minutes=1)
        await desk.router.store.seen_sessions(["ann-browser"], desk.clock())
        await desk.assigner.assign_round()
    assert await _presence(desk) is Presence.AWAY


async def test_a_customer_writing_to_an_agent_whose_console_closed_goes_back_to_the_queue(desk: Desk) -> None:
    """Her session is alive (12 hours), but nobody is at it: the conversation does not wait for it to expire."""
    await _at_a_console(desk)
    await desk.assigner.set_presence(desk.ann, Presence.ONLINE)
    conv = await _write(desk, 1, "my parcel is late")
    [offered] = await desk.assigner.assign_round()
    assert offered.agent_id == desk.ann.id
    await desk.router.store.mark_opened(conv, desk.ann.id, desk.clock())
    await desk.router.conversations.reply(conv, desk.ann, "Looking into it.")
    desk.clock.advance(minutes=6)  # her laptop closed: offline at the next look
    await desk.assigner.assign_round()
    assert await _presence(desk) is Presence.OFFLINE
    assert await _write(desk, 2, "any news?") == conv
    desk.clock.advance(minutes=3)
    await desk.assigner.assign_round()
    view = await desk.router.store.get_conversation(conv)
    assert (view.status, view.preferred_agent_id) == (ConversationStatus.QUEUED, desk.ann.id)


async def test_the_assigners_offer_to_an_agent_gone_offline_meanwhile_is_refused(desk: Desk) -> None:
    """The assigner reads who is online, then offers: one who went offline between the two (a logout,
    the absence above) is offered nothing, read under the lock the presence's change takes. A
    supervisor's transfer to them (no ``online``) still goes."""
    await desk.assigner.set_presence(desk.ann, Presence.OFFLINE)
    conv = await _write(desk, 1, "hello?")
    with pytest.raises(ConflictError, match="offline"):
        await desk.router.store.offer(conv, desk.ann.id, 5, desk.clock(), online=True)
    view = await desk.router.store.offer(conv, desk.ann.id, 5, desk.clock())
    assert (view.status, view.agent_id) == (ConversationStatus.ASSIGNED, desk.ann.id)
