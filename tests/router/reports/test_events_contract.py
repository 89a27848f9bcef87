"""The conversation event log (router/reports/schema.py) on every backend of
tests/router/store/test_contract.py: each state change of a conversation, by
whichever path makes it, leaves its event, dated by the application's clock,
in the same transaction; a change refused leaves none."""

from __future__ import annotations

from datetime import timedelta

import pytest

from router.identity.types import CustomerUpsert
from router.ingest.store import Reopening
from router.models import Author, ConversationStatus, Role, RouteDecision
from router.reports.events import ConversationEvent, Kind
from router.store.base import Store
from router.store.errors import ConflictError
from tests.router.store.test_contract import T0, inbound, ingest, outbound

S = timedelta(seconds=1)
BOT = RouteDecision(status=ConversationStatus.BOT, team="support", reason="bot first")


def _kinds(events: list[ConversationEvent]) -> list[tuple[str, str | None]]:
    return [(e.kind.value, e.how) for e in events]


async def test_a_conversations_life_is_logged_with_who_and_when(store: Store) -> None:
    _, conv = await ingest(store, inbound("m1"), T0)
    ann = await store.create_agent("ann", "Ann", Role.AGENT, "hash")
    bob = await store.create_agent("bob", "Bob", Role.AGENT, "hash")
    await store.offer(conv, ann.id, 5, T0 + 10 * S)  # the assigner's round
    await store.offer(conv, bob.id, 5, T0 + 20 * S,
                      expected=frozenset({ConversationStatus.QUEUED, ConversationStatus.ASSIGNED}))  # a transfer
    view = await store.get_conversation(conv)
    msg, payload = outbound(conv, view.customer_id)
    await store.enqueue_outbound(msg.model_copy(update={"agent_id": bob.id, "created_at": T0 + 30 * S}), payload,
                                 bob.id, T0 + 30 * S)
    second, payload2 = outbound(conv, view.customer_id)  # a second answer is not a first reply
    await store.enqueue_outbound(second.model_copy(update={"created_at": T0 + 40 * S}), payload2, None, T0 + 40 * S)
    await store.set_conversation_state(conv, ConversationStatus.RESOLVED, bob.id, T0 + 50 * S)
    await store.set_conversation_state(conv, ConversationStatus.ASSIGNED, ann.id, T0 + 60 * S,
                                       expected={ConversationStatus.RESOLVED})  # reopened by Ann
    third, payload3 = outbound(conv, view.customer_id)  # the first reply since the reopening
    await store.enqueue_outbound(third.model_copy(update={"agent_id": ann.id, "created_at": T0 + 70 * S}), payload3,
                                 None, T0 + 70 * S)

    events = await store.events_of(conv)
    assert _kinds(events) == [
        ("opened", "queued"), ("queued", "opened"),
        ("assigned", "offer"),
        ("transferred", "agent"), ("assigned", "offer"),
        ("first_reply", None),  # opening the offer (by answering) is no new assignment
        ("resolved", None),
        ("reopened", None), ("assigned", "take"),
        ("first_reply", None),
    ]
    assert [e.at - T0 for e in events] == [s * S for s in (0, 0, 10, 20, 20, 30, 50, 60, 60, 70)]
    transfer = events[3]
    assert (transfer.prev_agent_id, transfer.agent_id) == (ann.id, bob.id)
    assert events[5].agent_id == bob.id and events[9].agent_id == ann.id
    assert events[6].prev_status == "assigned" and events[6].agent_id == bob.id
    assert all(e.team == "support" and e.channel == "webchat" and e.customer_id == view.customer_id for e in events)
    assert [e.seq for e in events] == sorted(e.seq for e in events)


