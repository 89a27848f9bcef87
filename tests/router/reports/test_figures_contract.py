"""The figures (router/reports/figures.py) of a generated day, counted from
the event log that each backend of tests/router/store/test_contract.py
writes: every figure asserted exactly, with the clock the test controls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from router.identity.types import CustomerUpsert
from router.models import ConversationStatus, Role, RouteDecision
from router.reports.figures import GroupBy, Queues, Report, report
from router.store.base import Store
from tests.router.store.test_contract import inbound, outbound

DAY = datetime(2026, 11, 24, tzinfo=UTC)
QUEUES = Queues(targets={"support": 600.0, "senior": 120.0})
SUPPORT = RouteDecision(status=ConversationStatus.QUEUED, team="support", reason="default")
BOT = RouteDecision(status=ConversationStatus.BOT, team="support", reason="bot first")


def at(hh: int, mm: int) -> datetime:
    return DAY + timedelta(hours=hh, minutes=mm)


async def _open(store: Store, sender: str, when: datetime, route: RouteDecision, tier: str | None = None) -> str:
    stored, _ = await store.insert_inbound(inbound(f"in-{sender}", sender=sender), when)
    assert stored.sender is not None
    customer = await store.resolve_identity(stored.sender, None, when)
    if tier is not None:
        await store.upsert_customer(CustomerUpsert("crm", customer_id=customer.id, attributes=(("tier", tier),)), when)
    conversation, _ = await store.attach_to_conversation(stored.id, customer.id, stored.channel, route, when)
    return conversation.id


async def _reply(store: Store, conversation_id: str, agent_id: str, when: datetime, take: bool = False) -> None:
    view = await store.get_conversation(conversation_id)
    message, payload = outbound(conversation_id, view.customer_id)
    await store.enqueue_outbound(message.model_copy(update={"agent_id": agent_id, "created_at": when}), payload,
                                 agent_id if take else None, when)


async def _resolve(store: Store, conversation_id: str, agent_id: str | None, when: datetime) -> None:
    await store.set_conversation_state(conversation_id, ConversationStatus.RESOLVED, agent_id, when)


async def _day(store: Store) -> tuple[str, str]:
    """Five conversations and a reopening (the README's worked example); Ann's and Bob's ids."""
    ann = (await store.create_agent("ann", "Ann", Role.AGENT, "hash")).id
    bob = (await store.create_agent("bob", "Bob", Role.AGENT, "hash")).id
    # c1, a gold customer: waits 1 min, answered in 3 (SLA met), resolved after 30
    c1 = await _open(store, "u1", at(9, 0), SUPPORT, tier="gold")
    await store.offer(c1, ann, 5, at(9, 1))
    await _reply(store, c1, ann, at(9, 3))
    await _resolve(store, c1, ann, at(9, 30))
    # c2: waits 10 min, answered in 15 (missed), resolved after an hour
    c2 = await _open(store, "u2", at(9, 10), SUPPORT)
    await store.offer(c2, bob, 5, at(9, 20))
    await _reply(store, c2, bob, at(9, 25))
    await _resolve(store, c2, bob, at(10, 10))
    # c3: the bot hands off after 2 min; Ann answers 3 min later, sends it to senior, where Bob gets it
    c3 = await _open(store, "u3", at(10, 0), BOT)
    handoff = RouteDecision(status=ConversationStatus.QUEUED, team="support", reason="asked for a person")
    await store.reroute_conversation(c3, handoff, at(10, 2), expected={ConversationStatus.BOT})
    await _reply(store, c3, ann, at(10, 5), take=True)
    senior = RouteDecision(status=ConversationStatus.QUEUED, team="senior", reason="transferred to senior by ann")
    await store.reroute_conversation(c3, senior, at(10, 6), expected={ConversationStatus.ASSIGNED})
    await store.offer(c3, bob, 5, at(10, 8))
    await _resolve(store, c3, bob, at(10, 20))
    # c4: the bot keeps it to the end (contained)
    c4 = await _open(store, "u4", at(11, 0), BOT)
    await _resolve(store, c4, None, at(11, 5))
    # c1 again: Ann reopens it and answers in 2 min
    await store.set_conversation_state(c1, ConversationStatus.ASSIGNED, ann, at(13, 0),
                                       expected={ConversationStatus.RESOLVED})
    await _reply(store, c1, ann, at(13, 2))
    await _resolve(store, c1, ann, at(13, 10))
    # c5: never answered; its 10 minutes passed before the day ended (missed)
    await _open(store, "u5", at(23, 0), SUPPORT)
    return ann, bob


async def _report(store: Store, group_by: GroupBy) -> Report:
    since, until = DAY, DAY + timedelta(days=1)
    return report(await store.conversation_events(since, until), [], since, until, group_by, QUEUES)


async def test_a_day_counts_exactly(store: Store) -> None:
    await _day(store)
    made = await _report(store, GroupBy.DAY)
    [day] = made.rows
    assert day == {
        "group": "2026-11-24", "opened": 5, "reopened": 1, "resolved": 5,
        "first_response_p50": 180.0, "first_response_p90": 900.0,  # of 120, 180, 180, 900
        "resolution_p50": 1200.0, "resolution_p90": 3600.0,  # of 300, 600, 1200, 1800, 3600
        "sla_met": 3, "sla_missed": 2, "sla_attainment": 0.6,
        "bot": 2, "bot_contained": 1, "handoffs": 1, "bot_containment": 0.5,
        "transfers_team": 1, "transfers_agent": 0,
        "wait_p50": 120.0, "wait_p90": 600.0,  # of 60, 120, 180, 600
        "csat_count": 0, "csat_average": None, "csat_satisfied": None,
    }
    assert made.handoff_reasons == {"rules": 1}  # the rules' handoff: no bot's HandoffReason in its reason


async def test_the_day_by_tier_hour_team_and_agent(store: Store) -> None:
    ann, bob = await _day(store)
    tiers = {r["group"]: r for r in (await _report(store, GroupBy.TIER)).rows}
    assert set(tiers) == {"gold", "-"}
    assert (tiers["gold"]["opened"], tiers["gold"]["reopened"], tiers["gold"]["wait_p90"]) == (1, 1, 60.0)
    assert (tiers["-"]["opened"], tiers["-"]["wait_p50"], tiers["-"]["wait_p90"]) == (4, 180.0, 600.0)
    hours = {r["group"]: r["opened"] + r["reopened"] for r in (await _report(store, GroupBy.HOUR)).rows}
    assert hours == {"2026-11-24T09:00": 2, "2026-11-24T10:00": 1, "2026-11-24T11:00": 1,
                     "2026-11-24T13:00": 1, "2026-11-24T23:00": 1}
    teams = {r["group"]: r for r in (await _report(store, GroupBy.TEAM)).rows}
    assert set(teams) == {"support", "senior"}  # the transfer counts where it went
    assert teams["senior"]["transfers_team"] == 1 and teams["support"]["opened"] == 5
    agents = {r["group"]: r for r in (await _report(store, GroupBy.AGENT)).rows}
    assert agents[ann]["first_response_p50"] == 180.0 and agents[ann]["sla_met"] == 3  # of 120, 180, 180: c1 twice, c3
    assert agents[bob]["first_response_p50"] == 900.0 and agents[bob]["sla_missed"] == 1
    assert agents["-"]["sla_missed"] == 1  # c5, answered by nobody


async def test_a_range_counts_the_cycles_that_started_in_it(store: Store) -> None:
    await _day(store)
    since, until = at(10, 0), at(13, 0)
    made = report(await store.conversation_events(since, until), [], since, until, GroupBy.DAY, QUEUES)
    [row] = made.rows
    assert (row["opened"], row["reopened"], row["resolved"], row["bot"]) == (2, 0, 2, 2)


async def lapses(store: Store) -> None:
    """Queued at 9:00, offered to Ann at 9:01 who never opens it: the offer lapses back to the queue at
    9:05; Bob's offer at 9:10 sticks (he answers at 9:11). The customer waited 10 minutes for an agent,
    one stay, not 1 and 5 minutes with the lapsed offer's 4 in none. Another, answered at 12:02, is sent
    to senior at 12:03, where an offer lapses and the next sticks at 12:09: a wait of 6 minutes."""
    ann = (await store.create_agent("ann", "Ann", Role.AGENT, "hash")).id
    bob = (await store.create_agent("bob", "Bob", Role.AGENT, "hash")).id
    waiting = await _open(store, "u1", at(9, 0), SUPPORT)
    await store.offer(waiting, ann, 5, at(9, 1))
    assert len(await store.release_offers(None, at(9, 5), at(9, 2))) == 1  # lapsed: back in the queue
    await store.offer(waiting, bob, 5, at(9, 10))
    await _reply(store, waiting, bob, at(9, 11), take=True)
    # and a transfer back to a queue after an answer is a new wait, from the transfer
    moved = await _open(store, "u2", at(12, 0), SUPPORT)
    await _reply(store, moved, ann, at(12, 2), take=True)
    senior = RouteDecision(status=ConversationStatus.QUEUED, team="senior", reason="transferred to senior by ann")
    await store.reroute_conversation(moved, senior, at(12, 3), expected={ConversationStatus.ASSIGNED})
    await store.offer(moved, bob, 5, at(12, 4))
    assert len(await store.release_offers(None, at(12, 6), at(12, 5))) == 1
    await store.offer(moved, ann, 5, at(12, 9))
    await _resolve(store, moved, ann, at(12, 30))


async def test_an_offer_that_lapsed_does_not_cut_the_customers_wait(store: Store) -> None:
    await lapses(store)
    made = await _report(store, GroupBy.TEAM)
    teams = {r["group"]: r for r in made.rows}
    assert (teams["support"]["wait_p50"], teams["support"]["wait_p90"]) == (120.0, 600.0)  # 600, and moved's 120
    assert (teams["senior"]["wait_p50"], teams["senior"]["wait_p90"]) == (360.0, 360.0)  # 12:03 to 12:09


async def test_a_tier_is_one_group_whatever_its_case(store: Store) -> None:
    """A CRM's 'Gold' and an import's 'gold' are one tier, as the rules and the wallboard read it."""
    for n, tier in enumerate(("Gold", "gold", "GOLD")):
        await _open(store, f"+7912000000{n}", at(9, n), SUPPORT, tier)
    tiers = {r["group"]: r["opened"] for r in (await _report(store, GroupBy.TIER)).rows}
    assert tiers == {"gold": 3}
