"""The wallboard's part of the store contract (router/wallboard/store.py), and
its figures (router/wallboard/service.py) exact on a built state, on every
backend of tests/router/store/test_contract.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest

from router.identity.types import CustomerUpsert
from router.models import ConversationStatus, Presence, Role, RouteDecision
from router.routing.assignment import Policy
from router.routing.rules.schema import AgentConfig, QueuePolicy, TeamConfig, TeamsFile
from router.store.base import Store
from router.wallboard.config import ValuableConfig
from router.wallboard.service import AgentCounts, ChannelFigures, Figures, Load, Wallboard, is_valuable
from tests.router.store.test_contract import T0, inbound, outbound

NOW = T0 + timedelta(hours=1)
TARGETS = {"support": 600.0, "senior": 120.0}  # first_response of each queue, seconds


@dataclass(frozen=True)
class _Targets(Policy):
    """The queues' first-response targets without a rules file."""

    def queue(self, team: str | None) -> QueuePolicy:
        return QueuePolicy(first_response=TARGETS.get(team or ""))


def _route(status: ConversationStatus, team: str | None) -> RouteDecision:
    return RouteDecision(status=status, team=team, reason="test")


async def _open(store: Store, sender: str, channel: str, team: str | None, age: timedelta,
                status: ConversationStatus = ConversationStatus.QUEUED, attributes: dict[str, object] | None = None
                ) -> str:
    at = NOW - age
    stored, _ = await store.insert_inbound(inbound(f"m-{sender}", sender=sender, channel=channel), at)
    assert stored.sender is not None
    customer = await store.resolve_identity(stored.sender, None, at)
    if attributes:
        await store.upsert_customer(CustomerUpsert(source="crm", customer_id=customer.id,
                                                   attributes=tuple(attributes.items())), at)
    conv, _ = await store.attach_to_conversation(stored.id, customer.id, channel, _route(status, team), at)
    return conv.id


async def _answer(store: Store, conv: str) -> None:
    view = await store.get_conversation(conv)
    reply, payload = outbound(conv, view.customer_id)
    await store.enqueue_outbound(reply, payload, None, NOW)


@dataclass(frozen=True)
class Day:
    ann: str
    bob: str
    cat: str


async def _build(store: Store) -> Day:
    """support: three queued (webchat 20 and 5 minutes, telegram 1 minute, of a gold customer), one
    assigned to ann unanswered for 15 minutes, one assigned to ann answered 30 minutes ago, one snoozed
    queued (counted nowhere), one resolved (counted nowhere); senior: one queued 3 minutes (lifetime
    value 6000); no team: two with the bot."""
    ann = (await store.create_agent("ann", "Ann", Role.AGENT, "h")).id
    bob = (await store.create_agent("bob", "Bob", Role.AGENT, "h")).id
    cat = (await store.create_agent("cat", "Cat", Role.AGENT, "h")).id
    await _open(store, "q1", "webchat", "support", timedelta(minutes=20))
    await _open(store, "q2", "webchat", "support", timedelta(minutes=5), attributes={"tier": "silver"})
    await _open(store, "q3", "telegram", "support", timedelta(minutes=1), attributes={"tier": "gold"})
    unanswered = await _open(store, "a1", "webchat", "support", timedelta(minutes=15))
    answered = await _open(store, "a2", "webchat", "support", timedelta(minutes=30))
    for conv in (unanswered, answered):
        await store.offer(conv, ann, 3, NOW)
    await _answer(store, answered)
    await store.snooze(await _open(store, "z1", "webchat", "support", timedelta(minutes=50)), NOW + timedelta(hours=1))
    resolved = await _open(store, "r1", "webchat", "support", timedelta(minutes=40))
    await store.set_conversation_state(resolved, ConversationStatus.RESOLVED, None, NOW)
    await _open(store, "s1", "webchat", "senior", timedelta(minutes=3), attributes={"lifetime_value": "6000"})
    await _open(store, "b1", "webchat", None, timedelta(minutes=2), ConversationStatus.BOT)
    await _open(store, "b2", "vk", None, timedelta(minutes=1), ConversationStatus.BOT)
    await store.set_presence(ann, Presence.ONLINE, NOW)
    await store.set_presence(bob, Presence.ONLINE, NOW)
    await store.set_presence(cat, Presence.AWAY, NOW)
    return Day(ann, bob, cat)