async def test_the_bot_its_handoff_and_containment_are_logged(store: Store) -> None:
    stored, _ = await store.insert_inbound(inbound("b1", sender="u9"), T0)
    assert stored.sender is not None
    customer = await store.resolve_identity(stored.sender, None, T0)
    conv, _ = await store.attach_to_conversation(stored.id, customer.id, stored.channel, BOT, T0)
    # the route's reason is words, numbers and the bot's detail: the log keeps the HandoffReason's code
    handoff = RouteDecision(status=ConversationStatus.QUEUED, team="billing",
                            reason="rule 'billing' (low_confidence: refund 0.31 < 0.5)")
    await store.reroute_conversation(conv.id, handoff, T0 + 5 * S, expected={ConversationStatus.BOT})
    back = RouteDecision(status=ConversationStatus.BOT, team="billing", reason="handed back to the bot by ann")
    await store.reroute_conversation(conv.id, back, T0 + 9 * S, expected={ConversationStatus.QUEUED})
    await store.set_conversation_state(conv.id, ConversationStatus.RESOLVED, None, T0 + 12 * S)
    events = await store.events_of(conv.id)
    assert _kinds(events) == [("opened", "bot"), ("handoff", None), ("queued", "bot"), ("to_bot", None),
                              ("resolved", None)]
    assert events[1].reason == "low_confidence" and events[1].team == "billing"
    assert events[3].reason == "handed back to the bot by ann"
    assert events[4].prev_status == "bot"  # contained: the bot kept it to the end


async def test_a_handoff_is_logged_as_a_code(store: Store) -> None:
    """The rules' own handoff and an agent taking the conversation from the bot: codes, never text."""
    ann = await store.create_agent("ann", "Ann", Role.AGENT, "hash")
    codes = []
    for n, how in enumerate(("rules", "taken")):
        stored, _ = await store.insert_inbound(inbound(f"h{n}", sender=f"h{n}"), T0)
        assert stored.sender is not None
        customer = await store.resolve_identity(stored.sender, None, T0)
        conv, _ = await store.attach_to_conversation(stored.id, customer.id, stored.channel, BOT, T0)
        if how == "rules":
            decision = RouteDecision(status=ConversationStatus.QUEUED, team="billing", reason="rule 'vip' matched")
            await store.reroute_conversation(conv.id, decision, T0 + S, expected={ConversationStatus.BOT})
        else:
            await store.set_conversation_state(conv.id, ConversationStatus.ASSIGNED, ann.id, T0 + S,
                                               expected={ConversationStatus.BOT})
        codes += [e.reason for e in await store.events_of(conv.id) if e.kind is Kind.HANDOFF]
    assert codes == ["rules", "taken"]


async def test_a_transfer_to_a_team_a_lapsed_offer_and_the_tier_at_the_time(store: Store) -> None:
    _, conv = await ingest(store, inbound("t1", sender="u7"), T0)
    view = await store.get_conversation(conv)
    await store.upsert_customer(CustomerUpsert("crm", customer_id=view.customer_id, attributes=(("tier", "gold"),)),
                                T0)
    ann = await store.create_agent("ann", "Ann", Role.AGENT, "hash")
    await store.offer(conv, ann.id, 5, T0 + 3 * S)
    released = await store.release_offers(None, T0 + 8 * S, T0 + 5 * S)
    assert [r.conversation.id for r in released] == [conv]
    await store.reroute_conversation(conv, RouteDecision(status=ConversationStatus.QUEUED, team="vip", reason="to vip"),
                                     T0 + 9 * S, expected={ConversationStatus.QUEUED})
    await store.upsert_customer(CustomerUpsert("crm", customer_id=view.customer_id, attributes=(("tier", None),)),
                                T0)
    await store.set_conversation_state(conv, ConversationStatus.RESOLVED, None, T0 + 11 * S)
    events = await store.events_of(conv)
    assert _kinds(events) == [("opened", "queued"), ("queued", "opened"), ("assigned", "offer"),
                              ("queued", "requeued"), ("transferred", "team"), ("resolved", None)]
    assert events[3].prev_agent_id == ann.id and events[3].at == T0 + 8 * S
    assert (events[4].team, events[4].reason, events[4].at) == ("vip", "to vip", T0 + 9 * S)
    assert [e.tier for e in events] == [None, None, "gold", "gold", "gold", None]