async def test_open_conversations_are_counted_by_team_channel_and_status(store: Store) -> None:
    await _build(store)
    found = {(r.team, r.channel, r.status): (r.count, r.oldest) for r in await store.open_counts()}
    assert found == {
        ("support", "webchat", ConversationStatus.QUEUED): (2, NOW - timedelta(minutes=20)),
        ("support", "telegram", ConversationStatus.QUEUED): (1, NOW - timedelta(minutes=1)),
        ("support", "webchat", ConversationStatus.ASSIGNED): (2, NOW - timedelta(minutes=30)),
        ("senior", "webchat", ConversationStatus.QUEUED): (1, NOW - timedelta(minutes=3)),
        (None, "webchat", ConversationStatus.BOT): (1, NOW - timedelta(minutes=2)),
        (None, "vk", ConversationStatus.BOT): (1, NOW - timedelta(minutes=1)),
    }


async def test_unanswered_conversations_are_counted_against_each_teams_cutoff(store: Store) -> None:
    await _build(store)
    rows = await store.sla_counts({"support": NOW - timedelta(minutes=10), "senior": NOW - timedelta(minutes=2)})
    found = {(r.team, r.channel): (r.breached, r.next_due) for r in rows}
    # support: q1 (20 min) and the unanswered assigned one (15 min) breached; q2 (5 min) is next;
    # the answered one is no longer awaited; senior: s1 (3 min) past 2 min
    assert found == {
        ("support", "webchat"): (2, NOW - timedelta(minutes=5)),
        ("support", "telegram"): (0, NOW - timedelta(minutes=1)),
        ("senior", "webchat"): (1, None),
    }
    assert await store.sla_counts({}) == []


async def test_queued_customers_come_with_their_value_attributes(store: Store) -> None:
    await _build(store)
    found = sorted(((r.team, r.channel, r.tier, r.lifetime_value, r.count) for r in await store.queued_values()),
                   key=repr)
    assert found == sorted([
        ("support", "webchat", None, None, 1), ("support", "webchat", "silver", None, 1),
        ("support", "telegram", "gold", None, 1), ("senior", "webchat", None, "6000", 1),
    ], key=repr)


async def test_the_figures_are_exact_on_a_built_state(store: Store) -> None:
    await _build(store)
    teams = TeamsFile(teams={"support": TeamConfig(), "senior": TeamConfig()}, agents=[
        AgentConfig(username="ann", teams=["support"], capacity={"chat": 3, "email": 5}),
        AgentConfig(username="bob", teams=["support", "senior"], capacity={"chat": 2, "email": 0}),
        AgentConfig(username="cat", teams=["senior"], capacity={"chat": 4, "email": 0}),
    ])
    board = Wallboard(store, lambda: _Targets(teams), ValuableConfig(tiers=["gold", "platinum"], min_ltv=5000),
                      lambda: NOW)
    computed = await board.compute()
    snap = computed.snapshot
    assert snap.at == NOW
    assert [t.team for t in snap.teams] == ["support", "senior", None]
    support, senior, no_team = snap.teams
    assert support.channels == [
        ChannelFigures(channel="telegram", queued=1, oldest_queued_at=NOW - timedelta(minutes=1), valuable_waiting=1),
        ChannelFigures(channel="webchat", queued=2, oldest_queued_at=NOW - timedelta(minutes=20), assigned=2,
                       sla_breached=2),
    ]
    assert support.figures == Figures(queued=3, oldest_queued_at=NOW - timedelta(minutes=20), assigned=2,
                                      sla_breached=2, valuable_waiting=1)
    # ann and bob online, ann holding two chats; cat (senior) away
    assert support.agents == AgentCounts(online=2, away=0, busy=1)
    assert support.loads == [Load(kind="chat", load=2, capacity=5), Load(kind="email", load=0, capacity=5)]
    assert senior.figures == Figures(queued=1, oldest_queued_at=NOW - timedelta(minutes=3), sla_breached=1,
                                     valuable_waiting=1)
    assert senior.agents == AgentCounts(online=1, away=1, busy=0)
    assert senior.loads == [Load(kind="chat", load=0, capacity=2)]
    assert no_team.figures == Figures(bot=2)
    assert snap.totals == Figures(queued=4, oldest_queued_at=NOW - timedelta(minutes=20), assigned=2, bot=2,
                                  sla_breached=3, valuable_waiting=2)
    assert snap.agents == AgentCounts(online=2, away=1, busy=1)
    # q2 (support, opened 5 minutes ago) passes the 10-minute target next; nothing changes before
    assert computed.next_breach == NOW + timedelta(minutes=5)


async def test_nothing_is_valuable_without_the_setting(store: Store) -> None:
    await _build(store)
    board = Wallboard(store, lambda: _Targets(TeamsFile()), ValuableConfig(), lambda: NOW)
    assert (await board.snapshot()).totals.valuable_waiting == 0


@pytest.mark.parametrize(("tier", "ltv", "valuable"), [
    ("gold", None, True), ("silver", 4999.99, False), (None, 5000, True), (None, "5000", True),
    (None, "lots", False), ("", None, False), (5, None, False),
    ("Gold", None, True), ("PLATINUM", None, False),  # as the rules read it: in lower case
])
def test_valuable_reads_the_attributes_as_the_rules_do(tier: object, ltv: object, valuable: bool) -> None:
    assert is_valuable(tier, ltv, ValuableConfig(tiers=["gold"], min_ltv=5000)) is valuable


# odd tiers as a CRM may write them: every JSON type
ODD_TIERS: list[object] = [True, False, 5, 2.5, 0, "gold", "", {"level": "gold"}, ["gold"], None]


async def test_odd_tiers_read_as_the_rules_read_them(store: Store) -> None:
    """Each backend gives the attribute's JSON value, so the wallboard's ``str(tier or "")`` is the rules'
    ``customer_tier`` (router/routing/rules/facts.py) whatever the store: JSON true is "True" on both, not "1"
    on SQLite; an object is the object, not its JSON text."""
    for i, tier in enumerate(ODD_TIERS):
        await _open(store, f"t{i}", "webchat", "support", timedelta(minutes=1),
                    attributes={"tier": tier, "lifetime_value": tier})
    found = [(r.tier, r.lifetime_value, r.count) for r in await store.queued_values()]
    # by repr: True == 1 in Python, and the type is the point
    assert sorted(map(repr, found)) == sorted(repr((tier, tier, 1)) for tier in ODD_TIERS)
    # the rules' customer_tier of each: "True" (SQLite's json_extract made it "1"), the object's repr
    assert {str(r.tier or "") for r in await store.queued_values()} >= {"True", "5", "2.5", "gold",
                                                                         "{'level': 'gold'}", "['gold']"}


async def test_a_snoozed_assigned_conversation_counts_as_the_assigner_counts_it(store: Store) -> None:
    """Snoozed, it still holds its agent's capacity (agent_loads, offer): "with agents", "busy" and "load" all
    count it, so the board's with-agents figure is the sum of the loads the assigner works with."""
    ann = (await store.create_agent("ann", "Ann", Role.AGENT, "h")).id
    conv = await _open(store, "a1", "webchat", "support", timedelta(minutes=5))
    await store.offer(conv, ann, 3, NOW)
    await store.snooze(conv, NOW + timedelta(hours=1))
    await _open(store, "z1", "webchat", "support", timedelta(minutes=5))
    await store.snooze(await _open(store, "z2", "webchat", "support", timedelta(minutes=6)), NOW + timedelta(hours=1))
    await store.set_presence(ann, Presence.ONLINE, NOW)
    assert await store.agent_loads() == {ann: {"chat": 1}}
    teams = TeamsFile(teams={"support": TeamConfig()},
                      agents=[AgentConfig(username="ann", teams=["support"], capacity={"chat": 3, "email": 0})])
    board = Wallboard(store, lambda: _Targets(teams), ValuableConfig(), lambda: NOW)
    [support] = [t for t in (await board.snapshot()).teams if t.team == "support"]
    # the snoozed queued one waits for nobody; the snoozed assigned one is ann's
    assert (support.figures.queued, support.figures.assigned) == (1, 1)
    assert support.agents.busy == 1
    assert support.loads == [Load(kind="chat", load=1, capacity=3)]


def test_a_tier_the_setting_writes_with_capitals_is_the_customers_in_lower_case() -> None:
    assert is_valuable("gold", None, ValuableConfig(tiers=["Gold"]))