async def test_a_refused_change_and_what_an_agent_says_aside_log_nothing(store: Store) -> None:
    _, conv = await ingest(store, inbound("r1", sender="u5"), T0)
    await store.set_conversation_state(conv, ConversationStatus.RESOLVED, None, T0 + S)
    with pytest.raises(ConflictError):
        await store.set_conversation_state(conv, ConversationStatus.RESOLVED, None, T0 + 2 * S,
                                           expected={ConversationStatus.QUEUED})
    view = await store.get_conversation(conv)
    aside, payload = outbound(conv, view.customer_id)
    aside.core.aside = True
    await store.enqueue_outbound(aside, payload, None, T0 + 3 * S)
    bot, payload2 = outbound(conv, view.customer_id)
    await store.enqueue_outbound(bot.model_copy(update={"author": Author.BOT}), payload2, None, T0 + 3 * S)
    assert _kinds(await store.events_of(conv)) == [("opened", "queued"), ("queued", "opened"), ("resolved", None)]


async def test_a_range_reads_the_conversations_opened_in_it_with_their_later_events(store: Store) -> None:
    _, early = await ingest(store, inbound("e1", sender="u1"), T0)
    _, inside = await ingest(store, inbound("e2", sender="u2"), T0 + timedelta(hours=1))
    await store.set_conversation_state(inside, ConversationStatus.RESOLVED, None, T0 + timedelta(hours=5))
    got = await store.conversation_events(T0 + timedelta(minutes=30), T0 + timedelta(hours=2))
    assert {e.conversation_id for e in got} == {inside}
    assert [e.kind for e in got] == [Kind.OPENED, Kind.QUEUED, Kind.RESOLVED]
    assert early not in {e.conversation_id for e in await store.conversation_events(T0 + S, T0 + timedelta(days=1))}


async def test_a_follower_of_the_log_sees_each_new_event_once(store: Store) -> None:
    _, before = await ingest(store, inbound("f0", sender="u0"), T0)
    cursor = await store.event_cursor()
    assert await store.events_after(cursor, 10) == ([], cursor)  # what was there is not new
    _, conv = await ingest(store, inbound("f1", sender="u1"), T0 + S)
    await store.set_conversation_state(before, ConversationStatus.RESOLVED, None, T0 + 2 * S)
    seen: list[tuple[str, Kind]] = []
    for _ in range(5):  # two at a time
        found, cursor = await store.events_after(cursor, 2)
        seen += [(e.conversation_id, e.kind) for e in found]
    assert seen == [(conv, Kind.OPENED), (conv, Kind.QUEUED), (before, Kind.RESOLVED)]
    assert await store.events_after(cursor, 10) == ([], cursor)


async def test_a_customers_message_that_reopens_the_conversation_is_logged(store: Store) -> None:
    """The ingest's reopening (IngestStore.reopen_with) needs no call of its own: its UPDATE is logged."""
    ann = await store.create_agent("ann", "Ann", Role.AGENT, "hash")
    _, conv = await ingest(store, inbound("o1", sender="u8"), T0)
    await store.set_conversation_state(conv, ConversationStatus.ASSIGNED, ann.id, T0 + S)
    await store.set_conversation_state(conv, ConversationStatus.RESOLVED, ann.id, T0 + 2 * S)
    later = await store.ingest(inbound("o2", sender="u8"), T0 + 60 * S)
    assert later.conversation is None and later.customer is not None
    last = await store.last_resolved(later.customer.id)
    assert last is not None and last.resolved_at is not None
    found = await store.reopen_with(later.message.id, later.customer.id, "webchat",
                                    Reopening(last.id, last.resolved_at, 0), T0 + 60 * S)
    assert found is not None and found[1]
    events = await store.events_of(conv)
    assert _kinds(events)[-2:] == [("reopened", None), ("queued", "resolved")]
    assert events[-2].at == T0 + 60 * S and events[-2].prev_agent_id == ann.id and events[-2].status == "queued"
